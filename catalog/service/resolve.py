"""`catalog.resolve`: the one chain that turns a name into a ModelSpec, offline first.

In order: a path written as one (`./`, `/`, `~`, `.gguf`, `.json`) is a local file; an installed
Ollama model's GGUF blob (only when asked: `catalog ps`); the embedded catalog; an existing path;
then what only the network can know. A name that is not a path, not a repo id and not in the catalog
gets its local answer before any request: a one-letter slip from a catalog name (`lama3.1:8b`) is
answered with the catalog's suggestions, and the network is asked only for what can exist there: an
`owner/name` on the Hub (then Ollama's namespaced models), a plain `model[:tag]` in Ollama's registry.
Both remote sources answer from their cache first. The chat template of a model found outside the
catalog is measured here, for the runtimes the caller names, so that the core never renders one.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from catalog.core.model import ModelSpec
from catalog.core.options import RUNTIMES
from catalog.errors import CatalogError, ModelNotFound, RemoteUnavailable

if TYPE_CHECKING:  # the measuring is imported only for a model found outside the catalog
    from catalog.sources.templates.measure import TemplateText


def resolve(ref: str, *, offline: bool = False, quant: str | None = None,
            runtimes: tuple[str, ...] = RUNTIMES, installed: bool = False, confirm: bool = False) -> ModelSpec:
    """The model `ref` names, with the quantization the name pins in `pinned_quant` (`_resolve`), its rows'
    weight layouts read from the cache where an earlier run left them (catalog.sources.derived)."""
    from catalog.sources import derived

    spec = _resolve(ref, offline=offline, quant=quant, runtimes=runtimes, installed=installed, confirm=confirm)
    derived.warm((spec,))
    return spec


def _resolve(ref: str, *, offline: bool = False, quant: str | None = None,
             runtimes: tuple[str, ...] = RUNTIMES, installed: bool = False, confirm: bool = False) -> ModelSpec:
    """The model `ref` names, with the quantization the name pins in `pinned_quant`.

    Args:
        ref: a catalog name, an Ollama name (`llama3.1:8b`, `hf.co/USER/REPO:Q4_K_M`), a Hugging Face repo id
            (`owner/name[:QUANT][@revision]`), a local `config.json`, model folder or `.gguf` file.
        offline: answer from the embedded catalog, local files and the cache only.
        quant: the quantization the user asked for: the GGUF file of a Hub repo whose header is read.
        runtimes: whose chat templates to measure (the Jinja template, Ollama's Go layer); () for none.
        installed: prefer the GGUF an installed Ollama holds for an Ollama name.
        confirm: a catalog entry's GGUF repos take the files the Hub lists now (`confirmed`), so a printed
            command names a file that exists today; offline, a cached listing.
    Raises:
        ModelNotFound, BadModelFile, GatedModel, RemoteUnavailable: one line each.
    """
    from catalog.sources import bundled

    if _is_path(ref):
        return _measured(*_local(ref), runtimes)
    if installed:
        found = _installed(ref)
        if found is not None:
            return _measured(*found, runtimes)
    spec = bundled.lookup(ref)
    if spec is not None:
        return confirmed(spec, offline) if confirm else spec
    if os.path.exists(ref):
        return _measured(*_local(ref), runtimes)
    return _measured(*_remote(ref, offline, quant), runtimes)


def confirmed(spec: ModelSpec, offline: bool = False) -> ModelSpec:
    """`spec` with each GGUF repo's files as the Hub lists them now (catalog.sources.hub_listing: one request a
    repo, together, cached a day; offline or unanswered, a cached listing, else the catalog's recorded list)."""
    if not spec.gguf_repos:
        return spec
    from catalog.core.model import relisted
    from catalog.sources import hub_endpoint, hub_listing, offline_env

    repos = spec.gguf_repos
    offline = offline or offline_env()
    if offline or len(repos) == 1:  # the cache alone (no thread pool to start), or one request
        got = [hub_listing.listing(r.repo, offline) for r in repos]
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(repos), thread_name_prefix="listing") as ex:
            got = list(ex.map(lambda r: hub_listing.listing(r.repo, offline), repos))
    return spec._replace(gguf_repos=tuple(
        relisted(r, g["files"], f"{hub_endpoint()}/{r.repo}/tree/{g.get('sha') or 'main'}")
        if g is not None else r for r, g in zip(repos, got, strict=True)))


def _is_path(ref: str) -> bool:
    return ref.endswith((".gguf", ".json")) or ref.startswith((".", "/", "~"))


def _local(ref: str) -> tuple[ModelSpec, TemplateText]:
    from catalog.sources import local

    return local.load(ref)


def _installed(name: str) -> tuple[ModelSpec, TemplateText] | None:
    """The GGUF blob an installed Ollama keeps for `name`, with the tag's quantization pinned."""
    from catalog.sources import local, ollama

    blob = ollama.local_blob(name)
    if blob is None:
        return None
    spec, text = local.load_gguf(blob)
    return spec._replace(pinned_quant=spec.file_quant if spec.file_quant != "file" else None), text


def _remote(ref: str, offline: bool, quant: str | None) -> tuple[ModelSpec, TemplateText]:
    """A name the catalog lacks: a Hugging Face repo, else an Ollama `model:tag` from its registry.

    `owner/name` is both a Hub repo and Ollama's `namespace/model`: the Hub is asked first. A plain name
    that neither knows keeps the catalog's near-miss suggestions (exit 2); offline, only the cache can
    answer."""
    from catalog.sources import bundled, hub, ollama
    from catalog.sources.http import offline_env

    offline = offline or offline_env()
    try:
        hf_ref = hub.parse_ref(ref)
    except ModelNotFound:  # owner/name:tag whose tag is no quantization: an Ollama namespaced model
        hf_ref = None
    if hf_ref is not None:
        try:
            return hub.load(ref, offline, quant)
        except ModelNotFound as hf_error:
            if ":" in ref or ollama.parse_name(ref) is None or offline:
                raise
            try:
                return ollama.load(ref)
            except CatalogError:
                raise hf_error from None  # the registry knows it no better (or is unreachable)
    if ollama.parse_name(ref) is None or bundled.typo_of(ref) is not None:
        raise bundled.not_found(ref)
    try:
        return ollama.load(ref, offline)
    except ModelNotFound:
        raise bundled.not_found(ref) from None
    except RemoteUnavailable:
        if offline:
            raise bundled.not_found(ref) from None  # nothing cached: the near misses help more than "offline"
        raise


def _measured(spec: ModelSpec, text: TemplateText, runtimes: tuple[str, ...]) -> ModelSpec:
    """The spec with what its chat templates cost the runtimes named (catalog.sources.templates.measure)."""
    from catalog.sources.templates.measure import measure

    return measure(spec, text, runtimes)
