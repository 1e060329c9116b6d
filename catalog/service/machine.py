"""`catalog.machine`: the hardware a question is fitted against: detected, named cards, or a raw budget.

The `hardware` package answers; this turns its one error into the catalog's (`UnknownGpu`, exit 2), so
every face reports a bad `--gpu` name the same way.
"""

from __future__ import annotations

from typing import Any

from catalog.errors import UnknownGpu, UsageError
from hardware import Hardware

GIB = 1 << 30


def profile(names: list[str], ram_gib: float | None = None) -> Hardware:
    """Hardware made of known GPUs by name (`--gpu`, repeatable), with `ram_gib` of RAM (None: this machine's).

    Raises:
        UnknownGpu: a name matches no card, or several.
    """
    import hardware

    try:
        return hardware.profile(names, ram_gib)
    except hardware.UnknownGpu as err:
        raise UnknownGpu(err.message, err.hint) from None


def machine(gpus: list[str] | tuple[str, ...] = (), vram_gib: float | None = None,
            ram_gib: float | None = None, ram_bw_gbps: float | None = None) -> Hardware:
    """The hardware for `--gpu`, `--vram` and `--ram`: named cards, a raw budget, or this machine detected
    (with `ram_gib` replacing its RAM); `ram_bw_gbps` is the RAM's bandwidth in GB/s, which what a partial
    offload leaves on the CPU is read at (else a typical figure is assumed, and said).

    Raises:
        UsageError: both cards and a budget, or a negative budget. UnknownGpu: a name no card matches.
    """
    if ram_bw_gbps is not None and not ram_bw_gbps > 0:
        raise UsageError("--ram-bw must be positive (GB/s)")
    hw = _machine(gpus, vram_gib, ram_gib)
    return hw._replace(ram_bandwidth_bytes_per_s=int(ram_bw_gbps * 1e9)) if ram_bw_gbps else hw


def _machine(gpus: list[str] | tuple[str, ...], vram_gib: float | None, ram_gib: float | None) -> Hardware:
    import hardware

    if gpus:
        if vram_gib is not None:
            raise UsageError("give --gpu or --vram, not both")
        return profile(list(gpus), ram_gib)
    if vram_gib is not None:
        if vram_gib < 0:
            raise UsageError("--vram must not be negative")
        return hardware.budget(vram_gib, ram_gib)
    hw = hardware.detect()
    if ram_gib is not None:
        ram = int(ram_gib * GIB)
        hw = hw._replace(ram_total_bytes=ram, ram_available_bytes=ram)
    return hw


def gpus(text: str = "") -> list[dict[str, Any]]:
    """The known GPUs a text names (every one without a text): name, vendor, memory options in GB, bandwidth
    per option, the aliases `--gpu` takes, and the source of the figures (`catalog gpus`)."""
    from hardware.known import listing

    return listing(text)
