"""Bytes a GGUF model takes when llama.cpp runs it (pure).

Counts what llama.cpp allocates, part by part, and where it lands:
- weights: every tensor at its ggml type; the token embedding stays in host
  memory (llama.cpp's input layer is always on the CPU), the output matrix
  and the last N repeating layers go to the GPU with `-ngl N`;
- KV cache: allocated up front for the whole (256-padded) context, per layer
  on that layer's device, at the cache type's real row size; sliding-window
  layers hold only their window plus a micro-batch; MLA caches one latent;
- compute buffer: the worst-case graph at `n_ubatch` tokens (calibrated
  against llama.cpp on an H100, see bench/RESULTS.md);
- overhead: the CUDA context and cuBLAS handle, plus the memory pool
  llama.cpp's CUDA backend grows during prompt processing;
- output buffer: the logits, in (pinned) host memory.

Everything is an integer number of bytes.
"""


from functools import lru_cache

from catalog.core import ollama
from catalog.core.arch import Architecture
from catalog.core.ggml import Tensor, tensor_bytes
from catalog.core.layout import WeightLayout as WeightLayout  # re-exported: the estimate's callers read both here
from catalog.core.layout import layout as layout
from catalog.core.memo import MISS, Memo
from catalog.core.options import DEFAULT_BATCH, DEFAULT_FLASH_ATTN, DEFAULT_KV, DEFAULT_UBATCH, CheckRequest
from catalog.core.options import LLAMA_SERVER_SLOTS as SERVER_SLOTS
from catalog.core.record import Record

MIB = 1 << 20

# Measured with llama.cpp 0c1e570 (CUDA 13, driver 580.159.04) on an H100 80GB:
# nvidia-smi's per-process figure before the first model buffer (CUDA context
# plus cuBLAS handle) and the pool growth seen during a 600-token prompt.
# See bench/RESULTS.md. Smaller GPUs have smaller contexts, so these err high.
CUDA_CONTEXT_BYTES = 586 * MIB
# llama.cpp's CUDA pool: small when quantized dense weights run with flash
# attention; about 115-138 MiB when cuBLAS handles F16/BF16 weights, the KQ
# product without flash attention, or MoE expert batches.
POOL_SMALL_BYTES = 22 * MIB
POOL_LARGE_BYTES = 138 * MIB
# llama.cpp pads the context to a multiple of 256 cells (llama-context.cpp)
CTX_PAD = 256


class RuntimeOptions(Record):
    """What the runtime is told: context, cache types, attention kernel, batches."""

    n_ctx: int
    type_k: str = DEFAULT_KV
    type_v: str = DEFAULT_KV
    flash_attn: bool = DEFAULT_FLASH_ATTN
    n_batch: int = DEFAULT_BATCH
    n_ubatch: int = DEFAULT_UBATCH
    n_seq: int = 1
    swa_full: bool = False
    # outputs the worst-case graph reserves: 0 = the whole micro-batch (llama-cli's n_outputs_max = n_batch, Ollama);
    # llama-server one a slot (server_output_limits: n_outputs_max = n_parallel, server-context.cpp at 0c1e570)
    n_outputs: int = 0
    gpu_layers: int | None = None  # -ngl N pinned (None: as many as fit)
    cpu_moe: int | None = None  # --n-cpu-moe N pinned (None: chosen to fit)


class DeviceBytes(Record):
    """One GPU's bytes, part by part."""

    weights_bytes: int
    kv_cache_bytes: int
    compute_bytes: int
    overhead_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_cache_bytes + self.compute_bytes + self.overhead_bytes


def runtime_options(request: CheckRequest, ctx: int) -> RuntimeOptions:
    """The options a check's request gives the runtime at context `ctx` (the physical batch never above the
    logical one, as llama.cpp clamps it). llama-server runs `-np` slots (4 when not told) over one unified
    cache and reserves one output a slot; Ollama starts one such llama-server with one slot and -b = -ub =
    num_batch; LM Studio runs one sequence and reserves the whole micro-batch's outputs."""
    k, v = request.cache_types
    ub = min(request.ubatch, request.batch)
    if request.runtime == "llama.cpp":
        slots = request.parallel or SERVER_SLOTS
        return RuntimeOptions(ctx, k, v, request.flash_attn, request.batch, ub, slots, n_outputs=slots,
                              gpu_layers=request.gpu_layers, cpu_moe=request.n_cpu_moe)
    if request.runtime == "ollama":  # Ollama 0.30+: a llama-server with -np 1, -b and -ub both num_batch
        nb = ollama.launch_batch(request.ollama_batch, ctx, None, (), request.flash_attn)  # a file's: per row
        return RuntimeOptions(ctx, k, v, request.flash_attn, nb, nb, 1, n_outputs=1)
    return RuntimeOptions(ctx, k, v, request.flash_attn, request.batch, ub)


class MemoryEstimate(Record):
    """Where the bytes go for one model, quantization and set of options."""

    weights_bytes: int
    weights_gpu_bytes: int
    kv_cache_bytes: int
    kv_gpu_bytes: int
    compute_bytes: int
    compute_host_bytes: int
    output_bytes: int
    overhead_bytes: int
    gpu_layers: int
    total_layers: int
    gpu_bytes: int
    cpu_bytes: int
    n_ctx: int
    per_gpu_bytes: tuple[int, ...] = ()  # each GPU's share, in the order given
    per_gpu_layers: tuple[int, ...] = ()
    cpu_moe_layers: int = 0  # leading layers whose experts stay in RAM (llama.cpp --n-cpu-moe)
    per_gpu_parts: tuple[DeviceBytes, ...] = ()  # each GPU's weights, kv_cache, compute and overhead bytes

    def fits(self, budgets: tuple[int, ...]) -> bool:
        """Whether each GPU's share stays within its budget (one budget per GPU, in order)."""
        return all(b <= budget for b, budget in zip(self.per_gpu_bytes, budgets, strict=True))

    @property
    def total_bytes(self) -> int:
        return self.gpu_bytes + self.cpu_bytes


def pad(n: int, multiple: int) -> int:
    return (n + multiple - 1) // multiple * multiple


def kv_cells(a: Architecture, opts: RuntimeOptions, il: int) -> int:
    """Cells the cache keeps for layer `il` (llama-kv-cache.cpp, -iswa.cpp)."""
    n_ctx = pad(opts.n_ctx, CTX_PAD)
    if a.swa_layers and a.swa_layers[il] and not opts.swa_full and a.sliding_window:
        return min(n_ctx, pad(min(n_ctx, a.sliding_window * opts.n_seq + opts.n_ubatch), CTX_PAD))
    return n_ctx


@lru_cache(maxsize=64)
def kv_cache_by_layer(a: Architecture, opts: RuntimeOptions) -> tuple[int, ...]:
    """Bytes of K plus V for each layer, or of a recurrent layer's state (the same for every quantization: kept
    for the fits that ask again)."""
    out = []
    for il in range(a.n_layer):
        cells = kv_cells(a, opts, il)
        n_kv = a.n_head_kv[il]
        hk, hv = a.head_dims(il)
        k = tensor_bytes(opts.type_k, (hk * n_kv, cells))
        v = 0 if a.is_mla else tensor_bytes(opts.type_v, (hv * n_kv, cells))
        # a recurrent layer keeps f32 conv and SSM state per sequence instead (llama-memory-recurrent.cpp)
        state = 4 * a.state_elements(il) * max(1, opts.n_seq) if a.layer_kinds else 0
        out.append(k + v + state)
    return tuple(out)




# Extra live activations of MoE graphs at the output stage, in f32 rows of n_embd per
# micro-batch token, measured on llama.cpp 0c1e570 (bench/RESULTS.md); 16 where unmeasured.
MOE_EXTRA_ROWS = {"qwen3moe": 10.2, "qwen3vlmoe": 10.2, "deepseek2": 14.1, "gpt-oss": 1.0}
MOE_EXTRA_DEFAULT = 16.0


@lru_cache(maxsize=1024)
def compute_buffer_bytes(a: Architecture, opts: RuntimeOptions, with_output: bool = True) -> int:
    """The GPU compute buffer llama.cpp reserves for its worst-case graph at n_ubatch tokens.

    ggml-alloc's peak is one of three stages, whichever is largest:
    - output: the f32 logits and final hidden state of the outputs reserved (every
      token of the micro-batch, or llama-server's one a slot), plus, for MoE graphs,
      routing activations still alive;
    - feed-forward: gate, up and their product (3 x n_ff, or the used experts'
      share) and three n_embd-wide rows, plus the attention mask (f16 with flash
      attention, f32 without);
    - attention without flash attention: the f32 KQ scores of every head against
      the whole cache and their mask, plus Q/K/V/output rows.
    Fitted to llama.cpp's own `CUDA0 compute buffer size` lines (bench/RESULTS.md).
    """
    ub = min(opts.n_ubatch, opts.n_batch)
    moe = 0
    if a.n_expert:
        moe = int(ub * 4 * a.n_embd * MOE_EXTRA_ROWS.get(a.arch, MOE_EXTRA_DEFAULT))
    outs = min(ub, opts.n_outputs) if opts.n_outputs else ub
    out_stage = outs * (a.n_vocab + a.n_embd) * 4 + moe if with_output else 0
    ffn = max(max(a.n_ff), a.n_ff_exp * max(1, a.n_expert_used))
    ffn_rows = 4 * ffn if a.arch == "phi3" else 3 * ffn  # phi3's fused gate+up is one 2 x n_ff output
    ffn_stage = ub * 4 * (ffn_rows + 3 * a.n_embd) + stage_mask_bytes(a, opts) + moe  # routing rows live here too
    q_dim = a.n_head * (a.qk_nope_dim + a.qk_rope_dim if a.is_mla else a.head_dim_k)
    rows = stage_mask_bytes(a, opts) + int(ub * 4 * 4.5 * max(a.n_embd, q_dim)) + moe
    if opts.flash_attn:
        # a cache not in f16 is converted to f16 for the batched kernels, inside the attention node's own
        # allocation (ggml-cuda fattn.cu ggml_cuda_flash_attn_ext_get_alloc_size: need_f16_K/V for the TILE and
        # MMA kernels a micro-batch uses): one layer's K and V over its cells
        f16 = fa_f16_copies(a, opts)
        return max(out_stage, ffn_stage, f16 + rows if f16 else 0)
    attn_stage = ub * _max_cells(a, opts) * 4 * a.n_head + rows
    return max(out_stage, ffn_stage, attn_stage)


def fa_f16_copies(a: Architecture, opts: RuntimeOptions) -> int:
    """Bytes of the f16 copies of one layer's K (and V) that CUDA's flash attention makes of a quantized (or bf16)
    cache at prompt time, for the widest layer; 0 with an f16 cache."""
    conv_k, conv_v = opts.type_k != "F16", opts.type_v != "F16" and not a.is_mla  # MLA's V is a view of K
    if not (conv_k or conv_v):
        return 0
    widest = 0
    for il in range(a.n_layer):
        hk, hv = a.head_dims(il)
        n = kv_cells(a, opts, il) * a.n_head_kv[il]
        widest = max(widest, 2 * n * (hk * conv_k + hv * conv_v))
    return widest


PIPELINE_COPIES = 4  # GGML_SCHED_MAX_COPIES


@lru_cache(maxsize=1024)
def _max_cells(a: Architecture, opts: RuntimeOptions) -> int:
    """Cells of the widest layer's cache: every layer keeps the whole context unless some slide over a window."""
    return max(kv_cells(a, opts, il) for il in range(a.n_layer)) if a.swa_layers else pad(opts.n_ctx, CTX_PAD)


def stage_mask_bytes(a: Architecture, opts: RuntimeOptions) -> int:
    """The one attention mask a layer's stage of the graph holds: a row per micro-batch token over the
    widest cache, f16 with flash attention, f32 without (llama-graph.cpp build_attn_inp_kq_mask)."""
    return min(opts.n_ubatch, opts.n_batch) * _max_cells(a, opts) * (2 if opts.flash_attn else 4)


def pipeline_inputs(a: Architecture, opts: RuntimeOptions) -> tuple[int, int]:
    """Bytes of one micro-batch's incoming hidden state (f32) and all its attention masks: a model with
    sliding-window layers has two, one over the full cache and one over the window's, even where the two
    caches are the same size (llama-graph.cpp builds both inputs for its iSWA cache)."""
    ub = min(opts.n_ubatch, opts.n_batch)
    masks = 0
    for swa in (False, True):
        cells = [kv_cells(a, opts, il) for il in range(a.n_layer) if bool(a.swa_layers and a.swa_layers[il]) == swa]
        masks += max(cells, default=0)
    return ub * a.n_embd * 4, ub * (2 if opts.flash_attn else 4) * masks


@lru_cache(maxsize=256)
def device_of_layers(n_layer: int, ngl: int, shares: tuple[int, ...]) -> tuple[int, ...]:
    """The GPU index of each layer 0..n_layer (the last is the output layer), -1 for the CPU.

    llama.cpp's default layer split: the offloaded layers are cut in proportion to
    each device's free memory (`splits` in llama-model.cpp load_tensors).
    """
    first_gpu = n_layer + 1 - ngl
    total = sum(shares) or 1
    bounds, acc = [], 0.0
    for s in shares:
        acc += s
        bounds.append(acc / total)
    out = []
    for il in range(n_layer + 1):
        if il < first_gpu or ngl <= 0:
            out.append(-1)
            continue
        x = (il - first_gpu) / ngl
        out.append(min(next((i for i, b in enumerate(bounds) if x < b), len(bounds) - 1), len(bounds) - 1))
    return tuple(out)


# where the weights and the KV cache land: per GPU weights, KV bytes and layers; the weights left in RAM (the
# input layer, CPU layers, experts kept there), of which experts (--n-cpu-moe); the output layer's GPU (-1: CPU)
_Placement = tuple[list[int], list[int], list[int], int, int, int]


def _place(a: Architecture, lay: WeightLayout, kv: tuple[int, ...], where: tuple[int, ...], n_dev: int,
           cpu_moe_layers: int) -> _Placement:
    dev_w, dev_kv, dev_layers = [0] * n_dev, [0] * n_dev, [0] * n_dev
    w_cpu = lay.input_bytes
    out_dev = where[a.n_layer]
    if out_dev >= 0:
        dev_w[out_dev] += lay.output_bytes + lay.tied_copy_bytes
        dev_layers[out_dev] += 1
    else:
        w_cpu += lay.output_bytes
    moe_cpu = 0
    for il in range(a.n_layer):
        d = where[il]
        if d < 0:
            w_cpu += lay.layer_bytes[il]
            continue
        kept = lay.layer_expert_bytes[il] if il < cpu_moe_layers and lay.layer_expert_bytes else 0
        moe_cpu += kept
        w_cpu += kept
        dev_w[d] += lay.layer_bytes[il] - kept
        dev_kv[d] += kv[il]
        dev_layers[d] += 1
    return dev_w, dev_kv, dev_layers, w_cpu, moe_cpu, out_dev


def _place_one(a: Architecture, lay: WeightLayout, kv: tuple[int, ...], ngl: int, cpu_moe_layers: int) -> _Placement:
    """`_place` on one GPU, in sums over slices: the last `ngl` - 1 repeating layers and the output layer."""
    n = a.n_layer
    if ngl <= 0:
        return [0], [0], [0], lay.input_bytes + lay.output_bytes + sum(lay.layer_bytes), 0, -1
    first = n + 1 - ngl
    kept = sum(lay.layer_expert_bytes[first:cpu_moe_layers]) if cpu_moe_layers > first and lay.layer_expert_bytes \
        else 0
    dev_w = sum(lay.layer_bytes[first:]) - kept + lay.output_bytes + lay.tied_copy_bytes
    w_cpu = lay.input_bytes + sum(lay.layer_bytes[:first]) + kept
    return [dev_w], [sum(kv[first:])], [n - first + 1], w_cpu, kept, 0


def _gpu_parts(a: Architecture, lay: WeightLayout, opts: RuntimeOptions, place: _Placement, compute: int,
               pipeline: bool, context_overhead_bytes: int) -> tuple[DeviceBytes, ...]:
    """Each GPU's weights, KV cache, compute buffer and fixed overhead."""
    dev_w, dev_kv, _, _, _, out_dev = place
    n_dev = len(dev_w)
    large_pool = lay.float_weights or not opts.flash_attn or a.n_expert > 0
    overhead_one = context_overhead_bytes + (POOL_LARGE_BYTES if large_pool else POOL_SMALL_BYTES)
    # the device holding the output layer reserves the logits stage; the others only their layers' stages
    inner = compute_buffer_bytes(a, opts, with_output=False)
    dev_compute = [compute if d == out_dev or n_dev == 1 else inner for d in range(n_dev)]
    if pipeline:
        # llama.cpp's pipeline parallelism (several devices, every layer offloaded, split mode layer, no
        # tensor overrides such as --n-cpu-moe: llama-context.cpp) keeps GGML_SCHED_MAX_COPIES = 4 copies of
        # each device's inputs (the incoming hidden state and the attention mask) in its compute buffer
        # (ggml-backend.cpp, "6.cpy"/"4.cpy"); the stage without the logits already holds one mask
        hidden_in, mask = pipeline_inputs(a, opts)
        counted = stage_mask_bytes(a, opts)  # a layer stage's peak already holds one mask
        dev_compute = [c + PIPELINE_COPIES * (hidden_in + mask) - (counted if c == inner else 0)
                       for c in dev_compute]
    return tuple(DeviceBytes(dev_w[d], dev_kv[d], dev_compute[d], overhead_one) for d in range(n_dev))


def estimate(a: Architecture, tensors: list[Tensor], opts: RuntimeOptions, gpu_layers: int | None = None,
             has_gpu: bool = True, context_overhead_bytes: int = CUDA_CONTEXT_BYTES,
             lay: WeightLayout | None = None, gpu_shares: tuple[int, ...] = (),
             cpu_moe_layers: int = 0) -> MemoryEstimate:
    """Estimate memory for running `tensors` with `opts` and `-ngl gpu_layers`.

    Args:
        a: the architecture.
        tensors: the GGUF's tensor table (real or predicted).
        opts: runtime options.
        gpu_layers: llama.cpp's -ngl, 0..n_layer+1; None offloads everything.
        has_gpu: False for a CPU-only machine (nothing lands on a GPU).
        context_overhead_bytes: the GPU runtime's fixed cost before any buffer, per GPU.
        lay: `layout(tensors, a.n_layer)`, when the caller already has it.
        gpu_shares: free bytes (or budget) of each GPU, for llama.cpp's default split over several; one GPU
            if empty.
        cpu_moe_layers: keep the experts of the first N layers in RAM (`--n-cpu-moe N`).
    """
    total_layers = a.n_layer + 1
    ngl = total_layers if gpu_layers is None else max(0, min(gpu_layers, total_layers))
    if not has_gpu:
        ngl = 0
    lay = lay or layout(tensors, a.n_layer)
    shares = gpu_shares if len(gpu_shares) > 1 else (1,)  # one GPU holds every offloaded layer, whatever its size
    rest = (opts, ngl, has_gpu, context_overhead_bytes, shares, cpu_moe_layers)
    hit = _ESTIMATES.get((a, lay), rest)
    if hit is not MISS:
        return hit  # type: ignore[no-any-return]
    est = _estimate(a, lay, opts, ngl, has_gpu, context_overhead_bytes, shares, cpu_moe_layers)
    return _ESTIMATES.put((a, lay), rest, est)  # type: ignore[no-any-return]


# estimates already made, by the architecture and the layout (all of the tensor table an estimate reads) and the
# options: a fit's search, the profiles of an export and the rows of a TUI ask again and again
_ESTIMATES = Memo(8192)


def _estimate(a: Architecture, lay: WeightLayout, opts: RuntimeOptions, ngl: int, has_gpu: bool,
              context_overhead_bytes: int, shares: tuple[int, ...], cpu_moe_layers: int) -> MemoryEstimate:
    total_layers = a.n_layer + 1
    kv = kv_cache_by_layer(a, opts)
    place = (_place_one(a, lay, kv, ngl, cpu_moe_layers) if len(shares) == 1 else
             _place(a, lay, kv, device_of_layers(a.n_layer, ngl, shares), len(shares), cpu_moe_layers))
    dev_w, dev_kv, dev_layers, w_cpu, moe_cpu, _ = place
    kv_total, kv_gpu = sum(kv), sum(dev_kv)
    compute = compute_buffer_bytes(a, opts)
    host_inputs = min(opts.n_ubatch, opts.n_batch) * a.n_embd * 4 * 2
    output = a.n_vocab * 4 * max(1, opts.n_seq)  # output_reserve(n_seq_max) at the context's creation
    parts: tuple[DeviceBytes, ...] = ()
    if has_gpu:
        pipeline = len(shares) > 1 and ngl == total_layers and not cpu_moe_layers
        parts = _gpu_parts(a, lay, opts, place, compute, pipeline, context_overhead_bytes)
        overhead = sum(p.overhead_bytes for p in parts)
        compute_gpu = sum(p.compute_bytes for p in parts)
        # CPU layers (or experts kept in RAM) need their own graph buffer
        compute_host = host_inputs + (compute if ngl < total_layers or moe_cpu else 0)
    else:
        overhead = compute_gpu = 0
        compute_host = compute + host_inputs
    per_gpu = tuple(p.total_bytes for p in parts)
    cpu = w_cpu + (kv_total - kv_gpu) + compute_host + output
    return MemoryEstimate(lay.total_bytes, sum(dev_w), kv_total, kv_gpu, compute_gpu, compute_host, output,
                          overhead, ngl, total_layers, sum(per_gpu), cpu, pad(opts.n_ctx, CTX_PAD), per_gpu,
                          tuple(dev_layers) if has_gpu else (), cpu_moe_layers, parts)
