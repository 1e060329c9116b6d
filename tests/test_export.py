"""`catalog export`: the files validate against their shipped JSON Schemas, two runs are byte-identical,
the CSV has a row per model and profile, and a site page renders from the JSON (README's example)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from catalog.cli import export

IDS = ("llama-3.1-8b", "llama-3.1-8b-instruct", "qwen2.5-7b-instruct-abliterated")
PROFILES_TOML = """
[[profile]]
id = "small"
label = "12 GB NVIDIA"
gpus = ["RTX 3060 12GB"]
ram_gib = 32

[[profile]]
id = "mac"
label = "Apple 32 GB"
gpus = ["Apple M4 32GB"]
ram_gib = 32
"""


@pytest.fixture
def exported(tmp_path: Path) -> tuple[Path, dict]:
    (tmp_path / "p.toml").write_text(PROFILES_TOML)
    profiles = export.profiles_from_toml(str(tmp_path / "p.toml"))
    out = tmp_path / "out"
    index = export.export(str(out), profiles, "csv", only=IDS, jobs=1)
    return out, index


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_every_file_validates_against_its_schema(exported) -> None:  # type: ignore[no-untyped-def]
    out, index = exported
    schemas = export.schemas()
    for schema in schemas.values():
        jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(json.loads((out / "index.json").read_text()), schemas["index"])
    jsonschema.validate(json.loads((out / "hardware.json").read_text()), schemas["hardware"])
    jsonschema.validate(json.loads((out / "glossary.json").read_text()), schemas["glossary"])
    for m in index["models"]:
        jsonschema.validate(json.loads((out / m["file"]).read_text()), schemas["model"])
    assert [m["id"] for m in index["models"]] == sorted(IDS) and index["profiles"] == ["small", "mac"]


def test_records_carry_kind_evidence_template_sizes_verdicts_commands_and_sources(exported) -> None:  # type: ignore[no-untyped-def]
    out, _ = exported
    doc = json.loads((out / "models" / "llama-3.1-8b-instruct.json").read_text())
    al = doc["model"]["alignment"]
    assert al["kind"] == "aligned" and set(al["methods"]) == {"SFT", "RLHF"}
    assert all(e["source"] for e in al["evidence"])
    # measured with the real tokenizer, from the template the export's runtime (Ollama) applies: its library
    # layer, which injects no system block (the Jinja's 5-turn overhead is 80)
    ct = doc["model"]["chat_template"]
    assert ct["overhead_tokens"] == 54 and ct["origin"] == "Ollama template layer" and "ollama_overhead" not in ct
    assert doc["model"]["sources"]["config"]["repo"] and doc["catalog"]["ollama"]["source"]["commit"]
    small = doc["profiles"]["small"]
    q4 = next(q for q in small["quants"] if q["quant"] == "Q4_K_M")
    assert q4["verdict"] == "full_gpu" and q4["file_bytes"] > 4e9 and q4["memory"]["template_bytes"] > 0
    assert q4["commands"]["ollama"].startswith("ollama run llama3.1:8b-instruct")
    assert json.loads((out / "models" / "llama-3.1-8b.json").read_text())["model"]["alignment"]["kind"] == "base"


def test_two_exports_are_byte_identical_and_stamp_is_opt_in(exported, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out, _ = exported
    again = tmp_path / "again"
    export.export(str(again), export.profiles_from_toml(str(tmp_path / "p.toml")), "csv", only=IDS, jobs=2)
    assert _files(again) == _files(out)
    assert "generated_at" not in json.loads((out / "index.json").read_text())
    stamped = tmp_path / "stamped"
    export.export(str(stamped), export.profiles_from_toml(str(tmp_path / "p.toml")), only=IDS[:1], jobs=1,
                  stamp="2026-12-01")
    assert json.loads((stamped / "index.json").read_text())["generated_at"] == "2026-12-01"


def test_csv_has_a_row_per_model_and_profile(exported) -> None:  # type: ignore[no-untyped-def]
    out, _ = exported
    lines = (out / "models.csv").read_text().splitlines()
    assert lines[0].startswith("id,name,family,kind") and len(lines) == 1 + len(IDS) * 2


def test_glossary_links_base_and_aligned_pairs_of_one_family(exported) -> None:  # type: ignore[no-untyped-def]
    out, _ = exported
    terms = {t["id"]: t for t in json.loads((out / "glossary.json").read_text())["terms"]}
    assert ["llama-3.1-8b", "llama-3.1-8b-instruct"] in terms["base-model"]["base_aligned_pairs"]
    assert "qwen2.5-7b-instruct-abliterated" in terms["de-aligned-model"]["models"]
    assert {"sft", "rlhf", "dpo", "rlaif", "kv-cache", "quantization", "context-length"} <= set(terms)


def test_a_page_renders_from_the_json_as_the_readme_shows(exported) -> None:  # type: ignore[no-untyped-def]
    import jinja2

    out, _ = exported
    # the README's example, verbatim in spirit: one page per model from models/<id>.json
    page = jinja2.Template(
        "# {{ m.model.name }} ({{ m.model.alignment.kind }})\\n"
        "{% for pid, p in m.profiles | dictsort %}- {{ pid }}: {{ p.recommended }}\\n{% endfor %}")
    m = json.loads((out / "models" / "llama-3.1-8b-instruct.json").read_text())
    text = page.render(m=m)
    assert text.startswith("# Llama 3.1 8B Instruct (aligned)") and "- small: " in text


def test_cli_schema_and_bad_profiles(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("export", "--schema")
    assert code == 0 and set(json.loads(out)) == {"index", "model", "hardware", "glossary"}
    (tmp_path / "bad.toml").write_text("[[profile]]\nid = 'x'\n")
    code, out, err = cli("export", "--out", str(tmp_path / "o"), "--profiles", str(tmp_path / "bad.toml"))
    assert code == 2 and err.count("\n") == 1 and "not a profiles file" in err
    code, out, err = cli("export")
    assert code == 2 and "--out" in err
