"""The cache of layouts (catalog.sources.derived): what it gives back equals what is computed, a bad entry is a miss,
and a check answered from it is the check answered without it."""

from __future__ import annotations

import json
import os

import pytest

import catalog
from catalog.core import model
from catalog.sources import cache, derived
from catalog.sources.bundled import lookup

GPU = ["RTX 3060"]


def _forget() -> None:
    model._LAYOUTS.clear()
    model._TABLES.clear()


def _entry_path(spec: model.ModelSpec) -> str:
    from catalog.core.ranking import quants_to_show

    return cache._path(derived.KIND, derived.key(spec, quants_to_show(spec, ())))


def test_layouts_from_the_cache_equal_the_computed_ones() -> None:
    spec = lookup("llama3.1:8b")
    assert spec is not None
    derived.warm((spec,))
    path = _entry_path(spec)
    assert os.path.isfile(path)
    _forget()
    again = lookup("llama3.1:8b")
    assert again is not None
    derived.warm((again,))  # from the file this time
    for q in ("Q4_K_M", "Q8_0", "F16"):
        seeded = model.layout_for(again, q)
        assert seeded == model.weight_layout(again, model.tensors_for(again, q))


def test_a_check_from_the_cache_is_the_check_without_it() -> None:
    hw = catalog.machine(GPU, None, 32)
    spec = lookup("qwen2.5:7b")
    assert spec is not None
    plain = catalog.document(catalog.check(spec, catalog.CheckRequest(), hw))
    derived.warm((spec,))
    _forget()
    spec2 = lookup("qwen2.5:7b")
    assert spec2 is not None
    derived.warm((spec2,))
    assert catalog.document(catalog.check(spec2, catalog.CheckRequest(), hw)) == plain


def test_a_wrong_entry_is_a_miss_and_is_replaced() -> None:
    spec = lookup("gemma2:9b")
    assert spec is not None
    derived.warm((spec,))
    path = _entry_path(spec)
    with open(path, encoding="utf-8") as f:
        wrapper = json.load(f)
    first = next(iter(wrapper["doc"]["layouts"]))
    wrapper["doc"]["layouts"][first][2] = ["many", "bytes"]  # a per-layer list of strings
    with open(path, "w", encoding="utf-8") as f:
        json.dump(wrapper, f)
    _forget()
    spec2 = lookup("gemma2:9b")
    assert spec2 is not None
    derived.warm((spec2,))
    assert model.layout_for(spec2, first) == model.weight_layout(spec2, model.tensors_for(spec2, first))
    with open(path, encoding="utf-8") as f:
        assert all(isinstance(x, int) for x in json.load(f)["doc"]["layouts"][first][2])


def test_the_key_follows_the_rules_and_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = lookup("llama3.1:8b")
    assert spec is not None
    k = derived.key(spec, ["Q4_K_M"])
    wider = spec.arch._replace(n_ff=tuple(x + 256 for x in spec.arch.n_ff))
    assert derived.key(spec._replace(arch=wider), ["Q4_K_M"]) != k
    assert derived.key(spec, ["Q4_K_M", "Q8_0"]) != k
    assert len(derived.rules_digest()) == 64
    monkeypatch.setattr(derived, "rules_digest", lambda: "an edited rule")
    assert derived.key(spec, ["Q4_K_M"]) != k


def test_a_quantization_that_cannot_be_laid_out_does_not_stop_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    """Warming computes every shown quantization; one that fails (a check asked only for another would never
    have built it) must not fail the check."""
    spec = lookup("mistral")
    assert spec is not None
    real = model.tensors_for

    def fragile(s: model.ModelSpec, quant: str, *a: object, **kw: object) -> list:
        if quant == "IQ2_M":
            raise ValueError("a table this quantization cannot make")
        return real(s, quant, *a, **kw)  # type: ignore[arg-type]

    _forget()
    monkeypatch.setattr(model, "tensors_for", fragile)
    derived.warm((spec,))  # no error
    assert not os.path.exists(_entry_path(spec))  # nothing half-made is kept
    hw = catalog.machine(GPU, None, 32)
    res = catalog.check(spec, catalog.CheckRequest(quants=("Q4_K_M",)), hw)
    assert res.rows[0].quant == "Q4_K_M"


def test_the_catalogs_parameter_counts_are_counted_once_and_equal_the_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The entries that record no parameter count are counted from their tensor tables once; a later list reads
    the counts from one cache entry (no table built), and they equal the tables' own; another catalog file (its
    bytes in the key) is counted again."""
    from catalog.core.arch import hf_tensors, parameter_count
    from catalog.sources import bundled

    first = {s.id: s.parameters for s in bundled.all_specs()}
    unrecorded = [e for e in bundled.entries() if not e.get("parameters")]
    assert unrecorded
    for e in unrecorded[:20]:
        assert first[e["id"]] == parameter_count(hf_tensors(bundled.from_hf_config(e["config"])))

    def no_tables(*_: object) -> None:
        raise AssertionError("a table was built")

    monkeypatch.setattr("catalog.core.arch.hf_tensors", no_tables)
    assert {s.id: s.parameters for s in bundled.all_specs()} == first
    with pytest.raises(AssertionError, match="a table was built"):
        derived.parameter_counts(b"another catalog file", [(unrecorded[0]["id"],
                                                           bundled.from_hf_config(unrecorded[0]["config"]))])


def test_a_hub_records_alignment_is_kept_and_equals_the_classifiers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The verdict on a Hub record is classified once and kept by what the classifier reads and the rules; read
    back it equals the classifier's, evidence and all; a record that differs in what it reads, or an entry of
    the wrong shape, is classified again."""
    from catalog.core import alignment

    rec = {"repo": "org/Coder-7B-Instruct", "tags": ["qwen2", "conversational", "dpo"], "pipeline_tag": None,
           "card": {"datasets": ["HuggingFaceH4/ultrafeedback_binarized"]}, "chat_template": True, "files": {},
           "card_statements": ["This repo contains the instruction-tuned 7B model."]}
    first = derived.record_alignment(rec)
    assert first == alignment.classify_record(rec) and first.kind == "aligned" and "DPO" in first.methods
    calls = []
    real = alignment.classify_record
    monkeypatch.setattr(alignment, "classify_record", lambda *a: calls.append(a) or real(*a))
    assert derived.record_alignment({**rec, "files": {"x.gguf": 1}}) == first and not calls  # files are not read
    assert derived.record_alignment({**rec, "tags": ["qwen2"]}).kind != "de-aligned" and len(calls) == 1
    from pathlib import Path

    for full in Path(cache._path(derived.ALIGN_KIND, "x")).parent.iterdir():
        doc = json.loads(full.read_text())
        doc["doc"]["alignment"] = ["aligned", ["DPO"], 7, []]  # a confidence past 1: the wrong shape
        full.write_text(json.dumps(doc))
    assert derived.record_alignment(rec) == first and len(calls) == 2
