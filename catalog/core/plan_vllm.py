"""vLLM on a Ray cluster: tensor parallel over the GPUs of a host, pipeline parallel across hosts (pure).

The weights are the model's safetensors (BF16, or an FP8/AWQ checkpoint when BF16 does not fit), sized
from its tensor table; every GPU holds 1/(TP x PP) of them, its share of the KV cache, and what vLLM's
own memory profile keeps back (gpu_memory_utilization 0.9).
"""


from catalog.core import commands
from catalog.core.arch import Architecture, hf_tensors
from catalog.core.ggml import block_index
from catalog.core.memory import RuntimeOptions, kv_cache_by_layer
from catalog.core.model import ModelSpec
from catalog.core.plan_types import DevicePlan, EnginePlan, Host, HostPlan, Link
from catalog.core.speed import parallel_seconds, per_second

VLLM_UTILIZATION = 0.9  # vLLM's default gpu_memory_utilization
# What vLLM's memory profile holds back per GPU besides weights and KV cache, as its own log prints it
# (vllm-project/vllm PR #10511, `vllm serve meta-llama/Meta-Llama-3-8B` on an H100 80GB, 2024-12-14):
# non_torch_memory (CUDA context, NCCL and cuBLAS workspaces) 1.79 GiB at TP 1 and 3.58 GiB at TP 2,
# "PyTorch activation peak memory" 1.26 GiB at both. Past TP 2 the TP 2 figure is used (unmeasured).
VLLM_NON_TORCH = {1: int(1.79 * 2**30), 2: int(3.58 * 2**30)}
VLLM_ACTIVATION_PEAK = int(1.26 * 2**30)
# Past TP 2, non_torch_memory grows with the card and the group: the largest share of a card's memory
# published logs show is 2.10 of 39.39 GiB (DeepSeek-Coder-V2-Lite-Instruct, TP 8 on A100-40GB, vLLM 0.7.1: the
# worker.py memory line of an AWS SageMaker LMI walkthrough, "Deploy DeepSeek-Coder-V2 with vLLM on SageMaker
# Endpoint using LMI container from DJL"); DeepSeek-R1 at TP 8 on H200 held 7.16 of 139.81 GiB, Llama 3.1 70B at
# TP 8 on H200 5.68 of 139.72 GiB (vllm-project/vllm #10702). TP > 2 keeps back the larger of that share and the
# TP 2 figure.
VLLM_NON_TORCH_SHARE_TP_GT2 = 2.10 / 39.39


def vllm_non_torch_bytes(tp: int, total_bytes: int) -> int:
    """What vLLM's profile holds outside PyTorch on one GPU of a TP group (see above)."""
    if tp <= 2:
        return VLLM_NON_TORCH[tp]
    return max(VLLM_NON_TORCH[2], int(VLLM_NON_TORCH_SHARE_TP_GT2 * total_bytes))


VLLM_FORMATS = ("BF16", "FP8", "AWQ")
AWQ_GROUP = 128  # AutoAWQ's and GPTQ's usual group size


def vllm_weights(spec: ModelSpec, fmt: str = "BF16") -> tuple[list[int], int, int]:
    """Bytes of a safetensors checkpoint as vLLM loads it, from the model's tensor table: per layer, the
    input embedding (the first pipeline stage's), and the output matrix with the final norm (the last
    stage's; a tied embedding is loaded there again).

    BF16: 2 bytes a weight. FP8 (an FP8 checkpoint, per-channel scales): the layers' linear weights at one
    byte and an f32 scale per output row. AWQ 4-bit (group 128): per K x N matrix the packed weights
    (K x N / 2), f16 scales (K/128 x N x 2) and packed 4-bit zero points (K/128 x N / 2). In both the
    embedding, the output matrix, norms and MoE routers stay BF16, as the quantizers leave them.
    """
    layers = [0] * spec.arch.n_layer
    embed = head = 0
    for t in hf_tensors(spec.arch, "BF16"):
        if t.name.startswith("rope_"):
            continue  # written by llama.cpp's converter from the rope scaling, not in the checkpoint
        n = 1
        for d in t.shape:
            n *= d
        linear = (t.name.startswith("blk.") and t.name.endswith(".weight") and len(t.shape) >= 2
                  and "norm" not in t.name and "ffn_gate_inp" not in t.name)
        if fmt == "BF16" or not linear:
            b = 2 * n
        elif fmt == "FP8":
            b = n + 4 * (n // t.shape[0])  # ggml order: the input (K) dimension first, a scale per output row
        else:
            groups, rows = -(-t.shape[0] // AWQ_GROUP), n // t.shape[0]
            b = n // 2 + groups * rows * 2 + groups * rows // 2
        il = block_index(t.name)
        if 0 <= il < len(layers):
            layers[il] += b
        elif t.name == "token_embd.weight":
            embed += b
        else:
            head += b
    if spec.arch.tied_embeddings:
        head += embed
    return layers, embed, head


def vllm_weight_bytes(spec: ModelSpec, fmt: str = "BF16") -> int:
    """The checkpoint's bytes (a tied embedding once)."""
    return _checkpoint_bytes(spec, *vllm_weights(spec, fmt))


def _checkpoint_bytes(spec: ModelSpec, layers: list[int], embed: int, head: int) -> int:
    return sum(layers) + embed + head - (embed if spec.arch.tied_embeddings else 0)


def vllm_pp_partition(n_layer: int, pp: int) -> list[int]:
    """Layers per pipeline stage as vLLM cuts them (vllm/distributed/utils.py get_pp_indices): even, the
    remainder one each to the stages before the last, from the second-to-last back."""
    parts = [n_layer // pp] * pp
    for i in range(2, n_layer % pp + 2):
        parts[-i] += 1
    return parts


def _tensor_parallel(a: Architecture, hosts: list[Host], notes: list[str]) -> int:
    """TP: the GPUs of one host (the smallest count when they differ), down to a size that divides the query
    heads and splits or replicates the KV heads evenly."""
    tp = len(hosts[0].gpus)
    if any(len(h.gpus) != tp for h in hosts):
        notes.append("vLLM needs the same GPU count on every host; the smallest is used")
        tp = min(len(h.gpus) for h in hosts)
    n_kv = min(a.n_head_kv)
    while tp > 1 and not (a.n_head % tp == 0 and (n_kv % tp == 0 or tp % n_kv == 0)):
        tp -= 1
    return tp


def _stages(spec: ModelSpec, ctx: int, hosts: list[Host], fmt: str, tp: int
            ) -> tuple[list[DevicePlan], list[int], list[int]]:
    """Each GPU's weights and KV cache, stage by stage: (devices, bytes of each stage, layers of each stage)."""
    a = spec.arch
    pp = len(hosts)
    per_layer, embed, head = vllm_weights(spec, fmt)
    kv_layers = kv_cache_by_layer(a, RuntimeOptions(ctx))  # f16, vLLM's default cache type
    n_kv = min(a.n_head_kv)
    kv_split = min(tp, n_kv) if n_kv else tp  # past one KV head a GPU, vLLM replicates the heads
    dev: list[DevicePlan] = []
    layers_per_stage = vllm_pp_partition(a.n_layer, pp)
    stage_bytes = []
    first = 0
    for i, (h, n_layers) in enumerate(zip(hosts, layers_per_stage, strict=True)):
        span = range(first, first + n_layers)
        first += n_layers
        # the first stage holds the embedding, the last the output matrix (vLLM's PPMissingLayer elsewhere)
        stage = sum(per_layer[il] for il in span) + (embed if i == 0 else 0) + (head if i == pp - 1 else 0)
        stage_bytes.append(stage)
        for g in h.gpus[:tp]:
            w, kvb = stage // tp, sum(kv_layers[il] for il in span) // kv_split
            budget = (int(g.memory_total_bytes * VLLM_UTILIZATION) - vllm_non_torch_bytes(tp, g.memory_total_bytes)
                      - VLLM_ACTIVATION_PEAK)
            dev.append(DevicePlan(h.name, g.name, n_layers, w + kvb, budget, weights_bytes=w, kv_cache_bytes=kvb))
    return dev, stage_bytes, layers_per_stage


def vllm_plan(spec: ModelSpec, ctx: int, hosts: list[Host], fmt: str = "BF16",
              link_gbps: float = 1.0, link_ms: float = 0.5) -> EnginePlan:
    """vLLM on Ray: TP = the GPUs of one host (all hosts alike), PP = the hosts."""
    notes: list[str] = []
    if any(not h.gpus for h in hosts):
        notes.append("vLLM runs only on the hosts with GPUs: " + ", ".join(h.name for h in hosts if not h.gpus)
                     + " left out")
        hosts = [h for h in hosts if h.gpus]
    if not hosts:
        return EnginePlan("vLLM + Ray", False, (), (), None, Link(), (), (*notes, "not planned: no GPU in any host"))
    a = spec.arch
    tp = _tensor_parallel(a, hosts, notes)
    pp = len(hosts)
    dev, stage_bytes, layers_per_stage = _stages(spec, ctx, hosts, fmt, tp)
    fits = all(d.bytes <= d.budget_bytes for d in dev)
    # decode: the stages run one after another; within a stage the TP ranks read their slices at once
    stage_times = [parallel_seconds((stage / tp, g.bandwidth_bytes_per_s) for g in h.gpus[:tp])
                   for h, stage in zip(hosts, stage_bytes, strict=True)]
    t = None if None in stage_times else sum(s or 0.0 for s in stage_times)
    # between stages vLLM sends the hidden state and the residual, BF16 (IntermediateTensors)
    link = (pp - 1) * (2 * a.n_embd * 2 / (link_gbps * 1e9 / 8) + link_ms / 1e3)
    tps = per_second(t + link) if fits and t is not None else None
    host_rows = tuple(HostPlan(h.name, sum(d.bytes for d in dev if d.host == h.name),
                               sum(d.budget_bytes for d in dev if d.host == h.name), 0, h.ram_bytes, n)
                      for h, n in zip(hosts, layers_per_stage, strict=True))
    repo = spec.hf_repo or spec.id
    model = repo if fmt == "BF16" else f"<an {fmt} checkpoint of {repo}>"  # no repo id is invented
    # one host needs no Ray cluster: vLLM's own workers span its GPUs
    cmds = [*commands.ray_cluster([h.name for h in hosts]), commands.vllm_serve(hosts[0].name, model, tp, pp, ctx)]
    notes += _notes(spec, hosts, fmt, tp, pp, link_gbps)
    return EnginePlan("vLLM + Ray" if fmt == "BF16" else f"vLLM + Ray ({fmt})", fits, tuple(dev), host_rows, tps,
                      Link(link_gbps, link_ms, pp - 1), tuple(cmds), tuple(notes))


def _notes(spec: ModelSpec, hosts: list[Host], fmt: str, tp: int, pp: int, link_gbps: float) -> list[str]:
    a = spec.arch
    weights = vllm_weight_bytes(spec, fmt)
    fmt_text = {"BF16": "BF16 (the repo as published)", "FP8": "an FP8 checkpoint",
                "AWQ": "an AWQ 4-bit checkpoint (group 128)"}[fmt]
    return [f"weights as {fmt_text}: {weights / 2**30:.1f} GiB, which every host reads from its own disk or a "
            "shared file system; vLLM also serves FP8, AWQ and GPTQ checkpoints; its GGUF support is "
            "experimental, so the plan uses safetensors",
            f"tensor parallel {tp} within a host (it must divide the {a.n_head} attention heads), pipeline "
            f"parallel {pp} across hosts over the assumed {link_gbps:g} Gbit/s link",
            f"each GPU keeps back {vllm_non_torch_bytes(tp, hosts[0].gpus[0].memory_total_bytes) / 2**30:.2f} GiB "
            f"outside PyTorch at TP {tp} ("
            + ("as vLLM's profile held for Llama 3 8B on an H100" if tp <= 2 else
               "the largest share of a card published vLLM logs show past TP 2")
            + f") and {VLLM_ACTIVATION_PEAK / 2**30:.2f} GiB of activation peak (the 8B's"
            + ("; larger models hold more: DeepSeek-R1 at TP 8 held 6.37 GiB)" if a.n_embd > 4096 else ")")]
