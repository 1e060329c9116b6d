"""The values `hardware` hands out: GPUs, a machine, and the one error a GPU name can raise (pure).

The estimate imports these types alone: nothing here detects or reads anything.
"""


from typing import NamedTuple


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
