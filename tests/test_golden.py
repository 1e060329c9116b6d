"""Golden outputs: what `check --json`, the rich table, `plan`, `search`, `hw` and `export` print, byte for byte.

Recorded before the "one house" redesign (issue 17) and kept identical through it: a refactor that
moves a rule must not move a byte. A change that is meant (a later issue changing behaviour on
purpose) re-records the files with `LLM_CATALOG_RECORD_GOLDEN=1 python -m pytest tests/test_golden.py`
and says so in its commit. Paths under the test's temporary folder and the loopback servers' URLs are
replaced by `<TMP>`, `<HUB>` and `<REG>` before comparing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from gguf_files import write_small_llama, write_tiny_instruct
from hub_server import HubServer, aim_at
from runtime_server import RuntimeServer
from synth_gguf import write as write_synth

GOLDEN = Path(__file__).parent / "golden"
DATA = Path(__file__).parent / "data"
RECORD = os.environ.get("LLM_CATALOG_RECORD_GOLDEN") == "1"

# (name, argv): the embedded catalog, offline, every option the contract names at least once
CATALOG = [
    ("seed", ["check", "llama3.1:8b", "--gpu", "RTX 3060", "--ram", "32", "--json"]),
    ("base-text-tag", ["check", "llama3.1:8b-text-q8_0", "--gpu", "RTX 3060", "--ram", "32", "--json"]),
    ("options", ["check", "llama3.1:8b", "--vram", "24", "--ram", "64", "--quant", "Q4_K_M", "--ctx", "16384",
                 "--kv-type", "q8_0", "--ubatch", "256", "--json"]),
    ("partial", ["check", "llama3.1:8b", "--vram", "4", "--ram", "32", "--quant", "Q8_0", "--json"]),
    ("cpu-only", ["check", "llama3.1:8b", "--vram", "0", "--ram", "32", "--quant", "Q4_K_M", "--json"]),
    ("no-fit", ["check", "llama3.1:8b", "--vram", "2", "--ram", "2", "--quant", "F16", "--json"]),
    ("moe-qwen3-30b", ["check", "qwen3:30b-a3b", "--gpu", "RTX 3060", "--ram", "64", "--json"]),
    ("gemma3-27b", ["check", "gemma3:27b", "--gpu", "RTX 3060", "--ram", "64", "--json"]),
    ("two-gpus", ["check", "gemma2:27b", "--gpu", "RTX 3090", "--gpu", "RTX 2080 Ti", "--ram", "64", "--quant",
                  "Q8_0", "--ctx", "8192", "--json"]),
    ("ctx-past-trained", ["check", "gemma2:27b", "--gpu", "RTX 3090", "--ctx", "32768"]),
    ("runtime-llamacpp", ["check", "qwen2.5:7b", "--gpu", "RTX 4090", "--ram", "64", "--runtime", "llama.cpp",
                          "--json"]),
    ("runtime-lmstudio", ["check", "mistral", "--gpu", "RTX 4060", "--ram", "32", "--runtime", "lmstudio", "--json"]),
    ("content-tokens", ["check", "llama3.2:3b", "--vram", "8", "--ram", "16", "--content-tokens", "2000", "--json"]),
    ("flash-off", ["check", "phi-3-mini-4k-instruct", "--vram", "6", "--ram", "16", "--flash-attn", "off", "--json"]),
    ("mla-deepseek", ["check", "deepseek-v2-lite-chat", "--gpu", "RTX 4090", "--ram", "64", "--json"]),
    ("gpt-oss", ["check", "gpt-oss:20b", "--gpu", "RTX 4060 Ti 16GB", "--ram", "32", "--json"]),
    ("apple", ["check", "llama3.1:70b", "--gpu", "M2 Max 32GB", "--ram", "32", "--json"]),
    ("h100-small", ["check", "qwen2.5:0.5b", "--gpu", "H100", "--ram", "256", "--json"]),
    ("batches", ["check", "mixtral:8x7b", "--vram", "48", "--ram", "128", "--batch", "1024", "--ubatch", "1024",
                 "--json"]),
    ("hf-repo-in-catalog", ["check", "meta-llama/Llama-3.1-8B-Instruct", "--vram", "12", "--ram", "32", "--json"]),
    ("hf-co-gguf", ["check", "hf.co/bartowski/Meta-Llama-3.1-8B-Instruct-GGUF:Q6_K", "--vram", "12", "--ram", "32",
                    "--json"]),
    ("de-aligned", ["check", "daredevil-8b-abliterated", "--vram", "10", "--ram", "32", "--kv-type", "q4_0",
                    "--json"]),
    ("default-ctx-stepdown", ["check", "qwen3:32b", "--gpu", "RTX 4090", "--gpu", "RTX 3090", "--ram", "64",
                              "--json"]),
    ("llamacpp-fit-ctx", ["check", "llama3.1:70b", "--gpu", "H100", "--ram", "256", "--runtime", "llama.cpp",
                          "--json"]),
    ("table-seed", ["check", "llama3.1:8b", "--gpu", "RTX 3060", "--ram", "32"]),
    ("table-moe", ["check", "qwen3:30b-a3b", "--gpu", "RTX 3060", "--ram", "64"]),
    ("table-two-gpus", ["check", "gemma2:27b", "--gpu", "RTX 3090", "--gpu", "RTX 2080 Ti", "--ram", "64", "--quant",
                        "Q8_0", "--ctx", "8192"]),
    ("plan-rpc", ["plan", "llama3.1:70b", "--host", "a:RTX 4090x2,64", "--host", "b:RTX 3090,32", "--json"]),
    ("plan-tensor", ["plan", "qwen2.5:72b", "--host", "a:RTX 4090x4,128", "--json"]),
    ("plan-cpu-head", ["plan", "llama3.1:70b", "--host", "laptop:cpu,32", "--host", "w1:RTX 3090x2,64", "--json"]),
    ("plan-too-big", ["plan", "llama3.1:405b", "--host", "a:RTX 3090x2,128", "--host", "b:RTX 3090x2,64",
                      "--json"]),
    ("plan-text", ["plan", "llama3.1:70b", "--host", "a:RTX 4090x2,64", "--host", "b:RTX 3090,32"]),
    ("search", ["search", "qwen", "--kind", "aligned", "--max-params", "8B", "--json"]),
    ("search-fits", ["search", "--fits", "--gpu", "RTX 3060", "--ram", "32", "--family", "llama3.1", "--json"]),
    ("hw-profile", ["hw", "--gpu", "RTX 4090", "--gpu", "RTX 3060", "--ram", "64", "--json"]),
]


def _compare(name: str, text: str, subs: dict[str, str], suffix: str = ".json") -> None:
    for old, new in subs.items():
        text = text.replace(old, new)
    path = GOLDEN / f"{name}{suffix}"
    if RECORD:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path.name}: record it with LLM_CATALOG_RECORD_GOLDEN=1"
    want = path.read_text(encoding="utf-8")
    assert text == want, f"{path.name} differs from its golden output"


@pytest.mark.parametrize(("name", "argv"), CATALOG, ids=[c[0] for c in CATALOG])
def test_catalog_outputs(name: str, argv: list[str], cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COLUMNS", "120")
    code, out, err = cli(*argv)
    _compare(name, f"exit {code}\n{err}{out}", {}, ".json" if "--json" in argv else ".txt")


def test_local_files(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A config.json, a model folder with its template, a real GGUF with a template and a vocabulary."""
    qwen = json.loads((DATA / "configs" / "qwen25_7b.json").read_text())["config"]
    folder = tmp_path / "Qwen-Local"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(qwen))
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "chat_template": "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
                         "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}",
        "eos_token": "<|im_end|>"}))
    gguf = write_small_llama(tmp_path / "tiny-Q8_0.gguf", finetune="Instruct",
                             chat_template="{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}")
    llama = json.loads((DATA / "configs" / "llama31_8b.json").read_text())["config"]
    big = tmp_path / "llama31-8b-Q4_K_M.gguf"
    write_synth(llama, "Q4_K_M", big, finetune="Instruct")
    subs = {str(tmp_path): "<TMP>"}
    for name, argv in (("local-config", ["check", str(folder / "config.json"), "--vram", "12", "--ram", "32"]),
                       ("local-folder", ["check", str(folder), "--vram", "8", "--ram", "32", "--quant", "Q4_K_M"]),
                       ("local-gguf-template", ["check", str(gguf), "--vram", "4", "--ram", "16"]),
                       ("local-gguf-8b", ["check", str(big), "--gpu", "RTX 3060", "--ram", "32"])):
        code, out, err = cli(*argv, "--json")
        _compare(name, f"exit {code}\n{out}", subs)


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    ggufs = write_tiny_instruct(tmp_path / "g")
    qwen = json.loads((DATA / "configs" / "qwen25_7b.json").read_text())["config"]
    with HubServer() as srv:
        srv.add("test-org/Tiny-Instruct-GGUF", {
            "tags": ["gguf", "base_model:test-org/Tiny-Instruct", "base_model:quantized:test-org/Tiny-Instruct"],
            "cardData": {"base_model": "test-org/Tiny-Instruct", "license": "mit"},
            "gguf": {"total": 123, "architecture": "llama", "context_length": 2048},
        }, {p.name: p.read_bytes() for p in sorted(ggufs.iterdir())})
        srv.add("test-org/Tiny-Instruct", {"tags": ["transformers", "llama", "conversational"],
                                           "cardData": {"license": "mit"}},
                {"README.md": b"---\nlicense: mit\n---\n\nTrained with direct preference optimization (DPO).\n"})
        srv.add("test-org/Coder-7B-Instruct", {
            "tags": ["transformers", "safetensors", "qwen2", "text-generation", "conversational",
                     "base_model:test-org/Coder-7B", "base_model:finetune:test-org/Coder-7B"],
            "pipeline_tag": "text-generation", "library_name": "transformers",
            "cardData": {"license": "apache-2.0", "base_model": "test-org/Coder-7B"},
            "safetensors": {"parameters": {"BF16": 7615616512}, "total": 7615616512},
        }, {"config.json": json.dumps(qwen).encode(),
            "tokenizer_config.json": json.dumps({"chat_template": "{{ messages }}"}).encode(),
            "README.md": b"---\nlicense: apache-2.0\n---\n\nThis repo contains the instruction-tuned 7B Coder.\n"})
        aim_at(srv, monkeypatch, tmp_path)
        yield srv


def test_hub_repos(hub, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    subs = {hub.url: "<HUB>", str(tmp_path): "<TMP>"}
    for name, argv in (("hub-gguf", ["check", "test-org/Tiny-Instruct-GGUF", "--vram", "8", "--ram", "16"]),
                       ("hub-gguf-pinned", ["check", "hf.co/test-org/Tiny-Instruct-GGUF:Q8_0", "--vram", "8",
                                            "--ram", "16", "--runtime", "llama.cpp"]),
                       ("hub-safetensors", ["check", "test-org/Coder-7B-Instruct", "--vram", "12", "--ram", "32"])):
        code, out, err = cli(*argv, "--json")
        _compare(name, f"exit {code}\n{out}", subs)


def test_ollama_registry(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    recorded = json.loads((DATA / "ollama" / "llama3.1-8b.json").read_text())
    llama = json.loads((DATA / "configs" / "llama31_8b.json").read_text())["config"]
    blob = tmp_path / "blob.gguf"
    jinja = json.loads((DATA.parent.parent / "data/templates/llama3.1.json").read_text())["template"]
    write_synth(llama, "Q4_0", blob, finetune="Instruct", chat_template=jinja)
    m = recorded["manifest"]
    digests = {layer["mediaType"]: layer["digest"] for layer in m["layers"]}
    template = json.loads((DATA.parent.parent / "data/templates/llama3.1.json").read_text())["ollama"]["template"]
    with RuntimeServer() as srv:
        srv.manifests["someone/llama-private:8b"] = m
        srv.blobs[m["config"]["digest"]] = json.dumps(recorded["config_blob"]).encode()
        srv.blobs[digests["application/vnd.ollama.image.model"]] = blob
        srv.blobs[digests["application/vnd.ollama.image.template"]] = template.encode()
        srv.blobs[digests["application/vnd.ollama.image.params"]] = json.dumps({"num_ctx": 8192}).encode()
        monkeypatch.setenv("LLM_CATALOG_OLLAMA_REGISTRY", srv.url)
        monkeypatch.setenv("LLM_CATALOG_CACHE_DIR", str(tmp_path / "cache"))
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        subs = {srv.url: "<REG>", str(tmp_path): "<TMP>"}
        for name, extra in (("ollama-registry", []), ("ollama-registry-lmstudio", ["--runtime", "lmstudio"])):
            code, out, err = cli("check", "someone/llama-private:8b", "--vram", "12", "--ram", "32", *extra, "--json")
            _compare(name, f"exit {code}\n{out}", subs)


def test_export(tmp_path: Path) -> None:
    from catalog.cli import export

    out = tmp_path / "out"
    export.export(str(out), export.DEFAULT_PROFILES[:3] + export.DEFAULT_PROFILES[7:8], "csv",
                  only=("llama-3.1-8b", "llama-3.1-8b-instruct", "qwen3-30b-a3b", "gemma-2-9b-it"), jobs=1)
    for p in sorted(out.rglob("*")):
        if p.is_file():
            rel = str(p.relative_to(out)).replace("/", "__")
            _compare(f"export__{rel}", p.read_text(encoding="utf-8"), {}, "")


def test_no_output_names_how_a_source_was_looked_up() -> None:
    """Every source a check or export prints is a repository path or an address, never a look-up id or note."""
    traces = ("find_string", "read_file", "find_files", "docs corpus", "/work/")
    for path in sorted(GOLDEN.glob("*")):
        text = path.read_text(encoding="utf-8")
        assert not [t for t in traces if t in text], path.name
