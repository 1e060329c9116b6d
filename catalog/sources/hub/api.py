"""The Hub's JSON API read under our own caps (pure I/O, no interpretation): a model record and a repo's file
tree, fetched with huggingface_hub's headers through catalog.sources.http (the request deadline, a byte cap, our
one retry layer), where huggingface_hub would read a body of any size whole."""

from __future__ import annotations

import json
import re
from typing import Any

from catalog.errors import BadModelFile, ModelNotFound, RemoteUnavailable
from catalog.sources.http import fetch_capped, hub_endpoint, offline_env, timeout_s

MAX_MODEL_INFO = 16 << 20  # a model record with its file list, or one page of a tree; real ones are a few MiB
EXPAND = ["author", "cardData", "childrenModelCount", "config", "gated", "gguf", "lastModified", "library_name",
          "pipeline_tag", "safetensors", "sha", "siblings", "tags"]


def no_telemetry() -> None:
    """huggingface_hub's telemetry off for this process: building its headers otherwise fetches an "agent
    harnesses" registry from the Hub once a day (one more request, first and alone, before a cold check's own)
    and reports the torch version and the calling agent in the user agent; none of it is ours to send."""
    import huggingface_hub.constants as hc

    hc.HF_HUB_DISABLE_TELEMETRY = True


def hub_client() -> Any:
    """The shared client for Hub reads, with huggingface_hub's headers (its user agent and the token, if any)."""
    from huggingface_hub import utils as hf_utils

    from catalog.sources.http import shared_client

    no_telemetry()
    return shared_client(hf_utils.build_hf_headers())  # type: ignore[attr-defined]


def model_info(repo: str, revision: str | None) -> Any:
    """huggingface_hub's ModelInfo, its JSON read by our own GET: under MAX_MODEL_INFO bytes and the request
    deadline (huggingface_hub reads any body whole: a 300 MB answer took 860 MB), with the same headers."""
    from urllib.parse import quote, urlencode

    from huggingface_hub.hf_api import ModelInfo

    if offline_env():
        raise RemoteUnavailable(f"{repo}: HF_HUB_OFFLINE is set and nothing is cached")
    path = f"/revision/{quote(revision, safe='')}" if revision else ""
    url = f"{hub_endpoint()}/api/models/{repo}{path}?{urlencode([('expand', e) for e in EXPAND])}"
    gone = ModelNotFound(f"{repo}: no such model repo{' or revision' if revision else ''} on the Hub "
                         "(or it is private)")
    try:
        with hub_client() as client:
            body = fetch_capped(client, url, MAX_MODEL_INFO, missing=gone, denied=gone, who="the Hub")
    except BadModelFile:
        raise BadModelFile(f"{repo}: its Hub record is larger than {MAX_MODEL_INFO >> 20} MiB") from None
    except RemoteUnavailable as err:  # the repo, not the long query, in the one line the user reads
        what = (f"HTTP {err.status}" if err.status else f"not in full within {timeout_s():g} s" if err.timed_out
                else err.message.rsplit("(", 1)[-1].rstrip(")"))
        hint = "try again, raise LLM_CATALOG_HTTP_TIMEOUT, or use --offline" if err.timed_out else err.hint
        raise RemoteUnavailable(f"{repo}: the Hub did not answer ({what})", hint or "try again, or use --offline",
                                status=err.status, retry_after_s=err.retry_after_s, timed_out=err.timed_out,
                                permanent=err.permanent) from None
    try:
        data = json.loads(body or b"")
        if not isinstance(data, dict):
            raise ValueError("not an object")
        return ModelInfo(**data)  # type: ignore[no-untyped-call]
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        raise BadModelFile(f"{url.split('?')[0]}: not a model record ({type(exc).__name__})") from None


_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')
MAX_TREE_PAGES = 64  # the Hub pages a listing by 1,000 files; no model repo holds 64,000


def tree(repo: str, revision: str | None) -> list[tuple[str, int]]:
    """(path, size) of every file of the repo at `revision`, read page by page (the Link header's next) under
    MAX_MODEL_INFO bytes a page and MAX_TREE_PAGES pages, as huggingface_hub's list_repo_tree asks for it."""
    from urllib.parse import quote

    url: str | None = f"{hub_endpoint()}/api/models/{repo}/tree/{quote(revision or 'main', safe='')}?recursive=true" \
        "&expand=false"
    gone = ModelNotFound(f"{repo}: no such model repo or revision on the Hub (or it is private)")
    out: list[tuple[str, int]] = []
    with hub_client() as client:
        for _ in range(MAX_TREE_PAGES):
            if url is None:
                return out
            headers: dict[str, str] = {}
            body = fetch_capped(client, url, MAX_MODEL_INFO, missing=gone, denied=gone, who="the Hub",
                                headers_out=headers)
            try:
                page = json.loads(body or b"[]")
            except (ValueError, RecursionError):
                raise BadModelFile(f"{repo}: its file listing is not JSON") from None
            if not isinstance(page, list):
                raise BadModelFile(f"{repo}: its file listing is not a list of files")
            for f in page:
                size = f.get("size") if isinstance(f, dict) and f.get("type") == "file" else None
                if isinstance(size, int) and isinstance(f.get("path"), str):
                    out.append((f["path"], size))
            m = _NEXT.search(headers.get("link", ""))
            url = m.group(1) if m else None
    raise BadModelFile(f"{repo}: its file listing runs past {MAX_TREE_PAGES} pages")
