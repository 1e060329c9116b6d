"""Every closed set and every default the product applies, once (pure).

A closed set is a `Literal` and its values come from `get_args`, so the set exists in one place
(the CLI's choices, the validation and the types all read it here). Two live beside what they
close: the alignment kinds in catalog.core.alignment, llama.cpp's split modes in
catalog.core.plan_types. A default that a runtime applies carries its source beside it.
"""


from typing import Literal, get_args

from catalog.core.record import Record
from catalog.errors import UsageError

Runtime = Literal["ollama", "llama.cpp", "lmstudio"]
RUNTIMES: tuple[Runtime, ...] = get_args(Runtime)
# llama.cpp's cache types (`-ctk`/`-ctv`), upper case as ggml names them; the runtimes spell them lower case
KvType = Literal["F16", "BF16", "F32", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "IQ4_NL"]
KV_TYPES: tuple[KvType, ...] = get_args(KvType)
# what `--kv-type` offers (the TUI cycles through the same), lower case as the runtimes spell them
KvChoice = Literal["f16", "q8_0", "q4_0"]
KV_CHOICES: tuple[KvChoice, ...] = get_args(KvChoice)
Verdict = Literal["full_gpu", "partial", "cpu_only", "no_fit"]
VERDICTS: tuple[Verdict, ...] = get_args(Verdict)
# how a row runs, as a person reads it (catalog.core.fit.fit_level)
FitLevel = Literal["fits", "tight", "partial", "cpu only", "too slow", "won't run"]
FIT_LEVELS: tuple[FitLevel, ...] = get_args(FitLevel)

DEFAULT_RUNTIME: Runtime = "ollama"
DEFAULT_KV: KvType = "F16"
DEFAULT_FLASH_ATTN = True
# llama.cpp's logical and physical batch (-b, -ub): common/common.h
DEFAULT_BATCH = 2048
DEFAULT_UBATCH = 512
# llama-server's slots when -np is not given: "n_parallel is set to auto, using n_parallel = 4 and kv_unified =
# true" (tools/server/server.cpp, llama.cpp 0c1e570); each slot is one sequence of the shared (unified) cache
LLAMA_SERVER_SLOTS = 4
# a model that does not say its trained context is assumed to hold Ollama's smallest default
FALLBACK_CONTEXT = 4096
# LM Studio loads a model at 4096 tokens unless told otherwise (its API reports
# loaded_context_length 4096 for a 131072-token model: zed-industries/zed issue #33938)
LMSTUDIO_DEFAULT_CTX = 4096
# Ollama's default num_ctx by total VRAM (server/routes.go): (at least this much, context), largest first
OLLAMA_CTX_TIERS: tuple[tuple[int, int], ...] = ((47 << 30, 262144), (23 << 30, 32768))
OLLAMA_CTX_SMALLEST = 4096
# Ollama steps an automatic context down through these when the model does not fit (server/sched.go)
OLLAMA_CTX_STEPS = (32768, 4096)
# llama.cpp's --fit shrinks an unset -c, not below this (-fitc), before it gives up layers
LLAMA_FIT_MIN_CTX = 4096
# `catalog plan`: the quantization and context planned unless given, and the link between hosts assumed
PLAN_QUANT = "Q4_K_M"
PLAN_CTX = 8192
PLAN_LINK_GBPS = 1.0
PLAN_LINK_MS = 0.5
# `catalog refresh`: repos read at once
REFRESH_JOBS = 32


# a decode speed a person reads along with (reading pace, 200-300 words a minute, is 4-6 tokens a second):
# below it a run is "too slow"
MIN_TPS = 5.0


class CheckRequest(Record):
    """The user's question, as options (`catalog check`'s flags; the TUI's and export's defaults)."""

    quants: tuple[str, ...] = ()
    ctx: int | None = None
    content_tokens: int | None = None
    kv_type: str = "f16"
    flash_attn: bool = DEFAULT_FLASH_ATTN
    batch: int = DEFAULT_BATCH
    ubatch: int = DEFAULT_UBATCH
    runtime: str = DEFAULT_RUNTIME
    prefer: str = "quality"  # the recommendation: the best quality at a usable speed, or the fastest
    min_tps: float = MIN_TPS  # a usable decode speed, tokens a second
    vision: bool = True  # a vision model's projector is loaded (Ollama and LM Studio always; llama-server unless
    # --no-mmproj)
    # llama.cpp's own knobs, as llama.cpp spells them: -ctk/-ctv (each overrides kv_type for its half), -ngl N
    # (pins the layers on the GPU), --n-cpu-moe N (the experts of the first N layers stay in RAM), -np N (slots)
    type_k: str | None = None
    type_v: str | None = None
    gpu_layers: int | None = None
    n_cpu_moe: int | None = None
    parallel: int | None = None

    @property
    def cache_types(self) -> tuple[str, str]:
        """The K and V cache types, upper case as ggml names them (-ctk/-ctv over --kv-type)."""
        return (self.type_k or self.kv_type).upper(), (self.type_v or self.kv_type).upper()

    @property
    def ollama_batch(self) -> int | None:
        """The num_batch Ollama is told (its -b and -ub): --ubatch, else --batch, where either was given; None
        leaves it to Ollama's own choice (catalog.core.ollama.launch_batch)."""
        if self.ubatch != DEFAULT_UBATCH:
            return self.ubatch
        return self.batch if self.batch != DEFAULT_BATCH else None

    @property
    def llama_cpp_knobs(self) -> bool:
        """Whether the request sets something only llama.cpp can be told (then it is the runtime modelled)."""
        k, v = self.cache_types
        # Ollama's num_batch is both -b and -ub: two different ones are llama.cpp's to run
        two_batches = DEFAULT_BATCH != self.batch != self.ubatch != DEFAULT_UBATCH
        return (k != v or self.gpu_layers is not None or self.n_cpu_moe is not None or self.parallel is not None
                or two_batches)

    def validate(self) -> None:
        """`validate(self)`: refuse a request no runtime would run (before anything is looked up)."""
        validate(self)


PREFER = ("quality", "speed")


def ollama_default_ctx(vram_total_bytes: int) -> int:
    """Ollama's default num_ctx for this much total VRAM (server/routes.go)."""
    for at_least, ctx in OLLAMA_CTX_TIERS:
        if vram_total_bytes >= at_least:
            return ctx
    return OLLAMA_CTX_SMALLEST


def validate(req: CheckRequest) -> None:
    """Refuse a request no runtime would run.

    Raises:
        UsageError: a count that is not positive, an unknown runtime or cache type, or a quantized V cache
            without flash attention.
    """
    for flag, v in (("--ctx", req.ctx), ("--content-tokens", req.content_tokens), ("--batch", req.batch),
                    ("--ubatch", req.ubatch)):
        if v is not None and v <= 0:
            raise UsageError(f"{flag} must be positive")
    if req.runtime not in RUNTIMES:
        raise UsageError(f"unknown runtime {req.runtime!r}", "one of " + ", ".join(RUNTIMES))
    _validate_llama_cpp(req)
    if req.prefer not in PREFER:
        raise UsageError(f"unknown preference {req.prefer!r}", "quality or speed")
    if not req.min_tps > 0:
        raise UsageError("--min-tps must be positive")


def _validate_llama_cpp(req: CheckRequest) -> None:
    """The cache types and llama.cpp's knobs: llama.cpp refuses a quantized V cache without flash attention
    ("quantized V cache requires flash_attn to be enabled", llama-context.cpp) and runs a quantized K cache
    without it; Ollama sets one type for both and quantizes the cache only with flash attention
    (OLLAMA_KV_CACHE_TYPE)."""
    for flag, n in (("-ngl", req.gpu_layers), ("--n-cpu-moe", req.n_cpu_moe)):
        if n is not None and n < 0:
            raise UsageError(f"{flag} must be 0 or more")
    if req.parallel is not None and req.parallel <= 0:
        raise UsageError("-np must be positive")
    k, v = req.cache_types
    for kind in (k, v):
        if kind not in KV_TYPES:
            raise UsageError(f"unknown KV cache type {kind.lower()!r}", ", ".join(x.lower() for x in KV_TYPES))
    if req.runtime != "llama.cpp":
        if req.llama_cpp_knobs:
            raise UsageError(f"-ctk/-ctv apart, -ngl, --n-cpu-moe and -np are llama.cpp's: {req.runtime} has no "
                             "such setting", "add --runtime llama.cpp")
        if k != DEFAULT_KV and not req.flash_attn:
            raise UsageError("a quantized KV cache needs flash attention", "drop --flash-attn off")
    elif v != DEFAULT_KV and not req.flash_attn:
        raise UsageError("a quantized V cache needs flash attention (llama.cpp quantizes K without it)",
                         "drop --flash-attn off, or -ctv f16")


def implied_runtime(runtime: str | None, req: CheckRequest) -> str:
    """The runtime a request models: the one named, else llama.cpp where a llama.cpp-only knob is set
    (`-ngl 12 -np 2` describes a llama-server), else the default."""
    if runtime:
        return runtime
    return "llama.cpp" if req.llama_cpp_knobs else DEFAULT_RUNTIME

