"""Real llama.cpp's buffer sizes over RPC devices (tests/data/rpc_split_llamacpp.json, recorded by
bench/rpc_split.py) and the synthetic models they were measured on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from catalog.core.arch import Architecture, from_hf_config, hf_tensors
from catalog.core.ggml import Tensor
from catalog.core.quantize import QuantContext, quantize

ROOT = Path(__file__).resolve().parent.parent


def cases(kind: str) -> list[dict[str, Any]]:
    """`cases` (layer split) or `tensor_cases` (-sm tensor)."""
    doc = json.loads((ROOT / "tests" / "data" / "rpc_split_llamacpp.json").read_text())
    return list(doc[kind])


def model(config: str) -> tuple[Architecture, list[Tensor]]:
    """The architecture and Q4_K_M tensor table bench/synth_gguf.py wrote for a bench/configs file."""
    cfg = json.loads((ROOT / "bench" / "configs" / config).read_text())
    a = from_hf_config(cfg.get("config", cfg))
    return a, quantize(hf_tensors(a, "F16"), "Q4_K_M", QuantContext(a.arch, a.n_layer, a.n_expert, a.n_gqa))
