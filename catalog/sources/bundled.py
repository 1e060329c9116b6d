"""The embedded catalog (data/models.jsonl, and where every shipped data file lives) and name resolution over it.

Resolves catalog ids, Hugging Face repo ids (original or GGUF, any case) and
Ollama names (`llama3.1`, `llama3.1:8b`, `llama3.1:8b-instruct-q4_K_M`,
`llama3.1:8b-text-q8_0`) to an entry and, where the name pins one, a
quantization. A near miss raises ModelNotFound with the closest names.
"""


import json
import os
import re
from functools import lru_cache
from typing import Any

from catalog.core.alignment import from_catalog
from catalog.core.arch import Architecture, from_hf_config, hf_tensors, parameter_count
from catalog.core.ggml import normalize_preset
from catalog.core.model import (
    ChatTemplate,
    GgufFile,
    GgufRepo,
    ModelSpec,
    OllamaInfo,
    Provenance,
    TemplateCost,
    template_from_record,
)
from catalog.core.vision import projector_fields
from catalog.errors import ModelNotFound

_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_DATA_DIRS = (os.path.join(_HERE, "data"), os.path.join(os.path.dirname(_HERE), "data"))


def data_path(name: str) -> str:
    """Absolute path of a file shipped in data/: `catalog/data` when installed, `data/` in a checkout."""
    for d in _DATA_DIRS:
        p = os.path.join(d, name)
        if os.path.exists(p):
            return p
    return os.path.join(_DATA_DIRS[-1], name)


@lru_cache(maxsize=1)
def _data() -> tuple[bytes, bytes]:
    """data/models.jsonl's bytes, and the same in lower case (a look-up searches the second, once a process)."""
    with open(data_path("models.jsonl"), "rb") as f:
        data = f.read()
    return data, data.lower()


@lru_cache(maxsize=1)
def _lines() -> tuple[bytes, ...]:
    """The entries' lines, undecoded (the first line is the file's header)."""
    return tuple(line for line in _data()[0].split(b"\n")[1:] if line.strip())


@lru_cache(maxsize=1)
def entries() -> list[dict[str, Any]]:
    """The raw entries of data/models.jsonl."""
    return [json.loads(line) for line in _lines()]


def _candidates(needle: str) -> list[dict[str, Any]]:
    """Entries whose line mentions `needle` (lower case), in file order: only those are parsed, found by searching
    the lower-cased file (start-up time: no split into lines, no line lower-cased one by one)."""
    data, low = _data()
    want = needle.encode("utf-8")
    if not want:
        return [json.loads(line) for line in _lines()]
    if b"\n" in want:
        return []  # no entry's line holds a line break
    first_entry = low.find(b"\n") + 1  # the header line is no entry
    starts: list[int] = []
    at = low.find(want, first_entry)
    while at >= 0:
        start = low.rfind(b"\n", 0, at) + 1
        end = low.find(b"\n", at)
        end = len(low) if end < 0 else end
        if not starts or starts[-1] != start:
            starts.append(start)
        at = low.find(want, max(end, at + 1))
    out = []
    for start in starts:
        end = data.find(b"\n", start)
        line = data[start:len(data) if end < 0 else end]
        if line.strip():
            out.append(json.loads(line))
    return out


def chat_template(e: dict[str, Any]) -> ChatTemplate:
    """A catalog entry's chat template, with its measured overheads (`_template`)."""
    return _template(e.get("chat_template") or {})


def _template(ct: dict[str, Any]) -> ChatTemplate:
    """An entry's chat template with the overhead measured from its real template (data/templates/<key>.json,
    rendered and counted once by bench/template_overhead.py), and the overhead of the template layer Ollama's
    library model applies instead, where recorded."""
    present = ct.get("present")
    key = ct.get("template")
    if not isinstance(key, str) or not key.replace("-", "").replace(".", "").replace("_", "").isalnum():
        note = ct.get("note")
        return ChatTemplate(present, TemplateCost(present=present, note=note) if note else None)
    try:
        with open(data_path(f"templates/{key}.json"), encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return ChatTemplate(present, TemplateCost(present=present, template_key=key))
    jinja = template_from_record({"present": present, **(doc.get("overhead") or {})}, template_key=key,
                        template_source=doc.get("source"))
    ollama = doc.get("ollama") or {}
    go = None
    if isinstance(ollama.get("overhead"), dict):
        go = template_from_record({"present": present, **ollama["overhead"]}, template_key=key,
                         template_source=ollama.get("source"), origin="Ollama template layer")
    return ChatTemplate(present, jinja, go)


def gguf_repo(r: dict[str, Any]) -> GgufRepo:
    """A catalog entry's `gguf_repos` record as a GgufRepo."""
    return GgufRepo(r["repo"], tuple(GgufFile(q, f.get("file"), f.get("bytes"), bool(f.get("legacy_mix")),
                                              source_text(f.get("source")))
                                     for q, f in (r.get("files") or {}).items()),
                    bool(r.get("imatrix")), bool(r.get("untied_output")), source_text(r.get("source")))


def source_text(src: Any) -> str | None:
    """A recorded source as one line a person can open: its https address, or `owner/repo@commit path`."""
    if isinstance(src, list):
        return "; ".join(t for t in map(source_text, src) if t) or None
    if not isinstance(src, dict):
        return None
    if src.get("url"):
        return str(src["url"])
    if src.get("repo"):
        at = f"@{src['commit']}" if src.get("commit") else ""
        return f"{src['repo']}{at} {src.get('path') or ''}".strip()
    return None


def _repos(e: dict[str, Any]) -> tuple[GgufRepo, ...]:
    return tuple(gguf_repo(r) for r in e.get("gguf_repos", ()))


def _ollama(e: dict[str, Any]) -> OllamaInfo:
    ol = e.get("ollama") or {}
    return OllamaInfo(ol.get("library"), tuple((ol.get("tags") or {}).items()))


def to_spec(e: dict[str, Any], pinned: str | None = None, arch: Architecture | None = None,
            parameters: int | None = None) -> ModelSpec:
    """Turn a catalog entry into a ModelSpec (`pinned`: the quantization the name chose; `arch` and `parameters`:
    the entry's, when the caller has them)."""
    arch = arch or from_hf_config(e["config"])
    params = e.get("parameters") or parameters or parameter_count(hf_tensors(arch))
    return ModelSpec(
        id=e["id"], name=e["name"], family=e["family"], arch=arch, parameters=int(params),
        hf_repo=e.get("hf_repo"), source_dtype=e.get("torch_dtype", "BF16"),
        tokenizer=e.get("tokenizer", "gpt2"), header_bytes=e.get("gguf_header_bytes"),
        alignment=from_catalog(e.get("alignment", {})), template=_template(e.get("chat_template") or {}),
        ollama=_ollama(e), gguf_repos=_repos(e), license=e.get("license"), gated=e.get("gated"),
        provenance=Provenance(config=e.get("config_source"), entry="data/models.jsonl"), pinned_quant=pinned,
        **projector_fields(e["config"], arch.n_embd),
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
                if tag == "latest":
                    idx.setdefault(lib.lower(), (i, "ollama", quant))
    # then the size stems of quantization tags (llama3.1:8b-instruct from 8b-instruct-q4_K_M), after every
    # recorded tag: a stem never takes a name another entry records as its own tag (qwen3:4b is Qwen3 4B
    # Thinking 2507's file, whatever 4b-q4_K_M serves), nor one the entry lists as another model's
    for i, e in enumerate(pool):
        ol = e.get("ollama") or {}
        lib = ol.get("library")
        others = {t.lower() for t in ol.get("other_tags") or ()}
        for tag in ol.get("tags") or ():
            prefix, _, suffix = tag.rpartition("-")
            if lib and prefix and normalize_preset(suffix) and prefix.lower() not in others:
                idx.setdefault(f"{lib}:{prefix}".lower(), (i, "ollama", None))
    return idx


def lookup(name: str) -> ModelSpec | None:
    """The catalog entry any of whose names is `name` (any case), with the quantization the name pins; None if
    none is."""
    key = name.strip().lower()
    if key.startswith("hf.co/") or key.startswith("huggingface.co/"):
        repo, _, tag = key.split("/", 1)[1].partition(":")
        pool = _candidates(repo)
        hit = _index(pool).get(repo)
        if hit:
            return _named_repo_first(to_spec(pool[hit[0]], normalize_preset(tag) if tag else None), repo)
    lib, colon, tag = key.partition(":")
    pool = _candidates(f'"library": "{lib}"' if colon else key)
    idx = _index(pool)
    hit = idx.get(key)
    if hit is None and colon:
        # an Ollama tag we have not recorded, but whose size/variant part we know: llama3.1:8b-instruct-q6_K, when
        # the entry holds other quantizations of that very stem (8b-instruct-q4_K_M); an alias alone does not
        # vouch for its stem (mistral:7b-text is 7b-text-v0.2-q4_0, while 7b-text-q4_K_M is another file)
        base, _, quant = tag.rpartition("-")
        q = normalize_preset(quant)
        hit2 = idx.get(f"{lib}:{base}") if base and q else None
        if hit2 and _holds_stem(pool[hit2[0]], base):
            return to_spec(pool[hit2[0]], q)
    if hit is None:
        return None
    i, _, pinned = hit
    return to_spec(pool[i], pinned)


def _holds_stem(e: dict[str, Any], stem: str) -> bool:
    """Whether the entry records a tag `STEM-QUANT` of Ollama's library."""
    for tag in (e.get("ollama") or {}).get("tags") or ():
        prefix, _, suffix = tag.lower().rpartition("-")
        if prefix == stem and normalize_preset(suffix):
            return True
    return False


def _named_repo_first(spec: ModelSpec, repo: str) -> ModelSpec:
    """A model named by its GGUF repo (`hf.co/USER/REPO:QUANT`): that repo is the one every command downloads,
    Ollama's included (`ollama run hf.co/...`, not the library's own quantization of the model)."""
    named = tuple(r for r in spec.gguf_repos if r.repo.lower() == repo)
    if not named:
        return spec
    rest = tuple(r for r in spec.gguf_repos if r.repo.lower() != repo)
    return spec._replace(gguf_repos=named + rest, ollama=spec.ollama._replace(tags=()))


def not_found(name: str) -> ModelNotFound:
    """The error for a name nothing knows, with the catalog's closest names."""
    import difflib

    close = difflib.get_close_matches(name.strip().lower(), list(_index(entries())), n=5, cutoff=0.6)
    hint = "did you mean: " + ", ".join(close) if close else "try `catalog search`"
    return ModelNotFound(f"unknown model {name!r}", hint)


def typo_of(name: str) -> str | None:
    """The catalog name `name` is one slip away from (a letter left out, added, changed or swapped in its
    Ollama library part, the tag the same, or in the tag of a library the catalog knows), e.g. `lama3.1:8b`
    or `llama3.1:8n` for `llama3.1:8b`; None if none. Such a name is answered from the catalog's suggestions
    without asking the registry."""
    lib, colon, tag = name.strip().lower().partition(":")
    if len(lib) < 4 or "/" in lib:
        return None
    libraries = {str((e.get("ollama") or {}).get("library") or "").lower() for e in entries()} - {""}
    if lib in libraries:  # a known library: a tag one slip from one of its recorded tags (llama3.1:7b)
        tags = sorted({t.lower() for e in entries() if str((e.get("ollama") or {}).get("library")).lower() == lib
                       for t in (e.get("ollama") or {}).get("tags") or ()})
        if not colon or tag in tags:
            return None
        # a slip in a letter only: another number (7b for 8b) may be a size the catalog lacks, for the registry
        digits = re.sub(r"\D", "", tag)
        return next((f"{lib}:{t}" for t in tags if _one_edit(tag, t) and re.sub(r"\D", "", t) == digits), None)
    for other in sorted(libraries):
        if _one_edit(lib, other):
            candidate = f"{other}:{tag}" if colon else other
            if lookup(candidate) is not None:
                return candidate
    return None


def _one_edit(a: str, b: str) -> bool:
    """Whether `a` becomes `b` by one insertion, deletion, substitution or swap of neighbours."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
                                   and a[diff[1]] == b[diff[0]])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = next((k for k in range(len(short)) if short[k] != long_[k]), len(short))
    return short[i:] == long_[i + 1:]


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


def all_specs(pool: list[dict[str, Any]] | None = None) -> list[ModelSpec]:
    """`to_spec` of many entries (every entry without `pool`), the parameter counts of those that record none
    from the cache (one entry for the whole catalog, catalog.sources.derived.parameter_counts)."""
    from catalog.sources.derived import parameter_counts

    pool = entries() if pool is None else pool
    archs = [from_hf_config(e["config"]) for e in pool]
    counts = parameter_counts(_data()[0], ((e["id"], a) for e, a in zip(pool, archs, strict=True)
                                           if not e.get("parameters")))
    return [to_spec(e, None, a, counts.get(e["id"])) for e, a in zip(pool, archs, strict=True)]
