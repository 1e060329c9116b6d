"""`catalog plan`: run a model across several GPUs and machines with engines people already run.

Plans for a set of hosts (`NAME:GPU[xN][,RAM_GIB]`, the first is the head):

- llama.cpp, layer split (any GGUF quantization), on one host or over RPC: every GPU of every host is
  one device, in llama.cpp's order (the RPC servers' GPUs first, then the head's); `ggml-rpc-server`
  runs on each worker, `llama-server --rpc` on the head. Whole layers per device, starting from
  llama.cpp's default proportions and rebalanced where a device would run out, pinned with `-ts` as
  layer counts; each device pays its own CUDA context and compute buffer, the head keeps the token
  embedding and host buffers in its RAM. Each decoded token crosses the network twice per worker.
- llama.cpp, tensor split (`-sm tensor`), over the GPUs of one host: every layer cut across all of them
  (catalog.core.tensor_split).
- vLLM (the model's safetensors, BF16 or its FP8/AWQ/GPTQ repos): tensor parallel over the GPUs of a
  host, pipeline parallel across hosts on a Ray cluster; every GPU holds 1/(TP x PP) of the weights, its
  share of the KV cache, and vLLM's reserve (gpu_memory_utilization 0.9).

Speed is an estimate: memory-bandwidth-bound decode per device, summed along the pipeline, plus the
assumed link (default 1 Gbit/s and 0.5 ms a leg, `--link-gbps`, `--link-ms`).
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from catalog.errors import UsageError

RPC_PORT = 50052  # rpc-server's default
NO_GPU = ("cpu", "none")  # a host given as NAME:cpu has no GPU (a head that only drives the workers)
RAY_PORT = 6379
VLLM_UTILIZATION = 0.9  # vLLM's default gpu_memory_utilization
# What vLLM's memory profile holds back per GPU besides weights and KV cache, as its own log prints it
# (vllm-project/vllm PR #10511, `vllm serve meta-llama/Meta-Llama-3-8B` on an H100 80GB, 2024-12-14):
# non_torch_memory (CUDA context, NCCL and cuBLAS workspaces) 1.79 GiB at TP 1 and 3.58 GiB at TP 2,
# "PyTorch activation peak memory" 1.26 GiB at both. Past TP 2 the TP 2 figure is used (unmeasured).
VLLM_NON_TORCH = {1: int(1.79 * 2**30), 2: int(3.58 * 2**30)}
VLLM_ACTIVATION_PEAK = int(1.26 * 2**30)
# Past TP 2, non_torch_memory grows with the card and the group: the largest share of a card's memory
# published logs show is 2.10 of 39.39 GiB (DeepSeek-Coder-V2-Lite, TP 8 on A100-40GB, vLLM 0.7.1, stored
# file id 3706561278); DeepSeek-R1 at TP 8 on H200 held 7.16 of 139.81 GiB, Llama 3.1 70B at TP 8 on H200
# 5.68 of 139.72 GiB (vllm-project/vllm #10702). TP > 2 keeps back the larger of that share and the TP 2 figure.
VLLM_NON_TORCH_SHARE_TP_GT2 = 2.10 / 39.39


def vllm_non_torch_bytes(tp: int, total_bytes: int) -> int:
    """What vLLM's profile holds outside PyTorch on one GPU of a TP group (see above)."""
    if tp <= 2:
        return VLLM_NON_TORCH[tp]
    return max(VLLM_NON_TORCH[2], int(VLLM_NON_TORCH_SHARE_TP_GT2 * total_bytes))


class Host(NamedTuple):
    """One machine: its GPUs (profiles from the known-GPU database) and RAM."""

    name: str
    gpus: tuple[Any, ...]
    ram_bytes: int


def parse_host(text: str) -> Host:
    """`NAME:GPU[xN][,RAM_GIB]`, e.g. `box1:RTX 4090x2,64` (several GPU kinds: `+`, `a:RTX 4090+RTX 3090`;
    a head without a GPU: `laptop:cpu,32`)."""
    import hardware

    m = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*:\s*([^,]+?)\s*(?:,\s*(\d+(?:\.\d+)?))?\s*", text)
    if not m:
        raise UsageError(f"--host {text!r}: not NAME:GPU[xN][,RAM_GIB]", "e.g. box1:RTX 4090x2,64")
    name, gpu_text, ram = m.group(1), m.group(2), m.group(3)
    names: list[str] = []
    for part in ([] if gpu_text.lower() in NO_GPU else gpu_text.split("+")):
        pm = re.fullmatch(r"\s*(.+?)\s*(?:x(\d+))?\s*", part)
        assert pm is not None
        names += [pm.group(1)] * int(pm.group(2) or 1)
    hw = hardware.profile(names, float(ram) if ram else 64.0)
    return Host(name, hw.gpus, int(hw.ram_total_bytes or 0))


def hosts_from_toml(path: str) -> list[Host]:
    """`[[host]]` tables with `name`, `gpus` (list of known-GPU names, repeated for several) and `ram_gib`."""
    import hardware

    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef,import-not-found,unused-ignore]
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
        out = []
        for h in doc["host"]:
            hw = hardware.profile([str(g) for g in h["gpus"]], float(h.get("ram_gib", 64)))
            out.append(Host(str(h["name"]), hw.gpus, int(hw.ram_total_bytes or 0)))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path}: not a hosts file ({type(exc).__name__}: {exc})",
                         "[[host]] tables with name, gpus and ram_gib") from None
    return out


class Plan(NamedTuple):
    engine: str  # "llama.cpp RPC" | "vLLM + Ray"
    fits: bool
    devices: tuple[dict[str, Any], ...]  # per GPU: host, gpu, layers, bytes, budget
    hosts: tuple[dict[str, Any], ...]  # per host: bytes on its GPUs, RAM needed, RAM
    tokens_per_second: float | None
    link: dict[str, Any]
    commands: tuple[str, ...]
    notes: tuple[str, ...]
    cpu_layers: int = 0  # llama.cpp: leading layers left on the head's CPU (-ngl below all)


RPC_SERVER = "ggml-rpc-server"  # `rpc-server` until llama.cpp renamed the binary (mid 2026)


def _source(spec: Any, quant: str) -> str:
    """The weights' argument of `check`'s llama.cpp command for this quant (`-hf REPO:QUANT`, `-m FILE`)."""
    import shlex

    from catalog.core.commands import source_args
    from catalog.service.check import download_target

    return shlex.join(source_args(download_target(spec, quant), quant) or ["-m", f"{spec.id}-{quant}.gguf"])


def _overfull(dev: tuple[dict[str, Any], ...], with_host: bool) -> str:
    return "does not fit: " + ", ".join(
        f"{d['host'] + '/' if with_host else ''}{d['gpu']} needs {d['bytes'] / 2**30:.1f} of "
        f"{d['budget_bytes'] / 2**30:.1f} GiB" for d in dev if d["bytes"] > d["budget_bytes"])


# llama.cpp's device names by backend: ggml-cuda (CUDA, or ROCm when built with HIP), ggml-metal (MTL)
DEVICE_PREFIX = {"nvidia": "CUDA", "amd": "ROCm", "apple": "MTL"}


def local_device_name(gpu: Any, index: int) -> str:
    """The name llama.cpp gives the head's `index`-th GPU (`--list-devices`)."""
    return f"{DEVICE_PREFIX.get(gpu.vendor, 'GPU')}{index}"


def rpc_order(hosts: list[Host]) -> list[tuple[Host, Any]]:
    """The devices in llama.cpp's order: the RPC servers' first, in `--rpc` order and each server's GPUs in
    its own order, then the head's local GPUs (src/llama.cpp llama_prepare_model_devices, "add RPC servers at
    the front of the list to minimize network transfers", PR #9296). `-ts` and the layer split follow it,
    so the head's GPUs take the last layers and the output layer and the logits never cross the network."""
    return [(h, g) for h in (*hosts[1:], hosts[0]) for g in h.gpus]


def _layer_read_bytes(spec: Any, lay: Any, il: int, kv_layer: int) -> float:
    """Bytes one decoded token reads from layer `il`: its weights (a MoE's used experts only) and half its
    KV cache (a conversation halfway through its context)."""
    a = spec.arch
    experts = lay.layer_expert_bytes[il] if lay.layer_expert_bytes else 0
    used = a.n_expert_used / a.n_expert if a.n_expert else 1.0
    return float(lay.layer_bytes[il] - experts * (1.0 - used) + kv_layer / 2)


def rpc_link_seconds(n_embd: int, n_ctx: int, workers: int, rpc_devices: int, link_gbps: float, link_ms: float,
                     n_tokens: int = 1, logits: int = 0) -> float:
    """Network time of one llama.cpp RPC graph evaluation of `n_tokens` tokens (1: a decoded token).

    The head computes the input layer on its CPU and its own GPUs hold the last layers, so the hidden state
    leaves the head once, comes back once, and between two workers passes through the head (the RPC
    servers never talk to each other: a copy across servers is a get_tensor then a set_tensor by the head,
    ggml-rpc.cpp ggml_backend_rpc_buffer_cpy_tensor). That is 2 legs a worker, each paying the latency and
    an f32 hidden state per token. Every RPC device also receives the graph's inputs from the head: the
    attention mask over the cache cells in use (up to the whole context) per token. Sends are
    asynchronous and graphs are reused, so nothing else waits on the network. The mask is f16 with flash
    attention (llama-graph.cpp build_attn_inp_kq_mask), as the plans run it.
    A head without a GPU (`logits`: the vocabulary size) gets the last worker's f32 logits back instead of
    a hidden state (llama.cpp reads the logits of the last token only while decoding).
    """
    if workers <= 0:
        return 0.0
    legs = 2 * workers
    hidden = n_tokens * n_embd * 4
    back = logits * 4 if logits else hidden  # only the last token's logits are read
    mask = rpc_devices * n_tokens * n_ctx * 2
    return legs * link_ms / 1e3 + ((legs - 1) * hidden + back + mask) / (link_gbps * 1e9 / 8)


def rpc_plan(spec: Any, quant: str, ctx: int, hosts: list[Host], link_gbps: float = 1.0, link_ms: float = 0.5,
             kv: str = "F16") -> Plan:
    """llama.cpp RPC across `hosts` (the first is the head, the others run `ggml-rpc-server`)."""
    import hardware
    from catalog.core.memory import (
        CTX_PAD,
        RuntimeOptions,
        device_of_layers,
        estimate,
        fit_layers,
        kv_cache_by_layer,
        pad,
        split_layers,
    )
    from catalog.core.model import file_bytes, repo_for, tensors_for, weight_layout
    from catalog.core.quants import block_index
    from catalog.service.check import DECODE_EFFICIENCY, DEFAULT_RAM_BANDWIDTH, gpu_budgets

    devices = rpc_order(hosts)
    if not devices:
        raise UsageError("no GPU in any host")
    hw = hardware.Hardware("profile", tuple(g for _, g in devices), hosts[0].ram_bytes, hosts[0].ram_bytes, "linux")
    budgets = gpu_budgets(hw)
    tensors = tensors_for(spec, quant, repo=repo_for(spec, quant))
    lay = weight_layout(spec, tensors)
    opts = RuntimeOptions(ctx, kv, kv, True, 2048, 512)
    counts = split_layers(spec.arch, tensors, opts, budgets, lay=lay)
    est = estimate(spec.arch, tensors, opts, None, True, lay=lay, gpu_shares=counts)
    ngl = spec.arch.n_layer + 1
    if not est.fits(budgets):
        # too big for the GPUs: llama.cpp's partial offload keeps the first layers on the head's CPU, in its
        # RAM (-ngl N); they run before the RPC devices, so the network legs stay the same
        n = fit_layers(spec.arch, tensors, opts, budgets, lay=lay)
        part = estimate(spec.arch, tensors, opts, n, True, lay=lay, gpu_shares=budgets) if n else None
        if part is not None and part.cpu_bytes <= hosts[0].ram_bytes:
            counts, ngl = part.per_gpu_layers, n
            est = estimate(spec.arch, tensors, opts, n, True, lay=lay, gpu_shares=counts)
    cpu_layers = spec.arch.n_layer + 1 - ngl
    n_remote = len(devices) - len(hosts[0].gpus)
    names = [f"RPC{i}" for i in range(n_remote)] + [local_device_name(g, i) for i, g in enumerate(hosts[0].gpus)]
    dev = tuple({"host": h.name, "gpu": g.name, "device": name, "layers": n, "bytes": b, "budget_bytes": bud, **parts}
                for (h, g), name, n, b, bud, parts in zip(devices, names, est.per_gpu_layers, est.per_gpu_bytes,
                                                          budgets, est.per_gpu_parts, strict=True))
    # a worker's ggml-rpc-server receives each tensor whole into its RAM before copying it to the GPU
    # (ggml-rpc.cpp, RPC_CMD_SET_TENSOR: recv_msg into one buffer), so it needs its largest tensor
    where = device_of_layers(spec.arch.n_layer, ngl, counts)
    largest: dict[str, int] = {}
    for tensor in tensors:
        il = block_index(tensor.name)
        # the output layer's device also gets a tied embedding's copy (llama.cpp duplicates it there)
        is_out = tensor.name.startswith("output") or (tensor.name == "token_embd.weight" and lay.tied_copy_bytes > 0)
        on = where[il] if 0 <= il < spec.arch.n_layer else (where[-1] if is_out else -1)
        if on >= 0:
            owner = devices[on][0].name
            largest[owner] = max(largest.get(owner, 0), tensor.nbytes)
    host_rows = []
    for i, h in enumerate(hosts):
        mine = [d for d in dev if d["host"] == h.name]
        ram_need = est.cpu_bytes if i == 0 else largest.get(h.name, 0)
        host_rows.append({"host": h.name, "gpu_bytes": sum(d["bytes"] for d in mine),
                          "gpu_budget_bytes": sum(d["budget_bytes"] for d in mine), "ram_needed_bytes": ram_need,
                          "ram_bytes": h.ram_bytes, "layers": sum(d["layers"] for d in mine)})
    fits = est.fits(budgets) and all(r["ram_needed_bytes"] <= r["ram_bytes"] for r in host_rows)
    # decode: each device reads its layers once per token, one device after another, then the network legs
    a = spec.arch
    kv_layers = kv_cache_by_layer(a, opts)
    reads = [_layer_read_bytes(spec, lay, il, kv_layers[il]) for il in range(a.n_layer)] + [lay.output_bytes]
    t = sum(reads[:cpu_layers]) / (DEFAULT_RAM_BANDWIDTH * DECODE_EFFICIENCY)  # the head's CPU layers first
    li = cpu_layers
    for d, (_, g) in zip(dev, devices, strict=True):
        bw = (g.bandwidth_bytes_per_s or 100e9) * DECODE_EFFICIENCY
        t += sum(reads[li:li + d["layers"]]) / bw
        li += d["layers"]
    workers = [h for h in hosts[1:] if h.gpus]
    n_rpc = sum(len(h.gpus) for h in workers)
    ctx_cells = pad(ctx, CTX_PAD)
    logits = 0 if hosts[0].gpus else a.n_vocab  # a GPU-less head gets the logits back from the last worker
    t_link = rpc_link_seconds(a.n_embd, ctx_cells, len(workers), n_rpc, link_gbps, link_ms, logits=logits)
    t += t_link
    ubatch_link = rpc_link_seconds(a.n_embd, ctx_cells, len(workers), n_rpc, link_gbps, link_ms, n_tokens=512,
                                   logits=logits)
    tps = round(1.0 / t, 1) if t > 0 and fits else None
    src = _source(spec, quant)
    endpoints = [f"{h.name}:{RPC_PORT}" for h in workers]
    cmds = [f"# on {h.name}: {RPC_SERVER} --host 0.0.0.0 --port {RPC_PORT} -c" for h in workers]
    cmds.append(f"# on {hosts[0].name}: llama-server {src} -c {ctx} -ngl {'all' if not cpu_layers else ngl} -fa on"
                + (f" --rpc {','.join(endpoints)}" if endpoints else "")
                + (f" -ts {','.join(str(n) for n in counts)}" if len(counts) > 1 else ""))
    order = ", ".join(f"{d['device']} ({d['host']})" for d in dev)
    notes = [] if not workers else [
             f"llama.cpp must be built with -DGGML_RPC=ON on every host; {RPC_SERVER} (rpc-server in builds before "
             "mid 2026) serves all of a host's GPUs from one process (since October 2025; older builds "
             "need one rpc-server per GPU, CUDA_VISIBLE_DEVICES=i and a port each) and trusts its network: keep "
             "it on a private link; -c caches the weights on the worker's disk so the next load skips the network",
             f"device order, which -ts follows: {order}; llama.cpp puts the RPC devices first, so "
             + ("the head's GPUs hold the last layers and the output" if hosts[0].gpus else
                "the last worker's GPU holds the output layer") + ", and -ts gives each device its layer count",
             f"assumed link: {link_gbps:g} Gbit/s, {link_ms:g} ms a leg; each token's hidden state ({a.n_embd * 4}"
             f" bytes) crosses {2 * len(workers)} legs, and each RPC device gets the attention mask (up to "
             f"{ctx_cells * 2 // 1024} KiB at a full context): {t_link * 1e3:.2f} ms a token, "
             f"{ubatch_link * 1e3:.0f} ms for each 512-token micro-batch of a prompt",
             "split mode layer (llama.cpp's default) across hosts: -sm tensor does not run over RPC"]
    if workers:
        notes.append(f"{hosts[0].name} needs the whole GGUF on its disk ({file_bytes(spec, quant, lay) / 2**30:.1f} "
                     "GiB) and reads it by mmap; each worker needs RAM for its largest tensor while it loads, and "
                     "with -c disk for its share")
    if cpu_layers:
        notes.append(f"too big for the GPUs: -ngl {ngl} leaves the first {cpu_layers} layers on {hosts[0].name}'s "
                     f"CPU ({est.cpu_bytes / 2**30:.1f} GiB of its RAM, read at an assumed "
                     f"{DEFAULT_RAM_BANDWIDTH / 1e9:g} GB/s); llama.cpp then runs no pipeline between the GPUs")
    if not hosts[0].gpus:
        notes.append(f"{hosts[0].name} has no GPU: the output layer runs on the last worker and every token's "
                     f"logits ({a.n_vocab * 4 // 1024} KiB) cross the network back")
    notes.append("any GGUF quantization llama.cpp runs" + ("; every host must run the same llama.cpp build (the RPC "
                                                            "protocol version must match)" if workers else ""))
    if len(devices) > 1 and not workers:
        notes.append("split mode layer (llama.cpp's default): whole layers per GPU, -ts gives each GPU its layer "
                     "count (the output layer on the last)")
    if not fits:
        notes.append(_overfull(dev, with_host=True))
    return Plan("llama.cpp RPC" if workers else "llama.cpp layer split", fits, dev, tuple(host_rows), tps,
                {"gbps": link_gbps, "latency_ms": link_ms, "hops": len(workers),
                 "seconds_per_token": round(t_link, 6), "seconds_per_ubatch": round(ubatch_link, 6)},
                tuple(cmds), tuple(notes), cpu_layers)


VLLM_FORMATS = ("BF16", "FP8", "AWQ")
AWQ_GROUP = 128  # AutoAWQ's and GPTQ's usual group size


def vllm_weights(spec: Any, fmt: str = "BF16") -> tuple[list[int], int, int]:
    """Bytes of a safetensors checkpoint as vLLM loads it, from the model's tensor table: per layer, the
    input embedding (the first pipeline stage's), and the output matrix with the final norm (the last
    stage's; a tied embedding is loaded there again).

    BF16: 2 bytes a weight. FP8 (an FP8 checkpoint, per-channel scales): the layers' linear weights at one
    byte and an f32 scale per output row. AWQ 4-bit (group 128): per K x N matrix the packed weights
    (K x N / 2), f16 scales (K/128 x N x 2) and packed 4-bit zero points (K/128 x N / 2). In both the
    embedding, the output matrix, norms and MoE routers stay BF16, as the quantizers leave them.
    """
    from catalog.core.arch import hf_tensors
    from catalog.core.quants import block_index

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


def vllm_weight_bytes(spec: Any, fmt: str = "BF16") -> int:
    """The checkpoint's bytes (a tied embedding once)."""
    return _checkpoint_bytes(spec, *vllm_weights(spec, fmt))


def _checkpoint_bytes(spec: Any, layers: list[int], embed: int, head: int) -> int:
    return sum(layers) + embed + head - (embed if spec.arch.tied_embeddings else 0)


def vllm_pp_partition(n_layer: int, pp: int) -> list[int]:
    """Layers per pipeline stage as vLLM cuts them (vllm/distributed/utils.py get_pp_indices): even, the
    remainder one each to the stages before the last, from the second-to-last back."""
    parts = [n_layer // pp] * pp
    for i in range(2, n_layer % pp + 2):
        parts[-i] += 1
    return parts


def vllm_plan(spec: Any, ctx: int, hosts: list[Host], fmt: str = "BF16",
              link_gbps: float = 1.0, link_ms: float = 0.5) -> Plan:
    """vLLM on Ray: TP = the GPUs of one host (all hosts alike), PP = the hosts."""
    from catalog.core.memory import RuntimeOptions, kv_cache_by_layer
    from catalog.service.check import DECODE_EFFICIENCY

    notes = []
    if any(not h.gpus for h in hosts):
        notes.append("vLLM runs only on the hosts with GPUs: " + ", ".join(h.name for h in hosts if not h.gpus)
                     + " left out")
        hosts = [h for h in hosts if h.gpus]
    if not hosts:
        return Plan("vLLM + Ray", False, (), (), None, {}, (), (*notes, "not planned: no GPU in any host"))
    tp = len(hosts[0].gpus)
    if any(len(h.gpus) != tp for h in hosts):
        notes.append("vLLM needs the same GPU count on every host; the smallest is used")
        tp = min(len(h.gpus) for h in hosts)
    a = spec.arch
    n_kv = min(a.n_head_kv)

    def divides(t: int) -> bool:  # vLLM: TP divides the query heads; KV heads split or replicate evenly
        return bool(a.n_head % t == 0 and (n_kv % t == 0 or t % n_kv == 0))

    while tp > 1 and not divides(tp):
        tp -= 1
    pp = len(hosts)
    per_layer, embed, head = vllm_weights(spec, fmt)
    weights = _checkpoint_bytes(spec, per_layer, embed, head)
    opts = RuntimeOptions(ctx, "F16", "F16", True, 2048, 512)
    kv_layers = kv_cache_by_layer(a, opts)  # f16, vLLM's default cache type
    kv_split = min(tp, n_kv) if n_kv else tp  # past one KV head a GPU, vLLM replicates the heads
    dev = []
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
            dev.append({"host": h.name, "gpu": g.name, "layers": n_layers, "bytes": w + kvb, "budget_bytes": budget,
                        "weights_bytes": w, "kv_cache_bytes": kvb})
    fits = all(d["bytes"] <= d["budget_bytes"] for d in dev)
    # decode: the stages run one after another; within a stage the TP ranks read their slices at once
    t = 0.0
    for h, stage in zip(hosts, stage_bytes, strict=True):
        bw = min((g.bandwidth_bytes_per_s or 100e9) for g in h.gpus[:tp]) * DECODE_EFFICIENCY
        t += stage / tp / bw
    # between stages vLLM sends the hidden state and the residual, BF16 (IntermediateTensors)
    t += (pp - 1) * (2 * a.n_embd * 2 / (link_gbps * 1e9 / 8) + link_ms / 1e3)
    tps = round(1.0 / t, 1) if fits and t > 0 else None
    host_rows = tuple({"host": h.name, "gpu_bytes": sum(d["bytes"] for d in dev if d["host"] == h.name),
                       "gpu_budget_bytes": sum(d["budget_bytes"] for d in dev if d["host"] == h.name),
                       "ram_needed_bytes": 0, "ram_bytes": h.ram_bytes, "layers": n}
                      for h, n in zip(hosts, layers_per_stage, strict=True))
    # one host needs no Ray cluster: vLLM's own workers span its GPUs
    cmds = [f"# on {hosts[0].name}: ray start --head --port={RAY_PORT}"] if pp > 1 else []
    cmds += [f"# on {h.name}: ray start --address={hosts[0].name}:{RAY_PORT}" for h in hosts[1:]]
    repo = spec.hf_repo or spec.id
    model = repo if fmt == "BF16" else f"<an {fmt} checkpoint of {repo}>"  # no repo id is invented
    cmds.append(f"# on {hosts[0].name}: vllm serve {model} --tensor-parallel-size {tp} "
                f"--pipeline-parallel-size {pp} --max-model-len {ctx}")
    fmt_text = {"BF16": "BF16 (the repo as published)", "FP8": "an FP8 checkpoint",
                "AWQ": "an AWQ 4-bit checkpoint (group 128)"}[fmt]
    notes += [f"weights as {fmt_text}: {weights / 2**30:.1f} GiB, which every host reads from its own disk or a "
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
    return Plan("vLLM + Ray" if fmt == "BF16" else f"vLLM + Ray ({fmt})", fits, tuple(dev), host_rows, tps,
                {"gbps": link_gbps, "latency_ms": link_ms, "hops": pp - 1}, tuple(cmds), tuple(notes))


def tensor_plan(spec: Any, quant: str, ctx: int, host: Host, kv: str = "F16") -> Plan:
    """llama.cpp `-sm tensor` over the GPUs of one host: every layer cut across all of them."""
    import hardware
    from catalog.core import tensor_split as tsp
    from catalog.core.memory import CUDA_CONTEXT_BYTES, POOL_LARGE_BYTES, RuntimeOptions, estimate
    from catalog.core.model import repo_for, tensors_for, weight_layout
    from catalog.service.check import DECODE_EFFICIENCY, gpu_budgets

    a = spec.arch
    n = len(host.gpus)
    hw = hardware.Hardware("profile", host.gpus, host.ram_bytes, host.ram_bytes, "linux")
    budgets = gpu_budgets(hw)
    # even unless the cards differ; then -ts in proportion to their budgets (tenths of a GiB, as typed)
    ts = () if len(set(budgets)) == 1 else tuple(round(b / 2**30, 1) for b in budgets)
    tensors = tensors_for(spec, quant, repo=repo_for(spec, quant))
    lay = weight_layout(spec, tensors)
    opts = RuntimeOptions(ctx, kv, kv, True, 2048, 512)
    why = tsp.unsupported_reason(a)
    if n < 2:
        why = why or "one GPU: nothing to split"
    notes = ["llama.cpp's tensor parallelism (-sm tensor, EXPERIMENTAL in docs/multi-gpu.md): every layer is cut "
             "across the GPUs (attention by GQA groups, the FFN by rows/columns, the KV cache by KV heads), "
             "norms, router, shared experts and a tied output matrix are mirrored, and each GPU holds the whole "
             "compute buffer; it needs flash attention and an f16/bf16/f32 KV cache, and --fit does not apply",
             "-sm row, the older row split, is deprecated (docs/multi-gpu.md) and CUDA and Vulkan builds since "
             "b9890 refuse it (\"does not support split buffers\", ggml-org/llama.cpp #27465): -sm tensor replaces it"]
    if why:
        return Plan("llama.cpp tensor split", False, (), (), None, {}, (), (*notes, f"not planned: {why}"))
    w = tsp.weights_per_device(a, tensors, n, ts)
    kvb = tsp.kv_per_device(a, tensors, opts, n, ts)
    compute = tsp.compute_per_device(a, opts)
    # the large pool: NCCL's bf16 temporaries come from it (ggml-cuda.cu), whatever the weights' type
    overhead = CUDA_CONTEXT_BYTES + POOL_LARGE_BYTES + tsp.allreduce_bytes(a, opts, n)
    dev = tuple({"host": host.name, "gpu": g.name, "device": local_device_name(g, i), "layers": a.n_layer + 1,
                 "bytes": w[i] + kvb[i] + compute + overhead, "budget_bytes": budgets[i], "weights_bytes": w[i],
                 "kv_cache_bytes": kvb[i], "compute_bytes": compute, "overhead_bytes": overhead}
                for i, g in enumerate(host.gpus))
    fits = all(d["bytes"] <= d["budget_bytes"] for d in dev) and kv in ("F16", "BF16", "F32")
    # the host keeps what a full offload leaves in RAM: token embedding, input rows, logits
    ram_need = estimate(a, tensors, opts, None, True, lay=lay).cpu_bytes
    host_rows = ({"host": host.name, "gpu_bytes": sum(d["bytes"] for d in dev),
                  "gpu_budget_bytes": sum(budgets), "ram_needed_bytes": ram_need, "ram_bytes": host.ram_bytes,
                  "layers": a.n_layer},)
    fits = fits and ram_need <= host.ram_bytes
    # decode, an upper bound: the GPUs read their slices at once; the two all-reduces a layer are not counted
    read_total = lay.active_bytes
    t = max((read_total * w[i] / max(1, sum(w)) + kvb[i] / 2) / ((g.bandwidth_bytes_per_s or 100e9)
                                                                 * DECODE_EFFICIENCY)
            for i, g in enumerate(host.gpus))
    tps = round(1.0 / t, 1) if fits and t > 0 else None
    src = _source(spec, quant)
    cmd = f"# on {host.name}: llama-server {src} -c {ctx} -ngl all -fa on -sm tensor" + (
        f" -ts {','.join(f'{x:g}' for x in ts)}" if ts else "")
    notes.append("decode speed is an upper bound: two all-reduces a layer cross PCIe/NVLink and are not counted; "
                 "build with NCCL (-DGGML_CUDA_NCCL=ON, the default) and, where the board allows, GGML_CUDA_P2P=1; "
                 "NCCL's own buffers are not counted (not measured): the budget's safety margin has to cover them")
    if not fits:
        notes.append(_overfull(dev, with_host=False))
    return Plan("llama.cpp tensor split", fits, dev, host_rows, tps,
                {"all_reduces_per_token": 2 * a.n_layer, "all_reduces_counted": False}, (cmd,), tuple(notes))
