"""NVIDIA GPUs through NVML (the `pynvml` module of nvidia-ml-py).

Each call may fail on its own (NVML raises NotSupported per field on some
cards), so every optional figure is read in its own try. Memory comes from
the v2 structure where available, which separates the driver's reservation
from what processes use; we fit against `free`.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from hardware import GPU, open_library


def _try(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception:  # noqa: BLE001 - NVML raises per-field errors of many classes
        return None


def _call(nvml: Any, name: str, *args: Any) -> Any:
    """nvml.NAME(*args), or None when the binding lacks it or the call fails."""
    fn = getattr(nvml, name, None)
    return None if fn is None else _try(fn, *args)


def _text(v: Any) -> str | None:
    if v is None:
        return None
    return v.decode() if isinstance(v, bytes) else str(v)


def _device(nvml: Any, h: Any, fallback_name: str, driver: str | None) -> GPU | None:
    mem = None
    v2 = getattr(nvml, "nvmlMemory_v2", None)
    if v2 is not None:
        mem = _try(lambda: nvml.nvmlDeviceGetMemoryInfo(h, version=v2))
    if mem is None:
        mem = _try(nvml.nvmlDeviceGetMemoryInfo, h)
    if mem is None:
        return None
    name = _text(_try(nvml.nvmlDeviceGetName, h)) or fallback_name
    bw = None
    bus = _try(nvml.nvmlDeviceGetMemoryBusWidth, h)
    clock = _try(nvml.nvmlDeviceGetMaxClockInfo, h, getattr(nvml, "NVML_CLOCK_MEM", 2))
    if bus and clock:
        bw = int(bus) // 8 * int(clock) * 1_000_000 * 2
    cc = _try(nvml.nvmlDeviceGetCudaComputeCapability, h)
    flops, kind = _known_compute(name)
    return GPU(name, "nvidia", int(mem.total), int(mem.free), bw, f"{cc[0]}.{cc[1]}" if cc else None, driver, "nvml",
               flops, kind)


def _known_compute(name: str) -> tuple[float | None, str | None]:
    """The card's compute figure from the known-GPU table (NVML reports none), when its name matches one."""
    from hardware.known import compute_of, matches

    hits = matches(name)
    return compute_of(hits[0]) if len(hits) == 1 else (None, None)


def probe(module: ModuleType | None = None) -> tuple[list[GPU], str | None]:
    """Return the GPUs NVML sees, or none and the reason."""
    nvml, note = open_library(module, "pynvml", "nvmlInit", "NVML")
    if nvml is None:
        return [], note
    gpus: list[GPU] = []
    try:
        driver = _text(_try(nvml.nvmlSystemGetDriverVersion))
        count = _try(nvml.nvmlDeviceGetCount) or 0
        for i in range(count):
            h = _try(nvml.nvmlDeviceGetHandleByIndex, i)
            if h is None:
                continue
            mig = _call(nvml, "nvmlDeviceGetMigMode", h)
            if mig and mig[0] == 1:
                # MIG on: a process can use the MIG instances, not the whole card
                for j in range(_call(nvml, "nvmlDeviceGetMaxMigDeviceCount", h) or 0):
                    mh = _call(nvml, "nvmlDeviceGetMigDeviceHandleByIndex", h, j)
                    if mh is not None:
                        g = _device(nvml, mh, f"MIG {i}/{j}", driver)
                        if g:
                            gpus.append(g._replace(source="nvml (MIG instance)"))
                continue
            g = _device(nvml, h, f"NVIDIA GPU {i}", driver)
            if g:
                gpus.append(g)
    finally:
        _try(nvml.nvmlShutdown)
    return gpus, None if gpus else "NVML found no usable GPU"
