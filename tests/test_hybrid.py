"""Hybrid and recurrent architectures (issue 20): Qwen3.5 / Qwen3-Next gated delta nets, Nemotron-H and Granite 4 H
Mamba-2 layers, LFM2 short convolutions. Their weights and their KV cache plus recurrent state equal the buffers
llama.cpp 0c1e570 allocated for the same configs (bench/cpu_calibrate.py, bench/RESULTS.md section 2), a GGUF
of each reads back as the same architecture, and only the attention layers grow with the context."""

from __future__ import annotations

import json
from pathlib import Path

import gguf
import numpy as np
import pytest

import catalog
from catalog.core.arch import from_hf_config, hf_tensors, modelled
from catalog.core.ggml import GGML_TYPES
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
    _write(path, a, cfg)
    assert catalog.resolve(str(path)).arch == a


def _write(path: Path, a, cfg: dict) -> None:  # type: ignore[no-untyped-def]
    w = gguf.GGUFWriter(str(path), a.arch)
    arch = a.arch
    w.add_uint32(f"{arch}.block_count", a.n_layer)
    w.add_uint32(f"{arch}.context_length", a.n_ctx_train)
    w.add_uint32(f"{arch}.embedding_length", a.n_embd)
    w.add_uint32(f"{arch}.attention.head_count", a.n_head)
    w.add_uint32(f"{arch}.attention.key_length", a.head_dim_k)
    w.add_uint32(f"{arch}.attention.value_length", a.head_dim_v)
    w.add_uint32(f"{arch}.vocab_size", a.n_vocab)
    qwen = arch in ("qwen3next", "qwen35", "qwen35moe")
    if qwen:
        w.add_uint32(f"{arch}.attention.head_count_kv", max(a.n_head_kv))
        w.add_uint32(f"{arch}.full_attention_interval", 4)
    else:
        w.add_array(f"{arch}.attention.head_count_kv", list(a.n_head_kv))
    if arch.startswith("nemotron_h"):
        w.add_array(f"{arch}.feed_forward_length",
                    [a.n_ff_exp if k == "moe" else a.n_ff[il] for il, k in enumerate(a.layer_kinds)])
    else:
        w.add_uint32(f"{arch}.feed_forward_length", max(a.n_ff) or a.n_ff_exp)
    if a.n_expert:
        w.add_uint32(f"{arch}.expert_count", a.n_expert)
        w.add_uint32(f"{arch}.expert_used_count", a.n_expert_used)
        w.add_uint32(f"{arch}.expert_feed_forward_length", a.n_ff_exp)
        w.add_uint32(f"{arch}.expert_shared_feed_forward_length", a.n_ff_shexp)
        w.add_uint32(f"{arch}.expert_shared_count", a.n_expert_shared)
    if arch == "lfm2":
        w.add_uint32(f"{arch}.shortconv.l_cache", a.ssm[0])
    else:
        for key, v in zip(("conv_kernel", "inner_size", "state_size", "group_count", "time_step_rank"), a.ssm,
                          strict=True):
            w.add_uint32(f"{arch}.ssm.{key}", v)
    w.add_tokenizer_model("gpt2")
    w.add_token_list([f"t{i}" for i in range(a.n_vocab)])
    data = 0
    for t in hf_tensors(a, "F16"):
        w.add_tensor_info(t.name, list(reversed(t.shape)), np.float32, t.nbytes,
                          raw_dtype=gguf.GGMLQuantizationType(GGML_TYPES[t.type][0]))
        data += (t.nbytes + 31) // 32 * 32
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    w.close()
    with open(path, "r+b") as f:  # the data section, sparse: no disk spent on zero weights
        f.truncate((path.stat().st_size + 31) // 32 * 32 + data)
