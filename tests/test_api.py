"""The library's public API (`import catalog`), one test per function: what each returns, typed, and how it fails.

The faces are clients of these calls; the test holds the calls themselves to their documented behaviour.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from runtime_server import RuntimeServer

import catalog
from catalog.errors import ModelNotFound, UnknownGpu, UsageError


def test_resolve_gives_a_typed_spec_with_the_quantization_the_name_pins() -> None:
    spec = catalog.resolve("llama3.1:8b-text-q8_0", offline=True)
    assert isinstance(spec, catalog.ModelSpec)
    assert (spec.id, spec.pinned_quant) == ("llama-3.1-8b", "Q8_0")
    assert spec.alignment is not None and spec.alignment.kind == "base"
    assert spec.provenance.entry == "data/models.jsonl" and spec.provenance.config["repo"]
    with pytest.raises(ModelNotFound) as err:
        catalog.resolve("llama3.1:8b-instruct-q8_O", offline=True)
    assert "did you mean: llama3.1:8b-instruct-q8_0" in err.value.line()


def test_resolve_answers_a_slip_from_the_catalog_before_any_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """`lama3.1:8b` is one letter from `llama3.1:8b`: the catalog's suggestion comes back at once and the
    registry is never asked; a name the catalog does not come close to is asked of the registry."""
    with RuntimeServer() as srv:
        monkeypatch.setenv("LLM_CATALOG_OLLAMA_REGISTRY", srv.url)
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        with pytest.raises(ModelNotFound) as err:
            catalog.resolve("lama3.1:8b")
        assert "did you mean: llama3.1:8b" in err.value.line() and srv.log == []
        with pytest.raises(ModelNotFound):
            catalog.resolve("someone-else/their-model:7b")
        assert srv.requests_to("/v2/someone-else/their-model/manifests/7b")  # asked where it can exist


def test_check_returns_a_typed_result_and_its_exit_code() -> None:
    spec = catalog.resolve("llama3.1:8b", offline=True)
    res = catalog.check(spec, catalog.CheckRequest(), catalog.machine(["RTX 3060"], ram_gib=32))
    assert isinstance(res, catalog.CheckResult) and res.exit_code == 0
    rec = res.recommended_row
    assert rec is not None and rec.verdict == "full_gpu" and rec.commands.llama_cpp.startswith("llama-server -hf ")
    m = rec.memory  # what the GPU shows: its weights and KV cache, the compute buffer and the runtime's overhead
    assert m.gpu_bytes == m.weights_gpu_bytes + m.kv_cache_gpu_bytes + m.compute_bytes + m.overhead_bytes
    with pytest.raises(UsageError, match="quantized KV cache needs flash attention"):
        catalog.check(spec, catalog.CheckRequest(kv_type="q8_0", flash_attn=False), catalog.machine(vram_gib=8))


def test_plan_parse_host_and_hosts_from_toml(tmp_path: Path) -> None:
    hosts = [catalog.parse_host("a:RTX 4090x2,64"), catalog.parse_host("b:RTX 3090,32")]
    assert [len(h.gpus) for h in hosts] == [2, 1] and hosts[1].ram_bytes == 32 << 30
    f = tmp_path / "hosts.toml"
    f.write_text('[[host]]\nname = "a"\ngpus = ["RTX 4090", "RTX 4090"]\nram_gib = 64\n')
    assert catalog.hosts_from_toml(str(f))[0].gpus == hosts[0].gpus
    res = catalog.plan(catalog.resolve("llama3.1:70b", offline=True), hosts)
    assert isinstance(res, catalog.PlanResult) and res.exit_code == 0
    assert [p.engine for p in res.plans] == ["llama.cpp RPC", "vLLM + Ray"] and res.plans[0].fits
    assert res.head_alone.host == "a"
    with pytest.raises(UsageError):
        catalog.plan(res.spec, hosts, catalog.PlanRequest(split_mode="row"))
    with pytest.raises(UnknownGpu):
        catalog.parse_host("a:RTX 9999")


def test_search_and_matches_filter_one_way() -> None:
    found = catalog.search("llama 3.1", kind="base", max_params=9e9)
    assert [s.id for s in found] == ["llama-3.1-8b"]
    spec = found[0]
    assert catalog.matches(spec, "LLAMA") and catalog.matches(spec, "meta-llama base")
    assert not catalog.matches(spec, "qwen") and not catalog.matches(spec, kind="aligned")
    assert catalog.matches(spec, max_params=8e9)  # 8.03 B is a model sold as 8B
    assert not catalog.matches(spec, max_params=7.5e9)  # past the 5 % a name rounds away


def test_summarize_is_the_recommended_row_of_a_check() -> None:
    spec = catalog.resolve("qwen2.5:0.5b", offline=True)
    hw = catalog.machine(["RTX 3060"], ram_gib=32)
    s = catalog.summarize(spec, catalog.CheckRequest(), hw)
    assert isinstance(s, catalog.Summary) and s.result.recommended == s.best_quant
    assert s.gpu_bytes == s.result.recommended_row.memory.gpu_bytes  # type: ignore[union-attr]


def test_machine_names_cards_or_a_budget() -> None:
    hw = catalog.machine(["RTX 4090", "RTX 3060"], ram_gib=64)
    assert hw.source == "profile" and len(hw.gpus) == 2 and hw.ram_total_bytes == 64 << 30
    assert catalog.machine(vram_gib=12, ram_gib=16).gpus[0].memory_total_bytes == 12 << 30
    with pytest.raises(UsageError):
        catalog.machine(["RTX 4090"], vram_gib=8)
    with pytest.raises(UnknownGpu):
        catalog.machine(["RTX 9999"])


def test_document_is_the_json_of_each_result() -> None:
    hw = catalog.machine(["RTX 3060"], ram_gib=32)
    spec = catalog.resolve("llama3.1:8b", offline=True)
    doc = catalog.document(catalog.check(spec, catalog.CheckRequest(), hw))
    assert doc["schema"] == "llm-catalog/check/v1" and json.loads(json.dumps(doc)) == doc
    assert catalog.document(hw)["schema"] == "llm-catalog/hw/v1"
    assert catalog.document([spec])["models"][0]["id"] == spec.id
    assert catalog.document(catalog.plan(spec, [catalog.parse_host("a:RTX 3060,32")]))["schema"] == \
        "llm-catalog/plan/v1"
    with pytest.raises(TypeError):
        catalog.document(object())


def test_entries_base_of_and_schemas() -> None:
    entries = catalog.entries()
    inst = next(e for e in entries if e["id"] == "llama-3.1-8b-instruct")
    base = catalog.base_of(inst)
    assert base is not None and base["id"] == "llama-3.1-8b" and catalog.base_of(base) is None
    assert set(catalog.schemas()) == {"index", "model", "hardware", "glossary"}


def test_refresh_with_nothing_cached_does_nothing() -> None:
    assert catalog.refresh([], jobs=4) == []
    with pytest.raises(UsageError, match="HF_HUB_OFFLINE"):
        catalog.refresh(["Qwen/Qwen2.5-7B-Instruct"], jobs=4)  # the tests run with HF_HUB_OFFLINE=1


def test_running_and_probe_against_local_servers() -> None:
    assert catalog.running()["ollama"] is None  # OLLAMA_HOST points at a closed port in the tests
    with RuntimeServer() as srv:
        srv.ollama = {"version": {"version": "0.12.3"}, "tags": {"models": []}, "ps": {"models": []}}
        srv.chat = lambda req: "I'm sorry, but I can't help with that."
        doc = catalog.probe("llama3.1:8b", endpoint=srv.url)
    assert doc["schema"] == "llm-catalog/probe/v1" and doc["refusal_rate"] == 1.0
    assert doc["catalog"] == {"id": "llama-3.1-8b-instruct", "kind": "aligned"}
