"""`catalog plan`: run a model across several GPUs and machines with engines people already run.

Two plans for a set of hosts (`NAME:GPU[xN][,RAM_GIB]`):

- llama.cpp RPC (any GGUF quantization): every GPU of every host is one device; `rpc-server`
  runs on each worker, `llama-server --rpc` on the first host (the head). Layers are split over
  the devices in proportion to their budgets (llama.cpp's default, pinned with `-ts`), each
  device paying its own CUDA context and compute buffer, the head keeping the token embedding
  and host buffers in its RAM. Decode crosses each host boundary once per token (one hidden
  state); prompt processing sends a micro-batch of them.
- vLLM on a Ray cluster (the model's safetensors, BF16 or its FP8/AWQ/GPTQ repos): tensor
  parallel over the GPUs of a host, pipeline parallel across hosts; every GPU holds 1/(TP x PP)
  of the weights, its share of the KV cache, and vLLM's reserve (gpu_memory_utilization 0.9).

Speed is an estimate: memory-bandwidth-bound decode per device, summed along the pipeline, plus
the assumed link (default 1 Gbit/s and 0.5 ms a hop, `--link-gbps`, `--link-ms`).
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from catalog.errors import UsageError

RPC_PORT = 50052  # rpc-server's default
RAY_PORT = 6379
VLLM_UTILIZATION = 0.9  # vLLM's default gpu_memory_utilization
# What vLLM's memory profile holds back per GPU besides weights and KV cache, as its own log prints it
# (vllm-project/vllm PR #10511, `vllm serve meta-llama/Meta-Llama-3-8B` on an H100 80GB, 2024-12-14):
# non_torch_memory (CUDA context, NCCL and cuBLAS workspaces) 1.79 GiB at TP 1 and 3.58 GiB at TP 2,
# "PyTorch activation peak memory" 1.26 GiB at both. Past TP 2 the TP 2 figure is used (unmeasured).
VLLM_NON_TORCH = {1: int(1.79 * 2**30), 2: int(3.58 * 2**30)}
VLLM_ACTIVATION_PEAK = int(1.26 * 2**30)


class Host(NamedTuple):
    """One machine: its GPUs (profiles from the known-GPU database) and RAM."""

    name: str
    gpus: tuple[Any, ...]
    ram_bytes: int


def parse_host(text: str) -> Host:
    """`NAME:GPU[xN][,RAM_GIB]`, e.g. `box1:RTX 4090x2,64` (several GPU kinds: `+`, `a:RTX 4090+RTX 3090`)."""
    import hardware

    m = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*:\s*([^,]+?)\s*(?:,\s*(\d+(?:\.\d+)?))?\s*", text)
    if not m:
        raise UsageError(f"--host {text!r}: not NAME:GPU[xN][,RAM_GIB]", "e.g. box1:RTX 4090x2,64")
    name, gpu_text, ram = m.group(1), m.group(2), m.group(3)
    names: list[str] = []
    for part in gpu_text.split("+"):
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


def rpc_plan(spec: Any, quant: str, ctx: int, hosts: list[Host], link_gbps: float = 1.0, link_ms: float = 0.5,
             kv: str = "F16") -> Plan:
    """llama.cpp RPC across `hosts` (the first is the head)."""
    import hardware
    from catalog.advisor import DECODE_EFFICIENCY, download_target, gpu_budgets
    from catalog.memory import RuntimeOptions, estimate
    from catalog.model import repo_for, tensors_for, weight_layout

    devices = [(h, g) for h in hosts for g in h.gpus]
    if not devices:
        raise UsageError("no GPU in any host")
    hw = hardware.Hardware("profile", tuple(g for _, g in devices), hosts[0].ram_bytes, hosts[0].ram_bytes, "linux")
    budgets = gpu_budgets(hw)
    tensors = tensors_for(spec, quant, repo=repo_for(spec, quant))
    lay = weight_layout(spec, tensors)
    opts = RuntimeOptions(ctx, kv, kv, True, 2048, 512)
    est = estimate(spec.arch, tensors, opts, None, True, lay=lay, gpu_shares=budgets)
    dev = tuple({"host": h.name, "gpu": g.name, "layers": n, "bytes": b, "budget_bytes": bud}
                for (h, g), n, b, bud in zip(devices, est.per_gpu_layers, est.per_gpu_bytes, budgets, strict=True))
    host_rows = []
    for i, h in enumerate(hosts):
        mine = [d for d in dev if d["host"] == h.name]
        ram_need = est.cpu_bytes if i == 0 else 0  # workers hold only what their devices hold
        host_rows.append({"host": h.name, "gpu_bytes": sum(d["bytes"] for d in mine),
                          "gpu_budget_bytes": sum(d["budget_bytes"] for d in mine), "ram_needed_bytes": ram_need,
                          "ram_bytes": h.ram_bytes, "layers": sum(d["layers"] for d in mine)})
    fits = est.fits(budgets) and all(r["ram_needed_bytes"] <= r["ram_bytes"] for r in host_rows)
    # decode: each device reads its weights once per token, one after another; each boundary between
    # hosts carries one f32 hidden state (plus a round trip)
    a = spec.arch
    per_layer = [*lay.layer_bytes, lay.output_bytes]  # llama.cpp puts the output matrix on the last device
    t = 0.0
    li = 0
    for d, (_, g) in zip(dev, devices, strict=True):
        bw = (g.bandwidth_bytes_per_s or 100e9) * DECODE_EFFICIENCY
        t += sum(per_layer[li:li + d["layers"]]) / bw
        li += d["layers"]
    hops = max(0, len(hosts) - 1)
    hidden = a.n_embd * 4
    link_bps = link_gbps * 1e9 / 8
    t += hops * (hidden / link_bps + link_ms / 1e3)
    tps = round(1.0 / t, 1) if t > 0 and fits else None
    repo = download_target(spec, quant).gguf_repo  # the repo `check`'s commands name for this quant
    quant_tag = f"{repo}:{quant}" if repo else f"{spec.id}-{quant}.gguf"
    src = f"-hf {quant_tag}" if repo else f"-m {quant_tag}"
    workers = [f"{h.name}:{RPC_PORT}" for h in hosts[1:]]
    ts = ",".join(str(max(1, round(b / 2**30))) for b in budgets)
    cmds = [f"# on {h.name}: rpc-server --host 0.0.0.0 --port {RPC_PORT}" for h in hosts[1:]]
    cmds.append(f"# on {hosts[0].name}: llama-server {src} -c {ctx} -ngl all -fa on"
                + (f" --rpc {','.join(workers)}" if workers else "") + (f" -ts {ts}" if len(budgets) > 1 else ""))
    notes = ["llama.cpp must be built with -DGGML_RPC=ON on every host; rpc-server trusts its network: keep it on "
             "a private link",
             f"assumed link: {link_gbps:g} Gbit/s, {link_ms:g} ms a hop; decode sends one {hidden}-byte hidden state "
             f"per host boundary per token, prompt processing 512 of them per micro-batch",
             "split mode layer (llama.cpp's default, -sm layer): whole layers per device; -sm row splits each matrix "
             "over the GPUs of one host and is not planned here"]
    if not fits:
        notes.append("does not fit: " + ", ".join(f"{d['host']}/{d['gpu']} needs {d['bytes'] / 2**30:.1f} of "
                                                  f"{d['budget_bytes'] / 2**30:.1f} GiB" for d in dev
                                                  if d["bytes"] > d["budget_bytes"]))
    return Plan("llama.cpp RPC", fits, dev, tuple(host_rows), tps,
                {"gbps": link_gbps, "latency_ms": link_ms, "hops": hops}, tuple(cmds), tuple(notes))


def vllm_plan(spec: Any, ctx: int, hosts: list[Host], bytes_per_param: float = 2.0,
              link_gbps: float = 1.0, link_ms: float = 0.5) -> Plan:
    """vLLM on Ray: TP = the GPUs of one host (all hosts alike), PP = the hosts."""
    from catalog.advisor import DECODE_EFFICIENCY
    from catalog.memory import RuntimeOptions, kv_cache_by_layer

    notes = []
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
    weights = int(spec.parameters * bytes_per_param)
    opts = RuntimeOptions(ctx, "F16", "F16", True, 2048, 512)
    kv_total = sum(kv_cache_by_layer(a, opts))  # f16, vLLM's default cache type
    dev = []
    layers_per_stage = [a.n_layer // pp + (1 if i < a.n_layer % pp else 0) for i in range(pp)]
    for h, n_layers in zip(hosts, layers_per_stage, strict=True):
        share = n_layers / a.n_layer
        for g in h.gpus[:tp]:
            b = int((weights + kv_total) * share / tp)
            budget = int(g.memory_total_bytes * VLLM_UTILIZATION) - VLLM_NON_TORCH[min(tp, 2)] - VLLM_ACTIVATION_PEAK
            dev.append({"host": h.name, "gpu": g.name, "layers": n_layers, "bytes": b, "budget_bytes": budget})
    fits = all(d["bytes"] <= d["budget_bytes"] for d in dev)
    # decode: the stages run one after another; within a stage the TP ranks read their slices at once
    t = 0.0
    for h, n_layers in zip(hosts, layers_per_stage, strict=True):
        bw = min((g.bandwidth_bytes_per_s or 100e9) for g in h.gpus[:tp]) * DECODE_EFFICIENCY
        t += weights * n_layers / a.n_layer / tp / bw
    t += (pp - 1) * (a.n_embd * 2 / (link_gbps * 1e9 / 8) + link_ms / 1e3)
    tps = round(1.0 / t, 1) if fits and t > 0 else None
    host_rows = tuple({"host": h.name, "gpu_bytes": sum(d["bytes"] for d in dev if d["host"] == h.name),
                       "gpu_budget_bytes": sum(d["budget_bytes"] for d in dev if d["host"] == h.name),
                       "ram_needed_bytes": 0, "ram_bytes": h.ram_bytes, "layers": n}
                      for h, n in zip(hosts, layers_per_stage, strict=True))
    cmds = [f"# on {hosts[0].name}: ray start --head --port={RAY_PORT}"]
    cmds += [f"# on {h.name}: ray start --address={hosts[0].name}:{RAY_PORT}" for h in hosts[1:]]
    cmds.append(f"# on {hosts[0].name}: vllm serve {spec.hf_repo or spec.id} --tensor-parallel-size {tp} "
                f"--pipeline-parallel-size {pp} --max-model-len {ctx}")
    notes += [f"weights at {bytes_per_param:g} bytes a parameter (BF16; an FP8 repo halves it, AWQ/GPTQ 4-bit "
              "quarters it); vLLM's GGUF support is experimental, so the plan uses the safetensors repo",
              f"tensor parallel {tp} within a host (it must divide the {a.n_head} attention heads), pipeline "
              f"parallel {pp} across hosts over the assumed {link_gbps:g} Gbit/s link",
              f"each GPU keeps back what vLLM's profile held for Llama 3 8B on an H100: "
              f"{VLLM_NON_TORCH[min(tp, 2)] / 2**30:.2f} GiB outside PyTorch at TP {min(tp, 2)} and "
              f"{VLLM_ACTIVATION_PEAK / 2**30:.2f} GiB of activation peak"
              + (" (larger TP and larger models were not measured)" if tp > 2 or a.n_embd > 4096 else "")]
    return Plan("vLLM + Ray", fits, tuple(dev), host_rows, tps,
                {"gbps": link_gbps, "latency_ms": link_ms, "hops": pp - 1}, tuple(cmds), tuple(notes))
