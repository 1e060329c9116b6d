"""Build a Hardware value: detected (NVML, then CPU-only), a named profile, or a raw budget."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from types import ModuleType

from hardware import GPU, Hardware
from hardware.known import find_gpu

GIB = 1 << 30


def system_memory() -> tuple[int | None, int | None]:
    """Total and available system RAM in bytes, where the platform tells."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            info = {}
            for line in f:
                key, _, rest = line.partition(":")
                parts = rest.split()
                if parts and parts[0].isdigit():
                    info[key] = int(parts[0]) * 1024
        return info.get("MemTotal"), info.get("MemAvailable", info.get("MemFree"))
    except OSError:
        pass
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return total, None
    except (ValueError, OSError, AttributeError):
        return None, None


def detect(nvml: ModuleType | None = None, amdsmi: ModuleType | None = None, drm_root: str = "/sys/class/drm",
           sysctl: Callable[[str], str | None] | None = None, platform: str = sys.platform) -> Hardware:
    """Detect GPUs and RAM. Never raises: each source that fails falls through to the next, with a note.

    Order: NVML (NVIDIA, MIG instances where MIG is on), amdsmi, the DRM sysfs tree (AMD, Intel),
    Apple Silicon (sysctl), then CPU only. The arguments replace the OS interfaces (tests).
    """
    from hardware import apple, sysfs
    from hardware import nvml as nvml_probe

    notes: list[str] = []
    gpus, note = nvml_probe.probe(nvml)
    if note:
        notes.append(note)
    if not gpus:
        gpus, note = sysfs.probe_amdsmi(amdsmi)
        if note:
            notes.append(note)
    if not gpus and platform.startswith("linux"):
        gpus, more = sysfs.probe_drm(drm_root)
        notes.extend(more)
    if not gpus and platform == "darwin":
        gpus, note = apple.probe(sysctl or apple.run_sysctl)
        if note:
            notes.append(note)
    total, avail = system_memory()
    if platform == "darwin" and gpus:
        total = avail = gpus[0].memory_total_bytes
    if not gpus:
        notes.append("no GPU found: estimating for CPU and system RAM only")
    return Hardware("detected", tuple(gpus), total, avail, platform, tuple(notes))


def profile(names: list[str], ram_gib: float | None = None) -> Hardware:
    """Hardware made of known GPUs named by the user (`--gpu`, repeatable).

    Raises:
        UnknownGpu: a name matches nothing, or several cards.
    """
    gpus = tuple(find_gpu(n) for n in names)
    ram = int(ram_gib * GIB) if ram_gib is not None else None
    if ram is None:
        ram, _ = system_memory()
    return Hardware("profile", gpus, ram, ram, sys.platform)


def budget(vram_gib: float | None, ram_gib: float | None) -> Hardware:
    """Hardware given as raw numbers (`--vram`, `--ram`)."""
    gpus: tuple[GPU, ...] = ()
    if vram_gib:
        b = int(vram_gib * GIB)
        gpus = (GPU(f"{vram_gib:g} GiB budget", "unknown", b, b, None, source="--vram"),)
    ram = int(ram_gib * GIB) if ram_gib is not None else system_memory()[0]
    return Hardware("budget", gpus, ram, ram, sys.platform)
