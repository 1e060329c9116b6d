"""Ollama: the registry (recorded manifest and config blob, a GGUF blob read by Range after the CDN
redirect), a running server's state beside our estimates (`catalog ps`), and their faults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from runtime_server import RuntimeServer
from synth_gguf import write as write_synth

import catalog
from catalog.core.options import RUNTIMES
from catalog.errors import BadModelFile, ModelNotFound, RemoteUnavailable
from catalog.sources import ollama
from catalog.sources.templates.measure import measure

DATA = Path(__file__).parent / "data"
RECORDED = json.loads((DATA / "ollama" / "llama3.1-8b.json").read_text())
LLAMA31 = json.loads((DATA / "configs" / "llama31_8b.json").read_text())["config"]
TEMPLATE = "{{ if .System }}<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>{{ end }}"
PARAMS = {"stop": ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]}


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The recorded llama3.1:8b manifest, its GGUF layer a sparse file with Llama 3.1 8B's real tensor table."""
    blob = tmp_path / "llama31-8b-q4_0.gguf"
    write_synth(LLAMA31, "Q4_0", blob, finetune="Instruct")
    m = RECORDED["manifest"]
    digests = {layer["mediaType"]: layer["digest"] for layer in m["layers"]}
    with RuntimeServer() as srv:
        srv.manifests["library/llama3.1:8b"] = m
        srv.blobs[m["config"]["digest"]] = json.dumps(RECORDED["config_blob"]).encode()
        srv.blobs[digests["application/vnd.ollama.image.model"]] = blob
        srv.blobs[digests["application/vnd.ollama.image.template"]] = TEMPLATE.encode()
        srv.blobs[digests["application/vnd.ollama.image.params"]] = json.dumps(PARAMS).encode()
        monkeypatch.setenv("LLM_CATALOG_OLLAMA_REGISTRY", srv.url)
        monkeypatch.setenv("LLM_CATALOG_CACHE_DIR", str(tmp_path / "cache"))
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        yield srv, blob


@pytest.mark.parametrize(("name", "parsed"), [
    ("llama3.1", ("library", "llama3.1", "latest")),
    ("llama3.1:8b-text-q4_0", ("library", "llama3.1", "8b-text-q4_0")),
    ("huihui_ai/qwen3-abliterated:8b", ("huihui_ai", "qwen3-abliterated", "8b")),
    ("registry.ollama.ai/library/gemma:2b", ("library", "gemma", "2b")),
])
def test_names(name: str, parsed: tuple[str, str, str]) -> None:
    n = ollama.parse_name(name)
    assert n is not None and (n.namespace, n.model, n.tag) == parsed
    assert ollama.parse_name("hf.co/bartowski/x-GGUF:Q4_K_M") is None and ollama.parse_name("a b") is None


def test_registry_model_reads_layers_config_and_small_blobs(registry) -> None:  # type: ignore[no-untyped-def]
    srv, blob = registry
    with ollama.client() as c:
        rm = ollama.registry_model(c, ollama.parse_name("llama3.1:8b"))  # type: ignore[arg-type]
    layers = RECORDED["manifest"]["layers"]
    assert rm.model_bytes == 4661211808 and rm.model_digest == layers[0]["digest"]
    assert rm.pull_bytes == sum(x["size"] for x in layers) + 485
    assert (rm.config["model_type"], rm.config["file_type"]) == ("8.0B", "Q4_0")
    assert rm.template == TEMPLATE and rm.params == PARAMS and rm.system is None
    accept = srv.requests_to("/manifests/8b")[0]["headers"].get("Accept")
    assert accept == "application/vnd.docker.distribution.manifest.v2+json"


def test_load_reads_only_the_header_of_the_gguf_layer(registry) -> None:  # type: ignore[no-untyped-def]
    srv, blob = registry
    spec, text = ollama.load("llama3.1:8b")
    assert spec.pinned_quant == "Q4_0" and spec.file_quant == "Q4_0"
    assert spec.file_bytes == 4661211808  # the registry's size of the real file, not our synthetic one
    assert abs(spec.parameters - 8_030_261_248) < 1e6  # Llama 3.1 8B's real table
    # the header only: a few MiB of a 4.6 GB file, through the CDN redirect
    cdn = srv.requests_to("/cdn/" + RECORDED["manifest"]["layers"][0]["digest"])
    assert cdn and all(r["headers"].get("Range", "").startswith("bytes=") for r in cdn)
    assert len(cdn) <= 4  # 1 MiB, then doubling only as far as the parser needs
    assert spec.alignment is not None and spec.alignment.kind == "aligned"  # general.finetune = Instruct
    assert spec.ollama.library == "llama3.1" and spec.ollama.tags == (("8b", "Q4_0"),)
    assert spec.template.present is True and text.ollama == TEMPLATE
    # cached: the second load asks nothing
    n = len(srv.log)
    again, _ = ollama.load("llama3.1:8b")
    assert len(srv.log) == n and again.provenance.metadata is not None and again.provenance.metadata.origin == "cache"


def test_the_template_overhead_is_measured_from_the_template_ollama_applies(registry) -> None:  # type: ignore[no-untyped-def]
    """Ollama applies its Go template layer (and its system layer), not the GGUF's Jinja template:
    the overhead is measured from the layer, rendered as Ollama renders it. Llama 3.1's Jinja always
    injects a 26-token knowledge-cutoff system block; Ollama's Llama 3 template injects nothing."""
    import hardware

    srv, blob = registry
    jinja = json.loads((Path(__file__).parent.parent / "data" / "templates" / "llama3.1.json").read_text())["template"]
    write_synth(LLAMA31, "Q4_0", blob, finetune="Instruct", chat_template=jinja)
    gotmpl = json.loads((DATA / "ollama_templates.json").read_text())["templates"]["llama3-instruct.gotmpl"]["template"]
    digests = {layer["mediaType"]: layer["digest"] for layer in RECORDED["manifest"]["layers"]}
    srv.blobs[digests["application/vnd.ollama.image.template"]] = gotmpl.encode()
    spec, text = ollama.load("llama3.1:8b")  # the registry's model (the catalog answers to this name first)
    assert text.jinja == jinja and text.ollama == gotmpl
    spec = measure(spec, text, RUNTIMES)
    res = catalog.check(spec, catalog.CheckRequest(), hardware.budget(12, 32))
    ct = catalog.document(res)["model"]["chat_template"]
    assert ct["safe"] is True and "ollama_template" not in ct and "llama3 encoding" in ct["counted_with"]
    # 5 per user turn and 5 per reply as in the Jinja, but no system block: 5 x 10 + the generation
    # prompt '<|start_header_id|>assistant<|end_header_id|>\n\n' (4) = 54, where the Jinja costs 80
    assert (ct["per_user_turn_tokens"], ct["per_assistant_turn_tokens"]) == (5, 5)
    assert ct["system_prompt_tokens"] == 0 and ct["overhead_tokens"] == 54
    # llama.cpp (--jinja) applies the GGUF's own template: its 26-token system block
    ct = catalog.document(catalog.check(spec, catalog.CheckRequest(runtime="llama.cpp"),
                                        hardware.budget(12, 32)))["model"]["chat_template"]
    assert ct["system_prompt_tokens"] == 26 and ct["overhead_tokens"] == 80 and ct["origin"] == "GGUF header"


def test_cli_check_of_a_registry_name(registry, cli) -> None:  # type: ignore[no-untyped-def]
    srv, _ = registry
    code, out, err = cli("check", "llama3.1:8b-instruct-zzz", "--offline", "--vram", "8")
    assert code == 2 and "did you mean" in err  # offline, not cached: the catalog's near misses
    srv.manifests["library/llama3.1:8b-instruct-zzz"] = RECORDED["manifest"]
    code, out, err = cli("check", "llama3.1:8b-instruct-zzz", "--vram", "8", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["model"]["id"] == "ollama:llama3.1:8b-instruct-zzz" and doc["requested_quant"] == "Q4_0"
    row = next(r for r in doc["quants"] if r["quant"] == "Q4_0")
    assert row["file_bytes"] == 4661211808
    assert row["commands"]["ollama"].startswith("ollama run llama3.1:8b-instruct-zzz")


def test_registry_faults(registry) -> None:  # type: ignore[no-untyped-def]
    srv, _ = registry
    with pytest.raises(ModelNotFound, match="not in the Ollama registry"):
        ollama.load("llama3.1:999b")
    srv.fail_next["/v2/library/llama3.1/manifests/8b"] = [429, 503]  # retried (Retry-After: 0)
    spec, _ = ollama.load("llama3.1:8b")
    assert spec.file_bytes == 4661211808
    srv.manifests["library/safetensors:x"] = {"layers": [{"mediaType": "application/vnd.ollama.image.tensor",
                                                          "digest": "sha256:" + "0" * 64, "size": 1}]}
    with pytest.raises(BadModelFile, match="no GGUF layer"):
        ollama.load("safetensors:x")
    srv.fail_next["/v2/library/gone/manifests/latest"] = [500] * 9
    with pytest.raises(RemoteUnavailable):
        ollama.load("gone")
    srv.fail_next["/v2/library/busy/manifests/latest"] = [429] * 9
    with pytest.raises(RemoteUnavailable) as exc:
        ollama.load("busy")
    assert "rate limited by the Ollama registry" in exc.value.line()  # not "the Hub"


# --- a running Ollama and llama-server: `catalog ps` ---------------------------------------------------------------

def _running_ollama(srv: RuntimeServer) -> None:
    # field names and shapes from Ollama's api/types.go (../shared/reference section 1)
    srv.ollama = {
        "version": {"version": "0.12.3"},
        "tags": {"models": [{"name": "llama3.1:8b", "model": "llama3.1:8b", "size": 4920738944,
                             "digest": "46e0c10c039e019119339687c3c1757cc81b9da49709a3b3924863ba87ca666e",
                             "details": {"format": "gguf", "family": "llama", "parameter_size": "8.0B",
                                         "quantization_level": "Q4_K_M"}}]},
        "ps": {"models": [{"name": "llama3.1:8b", "model": "llama3.1:8b", "size": 6_000_000_000,
                           "size_vram": 6_000_000_000, "context_length": 8192,
                           "expires_at": "2026-12-01T20:05:00Z",
                           "details": {"family": "llama", "parameter_size": "8.0B", "quantization_level": "Q4_K_M"}}]},
    }


def test_ps_with_nothing_running(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("ps", "--llama-server", "http://127.0.0.1:9")
    assert code == 0 and "No Ollama server is running" in out and "No llama-server is running" in out
    code, out, err = cli("ps", "--json", "--llama-server", "http://127.0.0.1:9")
    assert code == 0 and json.loads(out) == {"schema": "llm-catalog/ps/v1", "ollama": None, "llama_server": []}


def test_ps_lists_installed_and_loaded_models_beside_our_estimate(cli, monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "none"))
    with RuntimeServer() as srv:
        _running_ollama(srv)
        srv.llama = {"props": {"model_path": "/models/Qwen2.5-7B-Instruct-Q4_K_M.gguf", "total_slots": 1,
                               "default_generation_settings": {"n_ctx": 4096}, "build_info": "b6500-abc"},
                     "slots": [{"id": 0, "n_ctx": 4096, "is_processing": False}],
                     "models": {"data": [{"id": "qwen", "meta": {"n_ctx_train": 32768, "n_params": 7615616512}}]}}
        monkeypatch.setenv("OLLAMA_HOST", srv.url.removeprefix("http://"))
        code, out, err = cli("ps", "--json", "--llama-server", srv.url)
    assert code == 0, err
    doc = json.loads(out)
    ol = doc["ollama"]
    assert ol["version"] == "0.12.3" and [m["name"] for m in ol["installed"]] == ["llama3.1:8b"]
    loaded = ol["loaded"][0]
    est = loaded["estimate"]
    # resolved through the catalog at Ollama's quantization and the context it reports
    assert est["from"] == "the embedded catalog" and est["quant"] == "Q4_K_M" and est["context"] == 8192
    assert est["gpu_bytes"] > 4_920_000_000  # weights + an 8k KV cache + buffers
    assert loaded["estimate_vs_ollama_pct"] == pytest.approx(100 * (est["gpu_bytes"] - 6e9) / 6e9, abs=0.01)
    server = doc["llama_server"][0]
    assert server["n_ctx"] == 4096 and server["slots"][0]["n_ctx"] == 4096 and server["model_meta"]["n_ctx_train"]


def test_ps_reads_the_local_blob_when_ollama_stores_it_here(cli, monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    models = tmp_path / "models"
    digest = "sha256:" + "ab" * 32
    (models / "blobs").mkdir(parents=True)
    write_synth(LLAMA31, "Q4_0", models / "blobs" / digest.replace(":", "-"), finetune="Instruct")
    man = models / "manifests" / "registry.ollama.ai" / "library" / "llama3.1" / "8b"
    man.parent.mkdir(parents=True)
    man.write_text(json.dumps({"layers": [{"mediaType": "application/vnd.ollama.image.model", "digest": digest,
                                           "size": 1}]}))
    monkeypatch.setenv("OLLAMA_MODELS", str(models))
    with RuntimeServer() as srv:
        _running_ollama(srv)
        srv.ollama["ps"]["models"][0]["details"]["quantization_level"] = "Q4_0"
        monkeypatch.setenv("OLLAMA_HOST", srv.url)
        code, out, err = cli("ps", "--json", "--llama-server", "http://127.0.0.1:9")
    est = json.loads(out)["ollama"]["loaded"][0]["estimate"]
    assert code == 0 and est["from"] == "the model's GGUF blob" and est["quant"] == "Q4_0"


def test_a_hostile_template_layer_is_reported_and_the_rest_of_the_answer_comes_out(registry) -> None:  # type: ignore[no-untyped-def]
    import hardware

    srv, _ = registry
    digests = {layer["mediaType"]: layer["digest"] for layer in RECORDED["manifest"]["layers"]}
    bomb = ('{{ $x := "xxxxxxxxxxxxxxxx" }}{{ range .Messages }}{{ range 64 }}{{ $x = printf "%s%s" $x $x }}'
            "{{ end }}{{ end }}")
    srv.blobs[digests["application/vnd.ollama.image.template"]] = bomb.encode()
    spec = measure(*ollama.load("llama3.1:8b"), RUNTIMES)
    doc = catalog.document(catalog.check(spec, catalog.CheckRequest(), hardware.budget(12, 32)))
    ct = doc["model"]["chat_template"]
    assert ct["safe"] is False and "larger than" in ct["unsafe"] and "overhead_tokens" not in ct
    assert doc["quants"] and all(q["memory"]["template_bytes"] == 0 for q in doc["quants"])


@pytest.mark.parametrize("layer", [
    {"mediaType": "application/vnd.ollama.image.model", "digest": "../../../../api/models/x", "size": 1},
    {"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:" + "A" * 64, "size": 1},
    {"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:" + "0" * 64, "size": "big"},
    {"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:" + "0" * 64, "size": 1e300},
])
def test_a_manifest_with_a_bad_digest_or_size_is_refused_before_any_blob(registry, layer: dict) -> None:  # type: ignore[no-untyped-def]
    """A layer digest becomes a path on the registry host: only sha256:<64 hex> is asked for (issue 22)."""
    srv, _ = registry
    srv.manifests["library/evil:x"] = {"config": {"digest": "sha256:" + "1" * 64}, "layers": [layer]}
    with pytest.raises(BadModelFile, match="digest|size"):
        ollama.load("evil:x")
    assert not srv.requests_to("/blobs/")


@pytest.mark.parametrize("name", ["evil/..", "evil/../api", "a/../../b", "ｌｌａｍａ3.1:8b"])
def test_a_name_that_is_no_name_is_exit_2_without_a_request(registry, cli, name: str) -> None:  # type: ignore[no-untyped-def]
    srv, _ = registry
    before = len(srv.log)
    code, _, err = cli("check", name, "--gpu", "RTX 3060")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert len(srv.log) == before


def test_ps_reads_a_local_server_under_a_cap(cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A llama-server whose /slots answers 40 MB (a hostile or broken local server) is read no further than
    MAX_LOCAL_JSON: the rest of its state still comes out, without the slots (issue 22)."""
    import resource

    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "none"))
    with RuntimeServer() as srv:
        srv.llama = {"props": {"model_path": "/m.gguf", "total_slots": 1, "default_generation_settings": {"n_ctx": 8}},
                     "slots": [{"id": i, "n_ctx": 8, "pad": "x" * 1000} for i in range(40_000)], "models": {}}
        monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        code, out, err = cli("ps", "--json", "--llama-server", srv.url)
    assert code == 0, err
    server = json.loads(out)["llama_server"][0]
    assert server["n_ctx"] == 8 and server["slots"] is None
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 400_000  # KiB: not the whole body parsed


@pytest.mark.parametrize(("field", "value"), [("header", "x"), ("header", {"tensors": 5}), ("model", []),
                                              ("model", {"layers": "x"}), ("cost", 3)])
def test_a_cached_registry_record_of_the_wrong_shape_is_read_again_or_exit_2(registry, cli, field: str,
                                                                            value: object) -> None:  # type: ignore[no-untyped-def]
    """Online, a cache entry of the wrong shape is a miss and the registry is read again; offline it is one
    exit-2 line, never an internal error (issue 22)."""
    from catalog.sources import cache

    srv, _ = registry
    ollama.load("llama3.1:8b")
    key = next(k for k in cache.keys("ollama") if k.endswith("/library/llama3.1:8b"))
    hit = cache.get("ollama", key)
    assert hit is not None
    cache.put("ollama", key, {**hit.doc, field: value})
    spec, _ = ollama.load("llama3.1:8b")  # online: read again
    assert spec.file_bytes == 4661211808
    cache.put("ollama", key, {**hit.doc, field: value})
    try:  # offline: an answer (the field was not needed) or one of the product's own errors, nothing else
        ollama.load("llama3.1:8b", offline=True)
    except (BadModelFile, RemoteUnavailable, ModelNotFound):
        pass
