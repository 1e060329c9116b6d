"""Vision projectors (issue 20): a vision model's mmproj is its own part of the estimate, sized from the config's
vision tower as convert_hf_to_gguf.py --mmproj writes it (weights equal to what llama.cpp's clip loader reports
for the same table, bench/RESULTS.md section 16), placed on the GPU beside the text model; `--no-vision` leaves
it out and tells llama-server so; a vision model whose projector is not sized says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import catalog
from catalog.core.arch import from_hf_config
from catalog.core.memory import MIB
from catalog.core.vision import projector

CONFIGS = Path(__file__).parent / "data" / "configs" / "hybrid"
# clip's `model size` (MiB) for the projector tables of these configs, llama.cpp 0c1e570 (RESULTS section 16)
CLIP_MODEL_MIB = {"qwen35_27b": 884.62}


def test_projector_weights_equal_clips_model_size() -> None:
    cfg = json.loads((CONFIGS / "qwen35_27b.json").read_text())
    p = projector(cfg, from_hf_config(cfg).n_embd)
    assert p is not None and p.kind == "qwen3vl_merger"
    assert round(p.weight_bytes / MIB, 2) == CLIP_MODEL_MIB["qwen35_27b"]
    # the warm-up image clip reserves its compute buffer for: 46 x 46 merged tokens of 2 x 2 patches
    assert p.warmup_patches == 46 * 46 * 4 and p.compute_bytes > 0


def test_a_text_model_has_no_projector() -> None:
    spec = catalog.resolve("llama3.1:8b", offline=True)
    assert spec.projector_bytes == 0 and spec.projector_kind == ""


def test_the_projector_is_its_own_part_on_the_gpu(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("check", "qwen3-vl:4b-instruct", "--gpu", "RTX 3060", "--ctx", "4096", "--quant", "Q4_K_M",
                       "--offline", "--json")
    assert code == 0
    with_vision = json.loads(out)["quants"][0]
    code, out, _ = cli("check", "qwen3-vl:4b-instruct", "--gpu", "RTX 3060", "--ctx", "4096", "--quant", "Q4_K_M",
                       "--offline", "--json", "--no-vision")
    without = json.loads(out)["quants"][0]
    proj = with_vision["memory"]["projector_bytes"]
    spec = catalog.resolve("qwen3-vl:4b-instruct", offline=True)
    assert proj == spec.projector_bytes > 700 * MIB
    assert without["memory"]["projector_bytes"] == 0
    assert with_vision["memory"]["gpu_bytes"] - without["memory"]["gpu_bytes"] == proj
    assert with_vision["memory"]["total_bytes"] - without["memory"]["total_bytes"] == proj
    # llama-server: the conversion makes the projector and loads it; --no-vision only says what Ollama does
    assert "--mmproj mmproj-F16.gguf" in with_vision["commands"]["llama_cpp"]
    assert "--mmproj" not in without["commands"]["llama_cpp"]
    assert "Ollama and LM Studio load it anyway" in without["commands"]["note"]


@pytest.mark.parametrize("gpu", ["RTX 3060"])
def test_the_projector_takes_room_from_the_layers(cli, gpu: str) -> None:  # type: ignore[no-untyped-def]
    """On a card the model only just fits, the projector pushes layers off the GPU: the layers fit in what the
    projector leaves (a `fits` that ignored it would run out of memory when Ollama loads it)."""
    args = ("check", "qwen3.5:27b", "--gpu", gpu, "--ctx", "4096", "--quant", "Q2_K", "--offline", "--json")
    code, out, _ = cli(*args)
    on = json.loads(out)["quants"][0]
    code2, out2, _ = cli(*args, "--no-vision")
    off = json.loads(out2)["quants"][0]
    # Q2_K of Qwen3.5 27B fits a 12 GB card as text only; with the projector Ollama loads, 8 layers go to RAM
    assert (off["verdict"], on["verdict"]) == ("full_gpu", "partial") and code != code2
    budget = json.loads(out)["hardware"]["gpu_budget_bytes"]
    assert on["memory"]["gpu_bytes"] <= budget and off["memory"]["gpu_bytes"] <= budget
    assert on["gpu_layers"] < off["gpu_layers"]


def test_a_vision_model_whose_projector_is_not_sized_says_so(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("check", "gemma3:4b", "--gpu", "RTX 3060", "--offline", "--json")
    assert code == 0
    doc = json.loads(out)
    assert "vision projector" in doc["model"]["estimate_note"] and "not counted" in doc["model"]["estimate_note"]
    assert all(q["memory"]["projector_bytes"] == 0 for q in doc["quants"])
