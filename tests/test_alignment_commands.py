"""Name-based alignment evidence and the exact runtime commands."""

from __future__ import annotations

import pytest

from catalog.core.alignment import classify
from catalog.core.commands import Target, all_commands, llama_cpp, lm_studio, ollama, ollama_server_env
from catalog.core.memory import RuntimeOptions


@pytest.mark.parametrize(("name", "kind", "methods"), [
    ("meta-llama/Llama-3.1-8B-Instruct", "aligned", ()),
    ("google/gemma-2-9b-it", "aligned", ()),
    ("someone/Mistral-7B-SFT-DPO", "aligned", ("SFT", "DPO")),
    ("mlabonne/Meta-Llama-3.1-8B-Instruct-abliterated", "de-aligned", ()),
    ("cognitivecomputations/Dolphin-uncensored", "de-aligned", ()),
    ("meta-llama/Llama-3.1-8B", "base", ()),
    ("mistralai/Mistral-7B-v0.3", "base", ()),
    ("Qwen/Qwen2.5-7B-base", "base", ()),
])
def test_classify_by_name(name: str, kind: str, methods: tuple[str, ...]) -> None:
    a = classify(name, "test")
    assert a.kind == kind
    assert a.methods == methods
    assert a.evidence and all(e.source == "test" for e in a.evidence)


def test_a_chat_template_alone_does_not_make_a_model_aligned() -> None:
    a = classify("meta-llama/Llama-3.1-8B", "test", has_template=True)
    assert a.kind == "base"
    assert ("chat_template", "present", "test") in a.evidence
    assert a.confidence < 0.8  # no name marker either way: low confidence


def test_llama_cpp_command_pins_the_estimate() -> None:
    t = Target(None, "bartowski/Meta-Llama-3.1-8B-Instruct-GGUF", None, None, None)
    opts = RuntimeOptions(8192, "Q8_0", "Q8_0", True, 1024, 256)
    cmd = llama_cpp(t, "Q4_K_M", opts, 20, 33)
    assert cmd == ("llama-server -hf bartowski/Meta-Llama-3.1-8B-Instruct-GGUF:Q4_K_M -c 8192 -ngl 20 -fa on "
                   "-ctk q8_0 -ctv q8_0 -b 1024 -ub 256 -np 1")
    assert llama_cpp(t, "Q4_K_M", RuntimeOptions(4096), 33, 33, "llama-cli").startswith("llama-cli -hf ")
    assert "./main" not in cmd


def test_ollama_uses_library_tags_and_leaves_server_settings_to_the_running_service() -> None:
    t = Target("llama3.1:8b-text-q4_K_M", "x/y-GGUF", None, None, None)
    assert ollama(t, "Q4_K_M", RuntimeOptions(4096)) == "ollama run llama3.1:8b-text-q4_K_M"
    assert ollama_server_env(t, RuntimeOptions(4096), 4096) == ""
    quantized = RuntimeOptions(32768, "Q8_0", "Q8_0")
    # no second `ollama serve` racing the service that is already running: `ollama run` alone
    assert ollama(t, "Q4_K_M", quantized) == "ollama run llama3.1:8b-text-q4_K_M"
    env = "OLLAMA_CONTEXT_LENGTH=32768 OLLAMA_FLASH_ATTENTION=1 OLLAMA_KV_CACHE_TYPE=q8_0"
    assert ollama_server_env(t, quantized, 4096) == env
    assert ollama_server_env(t, RuntimeOptions(4096, flash_attn=False), 4096) == "OLLAMA_FLASH_ATTENTION=0"
    hf = Target(None, "bartowski/Qwen2.5-7B-Instruct-GGUF", None, None, None)
    want = "ollama run hf.co/bartowski/Qwen2.5-7B-Instruct-GGUF:Q5_K_M"
    assert ollama(hf, "Q5_K_M", RuntimeOptions(4096)) == want
    # a local file's Modelfile pins num_ctx itself: no server-wide context for it
    local = Target(None, None, None, "/models/m.gguf", None)
    assert "PARAMETER num_ctx 8192" in ollama(local, "Q4_K_M", RuntimeOptions(8192))
    assert ollama_server_env(local, RuntimeOptions(8192), 4096) == ""


def test_lm_studio_names_a_hugging_face_repo_by_its_url() -> None:
    """`lms get owner/name` is an LM Studio Hub artifact; a Hugging Face repo is its https URL, @QUANT picks
    the file (lmstudio-ai/lms src/subcommands/get.ts)."""
    t = Target(None, "bartowski/Qwen2.5-7B-Instruct-GGUF", None, None, None)
    cmd = lm_studio(t, "Q5_K_M", RuntimeOptions(8192), 33, 33)
    assert cmd.startswith("lms get https://huggingface.co/bartowski/Qwen2.5-7B-Instruct-GGUF@Q5_K_M -y && ")
    assert cmd.endswith("lms load qwen2.5-7b-instruct --context-length 8192 --gpu max")


def test_local_gguf_and_config_only_commands() -> None:
    local = Target(None, None, None, "/models/m.gguf", None)
    cmds = all_commands(local, "Q4_K_M", RuntimeOptions(4096), 33, 33, 4096)._asdict()
    assert cmds["llama_cpp"].startswith("llama-server -m /models/m.gguf")
    assert cmds["lm_studio"].startswith("lms import /models/m.gguf")
    assert "ollama create" in cmds["ollama"]
    conv = Target(None, None, None, None, "org/Model-7B")
    cmd = llama_cpp(conv, "Q4_K_M", RuntimeOptions(4096), 33, 33)
    assert "convert_hf_to_gguf.py" in cmd and "llama-quantize model-BF16.gguf Model-7B-Q4_K_M.gguf Q4_K_M" in cmd


def test_ollama_joins_a_split_gguf_it_cannot_pull() -> None:
    """Ollama cannot pull a GGUF split into parts (ollama/ollama#5245): the command downloads the parts, joins
    them with llama-gguf-split and creates the model from the one file."""
    first = "Meta-Llama-3.1-405B-Instruct-Q4_K_M/Meta-Llama-3.1-405B-Instruct-Q4_K_M-00001-of-00006.gguf"
    t = Target(None, "bartowski/Meta-Llama-3.1-405B-Instruct-GGUF", first, None, None)
    cmd = ollama(t, "Q4_K_M", RuntimeOptions(8192))
    assert "hf.co/" not in cmd and cmd.endswith("ollama run local-model")
    assert "--include 'Meta-Llama-3.1-405B-Instruct-Q4_K_M/Meta-Llama-3.1-405B-Instruct-Q4_K_M-*-of-*.gguf'" in cmd
    assert f"llama-gguf-split --merge model/{first} Meta-Llama-3.1-405B-Instruct-Q4_K_M.gguf" in cmd
    assert "PARAMETER num_ctx 8192" in cmd and ollama_server_env(t, RuntimeOptions(8192), 4096) == ""
    one = t._replace(gguf_file="Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf")
    want = "ollama run hf.co/bartowski/Meta-Llama-3.1-405B-Instruct-GGUF:Q4_K_M"
    assert ollama(one, "Q4_K_M", RuntimeOptions(8192)) == want
