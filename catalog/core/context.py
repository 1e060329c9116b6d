"""Which context a runtime allocates: what the user asked, else the runtime's own default, and how each
runtime shrinks a default that does not fit (pure)."""


from collections.abc import Callable

from catalog.core.model import ModelSpec
from catalog.core.options import (
    FALLBACK_CONTEXT,
    LLAMA_FIT_MIN_CTX,
    LMSTUDIO_DEFAULT_CTX,
    OLLAMA_CTX_STEPS,
    CheckRequest,
    ollama_default_ctx,
)
from catalog.core.template import TemplateCost

CTX_CELL = 256  # llama.cpp's --fit searches the context in cells of this many tokens


def trained_context(spec: ModelSpec) -> int:
    """The context the model was trained for (FALLBACK_CONTEXT when it does not say)."""
    return spec.arch.n_ctx_train or FALLBACK_CONTEXT


def ollama_model_ctx(spec: ModelSpec) -> int | None:
    """A num_ctx the Ollama model sets itself (its Modelfile's PARAMETER, the params layer): it wins over the
    VRAM-tiered default."""
    v = spec.ollama.num_ctx
    return int(v) if isinstance(v, int) and v > 0 else None


def ollama_context(spec: ModelSpec, vram_total_bytes: int) -> int:
    """The context Ollama allocates for this model on this much VRAM when nobody sets one."""
    return min(ollama_model_ctx(spec) or ollama_default_ctx(vram_total_bytes), trained_context(spec))


def requested_context(spec: ModelSpec, req: CheckRequest, template: TemplateCost,
                      vram_total_bytes: int) -> tuple[int, str]:
    """The context and why: `--ctx`; `--content-tokens` plus the template's overhead; else the runtime's
    default (llama.cpp: the model's full context; LM Studio 4096; Ollama the model's num_ctx or its
    VRAM tier), never past the model's own context except where the user said so."""
    train = trained_context(spec)
    if req.ctx:
        return req.ctx, "--ctx"
    if req.content_tokens:
        return min(req.content_tokens + int(template.overhead_tokens or 0), train), "--content-tokens"
    if req.runtime == "llama.cpp":
        return train, "llama.cpp default (-c 0: the model's full context; --fit may shrink it)"
    if req.runtime == "lmstudio":
        return min(LMSTUDIO_DEFAULT_CTX, train), "LM Studio default"
    model_ctx = ollama_model_ctx(spec)
    if model_ctx:
        return min(model_ctx, train), "the num_ctx the Ollama model's params layer sets"
    return min(ollama_default_ctx(vram_total_bytes), train), "Ollama default for this much VRAM"


def shrink_default(runtime: str, quant: str, ctx: int, why: str, fits: Callable[[int], bool]) -> tuple[int, str]:
    """What the runtime does when its own default context does not fit on the GPU(s) with `quant`: Ollama
    steps an automatic context down 256k -> 32k -> 4k (server/sched.go); llama.cpp's --fit shrinks an unset
    -c, not below 4096 (-fitc), before it gives up layers. LM Studio keeps its 4096.

    Args:
        fits: whether a context fits on the GPU(s) (and its RAM share in RAM).
    """
    if runtime == "lmstudio" or ctx <= LLAMA_FIT_MIN_CTX or fits(ctx):
        return ctx, why
    if runtime == "ollama":
        smallest = OLLAMA_CTX_STEPS[-1]
        for step in OLLAMA_CTX_STEPS:
            if step < ctx and (step == smallest or fits(step)):
                return step, f"{why}, stepped down to {step} as Ollama does when {quant} does not fit at {ctx}"
        return ctx, why
    lo, hi = LLAMA_FIT_MIN_CTX // CTX_CELL, ctx // CTX_CELL  # llama.cpp: the largest context that fits
    if not fits(lo * CTX_CELL):
        return LLAMA_FIT_MIN_CTX, (f"{why}; --fit stops shrinking it at {LLAMA_FIT_MIN_CTX} (-fitc) and offloads "
                                   "fewer layers")
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid * CTX_CELL):
            lo = mid
        else:
            hi = mid - 1
    return lo * CTX_CELL, f"{why}; --fit shrinks it to {lo * CTX_CELL} so that {quant} fits"
