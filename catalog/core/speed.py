"""The decode-speed model, once for every face and engine (pure).

Decoding is memory-bound: each generated token reads the active weights once (a MoE's used
experts only) and the KV cache filled to half the context, from whichever memory holds them,
and llama.cpp reaches about DECODE_EFFICIENCY of peak bandwidth; each layer adds a fixed
LAYER_OVERHEAD_S of kernel launches, which is what bounds a small model's speed. Several devices in a pipeline
add up; devices that split every layer (tensor parallel) read at once, the slowest deciding.
A GPU whose bandwidth no source gives has no speed estimate: the model never guesses one.
"""


from collections.abc import Iterable

from catalog.core.arch import Architecture
from catalog.core.memory import MemoryEstimate, WeightLayout
from hardware import GPU

# fitted on published llama.cpp runs (bench/speed_calibration.py, half of bench/data/speed_published.json in
# sample, the other half held out; bench/RESULTS.md): the share of peak bandwidth a token's reads reach, and
# what each layer adds per token
DECODE_EFFICIENCY = 0.73
LAYER_OVERHEAD_S = {"discrete": 42e-6, "apple": 138e-6}


def overhead_family(vendor: str | None) -> str:
    """Whose per-layer cost a GPU pays: Apple's Metal, or a discrete card's CUDA, ROCm or Vulkan."""
    return "apple" if vendor == "apple" else "discrete"
# system RAM's bandwidth, assumed for the layers and KV cache a partial offload leaves on the CPU
DEFAULT_RAM_BANDWIDTH = 60e9  # dual-channel DDR5 (~5600 MT/s x 16 bytes is 90 GB/s peak, ~60 reached)


def read_seconds(nbytes: float, bandwidth_bytes_per_s: float) -> float:
    """Seconds to read `nbytes` once at the share of peak bandwidth decoding reaches."""
    return nbytes / (bandwidth_bytes_per_s * DECODE_EFFICIENCY)


def ram_read_seconds(nbytes: float, bandwidth_bytes_per_s: float | None = None) -> float:
    """`read_seconds` from system RAM (at DEFAULT_RAM_BANDWIDTH unless its bandwidth is given)."""
    return read_seconds(nbytes, bandwidth_bytes_per_s or DEFAULT_RAM_BANDWIDTH)


def slowest_bandwidth(gpus: Iterable[GPU]) -> float | None:
    """The lowest known bandwidth of `gpus`; None if any of them has none (no speed is then claimed)."""
    bws = [g.bandwidth_bytes_per_s for g in gpus]
    if not bws or any(not b for b in bws):
        return None
    return float(min(b for b in bws if b))


def pipeline_seconds(reads: Iterable[tuple[float, float | None]]) -> float | None:
    """Seconds a token takes on devices that each read their own layers, one after another: the sum of each
    device's (bytes, bandwidth) read. None when any bandwidth is unknown."""
    t = 0.0
    for nbytes, bandwidth in reads:
        if not bandwidth:
            return None
        t += read_seconds(nbytes, bandwidth)
    return t


def parallel_seconds(reads: Iterable[tuple[float, float | None]]) -> float | None:
    """Seconds a token takes on devices that each read a slice of every layer at once (tensor parallel): the
    slowest device's (bytes, bandwidth) read. None when any bandwidth is unknown (or there is no device)."""
    times = [read_seconds(nbytes, bandwidth) if bandwidth else None for nbytes, bandwidth in reads]
    if not times or any(t is None for t in times):
        return None
    return max(t for t in times if t is not None)


def per_second(seconds: float | None) -> float | None:
    """Tokens a second for `seconds` a token, to one decimal; None for no time."""
    return round(1.0 / seconds, 1) if seconds else None


def decode_reads(est: MemoryEstimate, lay: WeightLayout) -> tuple[float, float]:
    """(GPU bytes, RAM bytes) one decoded token reads: the weights where they sit (a MoE's used experts only;
    one row of the token embedding, which stays in RAM) and half the KV cache (a conversation halfway through
    its context)."""
    read_once = lay.total_bytes - lay.input_bytes + lay.tied_copy_bytes
    if read_once <= 0:
        return 0.0, 0.0
    frac_active = lay.active_bytes / read_once  # MoE: the used experts' share
    kv_read = est.kv_cache_bytes // 2
    kv_gpu_read = est.kv_gpu_bytes // 2
    gpu_read = est.weights_gpu_bytes * frac_active + kv_gpu_read
    cpu_read = max(0, read_once - est.weights_gpu_bytes) * frac_active + (kv_read - kv_gpu_read)
    return float(gpu_read), float(cpu_read)


def token_overhead_seconds(n_layer: int, vendor: str | None) -> float:
    """The time a token costs beyond its reads: each layer's kernel launches and synchronisation, the same
    on a small model as on a large one (why a 1B model does not decode 8x faster than an 8B one)."""
    return n_layer * LAYER_OVERHEAD_S[overhead_family(vendor)]


def check_seconds(est: MemoryEstimate, lay: WeightLayout, gpus: tuple[GPU, ...],
                  ram_bandwidth: float | None = None) -> float | None:
    """Seconds a decoded token takes for one check row: the GPUs' share at their (slowest) bandwidth, the
    rest from RAM, plus the per-layer overhead. None when a GPU's bandwidth is unknown."""
    gpu_read, cpu_read = decode_reads(est, lay)
    if gpu_read <= 0 and cpu_read <= 0:
        return None
    t = token_overhead_seconds(len(lay.layer_bytes), gpus[0].vendor if gpus else None)
    if gpu_read > 0 and gpus:
        bw = slowest_bandwidth(gpus)
        if bw is None:
            return None
        t += read_seconds(gpu_read, bw)
    if cpu_read > 0:
        t += ram_read_seconds(cpu_read, ram_bandwidth)
    return t


def layer_read_bytes(a: Architecture, lay: WeightLayout, il: int, kv_layer_bytes: int) -> float:
    """Bytes one decoded token reads from layer `il`: its weights (a MoE's used experts only) and half its
    KV cache (a conversation halfway through its context)."""
    experts = lay.layer_expert_bytes[il] if lay.layer_expert_bytes else 0
    used = a.n_expert_used / a.n_expert if a.n_expert else 1.0
    return float(lay.layer_bytes[il] - experts * (1.0 - used) + kv_layer_bytes / 2)


# prompt processing (prefill) reaches this share of a GPU's peak FLOP/s, by which figure the table gives
# (fitted like decode: bench/speed_calibration.py, the even published pp512 runs; RESULTS.md section 6). The
# shares differ because the figures do: Ampere GeForce cards list only the shader FP16 rate while llama.cpp's
# matrix kernels use the tensor cores (a share above 1), Turing/Ada/Blackwell list the tensor rate with FP16
# accumulate, Apple only FP32.
# No published run on a card whose table figure is the FP32-accumulate tensor rate (A100, H100, L4 ...) was
# fitted: those get no prefill estimate rather than a borrowed share.
PREFILL_EFFICIENCY = {"tensor_fp16acc_dense": 0.41, "shader": 1.19, "fp32": 0.69}
# the smallest model the published runs cover (1.1B): below it fixed per-batch costs, not FLOPs, decide, and no
# run measures them, so no prompt speed is given
PREFILL_MIN_PARAMS = 1.0e9


def active_parameters(parameters: float, lay: WeightLayout) -> float:
    """Parameters a prompt token multiplies through: all but the token embedding (a lookup), a MoE's used
    experts only (the share of the bytes each token reads)."""
    return parameters * lay.active_bytes / lay.total_bytes if lay.total_bytes else parameters


def prefill_per_second(active_params: float, gpus: tuple[GPU, ...], layers_on: tuple[int, ...] = ()) -> float | None:
    """Prompt tokens a second with every layer on the GPU(s): 2 FLOPs per active parameter a token at the
    fitted share of each GPU's peak; several GPUs process their layers one after another. None when a GPU's
    figure (or its share) is unknown, or the model is below the calibrated sizes (PREFILL_MIN_PARAMS)."""
    if not gpus or active_params < PREFILL_MIN_PARAMS:
        return None
    counts: tuple[int, ...] = layers_on if len(layers_on) == len(gpus) and sum(layers_on) > 0 else (1,) * len(gpus)
    total = float(sum(counts))
    seconds = 0.0
    for g, n in zip(gpus, counts, strict=True):
        eff = PREFILL_EFFICIENCY.get(g.flops_kind or "", 0.0)
        if not g.flops or not eff:
            return None
        seconds += (n / total) * 2 * active_params / (g.flops * eff)
    return round(1 / seconds, 1)
