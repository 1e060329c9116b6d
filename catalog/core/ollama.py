"""Ollama 0.32.15 as it allocates (pure): the llama-server it starts for a model, and what `ollama ps` reports.

From Ollama 0.30 on, every GGUF model is served by an upstream llama-server process (ollama/ollama@b7871fc
llm/server.go 106-120; Ollama 0.32.15 pins llama.cpp b10488, its LLAMA_CPP_VERSION file). Its scheduler starts it
with `-c num_ctx x OLLAMA_NUM_PARALLEL -np OLLAMA_NUM_PARALLEL` (1 unless set), `-b N -ub N` (num_batch, chosen by
context and memory when the model and user leave it unset), `--flash-attn auto` (off where the user turned flash
attention off) and no `-ngl` (llm/llama_server.go 348-443, 581-594). So Ollama's memory is llama-server's with
those arguments, modelled by catalog.core.memory.

`ollama ps` (api/ps `size`, `size_vram`) is the sum of the buffers llama-server logs, parsed from its output:
model, KV, compute, output and recurrent-state buffers, the GPU's for `size_vram` and all of them for `size`, which
equals `size_vram` once every layer is offloaded (llm/llama_server.go 2636-2676, 2703-2841). It leaves out the CUDA
context and cuBLAS pool that nvidia-smi also counts, so it reads lower than nvidia-smi by about `overhead_bytes`.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING

from catalog.core.arch import Architecture

if TYPE_CHECKING:
    from hardware import GPU

OLLAMA_VERSION = "0.32.15"
OLLAMA_SOURCE = "ollama/ollama@b7871fc0d1d82fe109536efa3e0e8e411c766c75"

GIB = 1 << 30
MIB = 1 << 20
# server/sched.go 796-805: llama-server's generation batch sizes and the share of free memory each may leave used
BATCH_DEFAULT, BATCH_CONSTRAINED, BATCH_MEDIUM, BATCH_LARGE = 512, 256, 1024, 2048
HEADROOM_PERCENT = {BATCH_LARGE: 60, BATCH_MEDIUM: 75}
SURCHARGE = {BATCH_LARGE: 2 * GIB, BATCH_MEDIUM: 768 * MIB}


def predicted_vram(a: Architecture, file_bytes: int, ctx: int) -> int:
    """llm.PredictServerVRAM: the GGUF file plus an f16 KV cache of every block at `ctx` (its heads the fewest
    any layer has, at least one; its head size n_embd over the most heads)."""
    kv_heads = min(a.n_head_kv, default=0) or 1
    head_dim = a.n_embd // a.n_head if a.n_head > 0 else 0
    return file_bytes + 2 * a.n_layer * kv_heads * head_dim * ctx * 2


def _for_context(ctx: int) -> int:
    return BATCH_LARGE if ctx > 32768 else BATCH_MEDIUM if ctx > 4096 else BATCH_DEFAULT


def _fits(batch: int, predicted: int, available: int) -> bool:
    """generationBatchFits: under 80 % of free memory, within the batch's headroom, room left for its surcharge."""
    if predicted == 0 or available == 0:
        return True
    threshold = available * 80 // 100
    if predicted > threshold:
        return False
    if batch in HEADROOM_PERCENT and predicted > available * HEADROOM_PERCENT[batch] // 100:
        return False
    return SURCHARGE.get(batch, 0) <= threshold - predicted


def generation_batch(ctx: int, predicted: int, available: int, flash_attn: bool, cuda: bool,
                     smallest_cuda_bytes: int) -> int:
    """automaticGenerationBatch (server/sched.go 819-834): the num_batch Ollama gives llama-server as -b and -ub.

    Args:
        ctx: the context llama-server is given (num_ctx x parallel).
        predicted: `predicted_vram` at that context.
        available: the free memory of the GPUs it places the model on.
        flash_attn: flash attention not turned off.
        cuda: an NVIDIA GPU among them.
        smallest_cuda_bytes: the least free (else total) memory of those NVIDIA GPUs.
    """
    if not flash_attn and cuda:
        constrained = ctx > 4096 and 0 < smallest_cuda_bytes <= 8 * GIB
        return BATCH_CONSTRAINED if constrained else BATCH_DEFAULT
    batch = _for_context(ctx)
    while batch > BATCH_DEFAULT and not _fits(batch, predicted, available):
        batch = BATCH_MEDIUM if batch > BATCH_MEDIUM else BATCH_DEFAULT
    return batch


def launch_batch(num_batch: int | None, ctx: int, predicted: int | None, gpus: Sequence["GPU"],
                 flash_attn: bool) -> int:
    """The -b (= -ub) Ollama starts llama-server with, the whole rule in one place: the num_batch the user set
    (a Modelfile or request option), else automaticGenerationBatch's pick for this file's `predicted_vram` at
    `ctx` on the GPUs it places the model on; BATCH_DEFAULT where no file is known yet (`predicted` None)."""
    if num_batch:
        return num_batch
    if predicted is None:
        return BATCH_DEFAULT
    nvidia = [min(g.memory_free_bytes or g.memory_total_bytes, g.memory_total_bytes or g.memory_free_bytes)
              for g in gpus if g.vendor == "nvidia"]
    return generation_batch(ctx, predicted, sum(g.memory_free_bytes for g in gpus), flash_attn, bool(nvidia),
                            min(nvidia, default=0))


def ps_bytes(gpu_bytes: int, total_bytes: int, overhead_bytes: int, all_on_gpu: bool) -> tuple[int, int]:
    """(size, size_vram) as `ollama ps` reports them for an estimate: its buffers, without the GPU runtime's own
    overhead; `size` is `size_vram` when every layer is on the GPU (MemorySize, llm/llama_server.go 2638-2676)."""
    vram = gpu_bytes - overhead_bytes
    return (vram if all_on_gpu else total_bytes - overhead_bytes), vram


def human_bytes(b: int) -> str:
    """format.HumanBytes (format/bytes.go): decimal units, whole numbers from 10 up, else one decimal."""
    for size, unit in ((10**12, "TB"), (10**9, "GB"), (10**6, "MB"), (10**3, "KB")):
        if b >= size:
            value = b / size
            if value >= 10 or value == int(value):
                return f"{int(value)} {unit}"
            return f"{value:.1f} {unit}"
    return f"{b} B"


def processor(size: int, size_vram: int) -> str:
    """The PROCESSOR column of `ollama ps` (cmd/cmd.go 1139-1151)."""
    if size_vram == 0:
        return "100% CPU"
    if size_vram == size:
        return "100% GPU"
    if size_vram > size or size == 0:
        return "Unknown"
    cpu = int(round((size - size_vram) / size * 100 + 1e-9))
    return f"{cpu}%/{100 - cpu}% CPU/GPU"


def flash_attention_supported(compute_capabilities: list[str | None]) -> bool:
    """ml.FlashAttentionSupported for NVIDIA GPUs (ml/device.go 571-600): compute capability 6.0 or later, not
    7.2 (Jetson Xavier); an unknown one (a named card: every card the catalog knows is Pascal or later) counts
    as supported. Where one GPU lacks it Ollama starts llama-server with `--flash-attn off`."""
    for cc in compute_capabilities:
        try:
            major, _, minor = (cc or "").partition(".")
            ver = (int(major), int(minor or 0))
        except ValueError:
            continue
        if ver[0] < 6 or ver == (7, 2):
            return False
    return True
