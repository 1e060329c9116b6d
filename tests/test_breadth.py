"""Breadth (issue 20): Phi-2 and Falcon have their own tensor tables (checked against llama.cpp's buffers in
bench/RESULTS.md section 2); an architecture without tensor rules here still gets its alignment verdict, file
sizes and an estimate, sized as a standard attention transformer with its exact parameter count, and says what
is not modelled; one llama.cpp refuses (GPT-J) gets no command; a GGUF of an unknown architecture keeps its real
tensor table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hub_server import HubServer, aim_at

import catalog
from catalog.core.arch import from_hf_config, hf_tensors, modelled, parameter_count

# phi-2's config.json as published (microsoft/phi-2); the parameter count is the Hub's safetensors total
PHI2 = {"architectures": ["PhiForCausalLM"], "hidden_size": 2560, "intermediate_size": 10240,
        "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 32, "vocab_size": 51200,
        "max_position_embeddings": 2048, "tie_word_embeddings": False, "torch_dtype": "float16",
        "partial_rotary_factor": 0.4, "model_type": "phi"}
PHI2_PARAMS = 2779683840
# falcon-7b's keys (tiiuae/falcon-7b): multi-query attention, GPT-style names
FALCON = {"architectures": ["FalconForCausalLM"], "hidden_size": 4544, "n_head": 71, "n_layer": 32,
          "multi_query": True, "vocab_size": 65024, "parallel_attn": True, "model_type": "falcon"}


def test_generic_configs_read_their_shapes() -> None:
    phi = from_hf_config(PHI2)
    assert (phi.arch, phi.n_layer, phi.n_embd, phi.n_head_kv[0], phi.n_ctx_train) == ("phi2", 32, 2560, 32, 2048)
    assert parameter_count(hf_tensors(phi)) == PHI2_PARAMS  # the table as convert_hf_to_gguf writes it
    falcon = from_hf_config(FALCON)
    assert (falcon.arch, falcon.n_layer, falcon.n_head, falcon.n_head_kv[0], falcon.head_dim_k) == (
        "falcon", 32, 71, 1, 64) and modelled(falcon) and falcon.tied_embeddings
    names = {t.name for t in hf_tensors(falcon)}
    assert "blk.0.attn_qkv.weight" in names and "output.weight" not in names and "blk.0.ffn_gate.weight" not in names
    with pytest.raises(ValueError):
        from_hf_config({"architectures": ["ZebraForCausalLM"], "hidden_size": 64})


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    with HubServer() as srv:
        aim_at(srv, monkeypatch, tmp_path)
        yield srv


def _add(srv: HubServer, repo: str, config: dict, params: int, card: str) -> None:
    srv.add(repo, {"tags": ["transformers", "safetensors", "text-generation"], "pipeline_tag": "text-generation",
                   "cardData": {"license": "mit"}, "safetensors": {"parameters": {"F16": params}, "total": params}},
            {"config.json": json.dumps(config).encode(), "README.md": f"---\nlicense: mit\n---\n\n{card}\n".encode(),
             "model-00001-of-00002.safetensors": b"\0"})


def test_phi2_answers_with_its_verdict_an_estimate_and_the_note(hub, cli) -> None:  # type: ignore[no-untyped-def]
    _add(hub, "test-org/phi-2", PHI2, PHI2_PARAMS, "Phi-2 is a Transformer with 2.7 billion parameters. It is a "
         "base model: it has not been fine-tuned through reinforcement learning from human feedback.")
    code, out, err = cli("check", "test-org/phi-2", "--gpu", "RTX 3060", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["model"]["architecture"] == "phi2" and doc["model"]["parameters"] == PHI2_PARAMS
    assert "estimate_note" not in doc["model"]  # modelled: no note
    f16 = next(q for q in doc["quants"] if q["quant"] == "F16")
    # the weights hold the exact count at 2 bytes each (the stand-in's tables are fitted to it)
    assert abs(f16["memory"]["weights_bytes"] - 2 * PHI2_PARAMS) / (2 * PHI2_PARAMS) < 0.01
    assert doc["recommended"] and doc["model"]["alignment"]["kind"] == "base"


def test_an_invented_architecture_still_answers(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "zebra" / "config.json"
    cfg.parent.mkdir()
    cfg.write_text(json.dumps({"architectures": ["ZebraForCausalLM"], "hidden_size": 1024, "num_hidden_layers": 12,
                               "num_attention_heads": 16, "vocab_size": 32000, "max_position_embeddings": 4096}))
    code, out, err = cli("check", str(cfg), "--gpu", "RTX 3060")
    assert code == 0, err
    assert "not modelled for zebra" in out and "Recommended:" in out


def test_a_gguf_of_an_unknown_architecture_keeps_its_real_tables(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    import gguf
    import numpy as np

    path = tmp_path / "tiny-zebra.gguf"
    w = gguf.GGUFWriter(str(path), "zebra7")
    w.add_block_count(1)
    w.add_context_length(512)
    w.add_embedding_length(32)
    w.add_head_count(2)
    w.add_tokenizer_model("gpt2")
    w.add_token_list([f"t{i}" for i in range(64)])
    w.add_tensor("token_embd.weight", np.zeros((64, 32), dtype=np.float16))
    w.add_tensor("blk.0.mixer.weight", np.zeros((32, 32), dtype=np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    code, out, err = cli("check", str(path), "--gpu", "RTX 3060", "--json")
    doc = json.loads(out)
    assert code == 0 and "not modelled for zebra7" in doc["model"]["estimate_note"]
    assert "real tensor table" in doc["model"]["estimate_note"]
    assert doc["quants"][0]["memory"]["weights_bytes"] == 2 * (64 * 32 + 32 * 32)
    spec = catalog.resolve(str(path), offline=True)  # the library gives the same answer as the CLI
    assert catalog.check(spec, catalog.CheckRequest(), catalog.machine(["RTX 3060"])).recommended


def test_an_architecture_llama_cpp_refuses_gets_no_command(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "gpt-j" / "config.json"
    cfg.parent.mkdir()
    cfg.write_text(json.dumps({"architectures": ["GPTJForCausalLM"], "n_embd": 4096, "n_head": 16, "n_layer": 28,
                               "n_positions": 2048, "rotary_dim": 64, "vocab_size": 50400}))
    code, out, err = cli("check", str(cfg), "--gpu", "RTX 3090", "--json")
    doc = json.loads(out)
    assert code == 0 and "llama.cpp does not load gptj" in doc["model"]["estimate_note"]
    for q in doc["quants"]:
        c = q["commands"]
        assert not (c["ollama"] or c["llama_cpp"] or c["lm_studio"]) and "llama.cpp refuses it" in c["note"]


def test_llama4_reads_its_text_model_experts_and_chunked_attention() -> None:
    """Llama 4 Scout's config.json (text_config): 48 layers all MoE (16 experts, one used, one shared), attention
    in chunks of 8192 on three layers of four; Maverick's MoE every second layer; the tables hold the published
    totals (109B Scout with its vision tower, 400B Maverick). Their model and KV buffers equal llama.cpp's
    (bench/RESULTS.md section 2)."""
    scout = from_hf_config({"architectures": ["Llama4ForConditionalGeneration"], "text_config": {
        "attention_chunk_size": 8192, "head_dim": 128, "hidden_size": 5120, "interleave_moe_layer_step": 1,
        "intermediate_size": 8192, "intermediate_size_mlp": 16384, "max_position_embeddings": 10485760,
        "num_attention_heads": 40, "num_experts_per_tok": 1, "num_hidden_layers": 48, "num_key_value_heads": 8,
        "num_local_experts": 16, "rope_scaling": {"rope_type": "llama3", "factor": 16.0}, "vocab_size": 202048}})
    assert (scout.arch, scout.n_expert, scout.n_expert_used, scout.n_expert_shared) == ("llama4", 16, 1, 1)
    assert scout.sliding_window == 8192 and scout.swa_layers[:4] == (True, True, True, False)
    assert 107e9 < parameter_count(hf_tensors(scout)) < 109e9
    spec = catalog.resolve("llama4:maverick", offline=True)
    assert spec.arch.n_ff[:2] == (16384, 0) and 400e9 < spec.parameters < 401e9


GEMMA4 = Path(__file__).parent / "data" / "configs"


@pytest.mark.parametrize(("name", "model_mib", "kv_mib"), [("gemma_4_26b_a4b", 16002.84, 380.0),
                                                          ("gemma_4_31b_it", 17806.27, 1520.0)])
def test_gemma4_weights_and_cache_equal_llama_cpps(name: str, model_mib: float, kv_mib: float) -> None:
    """Gemma 4 (google/gemma-4-26B-A4B, google/gemma-4-31B-it): sliding-window layers of 256-wide heads, global
    layers of 512-wide ones with fewer KV heads and no V projection, and on the MoE model a dense MLP beside 128
    experts on every layer. llama.cpp 0c1e570 allocated these buffers (MiB) for Q4_K_M at 4096 tokens, f16
    cache (bench/RESULTS.md section 2)."""
    from catalog.core.memory import MIB, RuntimeOptions, estimate, layout
    from catalog.core.model import quant_context
    from catalog.core.quantize import quantize

    a = from_hf_config(json.loads((GEMMA4 / f"{name}.json").read_text()))
    assert a.arch == "gemma4" and modelled(a) and a.head_dims(0) == (256, 256) and a.head_dims(5) == (512, 512)
    t = quantize(hf_tensors(a), "Q4_K_M", quant_context(a))
    assert not any(x.name == "blk.5.attn_v.weight" for x in t) and any(x.name == "blk.0.attn_v.weight" for x in t)
    e = estimate(a, t, RuntimeOptions(4096, "F16", "F16", True), has_gpu=False)
    assert round(layout(t, a.n_layer).total_bytes / MIB, 2) == model_mib
    assert round(e.kv_cache_bytes / MIB, 2) == kv_mib


def test_a_gemma4_gguf_reads_back_as_its_config(tmp_path: Path) -> None:
    """A Gemma 4 GGUF's per-layer window pattern, its sliding layers' head size (key_length_swa) and the global
    layers without a V projection are read back as the config's architecture."""
    from gguf_files import write_arch_header

    for name in ("gemma_4_26b_a4b", "gemma_4_31b_it"):
        a = from_hf_config(json.loads((GEMMA4 / f"{name}.json").read_text()))
        path = tmp_path / f"{name}.gguf"
        write_arch_header(path, a)
        assert catalog.resolve(str(path)).arch == a


def test_deci_layers_pruned_one_by_one_equal_llama_cpps_buffers(tmp_path: Path) -> None:
    """Llama 3.3 Nemotron Super 49B (DeciLM, nvidia/Llama-3_3-Nemotron-Super-49B-v1's config.json): 80 layers,
    49 with grouped attention, 31 with none (no KV), each with its own feed-forward width. llama.cpp 0c1e570
    allocated 28784.33 MiB of weights and 784.0 MiB of f16 cache for Q4_K_M at 4096 tokens (bench/RESULTS.md
    section 2); a GGUF of it (per-layer head counts) reads back as the config."""
    from gguf_files import write_arch_header

    from catalog.core.memory import MIB, RuntimeOptions, estimate, layout
    from catalog.core.model import quant_context
    from catalog.core.quantize import quantize

    a = from_hf_config(json.loads((GEMMA4 / "nemotron_super_49b.json").read_text()))
    assert a.arch == "deci" and modelled(a) and a.layer_kinds.count("none") == 31
    assert 49.8e9 < parameter_count(hf_tensors(a)) < 49.9e9
    t = quantize(hf_tensors(a), "Q4_K_M", quant_context(a))
    e = estimate(a, t, RuntimeOptions(4096, "F16", "F16", True), has_gpu=False)
    assert round(layout(t, a.n_layer).total_bytes / MIB, 2) == 28784.33
    assert round(e.kv_cache_bytes / MIB, 2) == 784.0
    path = tmp_path / "deci.gguf"
    write_arch_header(path, a)
    assert catalog.resolve(str(path)).arch == a


@pytest.mark.parametrize(("name", "model_mib", "kv_mib", "params"), [
    ("glm47", 202872.23, 1472.0, 356.8e9), ("intellect3_glm45air", 67175.73, 736.0, 109.2e9)])
def test_glm4moe_weights_and_cache_equal_llama_cpps(name: str, model_mib: float, kv_mib: float, params: float) -> None:
    """GLM-4.5/4.6/4.7 (Glm4MoeForCausalLM: zai-org/GLM-4.7's config, and a GLM-4.5-Air-shaped one): Q/K/V
    biases, per-head QK norms where use_qk_norm, dense lead layers, 160 or 128 sigmoid-routed experts with a
    shared one, and the multi-token-prediction layer in the file but not in memory. llama.cpp 0c1e570 allocated
    these buffers (MiB) for Q4_K_M at 4096 tokens, f16 cache (bench/RESULTS.md section 2)."""
    from catalog.core.memory import MIB, RuntimeOptions, estimate, layout
    from catalog.core.model import quant_context
    from catalog.core.quantize import quantize

    a = from_hf_config(json.loads((GEMMA4 / f"{name}.json").read_text()))
    assert a.arch == "glm4moe" and modelled(a) and a.n_nextn == 1
    tensors = hf_tensors(a)
    assert abs(parameter_count(tensors) - params) < 0.1e9
    assert any(t.name == f"blk.{a.n_layer}.nextn.eh_proj.weight" for t in tensors)
    t = quantize(tensors, "Q4_K_M", quant_context(a))
    e = estimate(a, t, RuntimeOptions(4096, "F16", "F16", True), has_gpu=False)
    assert round(layout(t, a.n_layer).total_bytes / MIB, 2) == model_mib
    assert round(e.kv_cache_bytes / MIB, 2) == kv_mib
