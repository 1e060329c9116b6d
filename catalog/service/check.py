"""`catalog.check`: does a model run on this hardware, at which quantization and context, how much memory
does each part take, and what does one type? Composed from the core's rules; no I/O.

The spec arrives resolved (catalog.service.resolve), its chat template already measured; the
hardware arrives detected or named. Every rule used here lives in one core module: the context in
catalog.core.context, the margin in .fit, the rows and recommendation in .ranking, the bytes in
.memory and .fit, the speed in .speed, the commands in .commands.
"""


from collections.abc import Callable

from catalog.core import ollama, ranking
from catalog.core.arch import NOT_RUN
from catalog.core.commands import all_commands, download_target
from catalog.core.fit import (
    fit_cpu_moe,
    fit_layers,
    fit_level,
    gpu_budgets,
    margin_text,
    ollama_context,
    requested_context,
    shrink_default,
    split_layers,
    trained_context,
)
from catalog.core.ggml import Tensor
from catalog.core.memo import MISS, Memo
from catalog.core.memory import MemoryEstimate, RuntimeOptions, WeightLayout, estimate, runtime_options
from catalog.core.model import (
    ModelSpec,
    TemplateCost,
    alignment_of,
    applied_template,
    downloadable_quants,
    file_bytes,
    layout_for,
)
from catalog.core.options import OLLAMA_CTX_SMALLEST, CheckRequest, Verdict, validate
from catalog.core.results import (
    CheckResult,
    Commands,
    GpuShare,
    MemoryBreakdown,
    OllamaLoad,
    QuantRow,
    ResolvedOptions,
)
from catalog.core.speed import active_parameters, check_seconds, per_second, prefill_per_second
from hardware import Hardware

COMMAND_NOTES = (
    "llama.cpp: without -c it allocates the model's full context (-c 0) and --fit (on by default) may "
    "shrink -c and -ngl to fit; the commands pin both to this estimate",
    "Ollama: OLLAMA_CONTEXT_LENGTH, OLLAMA_KV_CACHE_TYPE and OLLAMA_FLASH_ATTENTION (ollama_server_env) are "
    "settings of the running Ollama service (Ollama's FAQ, 'How do I configure Ollama server?'): macOS "
    "`launchctl setenv NAME value` and restart the app; Linux `systemctl edit ollama.service` with "
    "Environment=\"NAME=value\" under [Service], then `systemctl daemon-reload && systemctl restart ollama`; "
    "Windows: set them as user environment variables and restart Ollama. num_ctx alone can also be set per "
    "session with /set parameter",
    "LM Studio: `lms get https://huggingface.co/OWNER/REPO@QUANT` needs an lms from April 2026 on "
    "(lmstudio-ai/lms 8d3f370); an older lms takes a bare OWNER/REPO as an LM Studio Hub artifact",
)


# the tensor table a check passes where the layout (`layout_for`) is given: the fit and the estimate read only the
# layout then, and a check never builds a table a layout cached on disk already answers
NO_TABLE: list[Tensor] = []


class _Machine:
    """The hardware as the fit sees it: each GPU's budget, and the RAM a partial offload may fill."""

    def __init__(self, hw: Hardware, projector_bytes: int = 0) -> None:
        self.hw = hw
        self.full_budgets = gpu_budgets(hw.gpus, hw.source == "profile")
        self.ram = hw.ram_available_bytes or hw.ram_total_bytes
        self.has_gpu = bool(hw.gpus)
        # a vision projector sits on the first GPU (clip's main device), or in RAM without one: the model's layers
        # fit in what it leaves
        self.projector = projector_bytes
        self.budgets = self.full_budgets
        if projector_bytes and self.has_gpu:
            self.budgets = (max(0, self.full_budgets[0] - projector_bytes), *self.full_budgets[1:])
        elif projector_bytes and self.ram is not None:
            self.ram = max(0, self.ram - projector_bytes)
        # Apple's unified memory: what stays "on the CPU" comes out of the same memory the GPU's share does, so
        # the two together must fit the GPU's working set (macOS keeps the rest); a partial offload adds nothing
        self.unified = any(g.vendor == "apple" for g in hw.gpus)

    def ram_left(self, est: MemoryEstimate) -> int | None:
        """The memory what is not on the GPU may use: the RAM, or on unified memory what the GPU left."""
        return sum(self.budgets) - est.gpu_bytes if self.unified else self.ram

    def fits(self, est: MemoryEstimate) -> bool:
        left = self.ram_left(est)
        return est.fits(self.budgets) and (left is None or est.cpu_bytes <= left)


def check(spec: ModelSpec, request: CheckRequest, hardware: Hardware, *, commands: bool = True) -> CheckResult:
    """Advice for one model on one machine.

    Args:
        spec: the resolved model (`catalog.resolve`); `spec.pinned_quant` is the quantization its name chose.
        request: the user's options.
        hardware: the hardware to fit against (detected, a named profile, or a budget).
        commands: False leaves every row's commands unwritten (UNWRITTEN): a list's line (`summarize`) reads only
            the verdicts, and the commands are a third of a check's time.
    Raises:
        UsageError: an option no runtime would run, or an unknown quantization.
    """
    validate(request)
    request = _as_ollama_runs(request, hardware)
    template = applied_template(spec.template, request.runtime)
    m = _Machine(hardware, spec.projector_bytes if request.vision else 0)
    ctx, why = requested_context(spec, request, template, hardware.vram_total_bytes)
    quants = ranking.quants_to_show(spec, request.quants)
    if not (request.ctx or request.content_tokens) and m.has_gpu:
        target = ranking.default_target(quants, spec.pinned_quant)
        ctx, why = shrink_default(request.runtime, target, ctx, why, _context_fits(spec, target, request, m))
    opts = runtime_options(request, ctx)
    ol_ctx = ollama_context(spec, hardware.vram_total_bytes)
    # the projector is loaded where it is counted; a vision model's unsized one (or --no-vision) is left out of
    # llama-server's command so the command runs what was estimated
    vision = ("load" if request.vision and spec.projector_bytes else "skip") if spec.projector_kind else ""
    built = []
    for q in quants:  # each quantization's layout and file size found once, for its row and Ollama's batch
        lay = layout_for(spec, q)
        size = file_bytes(spec, q, lay)
        built.append(_row(spec, q, lay, size, _ollama_opts(request, opts, spec, size, m), m, template, ol_ctx,
                          request.min_tps, vision, request.runtime, commands))
    rows = tuple(built)
    pick, pick_why = ranking.recommend(
        [ranking.Candidate(r.quant, r.verdict, r.tokens_per_second,
                           ranking.bits_per_weight(r.file_bytes, spec.parameters)) for r in rows],
        downloadable_quants(spec), request.prefer, request.min_tps)
    return CheckResult(
        spec=spec, alignment=alignment_of(spec), template=template, hardware=hardware,
        gpu_budget_bytes=sum(m.full_budgets), safety_margin=margin_text(hardware.source == "profile"),
        options=ResolvedOptions(ctx, why, opts.type_k.lower(), request.flash_attn, request.batch, opts.n_ubatch,
                                request.runtime, request.prefer, request.min_tps, opts.type_v.lower(), opts.n_seq,
                                request.gpu_layers, request.n_cpu_moe),
        rows=rows, recommended=pick, recommended_why=pick_why, command_notes=COMMAND_NOTES)


def _context_fits(spec: ModelSpec, quant: str, request: CheckRequest, m: _Machine) -> Callable[[int], bool]:
    """Whether a context fits the GPU(s) fully offloaded with `quant` (the tensor table is built once)."""

    lay = layout_for(spec, quant)
    size = file_bytes(spec, quant, lay)

    def fits(c: int) -> bool:
        opts = _ollama_opts(request, runtime_options(request, c), spec, size, m)
        return m.fits(estimate(spec.arch, NO_TABLE, opts, None, True, lay=lay, gpu_shares=m.budgets))

    return fits


def _as_ollama_runs(request: CheckRequest, hardware: Hardware) -> CheckRequest:
    """Under Ollama, flash attention off where Ollama turns it off: an NVIDIA GPU older than Pascal (or a Jetson
    Xavier) among those it places the model on, unless the request asks for a quantized cache (which needs it)."""
    if request.runtime != "ollama" or not request.flash_attn or request.cache_types != ("F16", "F16"):
        return request
    caps = [g.compute_capability for g in hardware.gpus if g.vendor == "nvidia"]
    return request if ollama.flash_attention_supported(caps) else request._replace(flash_attn=False)


def _ollama_opts(request: CheckRequest, opts: RuntimeOptions, spec: ModelSpec, size: int,
                 m: _Machine) -> RuntimeOptions:
    """Under Ollama, `opts` with the -b/-ub it starts llama-server with for this file, context and machine
    (catalog.core.ollama.launch_batch); otherwise `opts` as they are."""
    if request.runtime != "ollama":
        return opts
    given = request.ollama_batch
    predicted = None if given else ollama.predicted_vram(spec.arch, size, opts.n_ctx)  # size: the GGUF file's
    batch = ollama.launch_batch(given, opts.n_ctx, predicted, m.hw.gpus, opts.flash_attn)
    return opts if batch == opts.n_batch else opts._replace(n_batch=batch, n_ubatch=batch)


def _ollama_load(opts: RuntimeOptions, est: MemoryEstimate) -> OllamaLoad:
    size, vram = ollama.ps_bytes(est.gpu_bytes, est.total_bytes, est.overhead_bytes,
                                 est.gpu_layers == est.total_layers and not est.cpu_moe_layers)
    return OllamaLoad(ollama.OLLAMA_VERSION, opts.n_batch, size, vram)


def _placement(spec: ModelSpec, tensors: list[Tensor], lay: WeightLayout, opts: RuntimeOptions,
               m: _Machine) -> tuple[MemoryEstimate, Verdict]:
    """Where the model runs: fully on the GPU(s) if it fits; else a MoE's experts of the first layers in RAM
    (better than fewer whole layers); else as many layers as fit; else the CPU."""
    a = spec.arch
    # several GPUs: whole layers per GPU, rebalanced when llama.cpp's default proportions overfill one; -ts pins them
    shares = split_layers(a, tensors, opts, m.budgets, lay=lay) if m.has_gpu and len(m.budgets) > 1 else m.budgets
    if opts.gpu_layers is not None or opts.cpu_moe is not None:
        return _pinned(spec, tensors, lay, opts, m, shares)
    full = estimate(a, tensors, opts, None, m.has_gpu, lay=lay, gpu_shares=shares)
    if m.has_gpu and m.fits(full):
        return full, "full_gpu"
    moe_n = fit_cpu_moe(a, tensors, opts, m.budgets, lay=lay) if m.has_gpu and a.n_expert else None
    if moe_n is not None:
        est = estimate(a, tensors, opts, None, True, lay=lay, gpu_shares=m.budgets, cpu_moe_layers=moe_n)
    else:
        ngl = fit_layers(a, tensors, opts, m.budgets, lay=lay) if m.has_gpu else 0
        est = estimate(a, tensors, opts, ngl, m.has_gpu, lay=lay, gpu_shares=m.budgets)
    left = m.ram_left(est)
    if left is not None and est.cpu_bytes > left:
        return est, "no_fit"
    return est, "partial" if est.gpu_layers > 0 and m.has_gpu else "cpu_only"


def _pinned(spec: ModelSpec, tensors: list[Tensor], lay: WeightLayout, opts: RuntimeOptions, m: _Machine,
            shares: tuple[int, ...]) -> tuple[MemoryEstimate, Verdict]:
    """Exactly the -ngl and --n-cpu-moe asked for: the verdict says whether that setting runs, never another."""
    moe = min(opts.cpu_moe or 0, spec.arch.n_layer) if spec.arch.n_expert else 0
    est = estimate(spec.arch, tensors, opts, opts.gpu_layers, m.has_gpu, lay=lay, gpu_shares=shares,
                   cpu_moe_layers=moe)
    left = m.ram_left(est)
    if (m.has_gpu and not m.fits(est)) or (left is not None and est.cpu_bytes > left):
        return est, "no_fit"
    if not m.has_gpu or est.gpu_layers == 0:
        return est, "cpu_only"
    return est, "full_gpu" if est.gpu_layers == est.total_layers and not moe else "partial"


def _memory(est: MemoryEstimate, template_bytes: int, projector: int = 0, on_gpu: bool = True) -> MemoryBreakdown:
    """The breakdown of one estimate, with a vision projector's bytes on the GPU (or in RAM without one)."""
    gpu, cpu = est.gpu_bytes + (projector if on_gpu else 0), est.cpu_bytes + (0 if on_gpu else projector)
    return MemoryBreakdown(est.weights_bytes, est.kv_cache_bytes, est.compute_bytes, est.overhead_bytes,
                           est.output_bytes, template_bytes, gpu, cpu, est.total_bytes + projector,
                           est.weights_gpu_bytes, est.kv_gpu_bytes, est.compute_host_bytes, projector)


def template_bytes(template: TemplateCost, est: MemoryEstimate, ctx: int) -> int:
    """The KV cache the template's typical-conversation overhead takes, at this cache type: the cache's bytes
    per context token times the overhead (exact for full-attention layers)."""
    tokens = int(template.overhead_tokens or 0)
    return est.kv_cache_bytes * tokens // ctx if ctx and tokens else 0


def _row(spec: ModelSpec, quant: str, lay: WeightLayout, size: int, opts: RuntimeOptions, m: _Machine,
         template: TemplateCost, ollama_ctx: int, min_tps: float, vision: str = "", runtime: str = "",
         commands: bool = True) -> QuantRow:
    """One quantization's row (`lay`: its layout, `size`: its file's bytes)."""
    est, verdict = _placement(spec, NO_TABLE, lay, opts, m)
    tps = per_second(check_seconds(est, lay, m.hw.gpus, m.hw.ram_bandwidth_bytes_per_s)) \
        if verdict != "no_fit" else None
    split: tuple[GpuShare, ...] = ()
    if len(m.hw.gpus) > 1:
        split = tuple(GpuShare(g.name, n, b, budget, parts) for g, n, b, budget, parts in zip(
            m.hw.gpus, est.per_gpu_layers, _with_projector(est.per_gpu_bytes, m.projector), m.full_budgets,
            est.per_gpu_parts, strict=True))
    memory = _memory(est, template_bytes(template, est, opts.n_ctx), m.projector, m.has_gpu)
    return QuantRow(
        quant=quant, file_bytes=size, memory=memory,
        verdict=verdict, gpu_layers=est.gpu_layers, total_layers=est.total_layers, tokens_per_second=tps,
        margin_bytes=sum(m.budgets) - est.gpu_bytes if m.has_gpu else None, cpu_moe_layers=est.cpu_moe_layers,
        commands=_commands(spec, quant, opts, est, ollama_ctx, vision) if commands else UNWRITTEN,
        gpu_split=split, fit=fit_level(verdict, tps, est.gpu_bytes, sum(m.budgets), min_tps),
        prefill_tokens_per_second=prefill_per_second(active_parameters(spec.parameters, lay), m.hw.gpus,
                                                     est.per_gpu_layers) if verdict == "full_gpu" else None,
        ollama=_ollama_load(opts, est) if runtime == "ollama" else None)


def _with_projector(per_gpu: tuple[int, ...], projector: int) -> tuple[int, ...]:
    return (per_gpu[0] + projector, *per_gpu[1:]) if per_gpu else per_gpu


def _commands(spec: ModelSpec, quant: str, opts: RuntimeOptions, est: MemoryEstimate, ollama_ctx: int,
              vision: str = "") -> Commands:
    """The three runtimes' commands; none for an architecture no runtime loads (a command must run)."""
    if spec.arch.arch in NOT_RUN:
        return Commands("", "", "", "", "", note=f"no runtime here loads {spec.arch.arch}: llama.cpp refuses it")
    rest = (quant, opts, est.gpu_layers, est.total_layers, ollama_ctx, est.cpu_moe_layers, est.per_gpu_layers, vision)
    hit = _COMMANDS.get((spec,), rest)
    if hit is not MISS:
        return hit  # type: ignore[no-any-return]
    return _COMMANDS.put((spec,), rest, all_commands(  # type: ignore[no-any-return]
        download_target(spec, quant)._replace(vision=vision), quant, opts, est.gpu_layers, est.total_layers,
        ollama_ctx, est.cpu_moe_layers, est.per_gpu_layers))


# the commands of a check asked without them (`check(..., commands=False)`)
UNWRITTEN = Commands("", "", "", "", "", note="not written: this check was asked without commands")


# commands already written, by the spec and all they depend on: the profiles of an export and a TUI's re-estimates
# print the same ones again
_COMMANDS = Memo(4096)


def estimate_loaded(spec: ModelSpec, quant: str, context: int | None, kv_type: str = "F16",
                    flash_attn: bool = True) -> tuple[int, MemoryBreakdown]:
    """Our estimate for a model a runtime has loaded, fully offloaded, at the context it reports.

    Args:
        spec: the model (best: its real GGUF header).
        quant: its quantization.
        context: the context the runtime allocated (None: Ollama's smallest default).
    Returns:
        The context estimated for, and the memory with the same fields as a check's rows.
    """
    ctx = context or min(OLLAMA_CTX_SMALLEST, trained_context(spec))
    opts = RuntimeOptions(ctx, kv_type, kv_type, flash_attn)
    est = estimate(spec.arch, NO_TABLE, opts, None, True, lay=layout_for(spec, quant))
    return ctx, _memory(est, 0)
