"""The rest of the library's questions: the catalog's raw entries and lineage, the export's schemas, the
cache's refresh, what the local runtimes hold (`catalog ps`), and the refusal probe (`catalog probe`)."""

from __future__ import annotations

from typing import Any

from catalog.errors import CatalogError, UsageError


def entries() -> list[dict[str, Any]]:
    """The embedded catalog's entries as data/models.jsonl records them, sources and all (read-only)."""
    from catalog.sources.bundled import entries as bundled_entries

    return bundled_entries()


def running(ollama_url: str | None = None, llama_urls: tuple[str, ...] = (), offline: bool = False) -> dict[str, Any]:
    """The `llm-catalog/ps/v1` document: what a local Ollama and llama-server hold, beside our estimates."""
    from catalog.service.ps import state

    return state(ollama_url, llama_urls, offline)


def probe(model: str, endpoint: str | None = None, api: str = "auto") -> dict[str, Any]:
    """The `llm-catalog/probe/v1` document: a fixed set of prompts sent to `model` at a chat endpoint (the
    local Ollama unless given), each reply's refusal verdict, and what the catalog says of the model.

    Raises:
        UsageError: OLLAMA_HOST points off this machine (prompts go only where the user says).
        RemoteUnavailable: the endpoint did not answer.
    """
    from catalog.core.probe import summarize
    from catalog.service.resolve import resolve
    from catalog.sources import chat, ollama

    base = (endpoint or ollama.host_url()).rstrip("/")
    if not endpoint and not chat.is_local(base):
        raise UsageError(f"OLLAMA_HOST points off this machine ({base})",
                         "the probe sends prompts only where you say: pass --endpoint URL to probe it")
    used, replies = chat.run(base, model, api)
    doc: dict[str, Any] = {"schema": "llm-catalog/probe/v1", "endpoint": base, "api": used, "model": model,
                           **summarize(replies)}
    try:
        known = resolve(model, offline=True, runtimes=())
    except CatalogError:
        known = None
    if known is not None and known.provenance.entry and known.alignment is not None:
        doc["catalog"] = {"id": known.id, "kind": known.alignment.kind}
    else:
        doc["catalog"] = None
    return doc


def refresh_targets(names: list[str]) -> list[tuple[str, str | None]]:
    """(repo, revision) to re-read: the Hub repos `names` give (a catalog name gives its repo), or with no
    names every repo in the cache.

    Raises:
        UsageError: a name that is no Hugging Face repo.
    """
    from catalog.service.resolve import resolve
    from catalog.sources import cache, hub

    if not names:
        return [(k.rpartition("@")[0], None) for k in cache.keys("hub")]
    out = []
    for name in names:
        if hub.parse_ref(name) is None:
            name = resolve(name, offline=True, runtimes=()).hf_repo or name
        parsed = hub.parse_ref(name)
        if parsed is None:
            raise UsageError(f"{name!r} is not a Hugging Face repo id")
        out.append((parsed[0], parsed[2]))
    return out


def refresh(names: list[str], jobs: int, on_done: Any = None, on_start: Any = None, popular: int = 0) -> list[Any]:
    """Re-read Hub repos into the cache, `jobs` at once (catalog.sources.refresh): those `names` give (a
    catalog name gives its repo), or with no names every repo in the cache. Each outcome (repo, status
    "updated"/"unchanged"/"resumed"/"failed", detail, exit code) is passed to `on_done` as it comes; none
    when nothing is cached. `on_start` is given the number of repos first. `popular` N adds the Hub's N most
    downloaded text-generation and GGUF repos (`search --cached`, the TUI and `export --cached` then list them).

    Raises:
        UsageError: a name that is no Hugging Face repo, HF_HUB_OFFLINE is set, or `jobs` is below 1.
    """
    from catalog.sources import refresh as refresher
    from catalog.sources.http import offline_env

    repos = refresh_targets(names) if names or not popular else []
    if not repos and not popular:
        return []
    if offline_env():
        raise UsageError("HF_HUB_OFFLINE is set: refresh needs the network")
    if popular:
        from catalog.sources.hub.records import popular as most_downloaded

        known = {r for r, _ in repos}
        repos += [(r, None) for r in most_downloaded(popular) if r not in known]
    if not repos:
        return []
    if jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if on_start is not None:
        on_start(len(repos))
    return refresher.refresh(repos, jobs=jobs, on_done=on_done)


def base_of(entry: dict[str, Any]) -> dict[str, Any] | None:
    """The catalog entry of the model `entry` was tuned from (its `base_model`), if the catalog has it."""
    from catalog.sources.bundled import base_of as lineage

    return lineage(entry)


def schemas() -> dict[str, Any]:
    """The JSON Schemas of the export's four files (data/schemas/export-*.json), by file."""
    import json

    from catalog.sources.bundled import data_path

    out = {}
    for name in ("index", "model", "hardware", "glossary"):
        with open(data_path(f"schemas/export-{name}.json"), encoding="utf-8") as f:
            out[name] = json.load(f)
    return out
