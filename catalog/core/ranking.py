"""Which quantizations a check shows, in which order, and which one it recommends (pure).

One order for every face: rows best quality first (roughly by the bits per weight of each
preset's mix), the default ladder a check shows, the file of a GGUF repo that is read first,
and the recommendation.
"""


from collections.abc import Iterable, Sequence

from catalog.core.ggml import PRESETS, normalize_preset
from catalog.core.model import ModelSpec, downloadable_quants, known_quants
from catalog.errors import UsageError

# The ladder `catalog check` shows by default, best quality first.
LADDER = ("F16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_0", "Q3_K_M", "IQ3_M", "Q2_K", "IQ2_M")
# best first: roughly by bits per weight of the preset's mix
BY_QUALITY = ("F32", "BF16", "F16", "Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q5_1", "Q5_0", "Q4_K_M", "Q4_K_S",
              "Q4_1", "IQ4_XS", "IQ4_NL", "Q4_0", "MXFP4_MOE", "Q3_K_L", "Q3_K_M", "IQ3_M", "IQ3_S",
              "Q3_K_S", "IQ3_XS", "IQ3_XXS", "Q2_K", "Q2_K_S", "IQ2_M", "IQ2_S", "IQ2_XS", "IQ2_XXS",
              "IQ1_M", "IQ1_S", "TQ2_0", "TQ1_0")
_RANK = {q: i for i, q in enumerate(BY_QUALITY)}
# the file of a GGUF repo whose header is read (its real tensor table) when the name pins none
READ_FIRST = ("Q4_K_M", "Q4_K_S", "Q5_K_M", "Q4_0", "IQ4_XS", "Q6_K", "Q8_0", "Q3_K_M", "MXFP4_MOE", "BF16", "F16")
# nothing fits the GPU entirely: the first of these that runs (partly on the CPU) is recommended
PARTIAL_CHOICES = ("Q4_K_M", "Q4_0", "Q3_K_M", "IQ3_M")
# the quantization a runtime's default context is fitted for, when the name pins none
DEFAULT_TARGET = "Q4_K_M"


def by_quality(quants: Iterable[str]) -> list[str]:
    """`quants` best first (unknown names last), each once."""
    return sorted(dict.fromkeys(quants), key=lambda q: _RANK.get(q, 99))


def requested(quants: Sequence[str]) -> list[str]:
    """The user's `--quant` spellings as presets.

    Raises:
        UsageError: one names no llama-quantize preset.
    """
    out = []
    for q in quants:
        n = normalize_preset(q)
        if n is None:
            raise UsageError(f"unknown quantization {q!r}", "e.g. Q4_K_M, Q8_0, F16, IQ4_XS")
        out.append(n)
    return out


def quants_to_show(spec: ModelSpec, asked: Sequence[str]) -> list[str]:
    """The rows of a check: what the user asked for; else a local GGUF's own quantization; a Hub GGUF
    repo's published files; or the ladder (BF16 in F16's place for a BF16 model) with the pinned and the
    published quantizations added.

    Raises:
        UsageError: an unknown quantization, or another quantization of a local GGUF file.
    """
    if asked:
        out = requested(asked)
        if spec.tensors and spec.local_path and spec.file_quant and any(q != spec.file_quant for q in out):
            raise UsageError(f"this GGUF file is {spec.file_quant}; it cannot be estimated at another quantization")
        return out
    if spec.tensors and spec.local_path:
        return [spec.file_quant or "file"]
    if spec.tensors:  # a Hub GGUF repo: the quantizations it publishes (one read for real, the rest predicted)
        return sorted(known_quants(spec), key=lambda q: _RANK.get(q, 99))
    ladder = list(LADDER)
    fetchable = set().union(*downloadable_quants(spec))
    # a BF16 model shows BF16 in F16's place, unless only an F16 file is published (Qwen's, Ollama's fp16 tags)
    if spec.source_dtype == "BF16" and not ("F16" in fetchable and "BF16" not in fetchable):
        ladder[ladder.index("F16")] = "BF16"
    for extra in [spec.pinned_quant, *known_quants(spec)]:
        if extra and extra not in ladder and extra in PRESETS:
            ladder.append(extra)
    return by_quality(ladder)


def default_target(quants: Sequence[str], pinned: str | None) -> str:
    """The quantization a runtime's own default context is fitted for: the pinned one, else Q4_K_M, else the
    smallest shown."""
    if pinned in quants:
        return str(pinned)
    return DEFAULT_TARGET if DEFAULT_TARGET in quants else quants[-1]


def recommend(verdicts: Sequence[tuple[str, str]], pinned: str | None,
              tiers: Sequence[Iterable[str]] = ()) -> str | None:
    """The recommended quantization of (quant, verdict) rows, best quality first: the best that fits the
    GPU(s) entirely; else the pinned one if it runs; else the first of PARTIAL_CHOICES that runs; else the
    smallest that runs. With `tiers` (downloadable_quants: a published GGUF file, then an Ollama tag only), a
    pick without a published file (except the quantization the name pinned, where a tag serves it) gives way to
    the same choice among the first tier with one that runs: every runtime's command then downloads it."""
    pick = _recommend(verdicts, pinned)
    if pick is None or not tiers or pick in set(tiers[0]) or (pick == pinned and any(pick in set(t) for t in tiers)):
        return pick
    seen: set[str] = set()
    for tier in tiers:
        seen.update(tier)
        sub = _recommend([(q, v) for q, v in verdicts if q in seen], pinned)
        if sub is not None:
            return sub
    return pick


def _recommend(verdicts: Sequence[tuple[str, str]], pinned: str | None) -> str | None:
    fits = [q for q, v in verdicts if v == "full_gpu"]
    if fits:
        return fits[0]
    by_quant = dict(verdicts)
    if pinned in by_quant and by_quant[pinned] != "no_fit":
        return pinned
    for q, v in verdicts:
        if v in ("partial", "cpu_only") and q in PARTIAL_CHOICES:
            return q
    runs = [q for q, v in verdicts if v != "no_fit"]
    return runs[-1] if runs else None


def file_to_read(available: Iterable[str]) -> str:
    """Which of a GGUF repo's quantizations to read the real tensor table of (when the name pins none)."""
    have = sorted(available)
    return next((q for q in READ_FIRST if q in have), have[0])
