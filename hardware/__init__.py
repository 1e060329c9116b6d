"""Hardware: what memory and bandwidth the model can use.

`detect()` asks the machine (NVML first, then the fallbacks); `profile()` builds a `Hardware`
from the known-GPU database for a card the user names; `budget()` from raw numbers. Every
figure carries where it came from. The package imports nothing of `catalog`: the estimate
depends on these values (GPU, Hardware), never the other way round. The GPU database and the
probes (NVML, amdsmi, sysfs, sysctl) load on first use, so importing the values costs nothing else.
"""


import os
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any, NamedTuple

GIB = 1 << 30


class GPU(NamedTuple):
    """One GPU a process can use."""

    name: str
    vendor: str
    memory_total_bytes: int
    memory_free_bytes: int
    bandwidth_bytes_per_s: int | None = None
    compute_capability: str | None = None
    driver_version: str | None = None
    source: str = ""
    flops: float | None = None  # peak FLOP/s of the figure prompt processing is scaled from (known-GPU table)
    flops_kind: str | None = None  # which figure: tensor_fp16acc_dense, tensor_fp32acc_dense, shader or fp32


class Hardware(NamedTuple):
    """The GPUs and system memory an estimate is fitted against."""

    source: str  # "detected" | "profile" | "budget"
    gpus: tuple[GPU, ...]
    ram_total_bytes: int | None
    ram_available_bytes: int | None
    platform: str
    notes: tuple[str, ...] = ()
    ram_bandwidth_bytes_per_s: int | None = None  # given (--ram-bw); None: the estimate assumes a typical figure

    @property
    def vram_total_bytes(self) -> int:
        return sum(g.memory_total_bytes for g in self.gpus)

    @property
    def vram_free_bytes(self) -> int:
        return sum(g.memory_free_bytes for g in self.gpus)


class UnknownGpu(ValueError):
    """A GPU name that matches no known GPU, or several."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


__all__ = ["GPU", "Hardware", "UnknownGpu", "budget", "detect", "profile"]


def open_library(module: ModuleType | None, name: str, init: str, label: str) -> tuple[Any, str | None]:
    """Import the vendor library `name` (unless `module` replaces it) and call its `init`.

    Returns the initialised module, or None and a one-line note on why it is unusable
    (not installed, no driver, no permission). Never raises.
    """
    lib: Any = module
    if lib is None:
        try:
            lib = __import__(name)
        except Exception as exc:  # noqa: BLE001 - missing package, broken install or native library
            return None, f"{label} unavailable: {type(exc).__name__}"
    try:
        getattr(lib, init)()
    except Exception as exc:  # noqa: BLE001 - no driver, no library, no permission
        return None, f"{label} init failed: {type(exc).__name__}"
    return lib, None



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
    from hardware.known import find_gpu

    gpus = tuple(find_gpu(n) for n in names)
    mac = next((g for g in gpus if g.vendor == "apple"), None)
    if mac is not None:  # unified memory: the Mac's RAM is the pool the GPU's share comes from, never this machine's
        return Hardware("profile", gpus, mac.memory_total_bytes, mac.memory_total_bytes, "darwin",
                        ("unified memory: the GPU's share and RAM are one pool, counted once",))
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
