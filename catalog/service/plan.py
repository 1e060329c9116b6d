"""`catalog.plan`: run a model across several GPUs and machines with engines people already run.

Plans for a set of hosts (`NAME:GPU[xN][,RAM_GIB]`, the first is the head), each engine's rules in
its own core module:

- llama.cpp, layer split (any GGUF quantization), on one host or over RPC (catalog.core.plan_rpc);
- llama.cpp, tensor split (`-sm tensor`), over the GPUs of one host (catalog.core.plan_tensor);
- vLLM (the model's safetensors, BF16 or its FP8/AWQ repos) on a Ray cluster (catalog.core.plan_vllm).

Beside them, the honest comparison: the head alone, offloading what does not fit to its CPU
(catalog.check); a cluster plan slower than that says so.
"""

from __future__ import annotations

import re

from catalog.core.model import ModelSpec
from catalog.core.options import CheckRequest
from catalog.core.plan_rpc import rpc_plan
from catalog.core.plan_tensor import tensor_plan
from catalog.core.plan_types import EnginePlan, HeadAlone, Host, PlanRequest, PlanResult
from catalog.core.plan_vllm import VLLM_FORMATS, vllm_plan
from catalog.errors import UsageError
from hardware import Hardware

NO_GPU = ("cpu", "none")  # a host given as NAME:cpu has no GPU (a head that only drives the workers)
DEFAULT_HOST_RAM_GIB = 64.0
MAX_HOST_GPUS = 64  # more than any single host holds
MAX_HOST_RAM_GIB = 1 << 20


def parse_host(text: str) -> Host:
    """`NAME:GPU[xN][,RAM_GIB]`, e.g. `box1:RTX 4090x2,64` (several GPU kinds: `+`, `a:RTX 4090+RTX 3090`;
    a head without a GPU: `laptop:cpu,32`).

    Raises:
        UsageError: not that form. UnknownGpu: a GPU no card matches.
    """
    from catalog.service.machine import profile

    m = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*:\s*([^,]+?)\s*(?:,\s*(\d+(?:\.\d+)?))?\s*", text)
    if not m:
        raise UsageError(f"--host {text!r}: not NAME:GPU[xN][,RAM_GIB]", "e.g. box1:RTX 4090x2,64")
    name, gpu_text, ram = m.group(1), m.group(2), m.group(3)
    names: list[str] = []
    for part in ([] if gpu_text.lower() in NO_GPU else gpu_text.split("+")):
        pm = re.fullmatch(r"\s*(.+?)\s*(?:x(\d+))?\s*", part)
        assert pm is not None
        count = int(pm.group(2) or 1)
        if not 1 <= count <= MAX_HOST_GPUS:
            raise UsageError(f"--host {text!r}: {count} GPUs of a kind", f"1 to {MAX_HOST_GPUS} a host")
        names += [pm.group(1)] * count
    if ram and not 0 < float(ram) <= MAX_HOST_RAM_GIB:
        raise UsageError(f"--host {text!r}: RAM {ram} GiB", f"more than 0, at most {MAX_HOST_RAM_GIB}")
    hw = profile(names, float(ram) if ram else DEFAULT_HOST_RAM_GIB)
    return Host(name, hw.gpus, int(hw.ram_total_bytes or 0), ram_assumed=not ram)


def hosts_from_toml(path: str) -> list[Host]:
    """`[[host]]` tables with `name`, `gpus` (list of known-GPU names, repeated for several) and `ram_gib`.

    Raises:
        UsageError: not such a file. UnknownGpu: a GPU no card matches.
    """
    from catalog.service.machine import profile

    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef,import-not-found,unused-ignore]
    try:
        from catalog.sources.files import read_capped

        doc = tomllib.loads(read_capped(path, 1 << 20).decode("utf-8"))
        out = []
        for h in doc["host"]:
            hw = profile([str(g) for g in h["gpus"]], float(h.get("ram_gib", DEFAULT_HOST_RAM_GIB)))
            out.append(Host(str(h["name"]), hw.gpus, int(hw.ram_total_bytes or 0), ram_assumed="ram_gib" not in h))
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not a hosts file ({type(exc).__name__}: {exc})",
                         "[[host]] tables with name, gpus and ram_gib") from None
    return out


def validate(hosts: list[Host], request: PlanRequest) -> None:
    """Refuse what no engine would run.

    Raises:
        UsageError: no host, a name twice, `-sm row`, or `-sm tensor` without one host of several GPUs.
    """
    if not hosts:
        raise UsageError("give at least one --host NAME:GPU[xN][,RAM]", "e.g. --host a:RTX 4090x2,64 --host b:RTX 3090")
    if len({h.name for h in hosts}) != len(hosts):
        raise UsageError("host names must be unique")
    if request.split_mode == "row":
        raise UsageError("-sm row is deprecated in llama.cpp (docs/multi-gpu.md) and CUDA and Vulkan builds since "
                         "b9890 refuse it (\"does not support split buffers\")",
                         "--split-mode tensor plans its replacement; --split-mode layer the default")
    if request.split_mode == "tensor" and (len(hosts) > 1 or len(hosts[0].gpus) < 2):
        raise UsageError("--split-mode tensor splits the GPUs of one host: give one --host with several GPUs")


def plan(spec: ModelSpec, hosts: list[Host], request: PlanRequest | None = None) -> PlanResult:
    """Every engine's plan for `spec` over `hosts` (the first is the head), and the head alone beside them.

    Raises:
        UsageError: hosts or options no engine would run (`validate`), an unknown quantization.
    """
    from catalog.core.ggml import normalize_preset
    from catalog.service.check import check

    request = request or PlanRequest()
    validate(hosts, request)
    quant = normalize_preset(request.quant)
    if quant is None:
        raise UsageError(f"unknown quantization {request.quant!r}")
    ctx, gbps, ms = request.ctx, request.link_gbps, request.link_ms
    plans: list[EnginePlan] = [] if request.split_mode == "tensor" else [rpc_plan(spec, quant, ctx, hosts, gbps, ms)]
    if len(hosts) == 1 and len(hosts[0].gpus) > 1 and request.split_mode != "layer":
        plans.append(tensor_plan(spec, quant, ctx, hosts[0]))
    for fmt in VLLM_FORMATS:  # BF16 as published; when it does not fit, the first checkpoint format that does
        v = vllm_plan(spec, ctx, hosts, fmt, link_gbps=gbps, link_ms=ms)
        if fmt == "BF16" or v.fits:
            plans.append(v)
        if v.fits:
            break
    head = hosts[0]
    alone = check(spec._replace(pinned_quant=quant), CheckRequest(quants=(quant,), ctx=ctx),
                  Hardware("profile", head.gpus, head.ram_bytes, head.ram_bytes, "linux")).rows[0]
    tps = alone.tokens_per_second
    if alone.verdict in ("partial", "cpu_only") and tps:
        plans = [p._replace(notes=(*p.notes, f"slower than {head.name} alone with partial offload (~{tps:.0f} "
                                               "tok/s): keep it local"))
                 if p.fits and p.tokens_per_second and p.tokens_per_second < tps else p for p in plans]
    assumed = tuple(f"{h.name}: no RAM given, {DEFAULT_HOST_RAM_GIB:g} GiB assumed (give it: --host "
                    f"{h.name}:GPU,RAM_GIB, or ram_gib in the hosts file)" for h in hosts if h.ram_assumed)
    return PlanResult(spec, quant, ctx, tuple(plans),
                      HeadAlone(head.name, alone.verdict, tps,
                                alone.commands.llama_cpp if alone.verdict != "no_fit" else ""), assumed)
