"""Any Hub repo through huggingface_hub and HTTP Range, against a loopback Hub; cache and offline behaviour.

The repos here are test repos (`test-org/...`) built to exercise the mechanics: a
safetensors repo with a real config.json (Qwen2.5-Coder-7B-Instruct's, tests/data/configs),
GGUF repos holding real GGUF files written by the gguf package, a split file, a gated
repo, a quantized repo whose original carries the evidence. Classification against real
repos' metadata is tested in test_hub_classify.py.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from gguf_files import write_small_llama, write_tiny_instruct
from hub_server import HubServer, aim_at

import catalog
from catalog.core.model import Fetched
from catalog.errors import GatedModel, ModelNotFound, RemoteUnavailable
from catalog.sources import hub
from catalog.sources.gguf_reader import parse
from hardware import budget

ROOT = Path(__file__).resolve().parent.parent
QWEN_CODER = json.loads((ROOT / "tests/data/configs/qwen25_7b.json").read_text())
TOKEN = "hf_TESTtokenNEVERprintedXYZ"


def _readme(front: str, body: str) -> bytes:
    return f"---\n{front}\n---\n\n{body}\n".encode()


@pytest.fixture
def hubenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    ggufs = write_tiny_instruct(tmp_path / "g")
    write_small_llama(ggufs / "Tiny-Instruct-F16.gguf", quant=False, split_max_tensors=8)
    files = {p.name: p.read_bytes() for p in sorted(ggufs.iterdir())}
    with HubServer() as srv:
        srv.add("test-org/Coder-7B-Instruct", {
            "tags": ["transformers", "safetensors", "qwen2", "text-generation", "conversational",
                     "base_model:test-org/Coder-7B", "base_model:finetune:test-org/Coder-7B"],
            "pipeline_tag": "text-generation", "library_name": "transformers",
            "cardData": {"license": "apache-2.0", "base_model": "test-org/Coder-7B", "pipeline_tag": "text-generation"},
            "safetensors": {"parameters": {"BF16": 7615616512}, "total": 7615616512},
        }, {
            "config.json": json.dumps(QWEN_CODER["config"]).encode(),
            "tokenizer_config.json": json.dumps({"chat_template": "{{ messages }}"}).encode(),
            "README.md": _readme("license: apache-2.0\nbase_model: test-org/Coder-7B",
                                 "# Coder\n\nThis repo contains the instruction-tuned 7B Coder model.\n"),
            "model-00001-of-00004.safetensors": b"\0" * 64,
        })
        srv.add("test-org/Tiny-Instruct-GGUF", {
            "tags": ["gguf", "base_model:test-org/Tiny-Instruct", "base_model:quantized:test-org/Tiny-Instruct"],
            "cardData": {"base_model": "test-org/Tiny-Instruct", "license": "mit"},
            "gguf": {"total": 123, "architecture": "llama", "context_length": 2048},
        }, {**files, "README.md": _readme("base_model: test-org/Tiny-Instruct", "Quantizations of Tiny.")})
        srv.add("test-org/Tiny-Instruct", {
            "tags": ["transformers", "llama", "conversational"],
            "cardData": {"license": "mit", "datasets": ["HuggingFaceH4/ultrafeedback_binarized"]},
        }, {"README.md": _readme("license: mit", "Tiny-Instruct was trained with direct preference optimization "
                                                  "(DPO) on top of its SFT checkpoint.\n")})
        listed = {"Coder-7B-Instruct-Q4_K_M.gguf": b"\0", "Q8_0/Coder-7B-Instruct-Q8_0-00001-of-00002.gguf": b"\0",
                  "Q8_0/Coder-7B-Instruct-Q8_0-00002-of-00002.gguf": b"\0", "README.md": b""}
        for child, downloads, names in (("someone/Coder-7B-Instruct-GGUF", 900, {}),
                                        ("bartowski/Coder-7B-Instruct-GGUF", 10, listed)):
            srv.add(child, {"tags": ["gguf", "base_model:quantized:test-org/Coder-7B-Instruct"],
                            "downloads": downloads}, names)
        header = json.dumps({"__metadata__": {"format": "pt"},
                             "a": {"dtype": "BF16", "shape": [3, 5], "data_offsets": [0, 30]},
                             "b": {"dtype": "F32", "shape": [7], "data_offsets": [30, 58]}}).encode()
        srv.add("test-org/No-Counts", {"tags": ["llama"]}, {
            "config.json": json.dumps(QWEN_CODER["config"]).encode(),
            "model.safetensors": struct.pack("<Q", len(header)) + header + b"\0" * 58})
        srv.add("test-org/Gated-Model", {"tags": ["llama"], "cardData": {"license": "other"}},
                {"config.json": json.dumps(QWEN_CODER["config"]).encode()}, gated=True)
        aim_at(srv, monkeypatch, tmp_path)
        yield srv, ggufs, tmp_path / "cache"


def test_safetensors_repo(hubenv) -> None:  # type: ignore[no-untyped-def]
    srv, _, _ = hubenv
    spec, text = hub.load("test-org/Coder-7B-Instruct")
    assert spec.pinned_quant is None and spec.hf_repo == "test-org/Coder-7B-Instruct"
    assert spec.parameters == 7615616512  # from the safetensors headers, not our count
    assert (spec.arch.n_layer, spec.arch.n_embd, spec.arch.n_vocab) == (28, 3584, 152064)
    assert spec.alignment is not None and spec.alignment.kind == "aligned"
    assert text.present is True and text.jinja == "{{ messages }}"  # handed on to be rendered (sandboxed)
    assert spec.provenance.metadata is not None and spec.provenance.metadata.origin == "hub"
    expand = srv.requests_to("/api/models/test-org/Coder-7B-Instruct")[0]["query"]["expand"]
    assert {"cardData", "tags", "safetensors", "gguf", "siblings", "gated", "lastModified"} <= set(expand)
    # the second look-up is answered by the cache: no request reaches the Hub
    n = len(srv.log)
    spec2 = catalog.resolve("test-org/Coder-7B-Instruct")
    assert len(srv.log) == n and spec2.provenance.metadata is not None and spec2.provenance.metadata.origin == "cache"
    assert spec2.template.jinja is not None and spec2.template.jinja.measured  # resolving measures the template
    res = catalog.check(spec2, catalog.CheckRequest(), budget(24.0, 64.0))
    assert res.alignment.kind == "aligned" and res.rows
    # GGUF quantizations of the repo are found on the Hub; a well-known quantizer comes first
    assert [r.repo for r in spec.gguf_repos] == ["bartowski/Coder-7B-Instruct-GGUF",
                                                 "someone/Coder-7B-Instruct-GGUF"]
    row = res.row("Q4_K_M")
    assert row is not None and "hf.co/bartowski/Coder-7B-Instruct-GGUF:Q4_K_M" in row.commands.ollama
    # the Hub's listing of the child repos names the files: a quantization none of them holds gets no -hf
    listed_files = {f.quant: f.file for f in spec.gguf_repos[0].files}
    assert listed_files == {"Q4_K_M": "Coder-7B-Instruct-Q4_K_M.gguf",
                            "Q8_0": "Q8_0/Coder-7B-Instruct-Q8_0-00001-of-00002.gguf"}
    q6 = next((r for r in res.rows if r.quant == "Q6_K"), None)
    assert q6 is None or ("-hf " not in q6.commands.llama_cpp and q6.commands.note.startswith("no published GGUF"))
    assert "-hf bartowski/Coder-7B-Instruct-GGUF:Q4_K_M" in row.commands.llama_cpp


def test_a_cold_read_sends_no_telemetry(hubenv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """huggingface_hub's headers would fetch its "agent harnesses" registry from the Hub first (once a day, one more
    request before the check's own) and report torch and the calling agent: the product turns that off. A fresh
    process with a fresh HF home, as a user's first check runs."""
    import os
    import subprocess
    import sys

    srv, _, _ = hubenv
    env = {**os.environ, "HF_HOME": str(tmp_path / "fresh-hf"), "LLM_CATALOG_CACHE_DIR": str(tmp_path / "fresh"),
           "AI_AGENT": "some-agent"}
    env.pop("HF_HUB_OFFLINE", None)
    p = subprocess.run([sys.executable, "-m", "catalog", "check", "test-org/Tiny-Instruct-GGUF", "--vram", "8",
                        "--json"], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert srv.log and not [e for e in srv.log if "agent-harnesses" in e["path"]]
    agents_ = [v for e in srv.log for k, v in e["headers"].items() if k.lower() == "user-agent"]
    assert agents_ and not [ua for ua in agents_ if "agent/" in ua]


def test_parameter_count_from_safetensors_headers(hubenv) -> None:  # type: ignore[no-untyped-def]
    srv, _, _ = hubenv
    spec, _ = hub.load("test-org/No-Counts")
    assert spec.parameters == 3 * 5 + 7  # read from the header by ranged GET, not predicted
    assert any("bytes=0-" in e["headers"].get("range", e["headers"].get("Range", ""))
               for e in srv.requests_to("model.safetensors"))


def test_gguf_repo_reads_the_real_header_and_lists_every_quant(hubenv) -> None:  # type: ignore[no-untyped-def]
    srv, ggufs, _ = hubenv
    spec = catalog.resolve("test-org/Tiny-Instruct-GGUF")
    q4 = ggufs / "Tiny-Instruct-Q4_K_M.gguf"
    data = q4.read_bytes()
    local = parse(lambda o, n: data[o:o + n], len(data))
    assert list(spec.tensors) == local.tensors and spec.file_bytes == len(data)
    assert spec.file_quant == "Q4_K_M" and spec.pinned_quant is None
    files = {f.quant: f for f in spec.gguf_repos[0].files}
    f16_parts = sorted(p for p in os.listdir(ggufs) if p.startswith("Tiny-Instruct-F16"))
    assert len(f16_parts) > 1
    assert files["F16"].bytes == sum((ggufs / p).stat().st_size for p in f16_parts)
    q8 = ggufs / "Tiny-Instruct-Q8_0.gguf"
    assert (files["Q8_0"].file, files["Q8_0"].bytes) == (q8.name, q8.stat().st_size)
    # the quantized repo's verdict is its original's, with the original's evidence
    assert spec.alignment is not None and spec.alignment.kind == "aligned" and "DPO" in spec.alignment.methods
    assert any("test-org/Tiny-Instruct" in e.source for e in spec.alignment.evidence)
    res = catalog.check(spec, catalog.CheckRequest(), budget(8.0, 16.0))
    assert [q.quant for q in res.rows] == ["F16", "Q8_0", "Q4_K_M"]
    row = res.row("Q4_K_M")
    assert row is not None and row.file_bytes == len(data)
    assert "hf.co/test-org/Tiny-Instruct-GGUF:Q4_K_M" in row.commands.ollama
    assert srv.requests_to("Tiny-Instruct-Q8_0.gguf") == []  # only the chosen file's header was read


def test_split_gguf_header_merges_every_part(hubenv) -> None:  # type: ignore[no-untyped-def]
    srv, ggufs, _ = hubenv
    spec, _ = hub.load("hf.co/test-org/Tiny-Instruct-GGUF:F16")
    assert spec.pinned_quant == "F16"
    parts = sorted(p for p in os.listdir(ggufs) if p.startswith("Tiny-Instruct-F16"))
    tensors = []
    for p in parts:
        d = (ggufs / p).read_bytes()
        tensors += parse(lambda o, n, d=d: d[o:o + n], len(d)).tensors
    assert list(spec.tensors) == tensors
    assert spec.file_bytes == sum((ggufs / p).stat().st_size for p in parts)
    assert spec.provenance.gguf_header is not None and spec.provenance.gguf_header.parts == len(parts)
    with pytest.raises(ModelNotFound, match="no Q2_K GGUF"):
        hub.load("test-org/Tiny-Instruct-GGUF:Q2_K")


def test_offline_answers_from_the_cache_and_says_when_stale(hubenv, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    srv, _, _ = hubenv
    hub.load("test-org/Tiny-Instruct-GGUF")
    n = len(srv.log)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec, _ = hub.load("test-org/Tiny-Instruct-GGUF")
    assert len(srv.log) == n
    assert spec.provenance.metadata == Fetched("cache", False, 0)
    monkeypatch.setenv("LLM_CATALOG_CACHE_TTL", "0")
    spec, _ = hub.load("test-org/Tiny-Instruct-GGUF", offline=True)
    assert spec.provenance.metadata is not None and spec.provenance.metadata.stale is True
    with pytest.raises(RemoteUnavailable, match="offline"):
        hub.load("test-org/Coder-7B-Instruct")
    assert len(srv.log) == n


def test_hub_down_falls_back_to_a_stale_cache(hubenv, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    srv, _, _ = hubenv
    hub.load("test-org/Coder-7B-Instruct")
    monkeypatch.setenv("LLM_CATALOG_CACHE_TTL", "0")
    srv.status_for["/api/"] = 503
    spec, _ = hub.load("test-org/Coder-7B-Instruct")
    assert spec.provenance.metadata == Fetched("cache", True, 0)
    with pytest.raises(RemoteUnavailable):
        hub.load("test-org/Tiny-Instruct-GGUF")


def test_unknown_and_gated_repos(hubenv, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    srv, _, cache_dir = hubenv
    with pytest.raises(ModelNotFound, match="no such model repo"):
        hub.load("test-org/Nope")
    with pytest.raises(GatedModel, match="gated") as exc:
        hub.load("test-org/Gated-Model")
    # what the Hub shows anyone (the licence), then how to get in
    line = exc.value.line()
    assert "test-org/Gated-Model (licence other) is gated" in line
    assert f"request access at {srv.url}/test-org/Gated-Model" in line and "hf auth login" in line
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    spec, _ = hub.load("test-org/Gated-Model")
    assert spec.gated is True
    sent = [e["headers"].get("authorization") or e["headers"].get("Authorization") for e in srv.log]
    assert f"Bearer {TOKEN}" in sent
    for p in cache_dir.rglob("*"):
        if p.is_file():
            assert TOKEN not in p.read_text()


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "catalog", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120)


def test_cli_end_to_end(hubenv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    srv, _, cache_dir = hubenv
    env = {**os.environ, "HF_TOKEN": TOKEN}
    r = _cli(["check", "test-org/Tiny-Instruct-GGUF", "--vram", "8", "--ram", "16", "--json"], env)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["model"]["alignment"]["kind"] == "aligned"
    assert {q["quant"] for q in doc["quants"]} == {"F16", "Q8_0", "Q4_K_M"}
    assert TOKEN not in r.stdout + r.stderr
    # offline: the cache answers; an uncached repo is one line and exit 3
    off = {**env, "HF_HUB_OFFLINE": "1"}
    r = _cli(["check", "test-org/Tiny-Instruct-GGUF", "--vram", "8", "--json"], off)
    assert r.returncode == 0 and json.loads(r.stdout)["model"]["sources"]["metadata"]["from"] == "cache"
    probe = ("import sys; from catalog.cli.main import main; "
             "code = main(['check', 'test-org/Tiny-Instruct-GGUF', '--vram', '8', '--json', '--offline']); "
             "print(code, sorted(m for m in ('huggingface_hub', 'httpx', 'numpy', 'textual') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert r.stdout.strip().endswith("0 []"), r.stdout[-300:] + r.stderr  # offline: no network library loaded
    r = _cli(["check", "test-org/Coder-7B-Instruct", "--vram", "8", "--offline"], env)
    assert r.returncode == 3 and r.stderr.count("\n") == 1 and "offline" in r.stderr
    r = _cli(["check", "test-org/Nope", "--vram", "8"], env)
    assert r.returncode == 2 and r.stderr.startswith("catalog: error:") and r.stderr.count("\n") == 1
    r = _cli(["check", "test-org/Gated-Model", "--vram", "8"], {**env, "HF_TOKEN": ""})
    assert r.returncode == 3 and "gated" in r.stderr and "Traceback" not in r.stderr
    srv.status_for["/api/"] = 503
    r = _cli(["check", "test-org/Other-Model", "--vram", "8"], env)
    assert r.returncode == 3 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_refresh_rereads_into_the_cache(hubenv, cli) -> None:  # type: ignore[no-untyped-def]
    srv, _, _ = hubenv
    code, out, err = cli("refresh")
    assert (code, out) == (0, "nothing cached yet\n")
    hub.load("test-org/Coder-7B-Instruct")
    n = len(srv.requests_to("/api/models/test-org/Coder-7B-Instruct"))
    code, out, err = cli("refresh")
    assert code == 0 and out.startswith("test-org/Coder-7B-Instruct: ")
    assert len(srv.requests_to("/api/models/test-org/Coder-7B-Instruct")) > n
    code, out, err = cli("refresh", "test-org/Nope")
    assert code == 2 and err.splitlines()[0].startswith("catalog: refresh failed: test-org/Nope: no such model")
    assert err.splitlines()[-1] == "refresh: 1 repo: 1 failed" and "Traceback" not in err


def test_refresh_popular_brings_the_hubs_most_downloaded_into_search(hubenv, cli) -> None:  # type: ignore[no-untyped-def]
    """`refresh --popular N` asks the Hub's model list (text-generation and GGUF, by downloads) and reads those
    repos into the cache; `search --cached` then lists them, offline, with their verdicts."""
    srv, _, _ = hubenv
    code, out, err = cli("refresh", "--popular", "3")
    assert code == 0, err
    lists = srv.requests_to("/api/models")
    asked = [e for e in lists if e["path"] == "/api/models" and len(e["query"].get("filter", [])) == 1]
    assert {e["query"]["filter"][0] for e in asked} == {"text-generation", "gguf"}  # then each repo's children
    assert all(e["query"].get("sort") == ["downloads"] and e["query"].get("limit") == ["3"] for e in asked)
    assert "test-org/Coder-7B-Instruct: updated" in out and "test-org/Tiny-Instruct-GGUF: updated" in out
    code, out, _ = cli("search", "--cached", "--fits", "--vram", "24", "--ram", "64", "--json")
    ids = {m["id"] for m in json.loads(out)["models"]}
    assert code == 0 and any("Coder-7B-Instruct" in i for i in ids)
    code, out, _ = cli("search", "--json")
    assert not any("Coder-7B-Instruct" in m["id"] for m in json.loads(out)["models"])  # only with --cached


def test_export_cached_writes_the_refreshed_repos_beside_the_catalog(hubenv, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`export --cached` adds the Hub repos the cache holds (after `refresh --popular N`) as hub--owner--name
    files with their verdicts and a source a person can open, offline and byte-identical between runs."""
    from catalog.cli import export

    code, _, err = cli("refresh", "--popular", "3")
    assert code == 0, err
    profile = (("nvidia-24gb", "24 GB", ("RTX 4090",), 64.0),)
    docs = []
    for run in ("a", "b"):
        index = export.export(str(tmp_path / run), profile, only=("qwen3-0.6b",), cached=True, jobs=1)
        docs.append((tmp_path / run / "index.json").read_bytes())
        ids = {m["id"] for m in index["models"]}
        assert "qwen3-0.6b" in ids and export.hub_id("test-org/Coder-7B-Instruct") in ids
    assert docs[0] == docs[1]
    doc = json.loads((tmp_path / "a" / "models" / f"{export.hub_id('test-org/Coder-7B-Instruct')}.json").read_text())
    assert doc["model"]["alignment"]["kind"] == "aligned" and doc["profiles"]["nvidia-24gb"]["recommended"]
    assert doc["model"]["sources"]["config"]["url"].startswith("https://huggingface.co/test-org/Coder-7B-Instruct")


def test_one_retry_layer_and_no_library_warnings(hubenv, cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """An always-500 file tree costs our own tries only (huggingface_hub's paginated calls no longer retry 5
    times inside each of them), and stderr holds the product's one line, no huggingface_hub warnings (issue 22)."""
    from catalog.sources import http

    srv, _, _ = hubenv
    monkeypatch.setattr(http, "BACKOFF_S", 0.01)
    srv.fail_next["/api/models/test-org/No-Counts/tree"] = [500] * 100
    code, _, err = cli("check", "test-org/No-Counts", "--gpu", "RTX 3060")
    tree = srv.requests_to("/api/models/test-org/No-Counts/tree")
    assert len(tree) <= http.RETRIES + 1, len(tree)
    assert "Retrying" not in err and "huggingface_hub" not in err, err
    assert code in (0, 3, 10, 11, 12) and len(err.strip().splitlines()) <= 2, err


@pytest.mark.parametrize(("field", "value"), [
    ("config", "not a dict"), ("config", ["x"]), ("files", "x"), ("files", [1, 2]), ("card", 7), ("card", "x"),
    ("tags", 5), ("tags", {"a": 1}), ("gguf_children", "x"), ("gguf_children", [1]), ("safetensors", "x"),
    ("repo", 5), ("sha", 5), ("gated", {"x": 1}), ("readme", 5), ("config", {"architectures": 5}),
    ("config", {"num_hidden_layers": "many"}), ("files", {"a.gguf": "big"}), ("cardData", 3), ("siblings", 3)])
def test_a_cached_record_of_the_wrong_types_is_exit_2(hubenv, cli, field: str, value: object) -> None:  # type: ignore[no-untyped-def]
    """A cache entry whose fields have the wrong types (a hand edit, another version's layout, a hostile file)
    answers or fails with one line and exit 2, never an internal error (issue 22)."""
    from catalog.sources import cache

    code, _, err = cli("check", "test-org/Coder-7B-Instruct", "--gpu", "RTX 3060")
    assert code in (0, 10, 11, 12), err
    hit = cache.get("hub", "test-org/Coder-7B-Instruct@main")
    assert hit is not None
    doc = dict(hit.doc)
    if isinstance(value, dict) and isinstance(doc.get(field), dict) and field == "config":
        doc[field] = {**doc[field], **value}
    else:
        doc[field] = value
    cache.put("hub", "test-org/Coder-7B-Instruct@main", doc)
    code, _, err = cli("check", "test-org/Coder-7B-Instruct", "--gpu", "RTX 3060", "--offline")
    assert code in (0, 2, 10, 11, 12) and len(err.strip().splitlines()) <= 2, (code, err)
    assert "internal error" not in err


def test_a_huge_model_record_is_refused_not_read_whole(hubenv, cli) -> None:  # type: ignore[no-untyped-def]
    """huggingface_hub read a model record of any size whole (300 MB took 860 MB of memory, issue 22): the record
    is now read under MAX_MODEL_INFO and a larger one is one exit-2 line."""
    from catalog.sources.hub.api import MAX_MODEL_INFO

    srv, _, _ = hubenv
    srv.add("test-org/Huge", {"tags": ["llama"], "pad": "x" * (MAX_MODEL_INFO + (1 << 20))}, {})
    code, _, err = cli("check", "test-org/Huge", "--gpu", "RTX 3060")
    ours = [line for line in err.splitlines() if line.startswith("catalog")]  # the loopback server logs its cut
    assert code == 2 and ours == ["catalog: error: test-org/Huge: its Hub record is larger than 16 MiB"], err
