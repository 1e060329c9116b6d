"""The on-disk cache of what a model's config alone decides: each quantization's weight layout (hardware-independent),
the parameter counts of the catalog entries that record none, and a Hub record's alignment verdict.

A check, an export, `search --fits` and the TUI need every shown quantization's layout (the tensor table llama-quantize
would write, summed per layer); building one costs a few milliseconds a model and quantization, and never changes
for one config under one set of rules. `warm` reads them from the cache for a whole list at once and computes (and
stores) only the missing. The key is a hash of the config, the GGUF repos' facts that change a table (imatrix, an
untied output), the quantizations and the source of the rules themselves (catalog/core), so an edited rule or
another release never reads an old answer. An entry of the wrong shape is a miss.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import cache as once
from typing import Any

from catalog.core.alignment import Alignment
from catalog.core.layout import WeightLayout
from catalog.core.model import ModelSpec, has_layouts, layout_for, seed_layouts
from catalog.core.ranking import quants_to_show
from catalog.sources import cache

try:  # BLAKE2 without hashlib's OpenSSL (6 ms of an offline check's start)
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - an interpreter built without it
    from hashlib import blake2b

KIND = "derived"
_INT_TYPE = {int}
_INTS = tuple(i for i, f in enumerate(WeightLayout._fields) if f not in ("layer_bytes", "layer_expert_bytes",
                                                                        "float_weights"))


@once
def rules_digest() -> str:
    """A hash of the rules' source (every module of catalog/core), read once a process."""
    core = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "core")
    return digest_of(tuple(os.path.join(core, n) for n in sorted(os.listdir(core)) if n.endswith(".py")))


@once
def digest_of(paths: tuple[str, ...]) -> str:
    """A hash of these source files' names and bytes (a missing one counts as absent), once a process."""
    h = blake2b(digest_size=32)
    for path in paths:
        try:
            with open(path, "rb") as f:
                h.update(os.path.basename(path).encode() + b"\0" + f.read())
        except OSError:
            h.update(os.path.basename(path).encode() + b"\0-")
    return h.hexdigest()


def hash_text(text: str) -> str:
    """A cache key of `text`: its BLAKE2b-256, hex."""
    return blake2b(text.encode("utf-8", "surrogatepass"), digest_size=32).hexdigest()


def key(spec: ModelSpec, quants: list[str]) -> str:
    """The cache key of `spec`'s layouts at `quants`."""
    repos = [(r.repo, r.imatrix, r.untied_output, tuple(f.quant for f in r.files)) for r in spec.gguf_repos]
    text = f"{rules_digest()}\n{spec.arch!r}\n{repos!r}\n{quants!r}"
    return hash_text(text)


def _decode(doc: dict[str, Any], quants: list[str]) -> dict[str, WeightLayout] | None:
    raw = doc.get("layouts")
    if not isinstance(raw, dict) or set(raw) != set(quants):
        return None
    out = {}
    n = len(WeightLayout._fields)
    for q, fields in raw.items():
        if not isinstance(fields, list) or len(fields) != n:
            return None
        if not all(type(fields[i]) is int for i in _INTS) or type(fields[8]) is not bool:
            return None
        per_layer = fields[2], fields[9]
        if not all(isinstance(v, list) and set(map(type, v)) <= _INT_TYPE for v in per_layer):  # map: C speed
            return None
        fields = [tuple(v) if isinstance(v, list) else v for v in fields]
        out[q] = WeightLayout(*fields)
    return out


def warm(specs: Iterable[ModelSpec]) -> None:
    """Make `layout_for` answer each spec's shown quantizations from the cache, computing and storing those it
    lacks. A spec with a real tensor table (a GGUF file's) is left to `layout_for`."""
    for spec in specs:
        if spec.tensors:
            continue
        quants = quants_to_show(spec, ())
        if has_layouts(spec, quants):
            continue  # this very spec was warmed already (resolved, then summarized)
        k = key(spec, quants)
        hit = cache.get(KIND, k)
        layouts = _decode(hit.doc, quants) if hit is not None else None
        if layouts is not None:
            seed_layouts(spec, layouts)
            continue
        try:
            layouts = {q: layout_for(spec, q) for q in quants}
        except Exception:  # noqa: BLE001 - warming is only a shortcut: the check computes (and reports) it itself
            continue
        cache.put(KIND, k, {"layouts": {q: list(lay) for q, lay in layouts.items()}})


PARAMS_KIND = "derived-params"


def parameter_counts(data: bytes, missing: Iterable[tuple[str, Any]]) -> dict[str, int]:
    """The parameter count of each (id, architecture) in `missing`, catalog entries that record none: counted
    from the tensor table convert_hf_to_gguf.py writes (a millisecond or more a model), kept in one cache entry
    keyed by the catalog file's bytes (`data`) and the rules, so a list of hundreds counts them once."""
    from catalog.core.arch import hf_tensors, parameter_count

    todo = list(missing)
    k = hash_text(f"{rules_digest()}\n{blake2b(data, digest_size=32).hexdigest()}")
    hit = cache.get(PARAMS_KIND, k)
    counts = hit.doc.get("counts") if hit is not None else None
    if not isinstance(counts, dict) or not all(type(v) is int and v > 0 for v in counts.values()):
        counts = {}
    out = {i: counts[i] for i, _ in todo if i in counts}
    new = {i: parameter_count(hf_tensors(a)) for i, a in todo if i not in out}
    if new:
        cache.put(PARAMS_KIND, k, {"counts": {**counts, **new}})
    return {**out, **new}


ALIGN_KIND = "derived-alignment"
# what catalog.core.alignment.classify_record reads of a Hub record
_ALIGN_KEYS = ("repo", "tags", "pipeline_tag", "card", "card_statements", "chat_template", "gguf")


def record_alignment(rec: dict[str, Any], original: Alignment | None = None) -> Alignment:
    """`classify_record(rec, original)`, kept on disk by what it reads of the record, the original's verdict and
    the rules: a warm check of a cached Hub repo compiles none of the classifier's patterns (~10 ms a start)."""
    import json

    from catalog.core.alignment import classify_record

    try:
        text = json.dumps([{k: rec.get(k) for k in _ALIGN_KEYS}, original], sort_keys=True)
    except (TypeError, ValueError, RecursionError):  # not plain JSON: classified as it is, not kept
        return classify_record(rec, original)
    k = hash_text(f"{rules_digest()}\n{text}")
    hit = cache.get(ALIGN_KIND, k)
    got = _alignment(hit.doc.get("alignment")) if hit is not None else None
    if got is not None:
        return got
    verdict = classify_record(rec, original)
    cache.put(ALIGN_KIND, k, {"alignment": [verdict.kind, list(verdict.methods), verdict.confidence,
                                            [list(e) for e in verdict.evidence]]})
    return verdict


def _alignment(raw: Any) -> Alignment | None:
    """An Alignment from its cached form, or None for an entry of the wrong shape."""
    from catalog.core.alignment import KINDS, Evidence

    if not isinstance(raw, list) or len(raw) != 4:
        return None
    kind, methods, confidence, evidence = raw
    if kind not in KINDS or not isinstance(methods, list) or not all(isinstance(m, str) for m in methods):
        return None
    if type(confidence) not in (int, float) or not 0 <= confidence <= 1:
        return None
    if not isinstance(evidence, list) or not all(
            isinstance(e, list) and len(e) == 3 and all(isinstance(x, str) for x in e) for e in evidence):
        return None
    return Alignment(kind, tuple(methods), float(confidence), tuple(Evidence(*e) for e in evidence))
