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
    """Lower case, vendor words dropped, letters and numbers apart: `rtx4090`, `RTX-4090` -> `rtx 4090`."""
    s = s.lower().replace("geforce", " ").replace("nvidia", " ").replace("radeon", " ").replace("amd", " ")
    s = re.sub(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])", " ", s)
    return " ".join(re.sub(r"[^a-z0-9.]+", " ", s).replace(" .", " ").split())


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
    name = e["name"] if re.search(rf"\b{re.escape(key)}\s*GB\b", e["name"]) else f"{e['name']} {key}GB"
    flops, kind = compute_of(e)
    return GPU(name, e["vendor"], mem, usable, int(bw * 1e9) if bw else None, None, None, f"profile: {src}", flops,
               kind)


def compute_of(e: dict[str, Any]) -> tuple[float | None, str | None]:
    """(peak FLOP/s, which figure) for prompt processing: the FP16 figure and its kind, else FP32 (Apple)."""
    c = e.get("compute") or {}
    if c.get("fp16_tflops") and c.get("fp16_kind"):
        return float(c["fp16_tflops"]) * 1e12, str(c["fp16_kind"])
    if c.get("fp32_tflops"):
        return float(c["fp32_tflops"]) * 1e12, "fp32"
    return None, None


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
    hits = matches(q)
    if not hits:
        raise UnknownGpu(f"unknown GPU {query!r}", "`catalog gpus TEXT` lists the known cards; or give --vram GIB")
    if len(hits) > 1:
        listed = ", ".join(sorted(e["name"] for e in hits)[:12])
        raise UnknownGpu(f"GPU name {query!r} is ambiguous: {listed}", "name one of them (`catalog gpus TEXT`)")
    e = hits[0]
    options = [float(x) for x in e["memory_gib"]]
    sizes = ", ".join(f"{x:g}" for x in options)
    if mem is None and len(options) > 1 and e.get("vendor") == "apple":
        # unified memory is the whole machine's: a Mac's size changes every answer, so it is never assumed
        raise UnknownGpu(f"{e['name']} comes with {sizes} GB of unified memory: say which",
                         f"e.g. --gpu \"{e['name']} {options[-1]:g}GB\"")
    gib = options[0] if mem is None else mem
    if gib not in options:
        raise UnknownGpu(f"{e['name']} comes with {sizes} GB, not {mem:g}")
    return _to_gpu(e, gib)


def matches(query: str) -> list[dict[str, Any]]:
    """The entries a name means: those it names exactly (name or alias), else those it begins, else those whose
    name ends with it or holds it as whole words (a bare model number: `4090`)."""
    nq = _norm(query)
    if not nq:
        return []
    exact: list[dict[str, Any]] = []
    prefix: list[dict[str, Any]] = []
    suffix: list[dict[str, Any]] = []
    words: list[dict[str, Any]] = []
    for e in _candidates(nq.split()):
        names = [_norm(e["name"])] + [_norm(a) for a in e.get("aliases", [])]
        if nq in names:
            exact.append(e)
        elif any(n.startswith(nq) for n in names):
            prefix.append(e)
        elif any(n.endswith(" " + nq) for n in names):
            suffix.append(e)
        elif any(f" {nq} " in f" {n} " for n in names):
            words.append(e)
    return exact or prefix or suffix or words


def listing(text: str = "") -> list[dict[str, Any]]:
    """The known GPUs a text names (all without one), as `catalog gpus` lists them: name, vendor, memory
    options, bandwidth per option, aliases, source."""
    words = re.findall(r"[a-z0-9.]+", text.lower())

    def named(e: dict[str, Any]) -> bool:  # every word of the text begins a word of the card's names
        have = re.findall(r"[a-z0-9.]+", " ".join([e["name"], *e.get("aliases", [])]).lower())
        return all(any(h.startswith(w) for h in have) for w in words)

    found = [e for e in load() if named(e)] or matches(text)  # else as --gpu reads it (rtx4090)
    return [{"name": e["name"], "vendor": e.get("vendor"), "memory_gib": e.get("memory_gib", []),
             "bandwidth_gb_per_s": e.get("bandwidth_gb_per_s") or {}, "aliases": e.get("aliases", []),
             "source": (e.get("source") or {}).get("url")} for e in found]
