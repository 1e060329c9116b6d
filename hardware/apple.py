"""Apple Silicon: unified memory, and the share of it Metal lets the GPU use.

`sysctl hw.memsize` gives the RAM, `machdep.cpu.brand_string` the chip
("Apple M3 Max"); `iogpu.wired_limit_mb`, when set (non-zero), is the GPU's
limit, else Metal's default working-set share applies (hardware.known). The
chip's bandwidth comes from the known-GPU database.
"""

import subprocess
from collections.abc import Callable

from hardware import GPU

Sysctl = Callable[[str], str | None]


def run_sysctl(key: str) -> str | None:
    """`sysctl -n KEY`, or None when it fails."""
    try:
        out = subprocess.run(["sysctl", "-n", key], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


def probe(sysctl: Sysctl = run_sysctl) -> tuple[list[GPU], str | None]:
    """The Apple GPU of this Mac, or none and the reason."""
    from hardware.known import APPLE_GPU_SHARE_LARGE, APPLE_GPU_SHARE_SMALL, find_gpu

    mem = sysctl("hw.memsize")
    brand = sysctl("machdep.cpu.brand_string") or ""
    if not mem or not mem.isdigit() or not brand.startswith("Apple M"):
        return [], "not an Apple Silicon Mac"
    total = int(mem)
    limit = sysctl("iogpu.wired_limit_mb")
    if limit and limit.isdigit() and int(limit) > 0:
        usable, how = min(total, int(limit) << 20), "iogpu.wired_limit_mb"
    else:
        share = APPLE_GPU_SHARE_SMALL if total <= 36 << 30 else APPLE_GPU_SHARE_LARGE
        usable, how = int(total * share), f"Metal default share {share:.2f}"
    bw = None
    for query in (f"{brand} {total >> 30}GB", brand):
        try:
            bw = find_gpu(query).bandwidth_bytes_per_s
            break
        except Exception:  # noqa: BLE001 - an unknown chip or memory option still has its memory
            continue
    return [GPU(brand, "apple", total, usable, bw, None, None, f"sysctl ({how})")], None
