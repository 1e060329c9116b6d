"""Hardware: what memory and bandwidth the model can use.

`detect()` asks the machine (NVML first, then the fallbacks); `profile()` builds a `Hardware`
from the known-GPU database for a card the user names; `budget()` from raw numbers. Every
figure carries where it came from. The package imports nothing of `catalog`: the estimate
depends on these values (GPU, Hardware), never the other way round. The functions are loaded on
first use, so importing the values costs nothing else.
"""


import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any, NamedTuple


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


class Hardware(NamedTuple):
    """The GPUs and system memory an estimate is fitted against."""

    source: str  # "detected" | "profile" | "budget"
    gpus: tuple[GPU, ...]
    ram_total_bytes: int | None
    ram_available_bytes: int | None
    platform: str
    notes: tuple[str, ...] = ()

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


def detect(nvml: ModuleType | None = None, amdsmi: ModuleType | None = None, drm_root: str = "/sys/class/drm",
           sysctl: Callable[[str], str | None] | None = None, platform: str = sys.platform) -> Hardware:
    """This machine's GPUs and RAM (hardware.machine.detect; never raises). The arguments replace the OS
    interfaces (tests)."""
    from hardware.machine import detect as _detect

    return _detect(nvml, amdsmi, drm_root, sysctl, platform)


def profile(names: list[str], ram_gib: float | None = None) -> Hardware:
    """Known GPUs named by the user (hardware.machine.profile). Raises UnknownGpu."""
    from hardware.machine import profile as _profile

    return _profile(names, ram_gib)


def budget(vram_gib: float | None, ram_gib: float | None) -> Hardware:
    """Hardware given as raw numbers (hardware.machine.budget)."""
    from hardware.machine import budget as _budget

    return _budget(vram_gib, ram_gib)


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
