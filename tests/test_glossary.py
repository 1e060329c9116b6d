"""The glossary (issue 25): every term a site explains, each linked to catalog models (or saying why not), each
source something a reader can open, each figure the product's own estimate."""

from __future__ import annotations

import json
import re

import pytest

import catalog

URL = re.compile(r"^https://\S+$")
REPO_AT = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+@[0-9a-f]{40} \S+$")
NAMED = ["alignment", "base-model", "aligned-model", "instruct-vs-chat", "de-aligned-model", "sft", "rlhf",
         "reward-model", "ppo", "preference-data", "dpo", "rlaif", "constitutional-ai", "hhh", "alignment-tax",
         "refusal", "abliteration", "system-prompt", "chat-template", "gguf", "quantization", "bits-per-weight",
         "kv-cache", "context-length", "vram", "unified-memory", "partial-offload", "mixture-of-experts",
         "flash-attention"]


@pytest.fixture(scope="module")
def doc() -> dict:
    return catalog.glossary()


def test_every_term_the_issue_names_is_there(doc: dict) -> None:
    assert [t["id"] for t in doc["terms"]] == NAMED


def test_every_term_links_to_catalog_models_or_says_why(doc: dict) -> None:
    ids = {e["id"] for e in catalog.entries()}
    for t in doc["terms"]:
        assert t["models"] or t.get("models_why"), t["id"]
        assert set(t["models"]) <= ids, t["id"]
        assert t["models"] == sorted(t["models"])
        for base, aligned in t["base_aligned_pairs"]:
            assert base in t["models"] and aligned in t["models"]


def test_every_source_opens_and_every_related_term_exists(doc: dict) -> None:
    ids = {t["id"] for t in doc["terms"]}
    for t in doc["terms"]:
        assert t["sources"], t["id"]
        for s in t["sources"]:
            assert URL.match(s["where"]) or REPO_AT.match(s["where"]), (t["id"], s)
            assert "search" not in s["where"] and "lookup" not in s["where"]
        assert set(t["related"]) <= ids - {t["id"]}, t["id"]
        assert t["distinctions"] or t["id"] in ("sft", "dpo", "rlaif", "hhh"), t["id"]


def test_the_links_follow_the_catalog(doc: dict) -> None:
    terms = {t["id"]: t for t in doc["terms"]}
    assert ["llama-3.1-8b", "llama-3.1-8b-instruct"] in terms["base-model"]["base_aligned_pairs"]
    assert "meta-llama-3.1-8b-instruct-abliterated" in terms["abliteration"]["models"]
    assert set(terms["abliteration"]["models"]) <= set(terms["de-aligned-model"]["models"])
    assert "qwen3-30b-a3b" in terms["mixture-of-experts"]["models"]
    assert "llama-3.1-8b" not in terms["mixture-of-experts"]["models"]
    assert "xwin-lm-13b-v0.2" in terms["ppo"]["models"]  # its card names PPO
    assert "llama-2-7b-chat" in terms["instruct-vs-chat"]["models"]
    assert "qwen2.5-7b-instruct" in terms["system-prompt"]["models"]  # "You are Qwen, created by Alibaba Cloud"
    assert "mistral-7b-instruct-v0.3" not in terms["system-prompt"]["models"]
    # a smaller catalog links fewer models: nothing is written down, it is computed
    few = [e for e in catalog.entries() if e["family"] != "llama3.1"]
    smaller = {t["id"]: t for t in catalog.glossary(few)["terms"]}
    assert ["llama-3.1-8b", "llama-3.1-8b-instruct"] not in smaller["base-model"]["base_aligned_pairs"]


def test_the_worked_example_is_what_check_says(doc: dict, cli) -> None:  # type: ignore[no-untyped-def]
    ex = {t["id"]: t for t in doc["terms"]}["kv-cache"]["example"]
    code, out, _ = cli("check", ex["model"], "--gpu", "RTX 3060 12GB", "--ram", "32", "--quant", ex["quant"],
                       "--offline", "--json")
    assert code == 0
    res = json.loads(out)
    row = res["quants"][0]
    assert ex["context"] == res["options"]["context"]
    for k in ("weights_bytes", "kv_cache_bytes", "compute_bytes", "overhead_bytes", "template_bytes", "gpu_bytes"):
        assert ex[k] == row["memory"][k], k
    assert ex["verdict"] == row["verdict"] == "full_gpu"
    weights = {t["id"]: t for t in doc["terms"]}["bits-per-weight"]["example"]
    assert weights["file_bytes"] == row["file_bytes"]
    assert 4.8 < weights["bits_per_weight"] < 5.0  # llama-quantize's README: 4.8944 for Llama 3.1 8B Q4_K_M
    partial = {t["id"]: t for t in doc["terms"]}["partial-offload"]["example"]
    assert partial["verdict"] == "partial" and 0 < partial["gpu_layers"] < partial["total_layers"]
    unified = {t["id"]: t for t in doc["terms"]}["unified-memory"]["example"]
    assert unified["gpu_budget_bytes"] < unified["memory_total_bytes"]


def test_explain_finds_a_term_by_id_or_name() -> None:
    assert catalog.explain("RLHF")["id"] == "rlhf"
    assert catalog.explain("mixture-of-experts")["term"].startswith("Mixture of experts")
    with pytest.raises(catalog.CatalogError):
        catalog.explain("no such term")
