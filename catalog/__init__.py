"""llm-catalog: will this LLM run on my machine, at which quantization and context, and what do I type?

The library is the product; the command line, the TUI and the export are its clients::

    import catalog

    spec = catalog.resolve("llama3.1:8b")                    # any name: catalog, Ollama, Hub repo, local file
    hw = catalog.machine(["RTX 3060"], ram_gib=32)           # or catalog.machine() for this machine
    result = catalog.check(spec, catalog.CheckRequest(), hw)  # a typed CheckResult
    result.recommended_row.commands.llama_cpp
    catalog.document(result)                                  # the llm-catalog/check/v1 JSON

The public API: `resolve`, `check`, `plan` (with `parse_host`, `hosts_from_toml`), `search` and `matches` (the
one filter), `summarize`, `machine`, `gpus` (the known cards), `document`, `entries` and `base_of` (the
catalog's data and lineage), `glossary` and `explain` (its terms), `schemas` (the export's), `refresh` (the
cache), `running` (`catalog ps`), `probe`, the request and result types, and `CatalogError` (every error a
face reports as one line). Attributes load on first use, so `import catalog` costs nothing the question does
not need.

Layers (README, "Architecture"): catalog.core is pure (values and rules), catalog.service composes it
into the questions above, catalog.sources does every read and request, catalog.cli and ../tui are faces.
"""

from typing import TYPE_CHECKING, Any

from catalog.errors import CatalogError

__version__ = "0.1.0"

if TYPE_CHECKING:
    from catalog.core.documents import document
    from catalog.core.model import ModelSpec
    from catalog.core.options import CheckRequest
    from catalog.core.plan_types import Host, PlanRequest, PlanResult
    from catalog.core.results import CheckResult, QuantRow
    from catalog.service.api import base_of, entries, probe, refresh, running, schemas
    from catalog.service.check import check
    from catalog.service.glossary import explain, glossary
    from catalog.service.machine import gpus, machine
    from catalog.service.plan import hosts_from_toml, parse_host, plan
    from catalog.service.resolve import resolve
    from catalog.service.search import Summary, matches, search, smaller_for, smaller_that_runs, summarize

_WHERE = {
    "resolve": "catalog.service.resolve", "check": "catalog.service.check", "machine": "catalog.service.machine",
    "gpus": "catalog.service.machine",
    "plan": "catalog.service.plan", "parse_host": "catalog.service.plan", "hosts_from_toml": "catalog.service.plan",
    "search": "catalog.service.search", "matches": "catalog.service.search", "summarize": "catalog.service.search",
    "smaller_that_runs": "catalog.service.search", "smaller_for": "catalog.service.search",
    "document": "catalog.core.documents", "entries": "catalog.service.api", "base_of": "catalog.service.api",
    "schemas": "catalog.service.api", "running": "catalog.service.api", "probe": "catalog.service.api",
    "refresh": "catalog.service.api", "glossary": "catalog.service.glossary", "explain": "catalog.service.glossary",
    "CheckRequest": "catalog.core.options", "PlanRequest": "catalog.core.plan_types", "ModelSpec": "catalog.core.model",
    "CheckResult": "catalog.core.results", "QuantRow": "catalog.core.results", "Summary": "catalog.service.search",
    "Host": "catalog.core.plan_types", "PlanResult": "catalog.core.plan_types",
}
__all__ = ["CatalogError", "CheckRequest", "CheckResult", "Host", "ModelSpec", "PlanRequest", "PlanResult",
           "QuantRow", "Summary", "base_of", "check", "document", "entries", "explain", "glossary", "gpus",
           "hosts_from_toml", "machine", "matches", "parse_host", "plan", "probe", "refresh", "resolve", "running",
           "schemas", "search", "smaller_for", "smaller_that_runs", "summarize"]


def __getattr__(name: str) -> Any:
    """Load a public name on first use (PEP 562)."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'catalog' has no attribute {name!r}")
    value = getattr(__import__(module, fromlist=(name,)), name)  # the leaf module; importlib costs a file
    globals()[name] = value
    return value
