"""Every entry of the embedded catalog is complete, consistent and sourced."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from catalog.core.arch import from_hf_config, hf_tensors, parameter_count
from catalog.core.ggml import PRESETS
from catalog.core.model import ModelSpec, predict_file_bytes, tensors_for, weight_layout
from catalog.sources.bundled import base_of, entries, gguf_repo

ENTRIES = entries()
METHODS = {"SFT", "RLHF", "PPO", "DPO", "RLAIF", "ORPO", "KTO", "GRPO", "RLVR", "IFT", "distillation"}


@pytest.mark.parametrize("e", ENTRIES, ids=[e["id"] for e in ENTRIES])
def test_entry(e: dict) -> None:
    assert e["id"] == e["id"].lower() and " " not in e["id"]
    arch = from_hf_config(e["config"])
    assert parameter_count(hf_tensors(arch)) > 10_000_000
    # a copy that lost a key must not be estimated with a default: no vocabulary, no context
    assert arch.n_vocab > 1000 and arch.n_ctx_train >= 2048, (arch.n_vocab, arch.n_ctx_train)
    src = e["config_source"]
    # a source someone can open: a repository and a path in it, or an address
    assert _opens(src), src
    assert e["tokenizer"] in ("gpt2", "llama")
    al = e["alignment"]
    assert al["kind"] in ("base", "aligned", "de-aligned")
    assert al["evidence"] and all(ev["source"] and ev["value"] for ev in al["evidence"])
    assert set(al.get("methods", ())) <= METHODS
    tags = (e.get("ollama") or {}).get("tags", {})
    for tag, quant in tags.items():
        assert quant in PRESETS, (tag, quant)
        if al["kind"] == "base":
            assert "instruct" not in tag and tag != "latest", tag
    if tags:
        s = e["ollama"]["source"]
        assert (re.fullmatch(r"[\w.-]+/[\w.-]+", str(s.get("repo") or "")) and s.get("path")) \
            or str(s.get("url") or "").startswith("https://"), s
    for repo in e.get("gguf_repos", ()):
        assert "/" in repo["repo"]
        for q, f in repo.get("files", {}).items():
            assert q in PRESETS and (f.get("bytes") is None or f["bytes"] > 0) and f["file"].endswith(".gguf"), q
            sources = [f.get("source") or repo.get("source")]
            sources = sources[0] if isinstance(sources[0], list) else sources
            assert sources and all(_opens(x) for x in sources), (repo["repo"], q, sources)


def _opens(src: object) -> bool:
    """A source a person can open: `owner/repo` with a path in it (at a commit where given), or an https URL."""
    if not isinstance(src, dict):
        return False
    repo = str(src.get("repo") or "")
    return bool(re.fullmatch(r"[\w.-]+/[\w.-]+", repo) and src.get("path")) or str(src.get("url") or "").startswith(
        "https://")


# how a source was looked up is not a source: no look-up ids, tool names or working paths in the data
LOOKUP_TRACES = re.compile(r"find_string|read_file|find_files|docs corpus|pages corpus|code corpus|/work/|by the index"
                           r"|stored (?:corpus|pages?|sources?|excerpt|card|copy|mirror)|mirror host|workers\.dev")


def test_data_names_no_lookup_mechanics() -> None:
    root = Path(__file__).resolve().parent.parent / "data"
    recorded = Path(__file__).resolve().parent / "data"  # the tests' own recorded facts cite sources too
    for path in [root / "models.jsonl", root / "gpus.jsonl", *sorted((root / "templates").glob("*.json")),
                 *sorted(p for p in recorded.rglob("*.json") if p.is_file())]:
        hits = LOOKUP_TRACES.findall(path.read_text(encoding="utf-8"))
        assert not hits, (path.name, hits[:5])


def _name_stem(name: str, quant: str) -> str:
    n = re.sub(r"(-\d{5}-of-\d{5})?\.gguf$", "", name.rsplit("/", 1)[-1], flags=re.I)
    spelled = {"MXFP4_MOE": "mxfp4(_moe)?", "F16": "(f16|fp16)", "BF16": "bf16"}
    token = spelled.get(quant, re.escape(quant).replace("_", "[_-]?"))
    return re.sub(r"[-._]?(i1-)?" + token + "$", "", n, flags=re.I)


def test_a_repos_files_share_one_name() -> None:
    """An uploader names every quantization of a repo the same way (`Model-Q4_K_M.gguf`, `Model-Q8_0.gguf`): a
    recorded name that differs from its siblings is a copying slip, and its command would fetch nothing."""
    for e in ENTRIES:
        for r in e.get("gguf_repos", ()):
            stems = {_name_stem(f["file"], q) for q, f in (r.get("files") or {}).items()}
            assert len(stems) <= 1, (e["id"], r["repo"], stems)


QUANT_SUFFIX = re.compile(r"-(fp16|bf16|q\d\w*|iq\d\w*|mxfp4)$", re.I)


def test_ollama_tags_carry_their_digests() -> None:
    """Every recorded tag has the digest ollama.com lists (what `ollama list` shows as ID), and a tag that
    names no quantization (`8b`, `latest`, `text`) maps to the quantization of the suffixed tag whose file it
    shares: the alias mapping is the registry's, not a guess."""
    for e in ENTRIES:
        ol = e.get("ollama") or {}
        tags, digests = ol.get("tags") or {}, ol.get("digests") or {}
        assert set(digests) == set(tags), e["id"]
        assert all(re.fullmatch(r"[0-9a-f]{12}", d) for d in digests.values()), e["id"]
        suffixed = {digests[t]: q for t, q in tags.items() if QUANT_SUFFIX.search(t)}
        for t, q in tags.items():
            if not QUANT_SUFFIX.search(t) and digests[t] in suffixed:
                assert suffixed[digests[t]] == q, (e["id"], t, q)


def test_ids_unique() -> None:
    ids = [e["id"] for e in ENTRIES]
    assert len(ids) == len(set(ids))
    repos = [e["hf_repo"].lower() for e in ENTRIES if e.get("hf_repo")]
    assert len(repos) == len(set(repos))


def test_ollama_tags_are_unique() -> None:
    """One `library:tag` names one file: two entries claiming it would make a name resolve at random."""
    owner: dict[str, str] = {}
    for e in ENTRIES:
        ol = e.get("ollama") or {}
        for tag in ol.get("tags", {}):
            name = f"{ol['library']}:{tag}".lower()
            assert name not in owner, f"{name} claimed by {owner.get(name)} and {e['id']}"
            owner[name] = e["id"]


def test_every_tuned_model_names_its_base_where_the_catalog_has_it() -> None:
    """A tuned entry whose pretrained twin is in the catalog (same repo name plus -Instruct, -Chat, -it ...)
    must name it, through base_model, directly or through the tuning chain (SFT -> DPO -> Instruct);
    every base_model is an `owner/name` with the place it was read, and resolves when the catalog has it."""
    by_repo = {e["hf_repo"].lower(): e for e in ENTRIES}
    missing = []
    for e in ENTRIES:
        if e.get("base_model"):
            assert re.fullmatch(r"[\w.\-]+/[\w.\-]+", e["base_model"]), e["id"]
            assert e.get("base_model_source"), f"{e['id']}: base_model without a source"
            if e["base_model"].lower() in by_repo:
                assert base_of(e) is by_repo[e["base_model"].lower()]
            assert base_of(e) is not e
        if e["alignment"]["kind"] == "base":
            continue
        repo = e["hf_repo"].lower()
        twins = [b for b in ENTRIES if b["alignment"]["kind"] == "base" and (
            repo.startswith(b["hf_repo"].lower() + "-") or repo.replace("-it", "-pt") == b["hf_repo"].lower())]
        if not twins:
            continue
        chain, cur = [], e
        while cur is not None and cur not in chain:
            chain.append(cur)
            cur = base_of(cur)
        if not any(t in chain for t in twins) and not any(len(c.get("base_model_note", "")) >= 40 for c in chain):
            missing.append((e["id"], twins[0]["id"]))
    # a gap is allowed only where the entry says why no source names its base (base_model_note)
    assert missing == [], missing


def _published() -> list[tuple[str, dict, str, dict]]:
    return [(e["id"], g, q, f) for e in ENTRIES for g in e.get("gguf_repos", ()) for q, f in g.get("files", {}).items()
            if f.get("bytes")]  # a file listed without its exact size is a fact about the command, not the size


@pytest.mark.parametrize(("mid", "repo", "quant", "f"), _published(),
                         ids=[f"{g['repo']}:{q}" for _, g, q, _ in _published()])
def test_published_gguf_sizes_are_predicted_within_one_percent(mid: str, repo: dict, quant: str, f: dict) -> None:
    """Each recorded file size, against the size predicted from the entry's config.json for that repo's file."""
    e = next(x for x in ENTRIES if x["id"] == mid)
    spec = ModelSpec(mid, mid, e["family"], from_hf_config(e["config"]), 0, tokenizer=e["tokenizer"])
    pred = predict_file_bytes(spec, weight_layout(spec, tensors_for(spec, quant, repo=gguf_repo(repo))))
    err = abs(pred - f["bytes"]) / f["bytes"]
    if f.get("legacy_mix"):
        # an older llama-quantize's mix: kept as a fact, never used for a size or an estimate
        assert len(f["legacy_mix"]) > 40 and err > 0.01, (f["file"], err)
    else:
        assert err < 0.01, (f["file"], pred, f["bytes"])


def _gpu_rows() -> list[dict]:
    from catalog.sources.bundled import data_path

    with open(data_path("gpus.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f.read().splitlines()[1:] if line.strip()]


@pytest.mark.parametrize("g", _gpu_rows(), ids=lambda g: g["name"])
def test_gpu_figures_are_quoted_from_their_sources(g: dict) -> None:
    """Every memory size and bandwidth in data/gpus.jsonl appears in a recorded quote (as GB/s or TB/s)."""
    sources = [g["source"], *g.get("extra_sources", [])]
    assert all(s.get("url") for s in sources) and g["source"].get("quote")
    text = " ".join(s.get("quote", "") for s in sources).replace(",", "")
    sizes = {f"{m:g}" for m in g["memory_gib"]}
    assert all(m in text for m in sizes), f"{g['name']}: a memory size is not in its quotes"
    for key, bw in (g.get("bandwidth_gb_per_s") or {}).items():
        assert key == "*" or key in sizes
        forms = {f"{bw:g}", f"{bw / 1000:g}", f"{bw / 1000:.1f}"}
        assert any(f in text for f in forms), f"{g['name']}: bandwidth {bw} is not in its quotes"
