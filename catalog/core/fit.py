"""What fits: how much of each GPU an estimate may fill (the safety margin, once), the fits llama.cpp
makes within it, searched over the estimate, and the context a runtime allocates (pure).

`gpu_budgets` is each GPU's budget after the margin; `split_layers` the layer split over several GPUs
that `-ts` pins; `fit_layers` the largest `-ngl` that fits; `fit_cpu_moe` the fewest `--n-cpu-moe`
layers whose experts must stay in RAM. `requested_context` is the context a runtime allocates (what the user
asked, else the runtime's own default) and `shrink_default` how each runtime shrinks a default that does not fit.
"""


from collections.abc import Callable

from catalog.core.arch import Architecture
from catalog.core.ggml import Tensor
from catalog.core.memory import (
    CUDA_CONTEXT_BYTES,
    MIB,
    MemoryEstimate,
    RuntimeOptions,
    WeightLayout,
    device_of_layers,
    estimate,
    kv_cache_by_layer,
    layout,
)
from catalog.core.model import ModelSpec, TemplateCost
from catalog.core.options import (
    FALLBACK_CONTEXT,
    LLAMA_FIT_MIN_CTX,
    LMSTUDIO_DEFAULT_CTX,
    OLLAMA_CTX_STEPS,
    CheckRequest,
    FitLevel,
    Verdict,
    ollama_default_ctx,
)
from catalog.errors import UsageError
from hardware import GPU

# what a named GPU profile leaves for the driver, a desktop, and estimate error
PROFILE_RESERVE_FRACTION = 0.05
PROFILE_RESERVE_MIN = 512 * MIB
MARGIN_FIXED = 256 * MIB
MARGIN_FRACTION = 0.02


def gpu_budgets(gpus: tuple[GPU, ...], named: bool) -> tuple[int, ...]:
    """Bytes the runtime may use on each GPU, after the safety margin.

    Args:
        gpus: the GPUs, in order.
        named: the GPUs are profiles of named cards (`--gpu`), not detected: their memory is the card's
            total, so the driver's and a desktop's share is kept back too (not on Apple, whose profile
            already holds Metal's working-set share).
    """
    out = []
    for g in gpus:
        free = g.memory_free_bytes
        if named and g.vendor != "apple":
            free = g.memory_total_bytes - max(PROFILE_RESERVE_MIN, int(g.memory_total_bytes * PROFILE_RESERVE_FRACTION))
        out.append(max(0, free - MARGIN_FIXED - int(g.memory_total_bytes * MARGIN_FRACTION)))
    return tuple(out)


def margin_text(named: bool) -> str:
    """The safety margin in words, as the check reports it."""
    return (f"{MARGIN_FIXED >> 20} MiB + {MARGIN_FRACTION:.0%} of each GPU"
            + (f", and {PROFILE_RESERVE_FRACTION:.0%} (at least {PROFILE_RESERVE_MIN >> 20} MiB)"
               " for the driver and desktop on a named card" if named else ""))


def split_layers(a: Architecture, tensors: list[Tensor], opts: RuntimeOptions, budgets: tuple[int, ...],
                 context_overhead_bytes: int = CUDA_CONTEXT_BYTES, lay: WeightLayout | None = None,
                 cpu_moe_layers: int = 0) -> tuple[int, ...]:
    """Whole layers per GPU for a full offload, the output layer counted on the last: `-ts` pins them.

    Starts from llama.cpp's default split (in proportion to each GPU's free memory, here its budget) and,
    while a GPU is over its budget and another has room for a layer, moves one layer at a time from the
    fullest to the emptiest. The default ignores what each GPU pays before any layer (CUDA context, compute
    buffer, the output layer on the last), so uneven cards often fit only after this.
    Passing the counts as `-ts` reproduces them exactly: llama.cpp puts layer `il` on the first device
    whose cumulative share exceeds il / n_offloaded (llama-model.cpp load_tensors), and with integer
    layer counts as shares both sides of that comparison are the same float quotient.
    """
    lay = lay or layout(tensors, a.n_layer)
    n = a.n_layer + 1
    where = device_of_layers(a.n_layer, n, budgets if any(budgets) else (1,) * len(budgets))
    counts = [where.count(d) for d in range(len(budgets))]
    per_layer = max(lay.layer_bytes) + max(kv_cache_by_layer(a, opts))
    for _ in range(4 * n):
        est = estimate(a, tensors, opts, None, True, context_overhead_bytes, lay, tuple(counts), cpu_moe_layers)
        room = [b - used for b, used in zip(budgets, est.per_gpu_bytes, strict=True)]
        worst = min(range(len(room)), key=lambda d: room[d])
        best = max(range(len(room)), key=lambda d: room[d])
        movable = counts[worst] - (1 if worst == len(counts) - 1 else 0)  # the output layer stays on the last
        if room[worst] >= 0 or movable <= 0 or worst == best:
            break
        if room[best] < per_layer:
            break
        counts[worst] -= 1
        counts[best] += 1
    return tuple(counts)


def fit_layers(a: Architecture, tensors: list[Tensor], opts: RuntimeOptions, gpu_budget_bytes: int | tuple[int, ...],
               context_overhead_bytes: int = CUDA_CONTEXT_BYTES, lay: WeightLayout | None = None,
               cpu_moe_layers: int = 0) -> int:
    """The largest -ngl whose bytes stay within every GPU's budget (0 if none).

    Args:
        gpu_budget_bytes: one budget, or one per GPU (the layer split follows their proportions).
    """
    budgets = gpu_budget_bytes if isinstance(gpu_budget_bytes, tuple) else (gpu_budget_bytes,)
    lay = lay or layout(tensors, a.n_layer)

    def est(ngl: int) -> MemoryEstimate:
        return estimate(a, tensors, opts, ngl, True, context_overhead_bytes, lay, budgets, cpu_moe_layers)

    lo, hi = 1, a.n_layer + 1
    low = est(lo)
    if not low.fits(budgets):
        return 0
    if len(budgets) > 1:  # the split moves layers between the GPUs (not always more bytes on each): halves
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if est(mid).fits(budgets):
                lo = mid
            else:
                hi = mid - 1
        return lo
    high = est(hi)
    if high.fits(budgets):
        return hi
    # ok(lo), not ok(hi), and one GPU's bytes grow with every layer offloaded: the next guess is where the line
    # through the bracket's ends meets the budget (layers weigh nearly alike, so it lands at or next to the
    # answer), tried with its neighbour; the same answer as halving in about half the estimates
    while hi - lo > 1:
        guess = lo + (hi - lo) * (budgets[0] - low.gpu_bytes) // max(1, high.gpu_bytes - low.gpu_bytes)
        mid = min(max(guess, lo + 1), hi - 1)
        e = est(mid)
        if not e.fits(budgets):
            hi, high = mid, e
            continue
        lo, low = mid, e
        if hi - lo > 1:
            nxt = est(lo + 1)
            if not nxt.fits(budgets):
                return lo
            lo, low = lo + 1, nxt
    return lo


def fit_cpu_moe(a: Architecture, tensors: list[Tensor], opts: RuntimeOptions, budgets: tuple[int, ...],
                context_overhead_bytes: int = CUDA_CONTEXT_BYTES, lay: WeightLayout | None = None) -> int | None:
    """For a MoE model, the fewest leading layers whose experts must stay in RAM for everything
    else to fit on the GPU(s) (llama.cpp `--n-cpu-moe N`); None if even all of them do not suffice."""
    if not a.n_expert:
        return None
    lay = lay or layout(tensors, a.n_layer)

    def ok(n: int) -> bool:
        return estimate(a, tensors, opts, None, True, context_overhead_bytes, lay, budgets, n).fits(budgets)

    if not ok(a.n_layer):
        return None
    lo, hi = 0, a.n_layer
    while lo < hi:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


# the context a runtime allocates: what the user asked, else its own default, shrunk as the runtime does
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
        if spec.arch.n_ctx_train and req.ctx > spec.arch.n_ctx_train:
            scale = req.ctx / spec.arch.n_ctx_train
            raise UsageError(f"--ctx {req.ctx} is past {spec.name}'s trained context of {spec.arch.n_ctx_train} "
                             "tokens", f"give --ctx {spec.arch.n_ctx_train} or less; llama.cpp reaches {req.ctx} "
                             f"only with RoPE scaling the model was not trained with (--rope-scaling yarn "
                             f"--rope-scale {scale:.3g} --yarn-orig-ctx {spec.arch.n_ctx_train}), not estimated here")
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


# a row that fits with less than this share of the GPU budget left is "tight": a longer conversation, another
# program's window or a driver update can push it over
TIGHT_SHARE = 0.05


def fit_level(verdict: Verdict, tokens_per_second: float | None, gpu_bytes: int, budget_bytes: int,
              min_tps: float) -> FitLevel:
    """How a row runs, in a person's words: won't run; too slow (under `min_tps`); partial or CPU only; tight
    (on the GPU with under TIGHT_SHARE of its budget left); fits."""
    if verdict == "no_fit":
        return "won't run"
    if tokens_per_second is not None and tokens_per_second < min_tps:
        return "too slow"
    if verdict == "partial":
        return "partial"
    if verdict == "cpu_only":
        return "cpu only"
    return "tight" if budget_bytes - gpu_bytes < TIGHT_SHARE * budget_bytes else "fits"
