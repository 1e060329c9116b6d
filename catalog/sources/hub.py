"""Any public Hugging Face model repo: metadata, remote GGUF headers, alignment evidence; cached.

Metadata comes through huggingface_hub (`HfApi.model_info` with `expand`,
`list_repo_tree` for file sizes), which honours `HF_TOKEN` and the stored
token; `HF_ENDPOINT` points it (and our Range reads) at a mirror or a test
server. Small files (config.json, tokenizer_config.json, README.md) and GGUF
headers are read with httpx, sending huggingface_hub's own headers. Nothing
here prints or stores a token: error messages carry URLs only, and the cache
holds metadata only.

A GGUF repo is estimated from the real tensor table of one of its files (the
quantization asked for, else Q4_K_M, else the first), split files included;
its other files keep their published sizes. A safetensors repo is estimated
from its config.json, with the exact parameter count from the safetensors
headers. A quantized repo's alignment is its original's (`base_model`), read
too when it can be.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import threading
from typing import Any

from catalog.core import alignment as align
from catalog.core.model import ModelSpec
from catalog.core.quants import PRESETS, Tensor, normalize_preset
from catalog.errors import BadModelFile, CatalogError, GatedModel, ModelNotFound, RemoteUnavailable
from catalog.sources import cache, local
from catalog.sources.gguf_reader import ArrayInfo, GGUFHeader
from catalog.sources.gguf_remote import read_header, split_parts
from catalog.sources.http import fetch_capped, retry_after

DEFAULT_ENDPOINT = "https://huggingface.co"
EXPAND = ["author", "cardData", "childrenModelCount", "config", "gated", "gguf", "lastModified", "library_name",
          "pipeline_tag", "safetensors", "sha", "siblings", "tags"]
MAX_SMALL_FILE = 1 << 20  # config.json, tokenizer_config.json, README.md
MAX_STATEMENTS = 12
REPO_RE = re.compile(r"^[A-Za-z0-9][\w.\-]{0,95}/[\w.\-]{1,96}$")
_STATEMENT = re.compile(
    r"(instruct|instruction|chat|base model|pretrained|pre-trained|fine-?tun|rlhf|dpo|sft\b|preference|"
    r"reinforcement|align|uncensor|abliterat|refusal|this (?:repo|repository|model) (?:contains|is)|post-train)",
    re.I,
)


def endpoint() -> str:
    """The Hub's base URL: `HF_ENDPOINT` or huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def offline_env() -> bool:
    """Whether `HF_HUB_OFFLINE` asks for no network."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


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
    if not REPO_RE.match(repo):
        return None
    quant = None
    if tag:
        quant = normalize_preset(tag)
        if quant is None:
            raise ModelNotFound(f"{ref}: {tag!r} is not a quantization", "e.g. :Q4_K_M, :Q8_0")
    return repo, quant, revision or None


# --- reading the Hub --------------------------------------------------------------------------------------------


def http_timeout_s() -> float:
    """Seconds to wait for the Hub's next bytes (`LLM_CATALOG_HTTP_TIMEOUT`, default 30)."""
    raw = os.environ.get("LLM_CATALOG_HTTP_TIMEOUT", "")
    try:
        return max(0.05, float(raw)) if raw else 30.0
    except ValueError:
        return 30.0


_SHARED: dict[tuple[str, float], Any] = {}
_SHARED_LOCK = threading.Lock()


@atexit.register
def _close_shared() -> None:
    """Close the pooled clients' keep-alive connections at exit, not leave them to the collector."""
    with _SHARED_LOCK:
        for client in _SHARED.values():
            client.close()
        _SHARED.clear()


def _client() -> Any:
    """The process's httpx client for file reads (thread-safe, pooled connections). Building one costs
    ~20 ms of CPU (its TLS context), which a refresh of hundreds of repos must not pay per repo. Keyed by
    the auth headers and timeout, so a changed token or timeout gets a client of its own."""
    import httpx
    from huggingface_hub import utils as hf_utils

    headers = hf_utils.build_hf_headers()  # type: ignore[attr-defined]  # user agent and the token, if any
    t = http_timeout_s()
    key = (str(sorted(headers.items())), t)
    with _SHARED_LOCK:
        client = _SHARED.get(key)
        if client is None or client.is_closed:
            client = _SHARED[key] = httpx.Client(headers=headers, timeout=httpx.Timeout(t, connect=min(t, 10.0)),
                                                 follow_redirects=True)
    # `with _client() as c:` hands out the shared client without closing it on exit
    return contextlib.nullcontext(client)


def _api() -> Any:
    """An HfApi on our endpoint, its shared session given a timeout (huggingface_hub's default is none:
    a Hub that accepts the connection and never answers would hang `catalog check` for ever)."""
    from huggingface_hub import HfApi, get_session

    session = get_session()
    t = http_timeout_s()
    session.timeout = type(session.timeout)(t, connect=min(t, 10.0))
    return HfApi(endpoint=endpoint())


def _hub_error(exc: Exception, repo: str) -> CatalogError:
    """Map huggingface_hub's exceptions to ours (one line each, no token)."""
    from huggingface_hub import errors as hf_errors

    if isinstance(exc, hf_errors.GatedRepoError):
        return gated_error(repo)
    if isinstance(exc, hf_errors.RevisionNotFoundError):
        return ModelNotFound(f"{repo}: no such revision")
    if isinstance(exc, hf_errors.RepositoryNotFoundError):
        return ModelNotFound(f"{repo}: no such model repo on the Hub (or it is private)")
    if isinstance(exc, hf_errors.OfflineModeIsEnabled):
        return RemoteUnavailable(f"{repo}: HF_HUB_OFFLINE is set and nothing is cached")
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    what = f"HTTP {status}" if status else type(exc).__name__
    return RemoteUnavailable(f"{repo}: the Hub did not answer ({what})", "try again, or use --offline",
                             status=status, retry_after_s=retry_after(getattr(response, "headers", None)))


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


RETRIES = 4  # further tries of a transient failure (429, 5xx, no answer)
BACKOFF_S = 0.5  # the first wait without a Retry-After; doubled each try
MAX_WAIT_S = 30.0  # a longer Retry-After is reported, not waited out


def with_retries(fn: Any, sleep: Any = None, who: str = "the Hub") -> Any:
    """`fn()`, tried again on a transient RemoteUnavailable: after the server's Retry-After, else
    after BACKOFF_S, doubling. A Retry-After past MAX_WAIT_S, or the last failure, is raised (a 429
    with a hint naming `who` rate-limited us)."""
    import time

    sleep = sleep or time.sleep
    for attempt in range(RETRIES + 1):
        try:
            return fn()
        except RemoteUnavailable as err:
            wait = err.retry_after_s if err.retry_after_s is not None else BACKOFF_S * 2 ** attempt
            if not err.transient or attempt == RETRIES or wait > MAX_WAIT_S:
                if err.status == 429:
                    err.hint = (f"rate limited by {who}; try again in {err.retry_after_s:.0f} s"
                                if err.retry_after_s else f"rate limited by {who}; try again later")
                raise
            sleep(wait)
    raise AssertionError("unreachable")


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
        if 20 <= len(s) <= 400 and _STATEMENT.search(s) and s not in out:
            out.append(s)
            if len(out) >= MAX_STATEMENTS:
                break
    return out


def _model_info(api: Any, repo: str, revision: str | None) -> Any:
    try:
        return api.model_info(repo, revision=revision, expand=EXPAND)
    except Exception as exc:  # noqa: BLE001 - huggingface_hub and transport errors alike
        raise _hub_error(exc, repo) from None


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


def _read_record(repo: str, revision: str | None, known: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read a repo's record from the Hub. With `known` (a cached record) whose commit is still the
    repo's, only model_info (and the GGUF-children query) is asked: files read at a commit cannot change.

    The requests that do not depend on each other go out together (model_info's file list says which
    files exist), so a repo costs two round trips, not six."""
    from concurrent.futures import ThreadPoolExecutor

    api = _api()
    info = _model_info(api, repo, revision)
    if known is not None and known.get("sha") and known.get("sha") == info.sha and "files" in known:
        same = {**known, **_info_fields(info, revision)}
        if isinstance(same.get("gguf"), dict):
            same["gguf"] = {k: v for k, v in same["gguf"].items() if k != "chat_template"}
        count = same.get("children_count")
        if "gguf_children" in known and (count is None or count != known.get("children_count")):
            # a new quantization (or any derived repo) moves the Hub's children count: only then ask
            same["gguf_children"] = _gguf_children(info.id)
        return same
    with ThreadPoolExecutor(max_workers=6, thread_name_prefix="hub") as ex:
        listed = {s.rfilename for s in (info.siblings or ())}
        tree = ex.submit(lambda: [(f.path, int(getattr(f, "size", 0) or 0))
                                  for f in api.list_repo_tree(repo, revision=revision, recursive=True)
                                  if hasattr(f, "size")])
        children = None if any(p.endswith(".gguf") for p in listed) else ex.submit(_gguf_children, info.id)
        base = f"{endpoint()}/{info.id}/resolve/{info.sha or revision or 'main'}"
        with _client() as client:
            wanted = {name: ex.submit(_json_file if name.endswith(".json") else _get_small, client, f"{base}/{name}")
                      for name in ("config.json", "tokenizer_config.json", "README.md", "chat_template.jinja")
                      if name in listed}
            try:
                got: dict[str, Any] = {name: f.result() for name, f in wanted.items()}
            except GatedModel:
                raise gated_error(info.id, info) from None
        try:
            files = dict(tree.result())
        except CatalogError:
            raise
        except Exception as exc:  # noqa: BLE001 - huggingface_hub and transport errors alike
            raise _hub_error(exc, repo) from None
        st = info.safetensors
        if st is None and any(p.endswith(".safetensors") for p in files):
            st = _safetensors_counts(api, repo, revision)
        rec: dict[str, Any] = {**_info_fields(info, revision), "safetensors": _counts(st), "files": files}
        if "config.json" in got:
            rec["config"] = got["config.json"]
        if "tokenizer_config.json" in got:
            tmpl, special = local.tokenizer_config_template(got["tokenizer_config.json"])
            rec["chat_template"] = bool(tmpl)
            rec["special_tokens"] = special  # what a template renders, wherever the template itself lives
            if isinstance(tmpl, str) and len(tmpl) <= local.MAX_TEMPLATE:
                rec["chat_template_source"] = tmpl
        if "chat_template.jinja" in files or "chat_template.json" in files:
            rec["chat_template"] = True
        jinja = got.get("chat_template.jinja")
        if jinja and len(jinja) <= local.MAX_TEMPLATE:  # saved beside tokenizer_config.json, it wins (transformers)
            rec["chat_template_source"] = jinja.decode("utf-8", "replace")
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


def _gguf_children(repo: str) -> list[str]:
    """GGUF quantizations of `repo` on the Hub (tag `base_model:quantized:<repo>`), best-known first.

    One GET of the first page, under our own retry policy: huggingface_hub's list_models would wait
    out its own backoff (up to ~23 s on a failing Hub) for what is only a hint."""
    params = [("filter", "gguf"), ("filter", f"base_model:quantized:{repo}"), ("sort", "downloads"),
              ("direction", "-1"), ("limit", "20")]
    try:
        with _client() as client:
            r = client.get(f"{endpoint()}/api/models", params=params)
        found = [str(m["id"]) for m in r.json() if isinstance(m, dict) and "id" in m] if r.status_code == 200 else []
    except Exception:  # noqa: BLE001 - the model is still estimated; only the commands lose their GGUF repo
        return []
    owner = repo.split("/")[0].lower()

    def rank(child: str) -> int:
        org = child.split("/")[0]
        if org.lower() == owner:
            return -1
        return QUANTIZERS.index(org) if org in QUANTIZERS else len(QUANTIZERS) + found.index(child)

    return sorted(found, key=rank)[:5]


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
        rec = with_retries(lambda: _read_record(repo, revision, hit.doc if hit is not None else None))
    except RemoteUnavailable:
        if hit is not None and not refresh:  # the network failed: a stale answer beats none, and says so
            return hit.doc, {"from": "cache", "stale": True, "age_s": int(hit.age_s)}
        raise
    cache.put("hub", key, rec)
    unchanged = hit is not None and hit.doc.get("sha") == rec.get("sha")
    return rec, {"from": "hub", "stale": False, "age_s": 0, "unchanged": unchanged}


# --- GGUF repos -------------------------------------------------------------------------------------------------


def quant_of_file(path: str) -> str | None:
    """The llama-quantize preset named in a GGUF file name (`...-Q4_K_M.gguf`, `.../Q4_K_M/...-00001-of-00002.gguf`)."""
    stem = re.sub(r"(-\d{5}-of-\d{5})?\.gguf$", "", path, flags=re.I)
    for tok in reversed(re.split(r"[-./]", stem)):
        q = normalize_preset(tok)
        if q is not None and (q in PRESETS or q in ("F16", "BF16", "F32")):
            return q
    # two-part names such as Q4_K_M split by the separators above never reach here; UD-/imatrix labels do
    return None


def gguf_files(files: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Quantization -> {"file": first part, "parts": [...], "bytes": total} for a repo's model GGUFs."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(files):
        low = path.lower()
        if not low.endswith(".gguf") or "mmproj" in low or "imatrix" in low:
            continue
        q = quant_of_file(path)
        if q is None:
            continue
        group = re.sub(r"-\d{5}-of-\d{5}\.gguf$", "", path)
        cur = out.get(q)
        if cur is not None and cur["group"] != group:
            continue  # a second file of the same quantization (e.g. another variant): keep the first
        if cur is None:
            cur = out[q] = {"file": path, "parts": [], "bytes": 0, "group": group}
        cur["parts"].append(path)
        cur["bytes"] += files[path]
    for v in out.values():
        parts = split_parts(v["parts"][0])
        if parts is not None and len(v["parts"]) != parts[1]:
            v["incomplete"] = True
        v.pop("group")
    return out


def _header_to_json(h: GGUFHeader) -> dict[str, Any]:
    meta = {k: ({"__array__": [v.type, v.length]} if isinstance(v, ArrayInfo) else v) for k, v in h.metadata.items()}
    return {"version": h.version, "metadata": meta, "tensors": [[t.name, list(t.shape), t.type] for t in h.tensors],
            "offsets": h.offsets, "data_offset": h.data_offset, "alignment": h.alignment}


def _header_from_json(d: dict[str, Any]) -> GGUFHeader:
    meta = {k: (ArrayInfo(*v["__array__"]) if isinstance(v, dict) and "__array__" in v else v)
            for k, v in d["metadata"].items()}
    tensors = [Tensor(n, tuple(s), t) for n, s, t in d["tensors"]]
    return GGUFHeader(d["version"], meta, tensors, list(d["offsets"]), d["data_offset"], d["alignment"])


def vocab_file(key: str) -> str:
    """Where the vocabulary of the remote GGUF cached under `key` is kept (catalog cache)."""
    return cache.file_path("vocab", key)


def _keep_vocab(key: str, h: GGUFHeader) -> GGUFHeader:
    """Store the header's vocabulary arrays beside the cached header (a file of its own: the header's
    cache entry stays small), and return the header with them as counts again."""
    from catalog.sources.tokenizer import VOCAB_KEYS

    meta = h.metadata
    kept = {k: meta[k] for k in VOCAB_KEYS if isinstance(meta.get(k), list)}
    if kept.get("tokenizer.ggml.tokens"):
        small = {k: v for k, v in meta.items() if k.startswith(("tokenizer.ggml.", "general.name"))
                 and k not in VOCAB_KEYS and not isinstance(v, (list, ArrayInfo))}
        cache.put_file("vocab", key, json.dumps({**small, **kept}, separators=(",", ":")).encode("utf-8"))
    etype = {"tokenizer.ggml.tokens": 8, "tokenizer.ggml.scores": 6, "tokenizer.ggml.token_type": 5}
    return h._replace(metadata={k: (ArrayInfo(etype[k], len(v)) if k in kept and len(v) > 4096 else v)
                                for k, v in meta.items()})


def gguf_header(repo: str, sha: str, parts: list[str], offline: bool = False) -> tuple[GGUFHeader, dict[str, Any]]:
    """The merged header of a (possibly split) GGUF file: metadata of part 1, tensors of every part.

    Cached by commit, so a cached header never goes stale.
    """
    key = f"{repo}@{sha}/{parts[0]}"
    hit = cache.get("gguf", key)
    if hit is not None:
        return _header_from_json(hit.doc["header"]), hit.doc["cost"]
    if offline:
        raise RemoteUnavailable(f"{repo}/{parts[0]}: offline, and its header is not cached")
    from catalog.sources.tokenizer import VOCAB_KEYS

    headers: list[GGUFHeader] = []
    downloaded = requests = 0
    with _client() as client:
        for i, part in enumerate(parts):
            # the vocabulary is in the bytes read anyway: part 1 keeps it, to count the template with
            h, reader = read_header(client, f"{endpoint()}/{repo}/resolve/{sha}/{part}",
                                    keep=VOCAB_KEYS if i == 0 else frozenset())
            headers.append(h)
            downloaded += reader.downloaded
            requests += reader.requests
    first = _keep_vocab(key, headers[0])
    merged = first._replace(tensors=[t for h in headers for t in h.tensors],
                            offsets=[o for h in headers for o in h.offsets])
    cost = {"downloaded_bytes": downloaded, "requests": requests, "parts": len(parts)}
    cache.put("gguf", key, {"header": _header_to_json(merged), "cost": cost})
    return merged, cost


# --- the model ----------------------------------------------------------------------------------------------------

PREFERRED = ("Q4_K_M", "Q4_K_S", "Q5_K_M", "Q4_0", "IQ4_XS", "Q6_K", "Q8_0", "Q3_K_M", "MXFP4_MOE", "BF16", "F16")


def load(ref: str, offline: bool = False, want_quant: str | None = None) -> tuple[ModelSpec, str | None]:
    """A ModelSpec for any Hub repo reference, and the quantization the reference pinned.

    Args:
        ref: `owner/name`, `owner/name:Q4_K_M`, `hf.co/owner/name:Q4_K_M`, `owner/name@revision`.
        offline: answer from the cache only.
        want_quant: the quantization the user asked for (`--quant`), which picks the GGUF file to read.
    Raises:
        ModelNotFound, GatedModel, RemoteUnavailable, BadModelFile.
    """
    want_quant = normalize_preset(want_quant) if want_quant else None
    parsed = parse_ref(ref)
    if parsed is None:
        raise ModelNotFound(f"{ref!r} is not a Hugging Face repo id", "owner/name, e.g. Qwen/Qwen2.5-7B-Instruct")
    repo, pinned, revision = parsed
    offline = offline or offline_env()
    rec, got = record(repo, revision, offline)
    original, facts = _original(rec, offline)
    kind = align.classify_record(rec, original)
    ggufs = gguf_files(rec.get("files") or {})
    sources: dict[str, Any] = {"hub": f"{endpoint()}/{rec['repo']}", "revision": rec.get("sha"), "metadata": got}
    common: dict[str, Any] = {
        "alignment": kind.to_json(),
        # a quantization repo often omits its original's licence (its own files are not gated, though)
        "license": (rec.get("card") or {}).get("license") or facts.get("license"),
        "gated": bool(rec.get("gated")),
    }
    if ggufs and (not rec.get("config") or pinned or want_quant):
        q = pinned or want_quant
        if q is not None and q not in ggufs:
            raise ModelNotFound(f"{repo} has no {q} GGUF file", "it has: " + ", ".join(sorted(ggufs)))
        q = q or next((p for p in PREFERRED if p in ggufs), sorted(ggufs)[0])
        chosen = ggufs[q]
        if chosen.get("incomplete"):
            raise BadModelFile(f"{repo}: {chosen['file']} is missing some of its split parts")
        header, cost = gguf_header(rec["repo"], rec.get("sha") or "main", chosen["parts"], offline)
        general = {k: v for k, v in header.metadata.items() if k.startswith("general.base_model.")
                   or k in ("general.finetune", "general.name", "general.basename")}
        if general:  # the file's own words join the evidence
            common["alignment"] = align.classify_record({**rec, "gguf": general}, original).to_json()
        sources["gguf_header"] = {"file": chosen["file"], **cost}
        vocab = vocab_file(f"{rec['repo']}@{rec.get('sha') or 'main'}/{chosen['parts'][0]}")
        if os.path.isfile(vocab):
            sources["gguf_vocab"] = vocab
        spec_from_header = local.spec_from_header

        _, base_repo = align.lineage(rec)
        spec = spec_from_header(
            header, f"hf:{rec['repo']}", rec["repo"].split("/")[-1], chosen["bytes"], f"{repo}/{chosen['file']}",
            sources, hf_repo=base_repo or rec["repo"],
            gguf_repos=({"repo": rec["repo"], "files": {k: {"file": v["file"], "bytes": v["bytes"]}
                                                        for k, v in ggufs.items()}},),
            **common,
        )
        if spec.file_quant == "file":  # no general.file_type: the file name says it
            spec = spec._replace(file_quant=q)
        if rec.get("chat_template") is not None and not spec.chat_template.get("present"):
            spec = spec._replace(chat_template=_template_of(rec))
        return spec, pinned or want_quant
    cfg = rec.get("config")
    if cfg is None:
        raise BadModelFile(f"{repo}: no config.json and no GGUF file to read the architecture from")
    spec_from_config = local.spec_from_config

    st = rec.get("safetensors") or {}
    total = st.get("total")
    sources["config"] = f"{endpoint()}/{rec['repo']}/blob/{rec.get('sha') or 'main'}/config.json"
    tok = tokenizer_json(rec, offline)
    if tok:
        sources["tokenizer_json"] = tok
    spec = spec_from_config(
        cfg, f"hf:{rec['repo']}", rec["repo"].split("/")[-1], f"{repo}/config.json",
        parameters=total if isinstance(total, int) and total > 0 else None, hf_repo=rec["repo"], sources=sources,
        gguf_repos=tuple({"repo": c, "files": {}} for c in rec.get("gguf_children") or ()),
        chat_template=_template_of(rec), **common,
    )
    return spec, pinned


MAX_TOKENIZER_BYTES = 40 << 20  # a tokenizer.json fetched to count a template with (Gemma 2's is 17 MB)


def tokenizer_json(rec: dict[str, Any], offline: bool) -> str | None:
    """The repo's tokenizer.json, in the catalog cache (fetched once per revision, atomically), when
    the repo has a chat template to count and a tokenizer.json of at most MAX_TOKENIZER_BYTES; None
    offline with nothing cached, or on any failure (the count then falls back, nothing else does)."""
    size = (rec.get("files") or {}).get("tokenizer.json")
    if not isinstance(rec.get("chat_template_source"), str) or not isinstance(size, int) \
            or size > MAX_TOKENIZER_BYTES:
        return None
    rev = rec.get("sha") or "main"
    key = f"{rec['repo']}@{rev}"
    path = cache.file_path("tokenizers", key)
    if os.path.isfile(path):
        return path
    if offline:
        return None
    try:
        with _client() as client:
            data = fetch_capped(client, f"{endpoint()}/{rec['repo']}/resolve/{rev}/tokenizer.json",
                                MAX_TOKENIZER_BYTES)
    except CatalogError:
        return None
    return cache.put_file("tokenizers", key, data) if data else None


def _template_of(rec: dict[str, Any]) -> dict[str, Any]:
    """The spec's chat_template from a Hub record: presence, and the source and special tokens to render."""
    if rec.get("chat_template") is None:
        return {}
    info: dict[str, Any] = {"present": bool(rec["chat_template"])}
    if isinstance(rec.get("chat_template_source"), str):
        info["source"] = rec["chat_template_source"]
        info.update({k: v for k, v in (rec.get("special_tokens") or {}).items() if isinstance(v, str)})
    return info


def _original(rec: dict[str, Any], offline: bool) -> tuple[align.Alignment | None, dict[str, Any]]:
    """The classification of the repo a quantized repo was made from, and the facts it adds (its licence)."""
    relation, base_repo = align.lineage(rec)
    if relation != "quantized" or not base_repo or parse_ref(base_repo) is None:
        return None, {}
    from catalog.sources import bundled

    try:
        spec = bundled.resolve(base_repo).spec  # curated evidence first
        return align.from_catalog(spec.alignment), {"license": spec.license}
    except ModelNotFound:
        pass
    try:
        base_rec, _ = record(base_repo, None, offline)
    except CatalogError:
        return None, {}  # gated or gone: the quantized repo's own evidence decides
    facts = {"license": (base_rec.get("card") or {}).get("license")}
    return align.classify_record(base_rec), facts
