"""Bytes per GPU under llama.cpp's `--split-mode tensor` (pure).

Tensor parallelism in llama.cpp (PR #19378, "EXPERIMENTAL" in docs/multi-gpu.md) wraps the GPUs of one
machine in a meta device that cuts every offloaded layer across all of them: Q/K/V and the FFN's up and
gate matrices by rows, the attention output and the FFN's down matrix by columns, the output matrix by
vocabulary rows, and the KV cache by KV heads. Norms, the MoE router, shared experts, the remaining biases
and a tied output matrix are mirrored: every GPU holds a full copy. Each GPU also allocates the whole
compute buffer (the graph allocator sizes it unsplit) and scratch for the all-reduces.

The rules below follow `llama_meta_device_get_split_state` in src/llama-model.cpp at llama.cpp 0c1e570:
the axis per tensor name, the segments (a fused QKV is a Q segment and two K/V segments; Phi-3's fused
up+gate two n_ff segments), the granularity (whole GQA groups for attention, rounded up to the quant block;
lcm(block, 128) for the FFN; 1 for the output), the split points (even when `-ts` is not given, else its
proportions; each rounded down to the granularity, the last device taking the rest) and the per-layer
rotation of which device takes that rest.
"""


from __future__ import annotations

import math
import re

from catalog.core.arch import Architecture
from catalog.core.ggml import GGML_TYPES, Tensor, tensor_bytes
from catalog.core.memory import MIB, RuntimeOptions, compute_buffer_bytes, kv_cells

# src/llama-arch.cpp llm_arch_supports_sm_tensor at 0c1e570: these architectures refuse -sm tensor
UNSUPPORTED = frozenset({
    "grok", "mpt", "plamo2", "minicpm3", "gemma3n", "mamba", "mamba2", "jamba", "falcon-h1", "olmo2", "olmoe",
    "deepseek2", "deepseek32", "hy_v4", "dots3note", "glm-dsa", "bitnet", "t5", "nemotron_h", "nemotron_h_moe",
    "granitehybrid", "minimax-01", "minimax-m2", "minimax-m3", "mistral4", "kimi-linear", "bailingmoe3", "kimi-k3",
    "glm5-next", "qwen3tts", "qwen4exp",
})
# architectures with their own segment layouts (gated Q, linear attention) that this module does not model
NOT_MODELLED = frozenset({"qwen3next", "qwen35", "qwen35moe", "deepseek4", "hrm_text", "lfm2", "lfm2moe"})
# ggml-cuda allreduce.cu: with exactly two GPUs the built-in all-reduce keeps 32 MiB on each
ALLREDUCE_2GPU_BYTES = 32 * MIB

ROWS, COLS, MIRRORED = 1, 0, -1
_BLK = re.compile(r"blk\.(\d+)\.(.+)")


def block_size(type_name: str) -> int:
    return int(GGML_TYPES[type_name][1])


def unsupported_reason(a: Architecture) -> str | None:
    """Why -sm tensor cannot be planned for `a`, or None."""
    if a.arch in UNSUPPORTED:
        return f"llama.cpp refuses -sm tensor for {a.arch} (LLAMA_SPLIT_MODE_TENSOR not implemented)"
    if a.arch in NOT_MODELLED or a.is_mla:
        return f"{a.arch} splits by its own layout under -sm tensor, which this planner does not model"
    return None


def _axis(rest: str, t: Tensor) -> int:
    """The split axis of a layer tensor (the name after `blk.N.`), as llama.cpp assigns it."""
    if rest in ("attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_qkv.weight", "attn_gate.weight"):
        return ROWS
    if rest in ("attn_q.bias", "attn_k.bias", "attn_v.bias", "attn_qkv.bias", "attn_sinks.weight",
                "attn_output.weight"):
        return COLS
    if rest in ("attn_q_norm.weight", "attn_k_norm.weight"):
        return ROWS if len(t.shape) > 1 and t.shape[1] > 1 else MIRRORED
    if re.fullmatch(r"ffn_(up|gate|gate_up)(_exps)?\.weight", rest):
        return ROWS
    if re.fullmatch(r"ffn_(up|gate)(_exps)?\.bias", rest) or re.fullmatch(r"ffn_down(_exps)?\.weight", rest):
        return COLS
    return MIRRORED  # norms, router, shared experts, attn_output/ffn_down biases


def _segments(a: Architecture, il: int, rest: str, t: Tensor, axis: int) -> list[tuple[int, int]]:
    ne = t.shape[axis]
    if rest in ("attn_qkv.weight", "attn_qkv.bias"):
        n_q = a.n_head * a.head_dim_k
        n_k = a.n_head_kv[il] * a.head_dim_k
        n_v = a.n_head_kv[il] * a.head_dim_v
        return [(n_q, 1), (n_k, 2)] if n_k == n_v else [(n_q, 1), (n_k, 1), (n_v, 1)]
    n_ff = a.n_ff[il] if il < len(a.n_ff) else 0
    if rest.startswith("ffn_up") and n_ff and ne == 2 * n_ff:
        return [(n_ff, 2)]
    if rest.startswith("ffn_gate_up"):
        return [(ne // 2, 2)]
    return [(ne, 1)]


def _granularity(a: Architecture, il: int, rest: str, ref_block: int, n_dev: int, n_seg: int) -> list[int]:
    if rest.startswith("ffn_"):
        return [math.lcm(ref_block, 128)] * n_seg
    n_kv = max(1, a.n_head_kv[il])
    n_gqa = a.n_head // n_kv
    n_embd_q = n_gqa * a.head_dim_k
    perf = ref_block
    while perf < 128 and perf * n_dev < n_embd_q:  # head sizes like 80: coarser only while every GPU keeps work
        perf *= 2
    g_q = math.lcm(n_embd_q, perf)
    g_head = g_q // a.head_dim_k
    g_kv = g_q // n_gqa
    g_v = g_kv // a.head_dim_k * a.head_dim_v
    if rest == "attn_sinks.weight":
        return [g_head]
    if rest in ("attn_q.weight", "attn_q.bias"):
        return [g_q]
    if rest == "attn_output.weight":
        return [g_head * a.head_dim_v]
    if rest == "attn_gate.weight":
        return [g_head if n_seg == 1 else g_q]
    if rest.startswith(("attn_k.", "attn_v.")):
        return [g_v if rest.startswith("attn_v.") else g_kv]
    if rest.startswith("attn_qkv."):
        return [g_q, g_kv, g_v] if n_seg == 3 else [g_q, g_kv]
    return [1] * n_seg


def shares(ne: int, granularity: int, n_dev: int, rotation: int, ts: tuple[float, ...] = ()) -> list[int]:
    """One segment's elements per device: the split points rounded down to the granularity, the last
    device in the rotated order taking the rest (llama-model.cpp, the loop over `segments`)."""
    out = [0] * n_dev
    scan: list[float] = []
    for j in range(n_dev):
        scan.append((ts[(j + rotation) % n_dev] if ts else 0.0) + (scan[-1] if scan else 0.0))
    low = 0
    for j in range(n_dev - 1):
        high = ne * (j + 1) // n_dev if scan[-1] == 0 else int(ne * scan[j] / scan[-1])
        high -= high % granularity
        out[(j + rotation) % n_dev] = high - low
        low = high
    out[(n_dev - 1 + rotation) % n_dev] = ne - low
    return out


def _rotation(a: Architecture, il: int, n_dev: int) -> int:
    """How many earlier layers are of the same kind (sliding-window or not), mod the device count."""
    swa = a.swa_layers[il] if a.swa_layers else False
    same = sum(1 for j in range(il) if (a.swa_layers[j] if a.swa_layers else False) == swa)
    return same % n_dev


def _split_bytes(t: Tensor, axis: int, per_dev: list[int]) -> list[int]:
    out = []
    for n in per_dev:
        shape = list(t.shape)
        shape[axis] = n
        b = tensor_bytes(t.type, tuple(shape)) if n else 0
        if n and axis == COLS and block_size(t.type) > 1 and n % 512:
            b += tensor_bytes(t.type, (512 - n % 512,))  # ggml-cuda pads a quantized row to 512 elements
        out.append(b)
    return out


def weights_per_device(a: Architecture, tensors: list[Tensor], n_dev: int, ts: tuple[float, ...] = ()) -> list[int]:
    """Bytes of weights on each GPU with every layer and the output offloaded (the token embedding stays
    in host memory; a tied embedding is copied to every GPU as the output matrix)."""
    by_name = {t.name: t for t in tensors}
    out = [0] * n_dev
    tied = "output.weight" not in by_name
    for t in tensors:
        for d, b in enumerate(_tensor_bytes_per_device(a, t, by_name, tied, n_dev, ts)):
            out[d] += b
    return out


def _tensor_bytes_per_device(a: Architecture, t: Tensor, by_name: dict[str, Tensor], tied: bool, n_dev: int,
                             ts: tuple[float, ...]) -> list[int]:
    """One tensor's bytes on each GPU."""
    m = _BLK.fullmatch(t.name)
    if m is None:
        if t.name == "output.weight":
            return _split_bytes(t, ROWS, shares(t.shape[1], 1, n_dev, a.n_layer % n_dev, ts))
        if t.name.startswith("token_embd") and not (t.name == "token_embd.weight" and tied):
            return [0] * n_dev  # the input layer stays on the CPU
        # output norm/bias, a tied embedding copied as the output matrix, rope_freqs/rope_factors: mirrored
        return [t.nbytes] * n_dev
    il, rest = int(m.group(1)), m.group(2)
    axis = _axis(rest, t)
    if axis == MIRRORED:
        return [t.nbytes] * n_dev
    if rest.startswith("ffn_"):
        ref = by_name.get(f"blk.{il}.ffn_down.weight") or by_name.get(f"blk.{il}.ffn_down_exps.weight") or t
    else:
        ref = by_name.get(f"blk.{il}.attn_output.weight") or t
    segs = _segments(a, il, rest, t, axis)
    gran = _granularity(a, il, rest, block_size(ref.type), n_dev, len(segs))
    per = [0] * n_dev
    rot = _rotation(a, il, n_dev)
    for (ne, times), g in zip(segs, gran, strict=True):
        for d, n in enumerate(shares(ne, g, n_dev, rot, ts)):
            per[d] += n * times
    return _split_bytes(t, axis, per)


def kv_per_device(a: Architecture, tensors: list[Tensor], opts: RuntimeOptions, n_dev: int,
                  ts: tuple[float, ...] = ()) -> list[int]:
    """KV cache bytes on each GPU: each layer's K and V cut by whole KV heads (`cache_k_l*`, `cache_v_l*`
    split along their rows like attn_k/attn_v)."""
    by_name = {t.name: t for t in tensors}
    out = [0] * n_dev
    for il in range(a.n_layer):
        n_kv = a.n_head_kv[il]
        if not n_kv:
            continue
        ref = by_name.get(f"blk.{il}.attn_output.weight")
        ref_block = block_size(ref.type) if ref else 1
        rot = _rotation(a, il, n_dev)
        cells = kv_cells(a, opts, il)
        for name, width, kind in (("attn_k.weight", a.head_dim_k * n_kv, opts.type_k),
                                  ("attn_v.weight", a.head_dim_v * n_kv, opts.type_v)):
            g = _granularity(a, il, name, ref_block, n_dev, 1)[0]
            for d, n in enumerate(shares(width, g, n_dev, rot, ts)):
                out[d] += tensor_bytes(kind, (n, cells)) if n else 0
    return out


def allreduce_bytes(a: Architecture, opts: RuntimeOptions, n_dev: int) -> int:
    """Per GPU: ceil(log2 N) scratch buffers of the largest partial result (a micro-batch of hidden
    states for a dense layer, ggml-backend-meta.cpp), plus the 2-GPU all-reduce's 32 MiB."""
    ub = min(opts.n_ubatch, opts.n_batch)
    scratch = math.ceil(math.log2(n_dev)) * ub * a.n_embd * 4 if n_dev > 1 else 0
    return scratch + (ALLREDUCE_2GPU_BYTES if n_dev == 2 else 0)


def compute_per_device(a: Architecture, opts: RuntimeOptions) -> int:
    """Every GPU reserves the whole compute buffer: the meta device's allocator sizes the graph unsplit."""
    return compute_buffer_bytes(a, opts)
