"""Hugging Face Hub records: a repo's metadata, files and card, read once per commit and cached.

The model record (`expand`) and the file tree (file sizes) are the Hub's JSON API read under our caps
(catalog.sources.hub.api) with huggingface_hub's headers, which carry `HF_TOKEN` or the stored token;
huggingface_hub itself reads safetensors headers and model lists; `HF_ENDPOINT` points all of it at a
mirror or a test server. Small files (config.json, tokenizer_config.json, README.md, chat_template.jinja)
are read with httpx (catalog.sources.http), sending huggingface_hub's own headers. Nothing here prints
or stores a token: error messages carry URLs only, and the cache holds metadata only.
"""

from __future__ import annotations

import json
import re
from functools import partial
from typing import Any

from catalog.core.ggml import normalize_preset
from catalog.errors import BadModelFile, GatedModel, ModelNotFound, RemoteUnavailable
from catalog.sources import cache, local
from catalog.sources.http import (
    fetch_capped,
    hub_endpoint,
    timeout_s,
    with_retries,
)
from catalog.sources.hub import api as hub_api
from catalog.sources.hub.api import MAX_MODEL_INFO, hub_client

MAX_SMALL_FILE = 1 << 20  # config.json, tokenizer_config.json, README.md
MAX_STATEMENTS = 12
# the Hub's own rule (huggingface_hub validate_repo_id), in ASCII: no "..", "--" or a name ending in . or -
REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,95}/[A-Za-z0-9_][A-Za-z0-9_.\-]{0,95}$")


def valid_repo(repo: str) -> bool:
    """Whether `repo` can name a Hub repo at all (checked before any request)."""
    return bool(REPO_RE.match(repo)) and ".." not in repo and "--" not in repo and not repo.endswith((".", "-"))


# compiled when a card is read (a fresh record), not at every start: a warm check never reads one
_STATEMENT = (r"(instruct|instruction|chat|base model|pretrained|pre-trained|fine-?tun|rlhf|dpo|sft\b|preference|"
              r"reinforcement|align|uncensor|abliterat|refusal|this (?:repo|repository|model) (?:contains|is)|"
              r"post-train)")
endpoint = hub_endpoint


def parse_ref(ref: str) -> tuple[str, str | None, str | None] | None:
    """(repo, quant, revision) of `owner/name[:QUANT][@revision]` or `hf.co/owner/name[:QUANT]`, else None."""
    text = ref.strip()
    for prefix in ("https://huggingface.co/", "huggingface.co/", "hf.co/"):
        if text.lower().startswith(prefix):
            text = text[len(prefix):]
            break
    revision = None
    if "@" in text:
        text, _, revision = text.partition("@")
    repo, _, tag = text.partition(":")
    if not valid_repo(repo):
        return None
    quant = None
    if tag:
        quant = normalize_preset(tag)
        if quant is None:
            raise ModelNotFound(f"{ref}: {tag!r} is not a quantization", "e.g. :Q4_K_M, :Q8_0")
    return repo, quant, revision or None



def _api() -> Any:
    """An HfApi on our endpoint, its shared session given a timeout (huggingface_hub's default is none:
    a Hub that accepts the connection and never answers would hang `catalog check` for ever)."""
    from huggingface_hub import HfApi, get_session

    hub_api.no_telemetry()
    _one_retry_layer()
    session = get_session()
    t = timeout_s()
    session.timeout = type(session.timeout)(t, connect=min(t, 10.0))
    return HfApi(endpoint=endpoint())


def _one_retry_layer() -> None:
    """huggingface_hub's paginated calls (list_repo_tree, list_models) retry 5 times themselves, inside each of
    our own tries, and print a warning per retry: ours (catalog.sources.http.with_retries) is the only layer, and
    huggingface_hub says nothing on stderr below an error."""
    from functools import partial

    import huggingface_hub.utils._pagination as pagination
    from huggingface_hub.utils import logging as hf_logging

    if not getattr(pagination, "_one_retry_layer", False):
        pagination.http_backoff = partial(pagination.http_backoff, max_retries=0)  # type: ignore[attr-defined]
        pagination._one_retry_layer = True  # type: ignore[attr-defined]
        hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]


def gated_error(repo: str, info: Any = None) -> GatedModel:
    """A gated repo: what it is (the metadata the Hub shows to anyone) and how to get in."""
    what = []
    if info is not None:
        card = getattr(info, "card_data", None)
        lic = getattr(card, "license", None) if card is not None else None
        if lic:
            what.append(f"licence {lic}")
        if getattr(info, "pipeline_tag", None):
            what.append(str(info.pipeline_tag))
    about = f" ({', '.join(what)})" if what else ""
    return GatedModel(f"{repo}{about} is gated: its files need a token whose account was granted access",
                      f"request access at {endpoint()}/{repo}, then run `hf auth login` or set HF_TOKEN")


def _get_small(client: Any, url: str) -> bytes | None:
    """A small file's bytes, None when absent; capped at MAX_SMALL_FILE."""
    return fetch_capped(client, url, MAX_SMALL_FILE,
                        denied=GatedModel(f"{url}: access is gated", "accept the licence on the Hub and set HF_TOKEN"),
                        who="the Hub")


def _json_file(client: Any, url: str) -> dict[str, Any] | None:
    data = _get_small(client, url)
    if data is None:
        return None
    try:
        doc = json.loads(data)
    except ValueError:
        raise BadModelFile(f"{url}: not valid JSON") from None
    return doc if isinstance(doc, dict) else None


def card_statements(readme: str) -> list[str]:
    """Sentences of a model card (front matter and code blocks dropped) that speak of tuning or alignment."""
    text = re.sub(r"\A---\n.*?\n---\n", "", readme, flags=re.S)
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"<[^>]{0,200}>|!\[[^\]]*\]\([^)]*\)|\[([^\]]*)\]\([^)]*\)|[*_`#|>]", r"\1", text)
    out: list[str] = []
    for sentence in re.split(r"(?<=[.!?])\s+|\n\s*\n|\n(?=\s*[-\d])", text):
        s = " ".join(sentence.split())
        if 20 <= len(s) <= 400 and re.search(_STATEMENT, s, re.I) and s not in out:
            out.append(s)
            if len(out) >= MAX_STATEMENTS:
                break
    return out


def _info_fields(info: Any, revision: str | None) -> dict[str, Any]:
    """The record's fields that model_info alone gives (they may change without a new commit)."""
    card = info.card_data.to_dict() if info.card_data is not None else {}
    return {
        "repo": info.id, "sha": info.sha, "revision": revision or "main",
        "last_modified": info.last_modified.isoformat() if info.last_modified else None,
        "gated": info.gated, "author": info.author, "tags": list(info.tags or []), "pipeline_tag": info.pipeline_tag,
        "library_name": info.library_name, "card": _jsonable(card),
        "gguf": _jsonable(info.gguf) if info.gguf else None,
        "children_count": getattr(info, "children_model_count", None),
    }


def _same_commit(known: dict[str, Any], info: Any, revision: str | None) -> dict[str, Any]:
    """A cached record whose commit is still the repo's, with model_info's fresh fields (likes, downloads,
    gating) and, when the Hub's children count moved (a new quantization), the GGUF children asked again."""
    same = {**known, **_info_fields(info, revision)}
    if isinstance(same.get("gguf"), dict):
        same["gguf"] = {k: v for k, v in same["gguf"].items() if k != "chat_template"}
    count = same.get("children_count")
    names_only = any(isinstance(c, str) for c in known.get("gguf_children") or ())  # cached before file lists
    if "gguf_children" in known and (count is None or count != known.get("children_count") or names_only):
        same["gguf_children"] = _gguf_children(info.id)
    return same


def _template_fields(got: dict[str, Any], files: dict[str, int]) -> dict[str, Any]:
    """chat_template (whether one ships), chat_template_source (its text) and special_tokens, from the repo's
    tokenizer_config.json and a chat_template.jinja beside it, which wins (as in transformers)."""
    out: dict[str, Any] = {}
    if "tokenizer_config.json" in got:
        tmpl, special = local.tokenizer_config_template(got["tokenizer_config.json"])
        out["chat_template"] = bool(tmpl)
        out["special_tokens"] = special  # what a template renders, wherever the template itself lives
        if isinstance(tmpl, str) and len(tmpl) <= local.MAX_TEMPLATE:
            out["chat_template_source"] = tmpl
    if "chat_template.jinja" in files or "chat_template.json" in files:
        out["chat_template"] = True
    jinja = got.get("chat_template.jinja")
    if jinja and len(jinja) <= local.MAX_TEMPLATE:
        out["chat_template_source"] = jinja.decode("utf-8", "replace")
    return out


def _read_record(repo: str, revision: str | None, known: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read a repo's record from the Hub. With `known` (a cached record) whose commit is still the
    repo's, only model_info (and the GGUF-children query) is asked: files read at a commit cannot change.

    The requests that do not depend on each other go out together (model_info's file list says which
    files exist), so a repo costs two round trips, not six."""
    from concurrent.futures import ThreadPoolExecutor

    api = _api()
    # each request retried on its own (one layer: record() does not retry the whole): under 30 % faults a repo's
    # six requests all succeeding at once is a coin toss, each one succeeding within five tries is near certain
    info = with_retries(partial(hub_api.model_info, repo, revision))
    if known is not None and known.get("sha") and known.get("sha") == info.sha and "files" in known:
        return _same_commit(known, info, revision)
    with ThreadPoolExecutor(max_workers=6, thread_name_prefix="hub") as ex:
        listed = {s.rfilename for s in (info.siblings or ())}
        tree = ex.submit(with_retries, partial(hub_api.tree, repo, revision))
        children = None if any(p.endswith(".gguf") for p in listed) else ex.submit(_gguf_children, info.id)
        base = f"{endpoint()}/{info.id}/resolve/{info.sha or revision or 'main'}"
        with hub_client() as client:
            wanted = {name: ex.submit(with_retries, partial(_json_file if name.endswith(".json") else _get_small,
                                                             client, f"{base}/{name}"))
                      for name in ("config.json", "tokenizer_config.json", "README.md", "chat_template.jinja")
                      if name in listed}
            try:
                got: dict[str, Any] = {name: f.result() for name, f in wanted.items()}
            except GatedModel:
                raise gated_error(info.id, info) from None
        files = dict(tree.result())  # hub_api.tree raises the product's own errors only
        st = info.safetensors
        if st is None and any(p.endswith(".safetensors") for p in files):
            st = _safetensors_counts(api, repo, revision)
        rec: dict[str, Any] = {**_info_fields(info, revision), "safetensors": _counts(st), "files": files}
        if "config.json" in got:
            rec["config"] = got["config.json"]
        rec.update(_template_fields(got, files))
        if "README.md" in got:
            readme = got["README.md"]
            rec["card_statements"] = card_statements(readme.decode("utf-8", "replace")) if readme else []
        if not any(p.endswith(".gguf") for p in files):
            rec["gguf_children"] = children.result() if children is not None else _gguf_children(info.id)
    if "chat_template" not in rec and isinstance(rec["gguf"], dict) and "chat_template" in rec["gguf"]:
        rec["chat_template"] = bool(rec["gguf"]["chat_template"])
        rec["gguf"].pop("chat_template", None)
    return rec


def _counts(st: Any) -> dict[str, Any] | None:
    """{"total", "parameters": {dtype: n}} from the Hub's SafeTensorsInfo or a SafetensorsRepoMetadata."""
    if st is None:
        return None
    params = getattr(st, "parameter_count", None) or getattr(st, "parameters", None) or {}
    total = getattr(st, "total", None) or sum(params.values())
    return {"total": int(total), "parameters": {str(k): int(v) for k, v in params.items()}}


def _safetensors_counts(api: Any, repo: str, revision: str | None) -> Any:
    """Exact parameter counts read from the safetensors headers (ranged reads), when the Hub gave none."""
    try:
        return api.get_safetensors_metadata(repo, revision=revision)
    except Exception:  # noqa: BLE001 - a count we cannot read is predicted from config.json instead
        return None


# quantizers whose GGUF repos people pull, in order of preference; the original's own org first
QUANTIZERS = ("lmstudio-community", "bartowski", "unsloth", "ggml-org", "mradermacher", "QuantFactory", "TheBloke")


def _gguf_children(repo: str) -> list[dict[str, Any]]:
    """GGUF quantizations of `repo` on the Hub (tag `base_model:quantized:<repo>`), best-known first, each with
    the file names it holds (`expand[]=siblings`: a command names only a file a listing shows).

    One GET of the first page, under our own retry policy: huggingface_hub's list_models would wait
    out its own backoff (up to ~23 s on a failing Hub) for what is only a hint."""
    params = [("filter", "gguf"), ("filter", f"base_model:quantized:{repo}"), ("sort", "downloads"),
              ("direction", "-1"), ("limit", "20"), ("expand[]", "siblings")]
    from urllib.parse import urlencode

    try:
        with hub_client() as client:
            body = with_retries(lambda: fetch_capped(client, f"{endpoint()}/api/models?{urlencode(params)}",
                                                     MAX_MODEL_INFO, who="the Hub"))
        doc = json.loads(body or b"[]")
        listed = [m for m in doc if isinstance(m, dict) and "id" in m] if isinstance(doc, list) else []
    except Exception:  # noqa: BLE001 - the model is still estimated; only the commands lose their GGUF repo
        return []
    owner = repo.split("/")[0].lower()
    found = [str(m["id"]) for m in listed]
    files = {str(m["id"]): [str(s.get("rfilename")) for s in m.get("siblings") or () if isinstance(s, dict)]
             for m in listed}

    def rank(child: str) -> int:
        org = child.split("/")[0]
        if org.lower() == owner:
            return -1
        return QUANTIZERS.index(org) if org in QUANTIZERS else len(QUANTIZERS) + found.index(child)

    return [{"repo": c, "files": files[c]} for c in sorted(found, key=rank)[:5]]


POPULAR_FILTERS = ("text-generation", "gguf")  # the two lists a local-LLM user browses: original weights, GGUFs
MAX_POPULAR = 1000


def popular(n: int) -> list[str]:
    """The `n` most downloaded text-generation repos and the `n` most downloaded GGUF repos on the Hub (one
    list request each, under our own retry policy), most downloaded first, each once.

    Raises:
        RemoteUnavailable: the Hub did not answer.
    """
    n = max(1, min(n, MAX_POPULAR))
    found: dict[str, int] = {}
    with hub_client() as client:
        for tag in POPULAR_FILTERS:
            url = f"{endpoint()}/api/models?filter={tag}&sort=downloads&direction=-1&limit={n}"

            def ask(u: str = url) -> bytes | None:
                return fetch_capped(client, u, 16 << 20, who="the Hub")

            body = with_retries(ask)
            try:
                listed = json.loads(body or b"[]")
            except ValueError:
                listed = []
            for m in listed if isinstance(listed, list) else ():
                if isinstance(m, dict) and isinstance(m.get("id"), str) and REPO_RE.match(m["id"]):
                    found[m["id"]] = max(found.get(m["id"], 0), int(m.get("downloads") or 0))
    return sorted(found, key=lambda r: -found[r])


def _jsonable(x: Any) -> Any:
    return json.loads(json.dumps(x, default=str))


def record(repo: str, revision: str | None = None, offline: bool = False, refresh: bool = False
           ) -> tuple[dict[str, Any], dict[str, Any]]:
    """A repo's metadata record and where it came from (`{"from": "hub"|"cache", "stale", "age_s"}`).

    Raises:
        ModelNotFound, GatedModel, RemoteUnavailable, BadModelFile.
    """
    key = f"{repo}@{revision or 'main'}"
    hit = cache.get("hub", key)
    if hit is not None and not refresh and (not hit.stale or offline):
        return hit.doc, {"from": "cache", "stale": hit.stale, "age_s": int(hit.age_s)}
    if offline:
        if hit is not None:
            return hit.doc, {"from": "cache", "stale": hit.stale, "age_s": int(hit.age_s)}
        raise RemoteUnavailable(f"{repo}: offline, and not in the catalog or the cache",
                                "run once online, or `catalog refresh` it")
    try:
        rec = _read_record(repo, revision, hit.doc if hit is not None else None)  # each request retries itself
    except RemoteUnavailable:
        if hit is not None and not refresh:  # the network failed: a stale answer beats none, and says so
            return hit.doc, {"from": "cache", "stale": True, "age_s": int(hit.age_s)}
        raise
    cache.put("hub", key, rec)
    unchanged = hit is not None and hit.doc.get("sha") == rec.get("sha")
    return rec, {"from": "hub", "stale": False, "age_s": 0, "unchanged": unchanged}
