"""The embedded chat templates: real, sourced, and their stored overhead equal to what the model's
real tokenizer counts: quicktok's bundled Llama 3, Qwen and gpt-oss vocabularies, counted again here,
or real llama.cpp's counts on the model's vocabulary, recorded in the doc (re-derived here through
the product's overhead arithmetic; tests/test_tokenizer.py recounts them with our tokenizer where
the vocabulary ships in a test dependency); the seed question, Llama 3.1 8B base vs Instruct on a
12 GB card, answered from them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from template_overhead import measure

import catalog
from catalog.sources.bundled import entries

TEMPLATES = sorted((Path(__file__).resolve().parent.parent / "data" / "templates").glob("*.json"))


@pytest.mark.parametrize("path", TEMPLATES, ids=[p.stem for p in TEMPLATES])
def test_template_is_sourced_and_its_overhead_recounts(path: Path) -> None:
    doc = json.loads(path.read_text())
    src = doc["source"]
    assert (src.get("repo") and src.get("commit")) or src.get("url"), src
    assert "/" in doc["model"] and len(doc["template"]) > 100
    stored = doc["overhead"]
    assert stored["safe"] is True and stored["overhead_tokens"] > 0
    assert measure(doc) == stored  # rendered again in the sandbox, counted again
    if doc["tokenizer"]:
        assert doc["tokenizer"] in stored["counted_with"]
    if doc["tokenizer"] == "llama.cpp":  # which vocabulary file, exactly, and which llama.cpp counted it
        v = doc["vocabulary"]
        assert len(v["sha256"]) == 64 and v["file"] and v["source"] and "llama-cpp-python" in v["recorded_with"]
        assert doc["bos_token"] and doc.get("special_tokens_source")


def test_every_catalog_template_exists() -> None:
    keys = {p.stem for p in TEMPLATES}
    used = {(e.get("chat_template") or {}).get("template") for e in entries()} - {None}
    assert used and used <= keys


@pytest.mark.parametrize(("runtime", "system", "overhead"), [
    # llama.cpp (--jinja) and LM Studio apply the Jinja: <|begin_of_text|> + the system block with
    # "Cutting Knowledge Date: December 2023\nToday Date: ..." it always injects
    ("llama.cpp", 26, 80), ("lmstudio", 26, 80),
    # Ollama applies its library template layer: no system block without tools (and its own BOS, uncounted)
    ("ollama", 0, 54),
])
def test_llama31_8b_base_vs_instruct_on_a_12gb_card(cli, runtime: str, system: int, overhead: int) -> None:  # type: ignore[no-untyped-def]
    docs = {}
    for name in ("meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-8B-Instruct"):
        code, out, err = cli("check", name, "--gpu", "RTX 3060", "--quant", "Q4_K_M", "--content-tokens", "4000",
                             "--offline", "--json", "--ram", "24", "--runtime", runtime)
        assert code == 0, err
        docs[name] = json.loads(out)
    base, inst = docs["meta-llama/Llama-3.1-8B"], docs["meta-llama/Llama-3.1-8B-Instruct"]
    ct = inst["model"]["chat_template"]
    assert (ct["system_prompt_tokens"], ct["per_user_turn_tokens"], ct["per_assistant_turn_tokens"]) == (system, 5, 5)
    assert ct["overhead_tokens"] == overhead and "llama3 encoding" in ct["counted_with"]
    assert (ct.get("origin") == "Ollama template layer") == (runtime == "ollama") and "ollama_overhead" not in ct
    assert inst["options"]["context"] == 4000 + ct["overhead_tokens"] and base["options"]["context"] == 4000
    qi, qb = inst["quants"][0]["memory"], base["quants"][0]["memory"]
    # 32 layers x 8 KV heads x 128 x (K + V) x 2 bytes = 128 KiB of f16 cache per token
    assert qi["template_bytes"] == qi["kv_cache_bytes"] * ct["overhead_tokens"] // inst["options"]["context"]
    assert qi["template_bytes"] >= ct["overhead_tokens"] * 128 * 1024 * 9 // 10 and qb["template_bytes"] == 0
    code, text, _ = cli("check", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "RTX 3060", "--quant", "Q4_K_M",
                        "--content-tokens", "4000", "--offline", "--ram", "24", "--runtime", runtime)
    assert f"default system prompt {system} tokens" in text and "left for content" in text
    code, text, _ = cli("check", "meta-llama/Llama-3.1-8B", "--gpu", "RTX 3060", "--quant", "Q4_K_M", "--offline",
                        "--runtime", runtime)
    assert "Chat template: none" in text


OLLAMA = [p for p in TEMPLATES if "ollama" in json.loads(p.read_text())]


@pytest.mark.parametrize("path", OLLAMA, ids=[p.stem for p in OLLAMA])
def test_the_ollama_layers_recorded_overhead_recounts(path: Path) -> None:
    """The library template layer Ollama applies instead of the Jinja: sourced, rendered as Ollama
    renders it, counted again with the same real tokenizer."""
    from template_overhead import measure_ollama

    doc = json.loads(path.read_text())
    assert doc["ollama"]["source"] and doc["ollama"]["library"]
    assert measure_ollama(doc) == doc["ollama"]["overhead"]


def test_ollama_layers_are_recorded_for_llama_31_32_and_qwen3() -> None:
    assert {p.stem for p in OLLAMA} >= {"llama3.1", "llama3.2", "qwen3"}


def test_run_time_templates_are_counted_with_the_real_tokenizer_where_one_is_bundled() -> None:
    from catalog.core.model import template_record as record
    from catalog.sources.templates.measure import TemplateText, measure
    from catalog.sources.tokenizer import encoding_for

    assert encoding_for("llama", 128256) == "llama3" and encoding_for("qwen2", 152064) == "qwen3"
    assert encoding_for("llama", 32000) is None and encoding_for("gemma2", 256000) is None
    llama = catalog.resolve("llama-3.1-8b-instruct")
    doc = json.loads((TEMPLATES[0].parent / "llama3.1.json").read_text())
    # the same template arriving from a repo (its source, not the stored numbers): rendered and counted now
    text = TemplateText(True, doc["template"], doc["bos_token"])
    got = record(measure(llama, text, ("llama.cpp",)).template.jinja)  # type: ignore[arg-type]
    assert got["counted_with"] == doc["overhead"]["counted_with"]
    assert {k: got[k] for k in doc["overhead"]} == doc["overhead"]
