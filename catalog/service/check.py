"""The one service every face calls: resolve -> estimate -> fit -> commands.

`check()` answers "does MODEL run on this hardware, at which quantization and
context, how much memory does each part take, and what do I type?" and
returns the `llm-catalog/check/v1` document of ../shared/CONTRACT.md.
"""


import os
from typing import Any, NamedTuple

from catalog.core import alignment as align
from catalog.core.commands import Target, all_commands
from catalog.core.memory import (
    MIB,
    MemoryEstimate,
    RuntimeOptions,
    WeightLayout,
    estimate,
    fit_cpu_moe,
    fit_layers,
    split_layers,
)
from catalog.core.model import ModelSpec, file_bytes, known_quants, repo_for, tensors_for, weight_layout
from catalog.core.quants import LADDER, PRESETS, normalize_preset
from catalog.errors import EXIT_CPU_ONLY, EXIT_FITS, EXIT_NO_FIT, EXIT_PARTIAL, UsageError
from hardware import Hardware

SCHEMA = "llm-catalog/check/v1"
GIB = 1 << 30
RUNTIMES = ("ollama", "llama.cpp", "lmstudio")
# LM Studio loads a model at 4096 tokens unless told otherwise (its API reports
# loaded_context_length 4096 for a 131072-token model: zed-industries/zed issue #33938)
LMSTUDIO_DEFAULT_CTX = 4096
# decode speed: llama.cpp reads the active weights once per token and reaches
# about this share of peak memory bandwidth; RAM bandwidth when unknown
DECODE_EFFICIENCY = 0.75
DEFAULT_RAM_BANDWIDTH = 60e9
# what a GPU profile leaves for the driver, a desktop, and estimate error
PROFILE_RESERVE_FRACTION = 0.05
PROFILE_RESERVE_MIN = 512 * MIB
MARGIN_FIXED = 256 * MIB
MARGIN_FRACTION = 0.02


class CheckRequest(NamedTuple):
    """The user's question, as options."""

    quants: tuple[str, ...] = ()
    ctx: int | None = None
    content_tokens: int | None = None
    kv_type: str = "f16"
    flash_attn: bool = True
    batch: int = 2048
    ubatch: int = 512
    runtime: str = "ollama"


def ollama_default_ctx(hw: Hardware) -> int:
    """Ollama's default num_ctx from total VRAM (server/routes.go)."""
    total = hw.vram_total_bytes
    if total >= 47 * GIB:
        return 262144
    if total >= 23 * GIB:
        return 32768
    return 4096


def gpu_budgets(hw: Hardware) -> tuple[int, ...]:
    """Bytes the runtime may use on each GPU, after the safety margin."""
    out = []
    for g in hw.gpus:
        free = g.memory_free_bytes
        if hw.source == "profile" and g.vendor != "apple":
            free = g.memory_total_bytes - max(PROFILE_RESERVE_MIN, int(g.memory_total_bytes * PROFILE_RESERVE_FRACTION))
        out.append(max(0, free - MARGIN_FIXED - int(g.memory_total_bytes * MARGIN_FRACTION)))
    return tuple(out)


def _quants(spec: ModelSpec, req: CheckRequest, pinned: str | None) -> list[str]:
    if req.quants:
        out = []
        for q in req.quants:
            n = normalize_preset(q)
            if n is None:
                raise UsageError(f"unknown quantization {q!r}", "e.g. Q4_K_M, Q8_0, F16, IQ4_XS")
            out.append(n)
        if spec.tensors and spec.local_path and spec.file_quant and any(q != spec.file_quant for q in out):
            raise UsageError(f"this GGUF file is {spec.file_quant}; it cannot be estimated at another quantization")
        return out
    if spec.tensors and spec.local_path:
        return [spec.file_quant or "file"]
    if spec.tensors:  # a Hub GGUF repo: the quantizations it publishes (one read for real, the rest predicted)
        order = {q: i for i, q in enumerate(PRESETS_BY_QUALITY)}
        return sorted(known_quants(spec), key=lambda q: order.get(q, 99))
    ladder = list(LADDER)
    if spec.source_dtype == "BF16" and "F16" in ladder:
        ladder[ladder.index("F16")] = "BF16"
    for extra in [pinned, *known_quants(spec)]:
        if extra and extra not in ladder and extra in PRESETS:
            ladder.append(extra)
    order = {q: i for i, q in enumerate(PRESETS_BY_QUALITY)}
    return sorted(dict.fromkeys(ladder), key=lambda q: order.get(q, 99))


# best first: roughly by bits per weight of the preset's mix
PRESETS_BY_QUALITY = ("F32", "BF16", "F16", "Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q5_1", "Q5_0", "Q4_K_M", "Q4_K_S",
                      "Q4_1", "IQ4_XS", "IQ4_NL", "Q4_0", "MXFP4_MOE", "Q3_K_L", "Q3_K_M", "IQ3_M", "IQ3_S",
                      "Q3_K_S", "IQ3_XS", "IQ3_XXS", "Q2_K", "Q2_K_S", "IQ2_M", "IQ2_S", "IQ2_XS", "IQ2_XXS",
                      "IQ1_M", "IQ1_S", "TQ2_0", "TQ1_0")


def _context(spec: ModelSpec, req: CheckRequest, hw: Hardware) -> tuple[int, str]:
    train = spec.arch.n_ctx_train or 4096
    if req.ctx:
        return req.ctx, "--ctx"
    if req.content_tokens:
        # the chat template's overhead is added on top once issue 7 measures it
        return min(req.content_tokens + int(spec.chat_template.get("overhead_tokens") or 0), train), "--content-tokens"
    if req.runtime == "llama.cpp":
        return train, "llama.cpp default (-c 0: the model's full context; --fit may shrink it)"
    if req.runtime == "lmstudio":
        return min(LMSTUDIO_DEFAULT_CTX, train), "LM Studio default"
    model_ctx = _ollama_model_ctx(spec)
    if model_ctx:
        return min(model_ctx, train), "the num_ctx the Ollama model's params layer sets"
    return min(ollama_default_ctx(hw), train), "Ollama default for this much VRAM"


def _with_template_overhead(spec: ModelSpec, runtime: str = "ollama") -> ModelSpec:
    """The spec with what its chat template adds to a conversation, measured by rendering the
    template in the sandbox (catalog.sources.templates.sandbox), when its source is known and not measured yet.

    Which template: Ollama applies its own Go template layer, not the GGUF's Jinja one, so for
    the Ollama runtime the layer is measured (a registry model's, or the one the catalog records
    for a library model, `ollama_overhead`); llama.cpp (`--jinja`) and LM Studio apply the Jinja."""
    ct = spec.chat_template or {}
    stored = ct.get("ollama_overhead")
    if runtime == "ollama" and isinstance(stored, dict):
        return spec._replace(chat_template={**ct, **stored, "origin": "Ollama template layer"})
    go = isinstance(ct.get("ollama_template"), str) and (runtime == "ollama" or not isinstance(ct.get("source"), str))
    if not (go or isinstance(ct.get("source"), str)) or "safe" in ct:
        return spec
    if not go and ct.get("origin") == "Ollama template layer":
        ct = {**ct, "origin": "GGUF header"}  # another runtime applies the GGUF's own template
    from catalog.sources.templates import sandbox as templates
    from catalog.sources.tokenizer import counter_for

    found = counter_for(spec)
    special = {}
    for k in ("bos", "eos"):  # a GGUF names its BOS/EOS by id: its template renders their text
        text, tid = ct.get(f"{k}_token"), ct.get(f"{k}_token_id")
        if text is None and found and isinstance(tid, int) and not isinstance(tid, bool):
            text = found.text_of(tid)
        special[k] = str(text or "")
    measured = templates.overhead(ct["ollama_template"] if go else ct["source"], special["bos"], special["eos"],
                                  found.count if found else None, ollama_system=ct.get("ollama_system"), go=go)
    if found and measured.get("safe"):
        measured["counted_with"] = found.label
    return spec._replace(chat_template={**ct, **measured})


def _template_bytes(spec: ModelSpec, est: MemoryEstimate, ctx: int) -> int:
    """The KV cache the template's typical-conversation overhead takes, at this cache type: the
    cache's bytes per context token times the overhead (exact for full-attention layers)."""
    tokens = int((spec.chat_template or {}).get("overhead_tokens") or 0)
    return est.kv_cache_bytes * tokens // ctx if ctx and tokens else 0


def _fit_default_context(spec: ModelSpec, quant: str, ctx: int, why: str, req: CheckRequest, kv: str,
                         hw: Hardware, budgets: tuple[int, ...]) -> tuple[int, str]:
    """What the runtime does when its own default context does not fit on the GPU(s) with `quant`:
    Ollama steps an automatic context down 256k -> 32k -> 4k (server/sched.go); llama.cpp's --fit
    shrinks an unset -c, not below 4096 (-fitc), before it gives up layers. LM Studio keeps its 4096."""
    if req.runtime == "lmstudio" or ctx <= 4096:
        return ctx, why
    tensors = tensors_for(spec, quant, repo=repo_for(spec, quant))
    lay = weight_layout(spec, tensors)
    ram = hw.ram_available_bytes or hw.ram_total_bytes

    def fits(c: int) -> bool:
        est = estimate(spec.arch, tensors, RuntimeOptions(c, kv, kv, req.flash_attn, req.batch,
                                                          min(req.ubatch, req.batch)), None, True, lay=lay,
                       gpu_shares=budgets)
        return est.fits(budgets) and (ram is None or est.cpu_bytes <= ram)

    if fits(ctx):
        return ctx, why
    if req.runtime == "ollama":
        for step in (32768, 4096):
            if step < ctx and (step == 4096 or fits(step)):
                return step, f"{why}, stepped down to {step} as Ollama does when {quant} does not fit at {ctx}"
        return ctx, why
    lo, hi = 4096 // 256, ctx // 256  # llama.cpp: the largest context (in 256-token cells) that fits
    if not fits(lo * 256):
        return 4096, f"{why}; --fit stops shrinking it at 4096 (-fitc) and offloads fewer layers"
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid * 256):
            lo = mid
        else:
            hi = mid - 1
    return lo * 256, f"{why}; --fit shrinks it to {lo * 256} so that {quant} fits"


def _ollama_model_ctx(spec: ModelSpec) -> int | None:
    """A num_ctx the Ollama model sets itself (its Modelfile's PARAMETER, the params layer): it wins
    over the VRAM-tiered default."""
    v = ((spec.ollama or {}).get("params") or {}).get("num_ctx")
    return int(v) if isinstance(v, int) and v > 0 else None


def _tokens_per_second(est: MemoryEstimate, lay: WeightLayout, hw: Hardware) -> float | None:
    """Decode speed from memory bandwidth: each token reads the active weights and the KV
    cache filled to half the context, from whichever memory holds them."""
    # the token embedding stays in RAM but only one row of it is read per token
    read_once = lay.total_bytes - lay.input_bytes + lay.tied_copy_bytes
    if read_once <= 0:
        return None
    frac_active = lay.active_bytes / read_once  # MoE: the used experts' share
    kv_read = est.kv_cache_bytes // 2
    kv_gpu_read = est.kv_gpu_bytes // 2
    bws = [g.bandwidth_bytes_per_s for g in hw.gpus if g.bandwidth_bytes_per_s]
    gpu_bw = min(bws) if bws else None
    gpu_read = est.weights_gpu_bytes * frac_active + kv_gpu_read
    cpu_read = max(0, read_once - est.weights_gpu_bytes) * frac_active + (kv_read - kv_gpu_read)
    t = 0.0
    if gpu_read > 0 and hw.gpus:
        if gpu_bw is None:
            return None
        t += gpu_read / gpu_bw
    if cpu_read > 0:
        t += cpu_read / DEFAULT_RAM_BANDWIDTH
    return round(DECODE_EFFICIENCY / t, 1) if t > 0 else None


def _memory_json(est: MemoryEstimate, template_bytes: int) -> dict[str, int]:
    return {
        "weights_bytes": est.weights_bytes,
        "kv_cache_bytes": est.kv_cache_bytes,
        "compute_bytes": est.compute_bytes,
        "overhead_bytes": est.overhead_bytes,
        "output_bytes": est.output_bytes,
        "template_bytes": template_bytes,
        "gpu_bytes": est.gpu_bytes,
        "cpu_bytes": est.cpu_bytes,
        "total_bytes": est.total_bytes,
        "weights_gpu_bytes": est.weights_gpu_bytes,
        "kv_cache_gpu_bytes": est.kv_gpu_bytes,
        "compute_host_bytes": est.compute_host_bytes,
    }


def download_target(spec: ModelSpec, quant: str) -> Target:
    """Where `quant` of this model is pulled from: its Ollama tag, GGUF repo and file, a local path."""
    tag = None
    ol = spec.ollama or {}
    for t, q in (ol.get("tags") or {}).items():
        if q == quant and t not in ("latest",):
            # prefer the explicit tag (8b-instruct-q4_K_M) over the bare size alias (8b)
            if tag is None or len(t) > len(tag.split(":", 1)[1]):
                tag = f"{ol['library']}:{t}"
    r = repo_for(spec, quant)
    repo = r["repo"] if r else (spec.gguf_repos[0]["repo"] if spec.gguf_repos else None)
    fname = ((r.get("files") or {}).get(quant) or {}).get("file") if r else None
    folder = os.path.dirname(spec.local_path) if spec.local_path and not spec.tensors else None
    return Target(tag, repo, fname, spec.local_path if spec.tensors else None, spec.hf_repo, None, folder)


def _row(spec: ModelSpec, quant: str, opts: RuntimeOptions, hw: Hardware, budgets: tuple[int, ...],
         ollama_ctx: int) -> dict[str, Any]:
    tensors = tensors_for(spec, quant, repo=repo_for(spec, quant))
    lay = weight_layout(spec, tensors)
    has_gpu = bool(hw.gpus)
    a = spec.arch
    # several GPUs: whole layers per GPU, rebalanced when llama.cpp's default proportions overfill one; -ts pins them
    shares = split_layers(a, tensors, opts, budgets, lay=lay) if has_gpu and len(budgets) > 1 else budgets
    full = estimate(a, tensors, opts, None, has_gpu, lay=lay, gpu_shares=shares)
    ram = hw.ram_available_bytes or hw.ram_total_bytes
    if has_gpu and full.fits(budgets) and (ram is None or full.cpu_bytes <= ram):
        est, verdict = full, "full_gpu"
    else:
        moe_n = fit_cpu_moe(a, tensors, opts, budgets, lay=lay) if has_gpu and a.n_expert else None
        if moe_n is not None:
            # keeping the experts of the first layers in RAM beats offloading fewer whole layers
            est = estimate(a, tensors, opts, None, True, lay=lay, gpu_shares=budgets, cpu_moe_layers=moe_n)
        else:
            ngl = fit_layers(a, tensors, opts, budgets, lay=lay) if has_gpu else 0
            est = estimate(a, tensors, opts, ngl, has_gpu, lay=lay, gpu_shares=budgets)
        if ram is not None and est.cpu_bytes > ram:
            verdict = "no_fit"
        elif est.gpu_layers > 0 and has_gpu:
            verdict = "partial"
        else:
            verdict = "cpu_only"
    tps = _tokens_per_second(est, lay, hw) if verdict != "no_fit" else None
    target = download_target(spec, quant)
    row: dict[str, Any] = {
        "quant": quant,
        "file_bytes": file_bytes(spec, quant, lay),
        "memory": _memory_json(est, _template_bytes(spec, est, opts.n_ctx)),
        "verdict": verdict,
        "gpu_layers": est.gpu_layers,
        "total_layers": est.total_layers,
        "tokens_per_second": tps,
        "tokens_per_second_is_estimate": True,
        "margin_bytes": sum(budgets) - est.gpu_bytes if has_gpu else None,
        "cpu_moe_layers": est.cpu_moe_layers,
        "commands": all_commands(target, quant, opts, est.gpu_layers, est.total_layers, ollama_ctx,
                                 est.cpu_moe_layers, est.per_gpu_layers),
    }
    if len(hw.gpus) > 1:
        row["gpu_split"] = [{"gpu": g.name, "layers": n, "bytes": b, "budget_bytes": budget, **parts}
                            for g, n, b, budget, parts in zip(hw.gpus, est.per_gpu_layers, est.per_gpu_bytes,
                                                              budgets, est.per_gpu_parts, strict=True)]
    return row


def _alignment(spec: ModelSpec) -> dict[str, Any]:
    if spec.alignment:
        return align.from_catalog(spec.alignment).to_json()
    return align.classify(spec.name, spec.sources.get("file") or spec.sources.get("config") or spec.id,
                          None, spec.chat_template.get("present")).to_json()


def check(spec: ModelSpec, pinned_quant: str | None, req: CheckRequest, hw: Hardware) -> dict[str, Any]:
    """Advice for one model on one machine (the `check --json` document).

    Args:
        spec: the resolved model.
        pinned_quant: the quantization the model's name chose (an Ollama tag, `:Q4_K_M`), if any.
        req: the user's options.
        hw: the hardware to fit against.
    """
    if req.runtime not in RUNTIMES:
        raise UsageError(f"unknown runtime {req.runtime!r}", "one of ollama, llama.cpp, lmstudio")
    kv = req.kv_type.upper()
    if kv not in ("F16", "Q8_0", "Q4_0", "BF16", "F32", "Q4_1", "Q5_0", "Q5_1", "IQ4_NL"):
        raise UsageError(f"unknown KV cache type {req.kv_type!r}", "f16, q8_0 or q4_0")
    if kv != "F16" and not req.flash_attn:
        raise UsageError("a quantized KV cache needs flash attention", "drop --flash-attn off")
    if req.ctx is not None and req.ctx <= 0:
        raise UsageError("--ctx must be positive")
    spec = _with_template_overhead(spec, req.runtime)
    ctx, ctx_why = _context(spec, req, hw)
    budgets = gpu_budgets(hw)
    budget = sum(budgets)
    ol_ctx = min(_ollama_model_ctx(spec) or ollama_default_ctx(hw), spec.arch.n_ctx_train or 4096)
    quants = _quants(spec, req, pinned_quant)
    if not (req.ctx or req.content_tokens) and hw.gpus:
        target = pinned_quant if pinned_quant in quants else ("Q4_K_M" if "Q4_K_M" in quants else quants[-1])
        ctx, ctx_why = _fit_default_context(spec, target, ctx, ctx_why, req, kv, hw, budgets)
    opts = RuntimeOptions(ctx, kv, kv, req.flash_attn, req.batch, min(req.ubatch, req.batch))
    rows = [_row(spec, q, opts, hw, budgets, ol_ctx) for q in quants]
    fits = [r for r in rows if r["verdict"] == "full_gpu"]
    recommended = fits[0]["quant"] if fits else None
    pinned_row = next((r for r in rows if r["quant"] == pinned_quant), None)
    if recommended is None and pinned_row is not None and pinned_row["verdict"] != "no_fit":
        recommended = pinned_quant  # nothing fits the GPU entirely: keep what the name asked for, if it runs
    if recommended is None:
        for r in rows:
            if r["verdict"] in ("partial", "cpu_only") and r["quant"] in ("Q4_K_M", "Q4_0", "Q3_K_M", "IQ3_M"):
                recommended = r["quant"]
                break
        else:
            ok = [r for r in rows if r["verdict"] != "no_fit"]
            recommended = ok[-1]["quant"] if ok else None
    a = spec.arch
    return {
        "schema": SCHEMA,
        "model": {
            "id": spec.id, "name": spec.name, "family": spec.family, "architecture": a.arch,
            "parameters": spec.parameters, "hf_repo": spec.hf_repo, "context_length": a.n_ctx_train,
            "layers": a.n_layer, "alignment": _alignment(spec),
            "chat_template": {
                "present": spec.chat_template.get("present"),
                "system_prompt_tokens": spec.chat_template.get("system_prompt_tokens"),
                "per_turn_tokens": spec.chat_template.get("per_turn_tokens"),
                **{k: v for k, v in spec.chat_template.items()
                   if k not in ("source", "bos_token", "eos_token", "bos_token_id", "eos_token_id",
                                "ollama_template", "ollama_system", "ollama_overhead")},
            },
            "license": spec.license, "gated": spec.gated, "sources": spec.sources,
        },
        "hardware": {
            "source": hw.source,
            "gpus": [{"name": g.name, "memory_total_bytes": g.memory_total_bytes,
                      "memory_free_bytes": g.memory_free_bytes,
                      "bandwidth_bytes_per_s": g.bandwidth_bytes_per_s, "source": g.source} for g in hw.gpus],
            "ram_bytes": hw.ram_total_bytes,
            "gpu_budget_bytes": budget,
            "safety_margin": (f"{MARGIN_FIXED >> 20} MiB + {MARGIN_FRACTION:.0%} of each GPU"
                              + (f", and {PROFILE_RESERVE_FRACTION:.0%} (at least {PROFILE_RESERVE_MIN >> 20} MiB)"
                                 " for the driver and desktop on a named card" if hw.source == "profile" else "")),
            "notes": list(hw.notes),
        },
        "options": {
            "context": ctx, "context_source": ctx_why, "kv_type": kv.lower(), "flash_attention": req.flash_attn,
            "batch": req.batch, "ubatch": opts.n_ubatch, "runtime": req.runtime,
        },
        "requested_quant": pinned_quant,
        "quants": rows,
        "recommended": recommended,
        "command_notes": [
            "llama.cpp: without -c it allocates the model's full context (-c 0) and --fit (on by default) may "
            "shrink -c and -ngl to fit; the commands pin both to this estimate",
            "Ollama: OLLAMA_CONTEXT_LENGTH, OLLAMA_KV_CACHE_TYPE and OLLAMA_FLASH_ATTENTION are server settings "
            "(restart `ollama serve` with them); num_ctx alone can also be set per session with /set parameter",
        ],
    }


def summary(spec: ModelSpec, req: CheckRequest, hw: Hardware) -> dict[str, Any]:
    """One catalog row (the TUI's and `search --fits`'s): the model, its recommended quantization on
    this hardware with that row's GPU bytes, verdict and speed, and the whole check."""
    res = check(spec, None, req, hw)
    best = next((q for q in res["quants"] if q["quant"] == res["recommended"]), None)
    return {"id": spec.id, "name": spec.name, "family": spec.family,
            "kind": (spec.alignment or {}).get("kind"), "parameters": spec.parameters,
            "best_quant": best["quant"] if best else None, "verdict": best["verdict"] if best else "no_fit",
            "gpu_bytes": best["memory"]["gpu_bytes"] if best else None,
            "tokens_per_second": best["tokens_per_second"] if best else None, "check": res}


def estimate_loaded(spec: ModelSpec, quant: str, context: int | None, kv_type: str = "F16",
                    flash_attn: bool = True) -> dict[str, Any]:
    """Our estimate for a model a runtime has loaded, fully offloaded, at the context it reports.

    Args:
        spec: the model (best: its real GGUF header).
        quant: its quantization.
        context: the context the runtime allocated (None: 4096, Ollama's smallest default).
    Returns:
        {"quant", "context", "memory": {...}} with the same byte fields as `check`'s rows.
    """
    ctx = context or min(4096, spec.arch.n_ctx_train or 4096)
    opts = RuntimeOptions(ctx, kv_type, kv_type, flash_attn, 2048, 512)
    tensors = tensors_for(spec, quant, repo=repo_for(spec, quant))
    est = estimate(spec.arch, tensors, opts, None, True, lay=weight_layout(spec, tensors))
    return {"model": spec.id, "quant": quant, "context": ctx, "gpu_bytes": est.gpu_bytes,
            "total_bytes": est.total_bytes, "memory": _memory_json(est, 0)}


def exit_code_for(result: dict[str, Any]) -> int:
    """Contract exit code: from the requested quantization if the name pinned one, else the recommended."""
    by_q = {r["quant"]: r for r in result["quants"]}
    rec = result.get("recommended")
    verdicts = [by_q[q]["verdict"] for q in (result.get("requested_quant"), rec) if q in by_q]
    if "full_gpu" in verdicts:
        return EXIT_FITS
    if "partial" in verdicts:
        return EXIT_PARTIAL
    if "cpu_only" in verdicts:
        return EXIT_CPU_ONLY
    return EXIT_NO_FIT
