"""Name resolution over the embedded catalog: Ollama names, HF repo ids, catalog ids."""

from __future__ import annotations

import pytest

import catalog
from catalog.core.model import alignment_of
from catalog.errors import ModelNotFound
from catalog.sources.bundled import entries


@pytest.mark.parametrize(("name", "model_id", "quant"), [
    ("llama3.1:8b", "llama-3.1-8b-instruct", "Q4_K_M"),
    ("llama3.1", "llama-3.1-8b-instruct", "Q4_K_M"),
    ("llama3.1:8b-instruct-q8_0", "llama-3.1-8b-instruct", "Q8_0"),
    ("llama3.1:8b-instruct-q6_K", "llama-3.1-8b-instruct", "Q6_K"),  # not recorded, but its size/variant part is
    ("llama3.1:8b-text-q8_0", "llama-3.1-8b", "Q8_0"),
    ("llama3.2:1b", "llama-3.2-1b-instruct", "Q8_0"),  # Ollama's 1b default is Q8_0, not Q4_K_M
    ("llama3.2", "llama-3.2-3b-instruct", "Q4_K_M"),
    ("mistral", "mistral-7b-instruct-v0.3", "Q4_K_M"),
    ("gemma2:9b", "gemma-2-9b-it", "Q4_0"),  # a Q4_0 default
    ("phi3:mini-4k", "phi-3-mini-4k-instruct", "Q4_K_M"),
    ("qwen2.5:7b", "qwen2.5-7b-instruct", "Q4_K_M"),
    ("META-LLAMA/Llama-3.1-8B-Instruct", "llama-3.1-8b-instruct", None),
    ("meta-llama/Llama-3.1-8B", "llama-3.1-8b", None),
    ("bartowski/Meta-Llama-3.1-8B-Instruct-GGUF", "llama-3.1-8b-instruct", None),
    ("hf.co/bartowski/Meta-Llama-3.1-8B-Instruct-GGUF:q5_k_m", "llama-3.1-8b-instruct", "Q5_K_M"),
    ("gemma-2-9b", "gemma-2-9b", None),
    ("llama3.3", "llama-3.3-70b-instruct", "Q4_K_M"),
    ("qwen2.5-coder:14b", "qwen2.5-coder-14b-instruct", "Q4_K_M"),
    ("qwen2.5-coder:14b-base-q8_0", "qwen2.5-coder-14b", "Q8_0"),  # Ollama's base tags are "-base" here
    ("qwen2.5:0.5b-base", "qwen2.5-0.5b", "Q4_K_M"),
    ("deepseek-r1:14b", "deepseek-r1-distill-qwen-14b", "Q4_K_M"),
    ("dolphin-llama3", "dolphin-2.9-llama3-8b", "Q4_0"),  # de-aligned, and a Q4_0 default
    ("mixtral:8x22b", "mixtral-8x22b-instruct-v0.1", "Q4_0"),
    ("Qwen/Qwen2.5-72B", "qwen2.5-72b", None),
])
def test_resolves(name: str, model_id: str, quant: str | None) -> None:
    spec = catalog.resolve(name, offline=True)
    assert spec.id == model_id
    assert spec.pinned_quant == quant


def test_base_models_never_resolve_to_instruct_tags() -> None:
    for e in entries():
        tags = (e.get("ollama") or {}).get("tags", {})
        if e["alignment"]["kind"] == "base":
            assert not any("instruct" in t or t in ("latest",) for t in tags), e["id"]
        else:
            assert not any("-text" in t for t in tags), e["id"]
    # Ollama's mistral:7b-text and mistral:text are the v0.2 base model (its 7b-text-v0.2-q4_0 file), never
    # the v0.3 Instruct that mistral:7b names
    for name in ("mistral:7b-text", "mistral:text", "mistral:7b-text-v0.2-q8_0"):
        spec = catalog.resolve(name, offline=True)
        assert (spec.id, alignment_of(spec).kind) == ("mistral-7b-v0.2", "base"), name
    assert catalog.resolve("mistral:7b-text", offline=True).pinned_quant == "Q4_0"
    assert catalog.resolve("mistral:7b", offline=True).id == "mistral-7b-instruct-v0.3"
    # the unversioned 7b-text-q* tags hold another file than v0.2's: not claimed by any entry
    with pytest.raises(ModelNotFound):
        catalog.resolve("mistral:7b-text-q4_K_M", offline=True)
    # deepseek-r1:671b is DeepSeek R1 0528's file (other_tags), not the January R1 its 671b-q4_K_M tag serves
    assert catalog.resolve("deepseek-r1:671b-q4_K_M", offline=True).id == "deepseek-r1"
    with pytest.raises(ModelNotFound):
        catalog.resolve("deepseek-r1:671b", offline=True)
    # a tag an entry records beats another entry's size stem: qwen3:4b is Qwen3 4B Thinking 2507's file, while
    # 4b-q4_K_M is the original Qwen3 4B's
    assert catalog.resolve("qwen3:4b", offline=True).id == "qwen3-4b-thinking-2507"
    assert catalog.resolve("qwen3:4b-q4_K_M", offline=True).id == "qwen3-4b"


def test_every_entry_is_sourced() -> None:
    for e in entries():
        assert e["config_source"], e["id"]
        if e.get("ollama"):
            assert e["ollama"]["source"]["repo"] and e["ollama"]["source"]["commit"], e["id"]
        for ev in e["alignment"]["evidence"]:
            assert ev["source"], e["id"]


@pytest.mark.parametrize("needle", ["llama3.1", '"library": "qwen3"', "mistral", "", "\n", "a\nb", "}", '"', "zz-none"])
def test_a_catalog_lookup_parses_exactly_the_lines_that_mention_the_name(needle: str) -> None:
    """The look-up searches the lower-cased file instead of each line (start-up time): the entries it parses are
    those a line-by-line scan finds, in file order, whatever the name holds (a line break never hangs it)."""
    import json

    from catalog.sources import bundled

    want = needle.encode()
    assert bundled._candidates(needle) == [json.loads(line) for line in bundled._lines() if want in line.lower()]
