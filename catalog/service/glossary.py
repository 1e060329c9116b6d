"""`catalog.glossary`: the terms a "will it run" site explains (data/glossary.json), each linked to the catalog models
that show it, the memory terms with a worked example the product's own estimate computes.

The words and sources are data (data/glossary.json); which models show a term and every figure are computed here
from the catalog and the estimate, so they change when the catalog or the estimate does, and never otherwise (the
export stays byte-identical between runs).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from catalog.core.ranking import bits_per_weight

SCHEMA = "llm-catalog/export-glossary/v1"
# the worked examples: a model, a quantization and a machine people ask about, each checked with the defaults
EXAMPLE_CARD = ("RTX 3060 12GB", 32.0)
EXAMPLE_MAC = ("Apple M4 16GB", None)
EXAMPLES: dict[str, tuple[str, str, tuple[str, float | None]]] = {
    "memory": ("llama-3.1-8b-instruct", "Q4_K_M", EXAMPLE_CARD),
    "weights": ("llama-3.1-8b-instruct", "Q4_K_M", EXAMPLE_CARD),
    "template": ("llama-3.1-8b-instruct", "Q4_K_M", EXAMPLE_CARD),
    "partial": ("llama-3.1-70b-instruct", "Q4_K_M", EXAMPLE_CARD),
    "moe": ("qwen3-30b-a3b", "Q4_K_M", EXAMPLE_CARD),
    "unified": ("llama-3.1-8b-instruct", "Q4_K_M", EXAMPLE_MAC),
}


@lru_cache(maxsize=1)
def terms() -> tuple[dict[str, Any], ...]:
    """The terms as data/glossary.json writes them (words, distinctions, sources, related terms, link)."""
    from catalog.sources.bundled import data_path

    with open(data_path("glossary.json"), encoding="utf-8") as f:
        return tuple(json.load(f)["terms"])


def _pairs(entries: list[dict[str, Any]]) -> list[list[str]]:
    from catalog.sources.bundled import base_of

    out = []
    for e in entries:
        b = base_of(e)
        if b is not None and b["alignment"]["kind"] == "base" and e["alignment"]["kind"] != "base":
            out.append([b["id"], e["id"]])
    return sorted(out)


# a template's fixed prefix past this many tokens holds a default system block (Qwen2.5's "You are Qwen...", Llama
# 3.1's knowledge-cutoff lines: 21-163 tokens); BOS and a few markup tokens stay under it (0-4 measured)
SYSTEM_PROMPT_TOKENS = 8


def _has_default_system_prompt(e: dict[str, Any]) -> bool:
    from catalog.sources.bundled import chat_template

    ct = chat_template(e)
    return any(c is not None and (c.system_prompt_tokens or 0) > SYSTEM_PROMPT_TOKENS for c in (ct.jinja, ct.ollama))


def _is_moe(e: dict[str, Any]) -> bool:
    from catalog.core.arch import from_hf_config

    return from_hf_config(e["config"]).n_expert > 0


def _linked(link: str, entries: list[dict[str, Any]], example_model: str | None) -> list[str]:
    """The ids of the models that show a term, by its link: a kind, a training method, words of the name, a chat
    template (with a default system prompt), abliteration, a mixture of experts, or the worked example's model."""
    def kind(e: dict[str, Any]) -> Any:
        return (e.get("alignment") or {}).get("kind")

    if link.startswith("kind:"):
        return [e["id"] for e in entries if kind(e) == link[5:]]
    if link.startswith("method:"):
        return [e["id"] for e in entries if link[7:] in ((e.get("alignment") or {}).get("methods") or ())]
    if link.startswith("name:"):
        words = re.compile(rf"\b({link[5:]})\b", re.IGNORECASE)
        return [e["id"] for e in entries if kind(e) == "aligned" and words.search(e["name"])]
    rules: dict[str, Callable[[dict[str, Any]], bool]] = {
        "template": lambda e: bool((e.get("chat_template") or {}).get("template")),
        "system-prompt": _has_default_system_prompt,
        "abliterated": lambda e: kind(e) == "de-aligned" and re.search(
            r"ablit|lorablat", json.dumps(e.get("alignment"))[:20000], re.IGNORECASE) is not None,
        "moe": _is_moe,
        "example": lambda e: e["id"] == example_model,
    }
    rule = rules.get(link)
    return [e["id"] for e in entries if rule(e)] if rule is not None else []


def _example(kind: str) -> dict[str, Any]:
    """A worked example: one model, quantization and machine, checked with the defaults by the product itself."""
    from catalog.core.options import CheckRequest
    from catalog.service.check import check
    from catalog.service.machine import machine
    from catalog.service.resolve import resolve

    model_id, quant, (gpu, ram) = EXAMPLES[kind]
    spec = resolve(model_id, offline=True)
    hw = machine([gpu], None, ram)
    res = check(spec, CheckRequest(quants=(quant,)), hw)
    row, m, o = res.rows[0], res.rows[0].memory, res.options
    out: dict[str, Any] = {
        "model": model_id, "name": spec.name, "quant": quant, "gpu": hw.gpus[0].name, "runtime": o.runtime,
        "context": o.context, "verdict": row.verdict, "gpu_bytes": m.gpu_bytes,
        "command": f'catalog check {model_id} --gpu "{gpu}" --quant {quant}'}
    if kind == "memory":
        out.update(weights_bytes=m.weights_bytes, kv_cache_bytes=m.kv_cache_bytes, compute_bytes=m.compute_bytes,
                   overhead_bytes=m.overhead_bytes, template_bytes=m.template_bytes,
                   gpu_budget_bytes=res.gpu_budget_bytes, kv_type=o.kv_type, flash_attention=o.flash_attention)
    elif kind == "weights":
        out.update(file_bytes=row.file_bytes, parameters=spec.parameters,
                   bits_per_weight=round(bits_per_weight(row.file_bytes, spec.parameters) or 0.0, 3))
    elif kind == "template":
        t = res.template
        out.update(system_prompt_tokens=t.system_prompt_tokens, per_user_turn_tokens=t.per_user_turn_tokens,
                   per_assistant_turn_tokens=t.per_assistant_turn_tokens, overhead_tokens=t.overhead_tokens,
                   template_bytes=m.template_bytes, counted_with=t.counted_with)
    elif kind in ("partial", "moe"):
        out.update(parameters=spec.parameters, gpu_layers=row.gpu_layers, total_layers=row.total_layers,
                   cpu_moe_layers=row.cpu_moe_layers, cpu_bytes=m.cpu_bytes,
                   tokens_per_second=row.tokens_per_second)
        if kind == "moe":
            out.update(n_expert=spec.arch.n_expert, n_expert_used=spec.arch.n_expert_used)
    elif kind == "unified":
        out.update(memory_total_bytes=hw.gpus[0].memory_total_bytes, gpu_budget_bytes=res.gpu_budget_bytes)
    return out


def glossary(entries: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The glossary document (`llm-catalog/export-glossary/v1`): every term with the ids of the models that show it
    (sorted), the base/aligned pairs for the terms that contrast them, and the worked example where it has one."""
    from catalog.sources.bundled import entries as bundled_entries

    entries = entries if entries is not None else bundled_entries()
    pairs = _pairs(entries)
    examples: dict[str, dict[str, Any]] = {}
    out = []
    for t in terms():
        kind = t.get("example")
        if kind and kind not in examples:
            examples[kind] = _example(kind)
        example = examples.get(kind) if kind else None
        link = t["link"]
        linked_pairs = pairs if link == "pairs" else []
        models = sorted({m for p in pairs for m in p}) if link == "pairs" else sorted(
            _linked(link, entries, example["model"] if example else None))
        term = {"id": t["id"], "term": t["term"], "definition": t["definition"], "distinctions": t["distinctions"],
                "sources": t["sources"], "related": t["related"], "models": models,
                "base_aligned_pairs": linked_pairs}
        if t.get("models_why"):
            term["models_why"] = t["models_why"]
        if example:
            term["example"] = example
        out.append(term)
    return {"schema": SCHEMA, "terms": out}


def explain(term_id: str) -> dict[str, Any]:
    """One glossary term, as `glossary` writes it (matched by id or by its name, any case).

    Raises:
        UsageError: no such term.
    """
    from catalog.errors import UsageError

    want = term_id.strip().lower()
    doc = glossary()
    for t in doc["terms"]:
        if want in (t["id"], t["term"].lower()) or want == t["term"].split(" (")[0].lower():
            return dict(t)
    raise UsageError(f"no glossary term {term_id!r}", "terms: " + ", ".join(t["id"] for t in doc["terms"]))
