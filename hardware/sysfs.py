"""AMD and Intel GPUs on Linux from /sys/class/drm, and AMD through amdsmi.

AMD: a card whose `device/vendor` is 0x1002 and whose driver is amdgpu exposes
`mem_info_vram_total` and `mem_info_vram_used` in bytes. Like Ollama
(discover/amd.go), a card with at most 4 GiB of VRAM and a GTT of at least
max(8 GiB, 4 x VRAM) is an integrated GPU sharing system memory; it is
reported in a note, not offered as a GPU budget. Intel (0x8086, i915 or xe)
exposes no VRAM size uniformly; an Intel card is used only where a
`mem_info_vram_total` file exists, and noted otherwise.
"""

import os
from types import ModuleType

from hardware import GIB, GPU, open_library

VENDORS = {"0x1002": "amd", "0x8086": "intel"}


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return None


def _int(path: str) -> int | None:
    text = _read(path)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def probe_drm(root: str = "/sys/class/drm") -> tuple[list[GPU], list[str]]:
    """GPUs found under a DRM sysfs tree (a test passes a fake tree), and notes."""
    gpus: list[GPU] = []
    notes: list[str] = []
    try:
        cards = sorted(c for c in os.listdir(root) if c.startswith("card") and "-" not in c)
    except OSError as exc:
        return [], [f"no DRM sysfs ({exc.strerror or type(exc).__name__})"]
    for card in cards:
        dev = os.path.join(root, card, "device")
        vendor = VENDORS.get((_read(os.path.join(dev, "vendor")) or "").lower())
        if vendor is None:
            continue
        driver = os.path.basename(os.path.realpath(os.path.join(dev, "driver")))
        total = _int(os.path.join(dev, "mem_info_vram_total"))
        used = _int(os.path.join(dev, "mem_info_vram_used")) or 0
        gtt = _int(os.path.join(dev, "mem_info_gtt_total")) or 0
        name = _read(os.path.join(dev, "product_name")) or f"{vendor.upper()} GPU {_read(os.path.join(dev, 'device'))}"
        if total is None:
            notes.append(f"{card}: {vendor} GPU ({driver}) exposes no VRAM size; not used")
            continue
        if total <= 4 * GIB and gtt >= max(8 * GIB, 4 * total):
            notes.append(f"{card}: {name} looks integrated ({total >> 20} MiB VRAM, {gtt >> 20} MiB GTT); not used")
            continue
        gpus.append(GPU(name, vendor, total, max(0, total - used), None, None, None, f"sysfs {card} ({driver})"))
    return gpus, notes


def probe_amdsmi(module: ModuleType | None = None) -> tuple[list[GPU], str | None]:
    """AMD GPUs through amdsmi (ROCm), when that library is installed."""
    smi, note = open_library(module, "amdsmi", "amdsmi_init", "amdsmi")
    if smi is None:
        return [], note
    gpus: list[GPU] = []
    try:
        for i, h in enumerate(smi.amdsmi_get_processor_handles()):
            try:
                usage = smi.amdsmi_get_gpu_vram_usage(h)
                total = int(usage["vram_total"]) << 20  # amdsmi reports MB
                used = int(usage["vram_used"]) << 20
            except Exception:  # noqa: BLE001 - one card failing does not hide the others
                continue
            try:
                name = str(smi.amdsmi_get_gpu_asic_info(h)["market_name"])
            except Exception:  # noqa: BLE001
                name = f"AMD GPU {i}"
            gpus.append(GPU(name, "amd", total, max(0, total - used), None, None, None, "amdsmi"))
    finally:
        try:
            smi.amdsmi_shut_down()
        except Exception:  # noqa: BLE001
            pass
    return gpus, None if gpus else "amdsmi found no usable GPU"
