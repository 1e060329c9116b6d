"""GGUF file sizes predicted from config.json alone, against published files.

Each published size in tests/data/published_gguf_sizes.json was read from a
public repository at a commit (the source is recorded beside it); each config
in tests/data/configs/ is the model's real config.json, with its source.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from catalog.core.arch import from_hf_config
from catalog.core.model import ModelSpec, predict_file_bytes, tensors_for, weight_layout

DATA = Path(__file__).parent / "data"
PUBLISHED = json.loads((DATA / "published_gguf_sizes.json").read_text())["files"]


def _config(name: str) -> dict:
    doc = json.loads((DATA / "configs" / f"{name}.json").read_text())
    assert doc.get("source"), f"{name}: config without a source"
    return doc


def predict(rec: dict) -> int:
    doc = _config(rec["config"])
    a = from_hf_config(doc["config"])
    spec = ModelSpec("t", "t", "t", a, 0, tokenizer=doc["tokenizer"])
    tensors = tensors_for(spec, rec["quant"], rec["imatrix"])
    return predict_file_bytes(spec, weight_layout(spec, tensors))


@pytest.mark.parametrize("rec", PUBLISHED, ids=[r["file"] for r in PUBLISHED])
def test_predicted_size_within_half_a_percent(rec: dict) -> None:
    src = rec["source"]
    assert (src.get("repo") and src.get("commit")) or str(src.get("url") or "").startswith("https://"), src
    pred = predict(rec)
    assert abs(pred - rec["bytes"]) / rec["bytes"] < 0.005, (pred, rec["bytes"])


def test_enough_repos_and_median_accuracy() -> None:
    repos = {r["gguf_repo"] or r["url"] for r in PUBLISHED}
    assert len(repos) >= 8
    errors = sorted(abs(predict(r) - r["bytes"]) / r["bytes"] for r in PUBLISHED)
    assert errors[len(errors) // 2] < 0.001


def test_imatrix_changes_q4_0_by_the_q4_1_ffn_down_layers() -> None:
    rec = next(r for r in PUBLISHED if r["file"] == "Llama-3.2-1B-Instruct-Q4_0.gguf")
    plain = dict(rec, imatrix=False)
    # bartowski quantizes with an imatrix: the first n/8 ffn_down layers are Q4_1, 2 x 8192 x 2048 x 2/32 bytes more
    assert predict(rec) - predict(plain) == 2 * 8192 * 2048 * 2 // 32


def test_a_listed_file_without_a_size_is_predicted_with_its_own_repos_flags() -> None:
    """Llama 3.1 8B's IQ4_XS is listed (size unrecorded) only by bartowski's imatrix repo, which the commands
    download: the prediction takes that repo's imatrix flag, as the file's own tensor mix does."""
    from catalog.core.arch import hf_tensors
    from catalog.core.model import quant_context, repo_for, tensors_for
    from catalog.core.quantize import quantize
    from catalog.sources.bundled import lookup

    spec = lookup("llama3.1:8b")
    assert spec is not None
    repo = repo_for(spec, "IQ4_XS")
    assert repo is not None and repo.listed("IQ4_XS") is not None and not repo.published("IQ4_XS") and repo.imatrix
    with_flag = quantize(hf_tensors(spec.arch, "F16"), "IQ4_XS", quant_context(spec.arch, True))
    without = quantize(hf_tensors(spec.arch, "F16"), "IQ4_XS", quant_context(spec.arch, False))
    assert [t.type for t in with_flag] != [t.type for t in without]  # the flag matters here
    assert [t.type for t in tensors_for(spec, "IQ4_XS")] == [t.type for t in with_flag]
