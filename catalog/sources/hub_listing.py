"""A GGUF repo's file names as the Hub lists them now: one small request, cached, so that a printed command
names a file that exists today (the catalog's recorded list is what a listing showed when it was read).

`listing(repo, offline)` answers from the cache while it is fresh; online, it asks
`GET /api/models/{repo}?expand[]=siblings&expand[]=sha` once (no huggingface_hub import, a short timeout:
this only confirms files, it never holds up an answer for long). Offline, or when the Hub does not answer,
a cached listing of any age is used, else None (the catalog's own list stands); a Hub that did not answer
is not asked again for RETRY_AFTER_S.
"""

from __future__ import annotations

import json
from typing import Any

from catalog.errors import CatalogError
from catalog.sources import cache

KIND = "hub-listing"
MAX_BODY = 4 << 20  # a repo with thousands of files lists well under this
TIMEOUT_S = 5.0  # the Hub answers a listing in well under a second; a confirmation must not stall a check
RETRY_AFTER_S = 600.0  # after no answer, the next checks use the catalog's list for this long without asking


def listing(repo: str, offline: bool = False) -> dict[str, Any] | None:
    """{"repo", "sha", "files": [path, ...]} of `repo`, or None when nothing is known of it."""
    hit = cache.get(KIND, repo.lower())
    known = hit.doc if hit is not None and isinstance(hit.doc.get("files"), list) else None
    if known is not None and hit is not None and (not hit.stale or offline):
        return known
    if offline:  # the caller folds HF_HUB_OFFLINE in
        return known
    if hit is not None and known is None and hit.age_s < RETRY_AFTER_S:
        return None  # the Hub did not answer a moment ago: no machine without a network waits on every check
    try:
        doc = _ask(repo)
    except CatalogError:
        doc = None
    if doc is None:
        if known is None:
            cache.put(KIND, repo.lower(), {"repo": repo, "unanswered": True})
        return known
    cache.put(KIND, repo.lower(), doc)
    return doc


def _ask(repo: str) -> dict[str, Any] | None:
    from catalog.sources import http

    url = f"{http.hub_endpoint()}/api/models/{repo}?expand[]=siblings&expand[]=sha"
    with http.client(min(http.timeout_s(), TIMEOUT_S)) as c:
        body = http.fetch_capped(c, url, MAX_BODY, who="the Hub")
    if body is None:  # 404: the repo is gone (or renamed): none of its files can be downloaded
        return {"repo": repo, "sha": None, "files": []}
    try:
        info = json.loads(body)
        files = sorted(str(s["rfilename"]) for s in info.get("siblings") or () if isinstance(s, dict))
        sha = info.get("sha")
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return {"repo": repo, "sha": sha if isinstance(sha, str) else None, "files": files}

