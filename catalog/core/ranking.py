"""Which quantizations a check shows, in which order, and which one it recommends (pure).

One order for every face: rows best quality first (roughly by the bits per weight of each
preset's mix), the default ladder a check shows, the file of a GGUF repo that is read first,
and the recommendation.
"""


from collections.abc import Iterable, Sequence

from catalog.core.ggml import PRESETS, normalize_preset
from catalog.core.model import ModelSpec, downloadable_quants, known_quants
from catalog.core.record import Record
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
# the lowest of a repo's files a check shows unasked (IQ1_S/IQ1_M and the ternary types lose most of a model;
# F32 is BF16's quality at twice the bytes)
LOWEST_LISTED = "IQ2_XXS"
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
    repo's published files; or the ladder (BF16 in F16's place for a BF16 model) with the pinned quantization
    and every one from BF16 to LOWEST_LISTED a recorded GGUF repo lists added (a file a command downloads as
    it is, sized where the record gives its size, else predicted like the ladder's).

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
    # every file a command can fetch as it is, from 16-bit down to 2 bits (F32 and the 1-bit mixes are asked for
    # by name, never offered)
    listed = [f.quant for repo in spec.gguf_repos for f in repo.files
              if not f.legacy_mix and _RANK["BF16"] <= _RANK.get(f.quant, 99) <= _RANK[LOWEST_LISTED]]
    for extra in [spec.pinned_quant, *known_quants(spec), *listed]:
        if extra and extra not in ladder and extra in PRESETS:
            ladder.append(extra)
    return by_quality(ladder)


def default_target(quants: Sequence[str], pinned: str | None) -> str:
    """The quantization a runtime's own default context is fitted for: the pinned one, else Q4_K_M, else the
    smallest shown."""
    if pinned in quants:
        return str(pinned)
    return DEFAULT_TARGET if DEFAULT_TARGET in quants else quants[-1]


class Candidate(Record):
    """What the recommendation weighs of one row."""

    quant: str
    verdict: str
    tokens_per_second: float | None
    bits_per_weight: float | None  # the file's bits over the model's parameters


# below this many bits per weight a model loses visibly (2- and low-3-bit mixes): chosen only when nothing
# at or above it runs at a usable speed
QUALITY_FLOOR_BPW = 3.5
# a model this good or better (4-bit mixes and up) that runs entirely on the GPU is what a careful user runs
# before a better quantization that leaves layers or experts in RAM at a fraction of the speed (Ollama's default
# tags are 4-bit, Q4_K_M or Q4_0 in the catalog's records; the better ones gain little next to what a partial
# offload costs)
WHOLE_GPU_FLOOR = "MXFP4_MOE"
# past Q8_0 nothing a person notices is gained, at twice the bytes read a token: 16- and 32-bit rows rank as
# Q8_0, and the faster one wins the tie
TOP_QUALITY = "Q8_0"


def bits_per_weight(file_bytes: int, parameters: int) -> float | None:
    """A file's bits over the model's parameters, what the quality floor is read in (None: count unknown)."""
    return 8 * file_bytes / parameters if parameters > 0 else None


def below_floor(bpw: float | None) -> bool:
    """Whether a row is under QUALITY_FLOOR_BPW (an unknown figure is not)."""
    return bpw is not None and bpw < QUALITY_FLOOR_BPW


def _quality(quant: str) -> int:
    """Quality rank, lower is better, 16/32-bit counted as Q8_0."""
    return max(_RANK.get(quant, 99), _RANK[TOP_QUALITY])


def recommend(rows: Sequence[Candidate], tiers: Sequence[Iterable[str]] = (), prefer: str = "quality",
              min_tps: float = 5.0) -> tuple[str | None, str]:
    """The quantization a careful user would run, and why, in one line.

    Among the rows that run, those at `min_tps` or faster and at QUALITY_FLOOR_BPW or more are the
    candidates (a row whose speed is unknown counts as usable when it fits the GPU); `prefer="quality"`
    takes the best quality of those that run entirely on the GPU at WHOLE_GPU_FLOOR or better, else the best
    quality of them all (16-bit no better than Q8_0, the faster wins a tie); `"speed"` the fastest.
    Without such a row: the usable rows below the floor, else the fastest row that runs. With `tiers`
    (downloadable_quants: a published GGUF file, then an Ollama tag only), the choice is made among the
    first tier that has a usable row before a quantization that must be made from the original weights."""
    seen: set[str] = set()
    for tier in [*tiers, None]:
        if tier is not None:
            seen.update(tier)
        pool = [r for r in rows if tier is None or r.quant in seen]
        pick = _choose(pool, prefer, min_tps, final=tier is None)
        if pick is not None:
            return pick
    return None, ""


def _usable(r: Candidate, min_tps: float) -> bool:
    if r.tokens_per_second is None:
        return r.verdict == "full_gpu"
    return r.tokens_per_second >= min_tps


def _choose(rows: Sequence[Candidate], prefer: str, min_tps: float, final: bool) -> tuple[str, str] | None:
    runs = [r for r in rows if r.verdict != "no_fit"]
    usable = [r for r in runs if _usable(r, min_tps)]
    good = [r for r in usable if not below_floor(r.bits_per_weight)]

    def speed(r: Candidate) -> float:
        return r.tokens_per_second or 0.0

    def best(pool: list[Candidate]) -> Candidate:
        if prefer == "speed":
            return max(pool, key=lambda r: (speed(r), -_quality(r.quant)))
        return min(pool, key=lambda r: (_quality(r.quant), -speed(r), r.verdict != "full_gpu"))

    at = f"{min_tps:g} tok/s"
    if good:
        pick = best(good)
        whole = [r for r in good if r.verdict == "full_gpu" and _RANK.get(r.quant, 99) <= _RANK[WHOLE_GPU_FLOOR]]
        if prefer == "quality" and pick.verdict != "full_gpu" and whole:
            slower, pick = pick, best(whole)
            return pick.quant, (f"the best quality that runs entirely on the GPU at {at} or more; {slower.quant} "
                                f"runs partly in RAM at {speed(slower):.0f} tok/s")
        why = ("the best quality" if prefer == "quality" else "the fastest") + f" at {at} or more"
        lower = [r for r in usable if r not in good and r.verdict == "full_gpu" and speed(r) > speed(pick)]
        if lower and pick.verdict != "full_gpu":
            faster = max(lower, key=speed)
            why += (f"; {faster.quant} runs entirely on the GPU at {speed(faster):.0f} tok/s but at "
                    f"{faster.bits_per_weight:.1f} bits per weight")
        return pick.quant, why
    if not final and not usable:
        return None  # this tier runs nothing at a usable speed: look further before settling
    if usable:
        pick = best(usable)
        return pick.quant, f"nothing at {QUALITY_FLOOR_BPW:g} bits per weight or more reaches {at}: the " + (
            "best quality that does" if prefer == "quality" else "fastest that does")
    if runs:
        pick = max(runs, key=lambda r: (speed(r), -_quality(r.quant)))
        return pick.quant, f"nothing reaches {at}: the fastest that runs"
    return None


def file_to_read(available: Iterable[str]) -> str:
    """Which of a GGUF repo's quantizations to read the real tensor table of (when the name pins none)."""
    have = sorted(available)
    return next((q for q in READ_FIRST if q in have), have[0])
