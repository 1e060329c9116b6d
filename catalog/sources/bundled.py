"""The embedded catalog (data/models.jsonl) and name resolution over it.

Resolves catalog ids, Hugging Face repo ids (original or GGUF, any case) and
Ollama names (`llama3.1`, `llama3.1:8b`, `llama3.1:8b-instruct-q4_K_M`,
`llama3.1:8b-text-q8_0`) to an entry and, where the name pins one, a
quantization. A near miss raises ModelNotFound with the closest names.
"""


import json
from functools import lru_cache
from typing import Any, NamedTuple

from catalog.core.arch import from_hf_config, hf_tensors, parameter_count
from catalog.core.model import ModelSpec
from catalog.core.quants import normalize_preset
from catalog.errors import ModelNotFound
from catalog.sources.data import data_path


class Resolved(NamedTuple):
    """A catalog entry and the quantization the name pinned, if any."""

    spec: ModelSpec
    quant: str | None
    how: str  # what matched: "id", "hf_repo", "gguf_repo", "ollama"


@lru_cache(maxsize=1)
def _lines() -> tuple[str, ...]:
    with open(data_path("models.jsonl"), encoding="utf-8") as f:
        return tuple(line for line in f.read().splitlines()[1:] if line.strip())


@lru_cache(maxsize=1)
def entries() -> list[dict[str, Any]]:
    """The raw entries of data/models.jsonl."""
    return [json.loads(line) for line in _lines()]


def _candidates(needle: str) -> list[dict[str, Any]]:
    """Entries whose line mentions `needle` (lower case): only those are parsed (start-up time)."""
    return [json.loads(line) for line in _lines() if needle in line.lower()]


def _template(ct: dict[str, Any]) -> dict[str, Any]:
    """An entry's chat_template with the overhead measured from its real template
    (data/templates/<key>.json, rendered and counted once by bench/template_overhead.py)."""
    key = ct.get("template")
    if not isinstance(key, str) or not key.replace("-", "").replace(".", "").replace("_", "").isalnum():
        return ct
    try:
        with open(data_path(f"templates/{key}.json"), encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return ct
    out = {**ct, **(doc.get("overhead") or {}), "template_source": doc.get("source")}
    ollama = doc.get("ollama") or {}
    if isinstance(ollama.get("overhead"), dict):  # the template layer Ollama's library model applies instead
        out["ollama_overhead"] = {**ollama["overhead"], "template_source": ollama.get("source")}
    return out


def to_spec(e: dict[str, Any]) -> ModelSpec:
    """Turn a catalog entry into a ModelSpec."""
    arch = from_hf_config(e["config"])
    params = e.get("parameters") or parameter_count(hf_tensors(arch))
    return ModelSpec(
        id=e["id"], name=e["name"], family=e["family"], arch=arch, parameters=int(params),
        hf_repo=e.get("hf_repo"), source_dtype=e.get("torch_dtype", "BF16"),
        tokenizer=e.get("tokenizer", "gpt2"), header_bytes=e.get("gguf_header_bytes"),
        alignment=e.get("alignment", {}), chat_template=_template(e.get("chat_template") or {}),
        ollama=e.get("ollama") or {}, gguf_repos=tuple(e.get("gguf_repos", ())),
        license=e.get("license"), gated=e.get("gated"),
        sources={"config": e.get("config_source"), "entry": "data/models.jsonl"},
    )


def _index(pool: list[dict[str, Any]]) -> dict[str, tuple[int, str, str | None]]:
    """lower-case name -> (index in pool, how, pinned quant)."""
    idx: dict[str, tuple[int, str, str | None]] = {}
    for i, e in enumerate(pool):
        idx.setdefault(e["id"].lower(), (i, "id", None))
        idx.setdefault(e["name"].lower(), (i, "id", None))
        if e.get("hf_repo"):
            idx.setdefault(e["hf_repo"].lower(), (i, "hf_repo", None))
        for alias in e.get("hf_repo_aliases", ()):  # a repo's former name, which older cards still use
            idx.setdefault(alias.lower(), (i, "hf_repo", None))
        for repo in e.get("gguf_repos", ()):
            idx.setdefault(repo["repo"].lower(), (i, "gguf_repo", None))
        ol = e.get("ollama") or {}
        lib = ol.get("library")
        for tag, quant in (ol.get("tags") or {}).items():
            if lib:
                idx.setdefault(f"{lib}:{tag}".lower(), (i, "ollama", quant))
                prefix, _, suffix = tag.rpartition("-")
                if prefix and normalize_preset(suffix):
                    idx.setdefault(f"{lib}:{prefix}".lower(), (i, "ollama", None))
                if tag == "latest":
                    idx.setdefault(lib.lower(), (i, "ollama", quant))
    return idx


def resolve(name: str) -> Resolved:
    """Find a catalog entry by any of its names.

    Raises:
        ModelNotFound: nothing matches; the message lists the closest names.
    """
    key = name.strip().lower()
    if key.startswith("hf.co/") or key.startswith("huggingface.co/"):
        repo, _, tag = key.split("/", 1)[1].partition(":")
        pool = _candidates(repo)
        hit = _index(pool).get(repo)
        if hit:
            return Resolved(to_spec(pool[hit[0]]), normalize_preset(tag) if tag else None, "gguf_repo")
    lib, colon, tag = key.partition(":")
    pool = _candidates(f'"library": "{lib}"' if colon else key)
    idx = _index(pool)
    hit = idx.get(key)
    if hit is None and colon:
        # an Ollama tag we have not recorded, but whose size/variant part we know: llama3.1:8b-instruct-q6_K
        base, _, quant = tag.rpartition("-")
        q = normalize_preset(quant)
        hit2 = idx.get(f"{lib}:{base}") if base and q else None
        if hit2:
            return Resolved(to_spec(pool[hit2[0]]), q, "ollama")
    if hit is None:
        import difflib

        close = difflib.get_close_matches(key, list(_index(entries())), n=5, cutoff=0.6)
        hint = "did you mean: " + ", ".join(close) if close else "try `catalog search`"
        raise ModelNotFound(f"unknown model {name!r}", hint)
    i, how, pinned = hit
    return Resolved(to_spec(pool[i]), pinned, how)


def base_of(e: dict[str, Any]) -> dict[str, Any] | None:
    """The catalog entry of the model `e` was tuned from (its `base_model`), if the catalog has it."""
    base = str(e.get("base_model") or "").lower()
    if not base:
        return None
    for other in entries():
        names = [other.get("hf_repo", ""), *other.get("hf_repo_aliases", ())]
        if base in (str(n).lower() for n in names):
            return other
    return None


def all_specs() -> list[ModelSpec]:
    """Every catalog entry as a ModelSpec."""
    return [to_spec(e) for e in entries()]
