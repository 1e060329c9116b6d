"""What `catalog plan` answers, as typed values: hosts in, one plan per engine out (pure)."""


from typing import Literal, get_args

from catalog.core.model import ModelSpec
from catalog.core.options import PLAN_CTX, PLAN_LINK_GBPS, PLAN_LINK_MS, PLAN_QUANT
from catalog.core.record import Record
from catalog.errors import EXIT_FITS, EXIT_NO_FIT
from hardware import GPU

# llama.cpp's split of one host's GPUs (-sm): whole layers, every layer cut, or the deprecated row split
SplitMode = Literal["layer", "tensor", "row"]
SPLIT_MODES: tuple[SplitMode, ...] = get_args(SplitMode)


class PlanRequest(Record):
    """`catalog plan`'s options: the GGUF quantization and context, llama.cpp's split over one host's GPUs,
    and the network between hosts."""

    quant: str = PLAN_QUANT
    ctx: int = PLAN_CTX
    split_mode: SplitMode | None = None
    link_gbps: float = PLAN_LINK_GBPS
    link_ms: float = PLAN_LINK_MS


class Host(Record):
    """One machine: its GPUs (profiles from the known-GPU database) and RAM."""

    name: str
    gpus: tuple[GPU, ...]
    ram_bytes: int
    ram_assumed: bool = False  # no RAM was given: DEFAULT_HOST_RAM_GIB stands in, and the plan says so


class DevicePlan(Record):
    """One GPU of a plan: what it holds against its budget, part by part where the engine says."""

    host: str
    gpu: str
    layers: int
    bytes: int
    budget_bytes: int
    device: str | None = None  # llama.cpp's name for it (RPC0, CUDA1, ...)
    weights_bytes: int | None = None
    kv_cache_bytes: int | None = None
    compute_bytes: int | None = None
    overhead_bytes: int | None = None


class HostPlan(Record):
    """One machine of a plan: its GPUs' bytes against their budgets, and the RAM it needs."""

    host: str
    gpu_bytes: int
    gpu_budget_bytes: int
    ram_needed_bytes: int
    ram_bytes: int
    layers: int


class Link(Record):
    """The network (or GPU interconnect) a plan assumes, and what crosses it; each engine says what it knows."""

    gbps: float | None = None
    latency_ms: float | None = None
    hops: int | None = None
    seconds_per_token: float | None = None
    seconds_per_ubatch: float | None = None
    all_reduces_per_token: int | None = None
    all_reduces_counted: bool | None = None


class EnginePlan(Record):
    """One engine's plan: does it fit, each device and host, decode speed, the link, the commands."""

    engine: str  # "llama.cpp RPC" | "llama.cpp layer split" | "llama.cpp tensor split" | "vLLM + Ray" ...
    fits: bool
    devices: tuple[DevicePlan, ...]
    hosts: tuple[HostPlan, ...]
    tokens_per_second: float | None
    link: Link
    commands: tuple[str, ...]
    notes: tuple[str, ...]
    cpu_layers: int = 0  # llama.cpp: leading layers left on the head's CPU (-ngl below all)


class HeadAlone(Record):
    """The honest comparison: the head machine alone, offloading what does not fit to its CPU."""

    host: str
    verdict: str
    tokens_per_second: float | None
    command: str  # its llama-server command ("" when it does not run)


class PlanResult(Record):
    """`catalog plan`: the model over the hosts, with each engine's plan and the head alone."""

    spec: ModelSpec
    quant: str
    context: int
    plans: tuple[EnginePlan, ...]
    head_alone: HeadAlone
    notes: tuple[str, ...] = ()  # what the plan assumed of the hosts

    @property
    def fastest(self) -> tuple[str, float | None]:
        """The way to run it that decodes fastest: a plan that fits, or the head alone (which wins a tie: one
        machine is simpler), with its tokens a second."""
        h = self.head_alone
        best: tuple[str, float | None] = (f"{h.host} alone", h.tokens_per_second) if h.verdict != "no_fit" \
            else ("", None)
        for p in self.plans:
            if p.fits and p.tokens_per_second and (best[1] is None or p.tokens_per_second > best[1]):
                best = (p.engine, p.tokens_per_second)
        return best

    @property
    def exit_code(self) -> int:
        """0 when some plan fits, else the contract's "does not fit"."""
        return EXIT_FITS if any(p.fits for p in self.plans) else EXIT_NO_FIT


def overfull(devices: tuple[DevicePlan, ...], with_host: bool) -> str:
    """The note for a plan that does not fit: which devices need more than their budget."""
    return "does not fit: " + ", ".join(
        f"{d.host + '/' if with_host else ''}{d.gpu} needs {d.bytes / 2**30:.1f} of "
        f"{d.budget_bytes / 2**30:.1f} GiB" for d in devices if d.bytes > d.budget_bytes)
