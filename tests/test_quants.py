"""ggml type sizes and llama-quantize's per-tensor mixes."""

from __future__ import annotations

import gguf
import pytest

from catalog.core.arch import from_hf_config, hf_tensors
from catalog.core.ggml import GGML_TYPES, PRESETS, Tensor, normalize_preset, tensor_bytes
from catalog.core.model import quant_context
from catalog.core.quantize import quantize

LLAMA31_8B = {  # meta-llama/Llama-3.1-8B config.json (see data/models.jsonl for the source)
    "architectures": ["LlamaForCausalLM"], "hidden_size": 4096, "intermediate_size": 14336,
    "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8, "vocab_size": 128256,
    "max_position_embeddings": 131072, "rope_scaling": {"rope_type": "llama3", "factor": 8.0},
    "tie_word_embeddings": False,
}


def test_type_table_matches_the_gguf_package() -> None:
    ours = {name: (block, size) for name, (_, block, size) in GGML_TYPES.items()}
    theirs = {t.name: v for t, v in gguf.GGML_QUANT_SIZES.items()}
    assert ours == theirs
    ids = {t.name: t.value for t in gguf.GGMLQuantizationType}
    assert {name: tid for name, (tid, _, _) in GGML_TYPES.items()} == ids


def test_preset_ids_match_llama_file_types() -> None:
    ids = {f.name.removeprefix("MOSTLY_"): f.value for f in gguf.LlamaFileType}
    ids["F32"] = ids.pop("ALL_F32")
    for name, (ftype, _) in PRESETS.items():
        assert ids[name] == ftype, name


@pytest.mark.parametrize(("t", "shape", "expected"), [
    ("F16", (4096, 14336), 4096 * 14336 * 2),
    ("Q8_0", (4096, 128256), 4096 // 32 * 34 * 128256),
    ("Q4_K", (4096, 1024), 4096 // 256 * 144 * 1024),
    ("Q6_K", (14336, 4096), 14336 // 256 * 210 * 4096),
    ("IQ4_XS", (4096, 4096), 16 * 136 * 4096),
    ("MXFP4", (2880, 2880, 32), 90 * 17 * 2880 * 32),
])
def test_tensor_bytes(t: str, shape: tuple[int, ...], expected: int) -> None:
    assert tensor_bytes(t, shape) == expected


def test_normalize_preset() -> None:
    assert normalize_preset("q4_k_m") == "Q4_K_M"
    assert normalize_preset("Q4_K") == "Q4_K_M"
    assert normalize_preset("fp16") == "F16"
    assert normalize_preset("q9_z") is None


def _types(preset: str) -> dict[str, str]:
    a = from_hf_config(LLAMA31_8B)
    return {t.name: t.type for t in quantize(hf_tensors(a), preset, quant_context(a))}


def test_q4_k_m_mix_follows_llama_quantize() -> None:
    # src/llama-quant.cpp: output -> Q6_K; attn_v and ffn_down -> Q6_K where
    # use_more_bits(i, 32): i < 4, i >= 28, or (i - 4) % 3 == 2; the rest Q4_K; norms stay F32.
    types = _types("Q4_K_M")
    more = [i for i in range(32) if i < 4 or i >= 28 or (i - 4) % 3 == 2]
    assert types["output.weight"] == "Q6_K"
    assert types["token_embd.weight"] == "Q4_K"
    assert types["blk.0.attn_norm.weight"] == "F32"
    for i in range(32):
        want = "Q6_K" if i in more else "Q4_K"
        assert types[f"blk.{i}.attn_v.weight"] == want
        assert types[f"blk.{i}.ffn_down.weight"] == want
        assert types[f"blk.{i}.attn_q.weight"] == "Q4_K"
    assert sum(1 for t in types.values() if t == "Q6_K") == 1 + 2 * len(more)


def test_q3_k_m_and_q8_0_rules() -> None:
    q3 = _types("Q3_K_M")
    assert q3["blk.0.attn_v.weight"] == q3["blk.1.attn_v.weight"] == "Q5_K"
    assert q3["blk.2.attn_v.weight"] == "Q4_K"
    assert q3["blk.1.ffn_down.weight"] == "Q5_K" and q3["blk.2.ffn_down.weight"] == "Q4_K"
    assert q3["blk.5.attn_output.weight"] == "Q4_K" and q3["blk.5.ffn_up.weight"] == "Q3_K"
    q8 = _types("Q8_0")
    assert set(q8.values()) == {"Q8_0", "F32"}


def test_tied_embedding_gets_the_output_type() -> None:
    a = from_hf_config({**LLAMA31_8B, "tie_word_embeddings": True})
    types = {t.name: t.type for t in quantize(hf_tensors(a), "Q4_K_M", quant_context(a))}
    assert "output.weight" not in types
    assert types["token_embd.weight"] == "Q6_K"


def test_shape_fallback_when_rows_do_not_fit_blocks() -> None:
    # a row of 1408 elements (DeepSeek-V2-Lite's expert FFN) is not a multiple of 256
    t = [Tensor("blk.0.ffn_down_exps.weight", (1408, 2048, 64), "F16")]
    a = from_hf_config(LLAMA31_8B)
    out = quantize(t, "Q4_K_M", quant_context(a)._replace(n_expert=64))
    assert out[0].type == "Q8_0"  # more_bits layer 0 -> Q6_K, which falls back to Q8_0


def _names(cfg: dict) -> set[str]:
    return {t.name for t in hf_tensors(from_hf_config(cfg))}


def test_architecture_specific_tensors() -> None:
    # shapes as llama.cpp's loaders create them (src/models/*.cpp); bench/cpu_calibrate.py loads each in llama.cpp
    base = {"hidden_size": 256, "intermediate_size": 512, "num_attention_heads": 4, "num_hidden_layers": 2,
            "num_key_value_heads": 2, "vocab_size": 1000}
    olmo2 = _names({**base, "architectures": ["Olmo2ForCausalLM"]})
    assert "blk.0.attn_norm.weight" not in olmo2 and "blk.0.post_ffw_norm.weight" in olmo2
    cohere = _names({**base, "architectures": ["CohereForCausalLM"]})
    assert "output.weight" not in cohere and "blk.0.ffn_norm.weight" not in cohere
    granite = _names({**base, "architectures": ["GraniteForCausalLM"], "tie_word_embeddings": True})
    assert "output.weight" not in granite and "blk.1.ffn_norm.weight" in granite
    phi35 = _names({**base, "architectures": ["Phi3ForCausalLM"],
                    "rope_scaling": {"type": "longrope", "long_factor": [1.0], "short_factor": [1.0]}})
    assert {"rope_factors_long.weight", "rope_factors_short.weight", "blk.0.attn_qkv.weight"} <= phi35


@pytest.mark.parametrize("preset", ["Q2_K", "Q4_K_M", "Q8_0"])
def test_tensors_the_converter_wrote_quantized_keep_their_type(preset: str) -> None:
    # llama-quantize throws "requantizing from type mxfp4 is disabled" rather than convert them; the
    # published gpt-oss files (unsloth, tests/test_catalog.py) keep their MXFP4 experts at every preset
    src = [Tensor("blk.0.ffn_down_exps.weight", (2880, 2880, 32), "MXFP4"),
           Tensor("blk.0.attn_q.weight", (2880, 4096), "F16"), Tensor("token_embd.weight", (2880, 201088), "F16")]
    ctx = quant_context(from_hf_config(LLAMA31_8B))
    out = {t.name: t.type for t in quantize(src, preset, ctx)}
    assert out["blk.0.ffn_down_exps.weight"] == "MXFP4"
    assert out["blk.0.attn_q.weight"] not in ("F16", "MXFP4")


@pytest.mark.parametrize("config", ["mixtral_8x7b", "qwen3_30b_a3b", "deepseek_v2_lite", "gpt_oss_20b", "gemma2_9b",
                                    "phi3_mini_4k", "llama31_8b"])
def test_the_shortcut_for_counter_free_decisions_changes_no_type(config: str) -> None:
    """`quantize` decides a category whose rule reads no counter once per shape; typing every tensor through
    llama_tensor_get_type's port one by one must give the same table, for every preset."""
    import json
    from pathlib import Path

    from catalog.core.quantize import _fallback, _impl, _plan, _State

    doc = json.loads((Path(__file__).parent.parent / "bench" / "configs" / f"{config}.json").read_text())
    a = from_hf_config(doc.get("config", doc))
    ctx = quant_context(a)
    for preset, (_, default) in PRESETS.items():
        if default in ("F32", "F16", "BF16"):
            continue
        src = hf_tensors(a, "F16")
        ordered, quantizable, n_attn_v, tied, cats = _plan(tuple(src))
        st = _State(n_attn_v, tied)
        one_by_one = []
        for t, q, cat in zip(ordered, quantizable, cats, strict=True):
            if not q or t.type not in ("F32", "F16", "BF16"):
                if q:
                    _impl(st, ctx, preset, default, t.name, cat, t.shape[0], t.shape[2] if len(t.shape) > 2 else 1)
                one_by_one.append(t)
                continue
            typ = _impl(st, ctx, preset, default, t.name, cat, t.shape[0], t.shape[2] if len(t.shape) > 2 else 1)
            one_by_one.append(Tensor(t.name, t.shape, _fallback(typ, t.shape[0])))
        assert quantize(src, preset, ctx) == one_by_one, (config, preset)
