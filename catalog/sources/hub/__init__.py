"""Any public Hugging Face model repo as a ModelSpec: metadata, a GGUF file's real header, alignment evidence.

A GGUF repo is estimated from the real tensor table of one of its files (the quantization asked for,
else the first of catalog.core.ranking's READ_FIRST), split files included; its other files keep their
published sizes. A safetensors repo is estimated from its config.json, with the exact parameter count
from the safetensors headers. A quantized repo's alignment is its original's (`base_model`), read too
when it can be. The parts: records (metadata and small files, cached), gguf (files and headers by
Range), files (tokenizer files).
"""

from __future__ import annotations

import os
from typing import Any

from catalog.core import alignment as align
from catalog.core.ggml import normalize_preset
from catalog.core.gguf_names import gguf_files
from catalog.core.model import Fetched, GgufFile, GgufRead, GgufRepo, ModelSpec, Provenance
from catalog.core.ranking import file_to_read
from catalog.errors import BadModelFile, CatalogError, ModelNotFound
from catalog.sources import local
from catalog.sources.derived import record_alignment
from catalog.sources.http import offline_env
from catalog.sources.hub.files import template_of, tokenizer_json
from catalog.sources.hub.gguf import gguf_header, vocab_file
from catalog.sources.hub.records import endpoint, parse_ref, record
from catalog.sources.templates.measure import TemplateText

__all__ = ["load", "parse_ref", "record"]


def load(ref: str, offline: bool = False, want_quant: str | None = None) -> tuple[ModelSpec, TemplateText]:
    """`_load`, with a record of an unexpected shape (a cache entry of the wrong types, a Hub answer that is
    not what the Hub sends) reported as one BadModelFile line (exit 2), never a crash."""
    try:
        return _load(ref, offline, want_quant)
    except CatalogError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as exc:
        raise BadModelFile(f"{ref}: its Hub record has an unexpected shape ({type(exc).__name__}: {str(exc)[:80]})",
                           "`catalog refresh` reads it again") from None


def _load(ref: str, offline: bool = False, want_quant: str | None = None) -> tuple[ModelSpec, TemplateText]:
    """A ModelSpec for any Hub repo reference (its `pinned_quant` the quantization the reference or
    `want_quant` names), and its chat template's text.

    Args:
        ref: `owner/name`, `owner/name:Q4_K_M`, `hf.co/owner/name:Q4_K_M`, `owner/name@revision`.
        offline: answer from the cache only.
        want_quant: the quantization the user asked for (`--quant`), which picks the GGUF file to read.
    Raises:
        ModelNotFound, GatedModel, RemoteUnavailable, BadModelFile.
    """
    want_quant = normalize_preset(want_quant) if want_quant else None
    parsed = parse_ref(ref)
    if parsed is None:
        raise ModelNotFound(f"{ref!r} is not a Hugging Face repo id", "owner/name, e.g. Qwen/Qwen2.5-7B-Instruct")
    repo, pinned, revision = parsed
    offline = offline or offline_env()
    rec, got = record(repo, revision, offline)
    original, facts = _original(rec, offline)
    fetched = Fetched(got["from"], bool(got["stale"]), int(got["age_s"]), got.get("unchanged"))
    prov = Provenance(hub=f"{endpoint()}/{rec['repo']}", revision=rec.get("sha"), metadata=fetched)
    common: dict[str, Any] = {
        "alignment": record_alignment(rec, original),
        # a quantization repo often omits its original's licence (its own files are not gated, though)
        "license": (rec.get("card") or {}).get("license") or facts.get("license"),
        "gated": bool(rec.get("gated")),
    }
    ggufs = gguf_files(rec.get("files") or {})
    if ggufs and (not rec.get("config") or pinned or want_quant):
        return _from_gguf(rec, repo, ggufs, pinned or want_quant, offline, prov, original, common)
    cfg = rec.get("config")
    if cfg is None:
        raise BadModelFile(f"{repo}: no config.json and no GGUF file to read the architecture from")
    total = (rec.get("safetensors") or {}).get("total")
    prov = prov._replace(config=f"{endpoint()}/{rec['repo']}/blob/{rec.get('sha') or 'main'}/config.json",
                         tokenizer_json=tokenizer_json(rec, offline))
    text = template_of(rec)
    spec = local.spec_from_config(
        cfg, f"hf:{rec['repo']}", rec["repo"].split("/")[-1], f"{repo}/config.json",
        parameters=total if isinstance(total, int) and total > 0 else None, hf_repo=rec["repo"], provenance=prov,
        gguf_repos=tuple(_child_repo(c) for c in rec.get("gguf_children") or ()), pinned_quant=pinned, **common)
    return spec._replace(template=spec.template._replace(present=text.present)), text


def _tree_url(rec: dict[str, Any]) -> str:
    """The address of the repo's file listing at the commit it was read at."""
    return f"{endpoint()}/{rec['repo']}/tree/{rec.get('sha') or 'main'}"


def _child_repo(child: Any) -> GgufRepo:
    """A GGUF quantization of the repo, with the files the Hub's listing named (a record cached before file
    names were kept holds only the repo id: no file of it is then known)."""
    if isinstance(child, str):
        return GgufRepo(child)
    listed = gguf_files(dict.fromkeys(child.get("files") or (), 0))  # names only: no size is known
    return GgufRepo(str(child["repo"]), tuple(GgufFile(q, f["file"]) for q, f in listed.items()
                                              if not f.get("incomplete")), source=f"{endpoint()}/{child['repo']}")


def _from_gguf(rec: dict[str, Any], repo: str, ggufs: dict[str, dict[str, Any]], q: str | None, offline: bool,
               prov: Provenance, original: align.Alignment | None,
               common: dict[str, Any]) -> tuple[ModelSpec, TemplateText]:
    """A GGUF repo: the real header of the file at `q` (else the one read first), the others' sizes."""
    if q is not None and q not in ggufs:
        raise ModelNotFound(f"{repo} has no {q} GGUF file", "it has: " + ", ".join(sorted(ggufs)))
    read = q or file_to_read(ggufs)
    chosen = ggufs[read]
    if chosen.get("incomplete"):
        raise BadModelFile(f"{repo}: {chosen['file']} is missing some of its split parts")
    sha = rec.get("sha") or "main"
    header, cost = gguf_header(rec["repo"], sha, chosen["parts"], offline)
    general = {k: v for k, v in header.metadata.items() if k.startswith("general.base_model.")
               or k in ("general.finetune", "general.name", "general.basename")}
    if general:  # the file's own words join the evidence
        common = {**common, "alignment": record_alignment({**rec, "gguf": general}, original)}
    vocab = vocab_file(f"{rec['repo']}@{sha}/{chosen['parts'][0]}")
    prov = prov._replace(gguf_header=GgufRead(chosen["file"], **cost),
                         gguf_vocab=vocab if os.path.isfile(vocab) else None)
    _, base_repo = align.lineage(rec)
    files = tuple(GgufFile(k, v["file"], v["bytes"]) for k, v in ggufs.items())
    spec, text = local.spec_from_header(
        header, f"hf:{rec['repo']}", rec["repo"].split("/")[-1], chosen["bytes"], f"{repo}/{chosen['file']}",
        prov, hf_repo=base_repo or rec["repo"], gguf_repos=(GgufRepo(rec["repo"], files, source=_tree_url(rec)),),
        pinned_quant=q, **common)
    if spec.file_quant == "file":  # no general.file_type: the file name says it
        spec = spec._replace(file_quant=read)
    if rec.get("chat_template") is not None and not text.present:
        text = template_of(rec)
        spec = spec._replace(template=spec.template._replace(present=text.present))
    return spec, text


def _original(rec: dict[str, Any], offline: bool) -> tuple[align.Alignment | None, dict[str, Any]]:
    """The classification of the repo a quantized repo was made from, and the facts it adds (its licence)."""
    relation, base_repo = align.lineage(rec)
    if relation != "quantized" or not base_repo or parse_ref(base_repo) is None:
        return None, {}
    from catalog.sources import bundled

    spec = bundled.lookup(base_repo)  # curated evidence first
    if spec is not None:
        return spec.alignment, {"license": spec.license}
    try:
        base_rec, _ = record(base_repo, None, offline)
    except CatalogError:
        return None, {}  # gated or gone: the quantized repo's own evidence decides
    facts = {"license": (base_rec.get("card") or {}).get("license")}
    return record_alignment(base_rec), facts
