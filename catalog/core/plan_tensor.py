"""llama.cpp `-sm tensor` over the GPUs of one host: every layer cut across all of them (pure).

Which tensor splits along which axis, and each device's bytes, is catalog.core.tensor_split.
"""


from catalog.core import commands
from catalog.core import tensor_split as tsp
from catalog.core.fit import gpu_budgets
from catalog.core.memory import CUDA_CONTEXT_BYTES, POOL_LARGE_BYTES, RuntimeOptions, estimate
from catalog.core.model import ModelSpec, weight_table
from catalog.core.plan_rpc import local_device_name
from catalog.core.plan_types import DevicePlan, EnginePlan, Host, HostPlan, Link, overfull
from catalog.core.speed import parallel_seconds, per_second

NOTES = ("llama.cpp's tensor parallelism (-sm tensor, EXPERIMENTAL in docs/multi-gpu.md): every layer is cut "
         "across the GPUs (attention by GQA groups, the FFN by rows/columns, the KV cache by KV heads), "
         "norms, router, shared experts and a tied output matrix are mirrored, and each GPU holds the whole "
         "compute buffer; it needs flash attention and an f16/bf16/f32 KV cache, and --fit does not apply",
         "-sm row, the older row split, is deprecated (docs/multi-gpu.md) and CUDA and Vulkan builds since "
         "b9890 refuse it (\"does not support split buffers\", ggml-org/llama.cpp #27465): -sm tensor replaces it")
UPPER_BOUND = ("decode speed is an upper bound: two all-reduces a layer cross PCIe/NVLink and are not counted; "
               "build with NCCL (-DGGML_CUDA_NCCL=ON, the default) and, where the board allows, GGML_CUDA_P2P=1; "
               "NCCL's own buffers are not counted (not measured): the budget's safety margin has to cover them")


def tensor_plan(spec: ModelSpec, quant: str, ctx: int, host: Host, kv: str = "F16") -> EnginePlan:
    """llama.cpp `-sm tensor` over the GPUs of one host: every layer cut across all of them."""
    a = spec.arch
    n = len(host.gpus)
    budgets = gpu_budgets(host.gpus, True)
    # even unless the cards differ; then -ts in proportion to their budgets (tenths of a GiB, as typed)
    ts = () if len(set(budgets)) == 1 else tuple(round(b / 2**30, 1) for b in budgets)
    why = tsp.unsupported_reason(a) or ("one GPU: nothing to split" if n < 2 else None)
    if why:
        return EnginePlan("llama.cpp tensor split", False, (), (), None, Link(), (), (*NOTES, f"not planned: {why}"))
    tensors, lay = weight_table(spec, quant)
    opts = RuntimeOptions(ctx, kv, kv)
    w = tsp.weights_per_device(a, tensors, n, ts)
    kvb = tsp.kv_per_device(a, tensors, opts, n, ts)
    compute = tsp.compute_per_device(a, opts)
    # the large pool: NCCL's bf16 temporaries come from it (ggml-cuda.cu), whatever the weights' type
    overhead = CUDA_CONTEXT_BYTES + POOL_LARGE_BYTES + tsp.allreduce_bytes(a, opts, n)
    dev = tuple(DevicePlan(host.name, g.name, a.n_layer + 1, w[i] + kvb[i] + compute + overhead, budgets[i],
                           local_device_name(g, i), w[i], kvb[i], compute, overhead) for i, g in enumerate(host.gpus))
    # the host keeps what a full offload leaves in RAM: token embedding, input rows, logits
    ram_need = estimate(a, tensors, opts, None, True, lay=lay).cpu_bytes
    host_rows = (HostPlan(host.name, sum(d.bytes for d in dev), sum(budgets), ram_need, host.ram_bytes, a.n_layer),)
    fits = (all(d.bytes <= d.budget_bytes for d in dev) and kv in ("F16", "BF16", "F32")
            and ram_need <= host.ram_bytes)
    # decode, an upper bound: the GPUs read their slices at once; the two all-reduces a layer are not counted
    t = parallel_seconds((lay.active_bytes * w[i] / max(1, sum(w)) + kvb[i] / 2, g.bandwidth_bytes_per_s)
                         for i, g in enumerate(host.gpus))
    tps = per_second(t) if fits else None
    cmd = commands.tensor_split_head(host.name, commands.weights_args(spec, quant), ctx, ts)
    notes = [*NOTES, UPPER_BOUND] + ([] if fits else [overfull(dev, with_host=False)])
    return EnginePlan("llama.cpp tensor split", fits, dev, host_rows, tps,
                      Link(all_reduces_per_token=2 * a.n_layer, all_reduces_counted=False), (cmd,), tuple(notes))
