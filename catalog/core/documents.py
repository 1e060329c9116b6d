"""The JSON documents of the public contract, from the typed results (pure).

`check_document` is `llm-catalog/check/v1` (../shared/CONTRACT.md); the plan, hardware and search
documents sit beside it. Keys come out in one fixed order, so two runs print the same bytes. The
CLI prints these, export stores them; nothing else builds their JSON.
"""


from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # values only read here: importing them is their producers' cost, not a document's
    from catalog.core.alignment import Alignment
    from catalog.core.model import ModelSpec, Provenance, TemplateCost
    from catalog.core.plan_types import DevicePlan, EnginePlan, PlanResult
    from catalog.core.results import CheckResult, QuantRow
    from catalog.service.search import Summary
    from hardware import GPU, Hardware

CHECK_SCHEMA = "llm-catalog/check/v1"
HW_SCHEMA = "llm-catalog/hw/v1"
PLAN_SCHEMA = "llm-catalog/plan/v1"
SEARCH_SCHEMA = "llm-catalog/search/v1"


def alignment_json(a: Alignment) -> dict[str, Any]:
    return {"kind": a.kind, "methods": list(a.methods), "confidence": round(a.confidence, 2),
            "evidence": [e._asdict() for e in a.evidence]}


def template_json(t: TemplateCost) -> dict[str, Any]:
    """The contract's three keys first, then what was measured, then where a bundled template came from."""
    out: dict[str, Any] = {"present": t.present, "system_prompt_tokens": t.system_prompt_tokens,
                           "per_turn_tokens": t.per_turn_tokens}
    own_text = t.origin is not None and t.template_key is None
    if own_text:  # text read from the model's own files: v1 names its origin before the measurement
        out["origin"] = t.origin
    if t.note is not None:
        out["note"] = t.note
    if t.template_key is not None:
        out["template"] = t.template_key
    if t.variants:
        out["variants"] = list(t.variants)
    if t.default_system_prompt is not None:
        out["default_system_prompt"] = t.default_system_prompt
    if t.safe is not None:
        out["safe"] = t.safe
        if t.measured:
            out["counted_with"] = t.counted_with
        else:
            out["unsafe"], out["error"] = t.unsafe, t.error
    for key in ("per_user_turn_tokens", "per_assistant_turn_tokens", "generation_prompt_tokens"):
        if getattr(t, key) is not None:
            out[key] = getattr(t, key)
    if t.turns is not None:
        out["typical_conversation"] = {"turns": t.turns, "overhead_tokens": t.overhead_tokens}
    if t.overhead_tokens is not None:
        out["overhead_tokens"] = t.overhead_tokens
    if t.template_source is not None:
        out["template_source"] = t.template_source
    if t.origin is not None and not own_text:
        out["origin"] = t.origin
    return out


def provenance_json(p: Provenance) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("hub", "revision", "ollama_registry", "model_layer"):
        if getattr(p, key) is not None:
            out[key] = getattr(p, key)
    if p.metadata is not None:
        m = p.metadata
        out["metadata"] = {"from": m.origin, "stale": m.stale, "age_s": m.age_s,
                           **({"unchanged": m.unchanged} if m.unchanged is not None else {})}
    if p.config_blob:
        out["config_blob"] = dict(p.config_blob)
    if p.gguf_header is not None:
        out["gguf_header"] = p.gguf_header._asdict()
    for key in ("gguf_vocab", "config", "tokenizer_json", "file", "entry"):
        if getattr(p, key) is not None:
            out[key] = getattr(p, key)
    return out


def model_json(spec: ModelSpec, alignment: Alignment, template: TemplateCost) -> dict[str, Any]:
    from catalog.core.model import estimate_note

    a = spec.arch
    out = {"id": spec.id, "name": spec.name, "family": spec.family, "architecture": a.arch,
           "parameters": spec.parameters, "hf_repo": spec.hf_repo, "context_length": a.n_ctx_train,
           "layers": a.n_layer, "alignment": alignment_json(alignment), "chat_template": template_json(template),
           "license": spec.license, "gated": spec.gated, "sources": provenance_json(spec.provenance)}
    note = estimate_note(spec)
    if note:  # an architecture whose KV and compute are not modelled: said beside the estimate
        out["estimate_note"] = note
    return out


def _gpu_json(g: GPU) -> dict[str, Any]:
    return {"name": g.name, "memory_total_bytes": g.memory_total_bytes, "memory_free_bytes": g.memory_free_bytes,
            "bandwidth_bytes_per_s": g.bandwidth_bytes_per_s, "source": g.source}


def row_json(r: QuantRow, several_gpus: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "quant": r.quant, "file_bytes": r.file_bytes, "memory": r.memory._asdict(), "verdict": r.verdict, "fit": r.fit,
        "gpu_layers": r.gpu_layers, "total_layers": r.total_layers, "tokens_per_second": r.tokens_per_second,
        "tokens_per_second_is_estimate": True,
        "prefill_tokens_per_second": r.prefill_tokens_per_second, "margin_bytes": r.margin_bytes,
        "cpu_moe_layers": r.cpu_moe_layers,
        "commands": r.commands._asdict(),
    }
    if r.ollama is not None:
        from catalog.core.ollama import OLLAMA_SOURCE

        out["ollama"] = {**r.ollama._asdict(), "source": OLLAMA_SOURCE}
    if several_gpus:
        out["gpu_split"] = [{"gpu": s.gpu, "layers": s.layers, "bytes": s.bytes, "budget_bytes": s.budget_bytes,
                             **s.parts._asdict()} for s in r.gpu_split]
    return out


def check_document(res: CheckResult) -> dict[str, Any]:
    """The `llm-catalog/check/v1` document."""
    from catalog.core.speed import DEFAULT_RAM_BANDWIDTH as RAM_BANDWIDTH

    hw, o = res.hardware, res.options
    return {
        "schema": CHECK_SCHEMA,
        "model": model_json(res.spec, res.alignment, res.template),
        "hardware": {"source": hw.source, "gpus": [_gpu_json(g) for g in hw.gpus], "ram_bytes": hw.ram_total_bytes,
                     "gpu_budget_bytes": res.gpu_budget_bytes, "safety_margin": res.safety_margin,
                     "ram_bandwidth_bytes_per_s": int(hw.ram_bandwidth_bytes_per_s or RAM_BANDWIDTH),
                     "ram_bandwidth_source": "--ram-bw" if hw.ram_bandwidth_bytes_per_s else
                     "assumed (dual-channel DDR5)",
                     "notes": list(hw.notes)},
        "options": o._asdict(),
        "requested_quant": res.spec.pinned_quant,
        "quants": [row_json(r, len(hw.gpus) > 1) for r in res.rows],
        "recommended": res.recommended,
        "recommended_why": res.recommended_why,
        "command_notes": list(res.command_notes),
    }


def hardware_document(hw: Hardware) -> dict[str, Any]:
    """`catalog hw --json`."""
    return {"schema": HW_SCHEMA, "source": hw.source, "platform": hw.platform, "gpus": [g._asdict() for g in hw.gpus],
            "ram_total_bytes": hw.ram_total_bytes, "ram_available_bytes": hw.ram_available_bytes,
            "notes": list(hw.notes)}


def smaller_model_json(sm: Summary) -> dict[str, Any]:
    """`check --json`'s optional `smaller_model`: the smaller model a weak answer names (`catalog.smaller_for`)."""
    return {"id": sm.spec.id, "name": sm.spec.name, "quant": sm.best_quant, "verdict": sm.verdict, "fit": sm.fit,
            "gpu_bytes": sm.gpu_bytes, "tokens_per_second": sm.tokens_per_second}


def search_document(specs: list[ModelSpec], summaries: dict[str, Summary] | None) -> dict[str, Any]:
    """`catalog search --json`: each model, with its recommended quantization and GPU bytes when fitted."""
    rows = []
    for s in specs:
        row: dict[str, Any] = {"id": s.id, "name": s.name, "family": s.family,
                               "kind": s.alignment.kind if s.alignment else None, "parameters": s.parameters,
                               "hf_repo": s.hf_repo, "ollama": s.ollama.library}
        if summaries is not None:
            sm = summaries[s.id]
            row.update(best_quant=sm.best_quant, gpu_bytes=sm.gpu_bytes)
        rows.append(row)
    return {"schema": SEARCH_SCHEMA, "models": rows}


_DEVICE_KEYS = ("host", "gpu", "device", "layers", "bytes", "budget_bytes", "weights_bytes", "kv_cache_bytes",
                "compute_bytes", "overhead_bytes")


def _device_json(d: DevicePlan) -> dict[str, Any]:
    return {k: getattr(d, k) for k in _DEVICE_KEYS if getattr(d, k) is not None}


def engine_json(p: EnginePlan) -> dict[str, Any]:
    return {"engine": p.engine, "fits": p.fits, "devices": [_device_json(d) for d in p.devices],
            "hosts": [h._asdict() for h in p.hosts], "tokens_per_second": p.tokens_per_second,
            "link": {k: v for k, v in p.link._asdict().items() if v is not None}, "commands": list(p.commands),
            "notes": list(p.notes), "cpu_layers": p.cpu_layers}


def plan_document(res: PlanResult) -> dict[str, Any]:
    """`catalog plan --json` (`llm-catalog/plan/v1`)."""
    h = res.head_alone
    return {"schema": PLAN_SCHEMA, "model": res.spec.id, "quant": res.quant, "context": res.context,
            "plans": [engine_json(p) for p in res.plans],
            "head_alone": {"host": h.host, "verdict": h.verdict, "tokens_per_second": h.tokens_per_second},
            "fastest": {"how": res.fastest[0], "tokens_per_second": res.fastest[1]}, "notes": list(res.notes)}


def document(result: Any, summaries: dict[str, Any] | None = None) -> dict[str, Any]:
    """A result as its public JSON document: a CheckResult (`llm-catalog/check/v1`), a PlanResult
    (`llm-catalog/plan/v1`), a Hardware (`llm-catalog/hw/v1`), or a list of models from `search` with their
    `summarize` lines by id when fitted (`llm-catalog/search/v1`)."""
    from catalog.core.results import CheckResult
    from hardware import Hardware

    if isinstance(result, CheckResult):
        return check_document(result)
    if isinstance(result, Hardware):
        return hardware_document(result)
    if isinstance(result, list):
        return search_document(result, summaries)
    from catalog.core.plan_types import PlanResult  # loaded by a plan only

    if isinstance(result, PlanResult):
        return plan_document(result)
    raise TypeError(f"no document for {type(result).__name__}")
