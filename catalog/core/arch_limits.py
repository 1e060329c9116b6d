"""What a real model's config stays within (pure): a config.json whose shapes pass these limits, or whose
numbers are infinite, NaN, negative or of the wrong type, is corrupt or hostile and is refused with one clear
error before anything of its size is built."""

from collections.abc import Callable
from typing import Any

from catalog.core.arch import Architecture, UnsupportedArchitecture

SHAPE_LIMITS = {"n_layer": 4096, "n_embd": 1 << 20, "n_head": 1 << 16, "n_vocab": 1 << 24, "n_ctx_train": 1 << 28}


def checked(config: dict[str, Any], read: Callable[[dict[str, Any]], Architecture]) -> Architecture:
    """`read(config)`, its layer counts checked before and its shapes after; any arithmetic or type error of a
    hostile value becomes UnsupportedArchitecture."""
    _layer_counts_in_range(config)
    try:
        a = read(config)
    except UnsupportedArchitecture:
        raise
    except (OverflowError, ZeroDivisionError, ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        raise UnsupportedArchitecture(f"config.json has a value out of range or of the wrong type "
                                      f"({type(exc).__name__}: {exc})") from None
    for name, top in SHAPE_LIMITS.items():
        v = getattr(a, name)
        if not 0 <= v <= top or (name not in ("n_ctx_train", "n_vocab") and v == 0):
            raise UnsupportedArchitecture(f"config.json: {name} {v} is out of range for a model (0..{top})")
    if any(not 0 <= x <= 1 << 24 for x in (*a.n_ff, *a.n_head_kv, a.n_ff_exp, a.n_expert, a.head_dim_k)):
        raise UnsupportedArchitecture("config.json: a width, head count or expert count is out of range")
    return a


def _layer_counts_in_range(config: dict[str, Any]) -> None:
    """Refuse a layer count past any model's before a tuple of one entry a layer is built from it."""
    for c in (config, config.get("text_config")):
        for key in ("num_hidden_layers", "n_layer", "num_layers", "n_layers"):
            v = c.get(key) if isinstance(c, dict) else None
            if v is not None and not (isinstance(v, (int, float)) and 0 < v <= SHAPE_LIMITS["n_layer"]):
                raise UnsupportedArchitecture(f"config.json: {key} {str(v)[:20]} is out of range for a model")
