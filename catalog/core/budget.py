"""How much of each GPU an estimate may fill: the safety margin, once (pure)."""


from catalog.core.memory import MIB
from hardware.types import GPU

# what a named GPU profile leaves for the driver, a desktop, and estimate error
PROFILE_RESERVE_FRACTION = 0.05
PROFILE_RESERVE_MIN = 512 * MIB
MARGIN_FIXED = 256 * MIB
MARGIN_FRACTION = 0.02


def gpu_budgets(gpus: tuple[GPU, ...], named: bool) -> tuple[int, ...]:
    """Bytes the runtime may use on each GPU, after the safety margin.

    Args:
        gpus: the GPUs, in order.
        named: the GPUs are profiles of named cards (`--gpu`), not detected: their memory is the card's
            total, so the driver's and a desktop's share is kept back too (not on Apple, whose profile
            already holds Metal's working-set share).
    """
    out = []
    for g in gpus:
        free = g.memory_free_bytes
        if named and g.vendor != "apple":
            free = g.memory_total_bytes - max(PROFILE_RESERVE_MIN, int(g.memory_total_bytes * PROFILE_RESERVE_FRACTION))
        out.append(max(0, free - MARGIN_FIXED - int(g.memory_total_bytes * MARGIN_FRACTION)))
    return tuple(out)


def margin_text(named: bool) -> str:
    """The safety margin in words, as the check reports it."""
    return (f"{MARGIN_FIXED >> 20} MiB + {MARGIN_FRACTION:.0%} of each GPU"
            + (f", and {PROFILE_RESERVE_FRACTION:.0%} (at least {PROFILE_RESERVE_MIN >> 20} MiB)"
               " for the driver and desktop on a named card" if named else ""))
