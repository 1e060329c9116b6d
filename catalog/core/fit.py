"""What fits: how much of each GPU an estimate may fill (the safety margin, once), and the fits llama.cpp
makes within it, searched over the estimate (pure).

`gpu_budgets` is each GPU's budget after the margin; `split_layers` the layer split over several GPUs
that `-ts` pins; `fit_layers` the largest `-ngl` that fits; `fit_cpu_moe` the fewest `--n-cpu-moe`
layers whose experts must stay in RAM.
"""


from catalog.core.arch import Architecture
from catalog.core.ggml import Tensor
from catalog.core.memory import (
    CUDA_CONTEXT_BYTES,
    MIB,
    RuntimeOptions,
    WeightLayout,
    device_of_layers,
    estimate,
    kv_cache_by_layer,
    layout,
)
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

    def ok(ngl: int) -> bool:
        return estimate(a, tensors, opts, ngl, True, context_overhead_bytes, lay, budgets, cpu_moe_layers).fits(budgets)

    if not ok(1):
        return 0
    lo, hi = 1, a.n_layer + 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid - 1
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
