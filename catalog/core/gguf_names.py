"""Which quantization a GGUF file name holds, and a repo's file names grouped per quantization (pure).

One rule for every file list: a Hub tree, a listing of names only, a GGUF child repo's siblings.
"""

import re
from typing import Any

from catalog.core.ggml import PRESETS, normalize_preset, split_parts, split_stem

__all__ = ["gguf_files", "quant_of_file"]


def quant_of_file(path: str) -> str | None:
    """The llama-quantize preset named in a GGUF file name (`...-Q4_K_M.gguf`, `.../Q4_K_M/...-00001-of-00002.gguf`)."""
    stem = re.sub(r"(-\d{5}-of-\d{5})?\.gguf$", "", path, flags=re.I)
    for tok in reversed(re.split(r"[-./]", stem)):
        q = normalize_preset(tok)
        if q is not None and q in PRESETS:
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
        group = split_stem(path)
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
