"""Hybrid and recurrent architectures (issue 20): Qwen3.5 / Qwen3-Next gated delta nets, Nemotron-H and Granite 4 H
Mamba-2 layers, LFM2 short convolutions. Their weights and their KV cache plus recurrent state equal the buffers
llama.cpp 0c1e570 allocated for the same configs (bench/cpu_calibrate.py, bench/RESULTS.md section 2), a GGUF
of each reads back as the same architecture, and only the attention layers grow with the context."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gguf_files import write_arch_header

import catalog
from catalog.core.arch import from_hf_config, hf_tensors, modelled
from catalog.core.memory import MIB, RuntimeOptions, estimate, layout
from catalog.core.model import quant_context
from catalog.core.quantize import quantize

CONFIGS = Path(__file__).parent / "data" / "configs" / "hybrid"
# llama.cpp's `CPU_Mapped model buffer size` and `CPU KV buffer size` + `CPU RS buffer size` (MiB) for a
# Q4_K_M file at 4096 tokens, f16 cache, one sequence (bench/RESULTS.md section 2)
LLAMA_CPP = {
    "qwen35_27b": (15770.35, 405.62),
    "qwen35_35b_a3b": (20175.71, 142.81),
    "nemotron3_nano_30b_a3b": (23371.92, 71.62),
    "nemotron_h_56b": (32295.41, 1036.66),
    "synthetic_granitehybrid": (856.0, 87.37),
    "synthetic_granitehybrid_moe": (4031.55, 87.37),
    "synthetic_lfm2": (216.41, 48.08),
    "synthetic_qwen3next": (46237.05, 171.38),
}


def _config(name: str) -> dict:
    return json.loads((CONFIGS / f"{name}.json").read_text())


@pytest.mark.parametrize("name", sorted(LLAMA_CPP))
def test_weights_kv_and_state_equal_llama_cpps_buffers(name: str) -> None:
    a = from_hf_config(_config(name))
    assert modelled(a) and a.layer_kinds and "attn" in a.layer_kinds
    t = quantize(hf_tensors(a), "Q4_K_M", quant_context(a))
    e = estimate(a, t, RuntimeOptions(4096, "F16", "F16", True), has_gpu=False)
    model_mib, kv_mib = LLAMA_CPP[name]
    assert round(layout(t, a.n_layer).total_bytes / MIB, 2) == model_mib
    assert round(e.kv_cache_bytes / MIB, 2) == kv_mib


def test_layer_kinds_follow_each_configs_own_key() -> None:
    qwen = from_hf_config(_config("qwen35_27b"))  # full attention every 4th layer
    assert qwen.arch == "qwen35" and qwen.layer_kinds[:4] == ("linear", "linear", "linear", "attn")
    assert qwen.n_head_kv[:4] == (0, 0, 0, 4)
    nano = from_hf_config(_config("nemotron3_nano_30b_a3b"))  # hybrid_override_pattern "MEMEM*E..."
    assert nano.arch == "nemotron_h_moe" and nano.layer_kinds[:6] == ("ssm", "moe", "ssm", "moe", "ssm", "attn")
    assert (nano.n_expert, nano.n_expert_used, nano.n_ff_shexp) == (128, 6, 3712)
    lfm = from_hf_config(_config("synthetic_lfm2"))
    assert lfm.n_ff[0] == 4608  # block_ff_dim 6656 shrunk to 2/3 and rounded up to 256


def test_only_attention_layers_grow_with_the_context() -> None:
    a = from_hf_config(_config("qwen35_27b"))
    t = quantize(hf_tensors(a), "Q4_K_M", quant_context(a))

    def kv(ctx: int, n_seq: int = 1) -> int:
        return estimate(a, t, RuntimeOptions(ctx, "F16", "F16", True, n_seq=n_seq), has_gpu=False).kv_cache_bytes

    n_attn = a.layer_kinds.count("attn")
    per_token = n_attn * 2 * 4 * 256 * 2  # K and V, 4 KV heads of 256, f16
    assert kv(8192) - kv(4096) == 4096 * per_token
    state = sum(4 * a.state_elements(il) for il in range(a.n_layer))
    assert kv(4096) == 4096 * per_token + state
    assert kv(4096, n_seq=2) - kv(4096) == state  # one state per sequence


@pytest.mark.parametrize("name", sorted(LLAMA_CPP))
def test_a_gguf_reads_back_as_the_same_architecture(tmp_path: Path, name: str) -> None:
    """A GGUF with the keys convert_hf_to_gguf.py writes for these architectures (ssm.*, shortconv.l_cache,
    full_attention_interval, per-layer KV heads and widths) is read as the config's architecture."""
    cfg = _config(name)
    a = from_hf_config(cfg)
    path = tmp_path / "m.gguf"
    write_arch_header(path, a)
    assert catalog.resolve(str(path)).arch == a


def test_the_mtp_block_is_in_the_file_but_not_in_memory() -> None:
    """convert_hf_to_gguf.py writes Qwen3.5's multi-token-prediction block after the trunk (block_count 65 for
    the 27B, nextn_predict_layers 1); llama.cpp skips loading it unless asked. The file holds it, the memory
    does not: the model buffer above already equals llama.cpp's with the block in the file."""
    from catalog.core.memory import layout

    a = from_hf_config(_config("qwen35_27b"))
    assert a.n_layer == 64 and a.n_nextn == 1
    t = quantize(hf_tensors(a), "Q4_K_M", quant_context(a))
    mtp = [x for x in t if x.name.startswith("blk.64.")]
    assert {x.name for x in mtp} >= {"blk.64.nextn.eh_proj.weight", "blk.64.attn_q.weight", "blk.64.ffn_down.weight"}
    lay = layout(t, a.n_layer)
    trunk = layout([x for x in t if not x.name.startswith("blk.64.")], a.n_layer)
    assert lay.total_bytes == trunk.total_bytes and lay.padded_bytes > trunk.padded_bytes + 200 * MIB
