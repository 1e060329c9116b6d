"""The known-GPU database (data/gpus.jsonl) and name matching for --gpu.

The database is JSON Lines, one card a line with its sources. A look-up first
keeps the lines that contain every word of the query (cheap substring tests)
and parses only those: parsing the whole sourced file would cost an offline
`catalog check --gpu NAME` more than its estimate does.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from typing import Any

from hardware import GIB, GPU, UnknownGpu


def _gpu_file() -> str:
    """data/gpus.jsonl: `catalog/data/` when installed, `data/` in a checkout. Found by path, not through
    catalog.sources.bundled.data_path: this package imports nothing of `catalog`."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for folder in (os.path.join(root, "catalog", "data"), os.path.join(root, "data")):
        path = os.path.join(folder, "gpus.jsonl")
        if os.path.exists(path):
            return path
    return os.path.join(root, "data", "gpus.jsonl")


@lru_cache(maxsize=1)
def _lines() -> tuple[bytes, ...]:
    # ASCII file (non-ASCII is \u-escaped): bytes are searched and lower-cased cheaply
    with open(_gpu_file(), "rb") as f:
        return tuple(f.read().splitlines()[1:])


def load() -> list[dict[str, Any]]:
    """Every GPU entry of data/gpus.jsonl."""
    return [json.loads(line) for line in _lines() if line.strip()]


def _candidates(words: list[str]) -> list[dict[str, Any]]:
    keys = [w.encode("ascii", "backslashreplace") for w in words]
    out = []
    for line in _lines():
        low = line.lower()
        if all(k in low for k in keys):
            out.append(json.loads(line))
    return out


def _norm(s: str) -> str:
    s = s.lower().replace("geforce", " ").replace("nvidia", " ").replace("radeon", " ").replace("amd", " ")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", s).split())


# Share of unified memory Metal lets the GPU wire by default (recommendedMaxWorkingSetSize):
# about two thirds up to 36 GB, three quarters above (community measurements quoted in
# ../shared/reference/runtimes-and-metadata.md section 6; not an Apple document).
APPLE_GPU_SHARE_SMALL = 0.67
APPLE_GPU_SHARE_LARGE = 0.75


def _to_gpu(e: dict[str, Any], gib: float) -> GPU:
    bw_map = e.get("bandwidth_gb_per_s") or {}
    key = f"{gib:g}"
    bw = bw_map.get(key, bw_map.get("*"))
    mem = int(gib * GIB)
    usable = mem
    if e.get("vendor") == "apple":
        usable = int(mem * (APPLE_GPU_SHARE_SMALL if gib <= 36 else APPLE_GPU_SHARE_LARGE))
    src = e.get("source", {}).get("url", "data/gpus.jsonl")
    return GPU(f"{e['name']} {key}GB", e["vendor"], mem, usable,
               int(bw * 1e9) if bw else None, None, None, f"profile: {src}")


def find_gpu(query: str) -> GPU:
    """Match a GPU by name, case-insensitively, by unambiguous prefix.

    `RTX 3060`, `rtx 3060 8gb` and `RTX 3060:8` all work.

    Raises:
        UnknownGpu: no match, or several.
    """
    q = query.strip()
    mem: float | None = None
    m = re.match(r"^(.*?)[\s:]*(\d+(?:\.\d+)?)\s*gi?b$", q, re.I) or re.match(r"^(.*?):(\d+(?:\.\d+)?)$", q)
    if m and m.group(1).strip():
        q, mem = m.group(1), float(m.group(2))
    nq = _norm(q)
    entries = _candidates(nq.split()) if nq else []
    exact: list[dict[str, Any]] = []
    prefix: list[dict[str, Any]] = []
    for e in entries:
        names = [_norm(e["name"])] + [_norm(a) for a in e.get("aliases", [])]
        if nq in names:
            exact.append(e)
        elif any(n.startswith(nq) for n in names):
            prefix.append(e)
    hits = exact or prefix
    if not hits:
        raise UnknownGpu(f"unknown GPU {query!r}", "see data/gpus.jsonl, or give --vram GIB")
    if len(hits) > 1:
        listed = ", ".join(sorted(e["name"] for e in hits)[:12])
        raise UnknownGpu(f"GPU name {query!r} is ambiguous: {listed}")
    e = hits[0]
    options = [float(x) for x in e["memory_gib"]]
    gib = options[0] if mem is None else mem
    if gib not in options:
        raise UnknownGpu(f"{e['name']} comes with {', '.join(f'{x:g}' for x in options)} GB, not {mem:g}")
    return _to_gpu(e, gib)
