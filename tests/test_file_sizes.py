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
