"""Human output for the CLI: rich tables on stdout (imported only when needed)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from catalog.core.model import estimate_note
from catalog.core.results import COMMAND_LABELS

if TYPE_CHECKING:  # read only: a check's table must not load the plan's or the list's types
    from catalog import Summary
    from catalog.core.model import ModelSpec, TemplateCost
    from catalog.core.plan_types import PlanResult
    from catalog.core.results import CheckResult, Commands, QuantRow, ResolvedOptions
    from hardware import Hardware

VERDICT_TEXT = {"full_gpu": "full GPU", "partial": "partial", "cpu_only": "CPU only", "no_fit": "won't fit"}
VERDICT = {k: f"[{colour}]{VERDICT_TEXT[k]}[/]" for k, colour in
           (("full_gpu", "green"), ("partial", "yellow"), ("cpu_only", "magenta"), ("no_fit", "red"))}
FIT = {"fits": "[green]fits[/]", "tight": "[green]tight[/]", "partial": "[yellow]partial[/]",
       "cpu only": "[magenta]cpu only[/]", "too slow": "[magenta]too slow[/]", "won't run": "[red]won't run[/]"}


def gib(n: int | None) -> str:
    """Bytes as binary GiB with two decimals."""
    return "-" if n is None else f"{n / (1 << 30):.2f}"


def _print_commands(con: Console, c: Commands) -> None:
    """The recommended row's three commands, and what a user needs to know to run them."""
    for label, field in COMMAND_LABELS:
        cmd = getattr(c, field)
        if cmd:
            con.print(f"  {label:10} {cmd}", soft_wrap=True, markup=False)
    if c.ollama_server_env:
        con.print(f"  {'':10} with the Ollama service's environment set to {c.ollama_server_env} "
                  "(macOS: launchctl setenv; Linux: systemctl edit ollama.service; Windows: user environment "
                  "variables; then restart Ollama)", soft_wrap=True, markup=False)
    if c.ollama_session:
        con.print(f"  {'':10} (or: {c.ollama_session})", soft_wrap=True, markup=False)
    if c.note:
        con.print(f"  {'':10} {c.note}", soft_wrap=True, markup=False)
    if c.file_source:
        con.print(f"  {'':10} file listed at: {c.file_source}", soft_wrap=True, markup=False)


def _print_no_fit(con: Console, r: CheckResult, smaller: Summary | None, asked: str) -> None:
    """Nothing runs: what the smallest row needs against what there is, and what does run."""
    least = min(r.rows, key=lambda q: q.memory.total_bytes)
    ram = r.hardware.ram_available_bytes or r.hardware.ram_total_bytes or 0
    if any(g.vendor == "apple" for g in r.hardware.gpus):
        have = (f"Metal lets the GPU wire {gib(r.gpu_budget_bytes)} GiB (after margin) of the Mac's {gib(ram)} GiB "
                "of unified memory; `sudo sysctl iogpu.wired_limit_mb=N` raises that limit until a restart")
    else:
        have = f"there are {gib(r.gpu_budget_bytes)} GiB of GPU budget and {gib(ram)} GiB of RAM"
    con.print(f"[red]No quantization runs on this machine at context {r.options.context}.[/] The smallest, "
              f"{least.quant}, needs {gib(least.memory.total_bytes)} GiB; {have}.", soft_wrap=True)
    if smaller is not None:
        con.print(f"  {smaller.spec.name} ({smaller.spec.id}) runs here: {smaller.best_quant}, "
                  f"{VERDICT_TEXT[smaller.verdict]}" + (f", ~{smaller.tokens_per_second:.0f} tok/s"
                                                        if smaller.tokens_per_second else ""), soft_wrap=True)
    con.print(f"  across machines: catalog plan {asked} --host NAME:GPU[xN],RAM_GIB --host ...", soft_wrap=True,
              markup=False)


def _quant_table(r: CheckResult) -> Table:
    """One row per quantization: sizes, where they sit, how it runs, the speed."""
    hw, o = r.hardware, r.options
    unified = any(g.vendor == "apple" for g in hw.gpus)
    shown = ("GPU = unified memory Metal wires for the GPU, RAM = the rest of the same memory (one pool, counted "
             "once)" if unified else "GPU = what nvidia-smi will show")
    vision = any(q.memory.projector_bytes for q in r.rows)
    t = Table(caption=f"GiB = 2^30 bytes; {shown}; breakdown = weights + KV + compute + "
              f"overhead{' + vision projector' if vision else ''}; fit: tight = under 5 % of the GPU budget left, "
              f"too slow = under {o.min_tps:g} tok/s",
              caption_justify="left")
    t.add_column("quant", no_wrap=True)
    for col in ("file", "GPU", "RAM"):
        t.add_column(col, justify="right", no_wrap=True)
    t.add_column("fit", no_wrap=True)
    t.add_column("layers", justify="right", no_wrap=True)
    t.add_column("tok/s", justify="right", no_wrap=True)
    t.add_column("breakdown", no_wrap=True)
    for q in r.rows:
        mem = q.memory
        mark = "*" if q.quant == r.recommended else ""
        breakdown = " + ".join(gib(b) for b in (mem.weights_bytes, mem.kv_cache_bytes, mem.compute_bytes,
                                                mem.overhead_bytes, *([mem.projector_bytes] if vision else [])))
        t.add_row(q.quant + mark, gib(q.file_bytes), gib(mem.gpu_bytes), gib(mem.cpu_bytes),
                  FIT[q.fit], f"{q.gpu_layers}/{q.total_layers}"
                  + (f" +{q.cpu_moe_layers} MoE in RAM" if q.cpu_moe_layers else ""),
                  "-" if q.tokens_per_second is None else f"{q.tokens_per_second:.0f}", breakdown)
    return t


def _print_ollama(con: Console, rec: QuantRow, hw: Hardware) -> None:
    """What `ollama ps` will show for the recommended row, and what it leaves out."""
    from catalog.core.ollama import human_bytes, processor

    ol = rec.ollama
    if ol is None:  # another runtime was asked for
        return
    counted = ("nvidia-smi also counts" if any(g.vendor == "nvidia" for g in hw.gpus)
               else "the estimate above also counts")  # nvidia-smi is no Mac's or AMD card's tool
    con.print(f"  Ollama {ol.version} (num_batch {ol.num_batch}): `ollama ps` shows {human_bytes(ol.size_bytes)}, "
              f"{processor(ol.size_bytes, ol.size_vram_bytes)}: its buffers, without the "
              f"{gib(rec.memory.overhead_bytes)} GiB of GPU runtime {counted}", soft_wrap=True, markup=False)


def print_check(r: CheckResult, smaller: Summary | None = None, asked: str = "") -> None:
    """The check result: model, hardware, one row per quantization, then the commands."""
    con = Console(highlight=False, width=max(110, Console().width))
    spec, hw, o, al = r.spec, r.hardware, r.options, r.alignment
    con.print(f"[bold]{spec.name}[/]  ({spec.arch.arch}, {spec.parameters / 1e9:.2f} B parameters, "
              f"{al.kind}{' via ' + '+'.join(al.methods) if al.methods else ''})")
    gpus = ", ".join(f"{g.name} ({gib(g.memory_total_bytes)} GiB)" for g in hw.gpus) or "no GPU"
    con.print(f"Hardware ({hw.source}): {gpus}; RAM {gib(hw.ram_total_bytes)} GiB; "
              f"GPU budget {gib(r.gpu_budget_bytes)} GiB after margin")
    kv = o.kv_type if o.kv_type == o.kv_type_v else f"K {o.kv_type} / V {o.kv_type_v}"
    slots = f", {o.parallel} slots (-np)" if o.parallel != 1 else ""
    con.print(f"Context {o.context} ({o.context_source}), KV {kv}{slots}, "
              f"flash attention {'on' if o.flash_attention else 'off'}, ubatch {o.ubatch}")
    note = estimate_note(spec)
    if note:
        con.print(f"[yellow]Note:[/] {note}", soft_wrap=True)
    t = _quant_table(r)
    con.print(t)
    rec = r.recommended_row
    if rec is None:
        _print_no_fit(con, r, smaller, asked or spec.id)
        return
    req = r.row(spec.pinned_quant)
    if req is not None and req is not rec:
        con.print(f"The name you gave picks {req.quant} ({req.fit}); {rec.quant} is recommended.")
    speed = f", ~{rec.tokens_per_second:.0f} tok/s" if rec.tokens_per_second else ""
    pp = rec.prefill_tokens_per_second
    speed += f", prompt ~{pp:.0f} tok/s" if pp else ""
    con.print(f"Recommended: [bold]{rec.quant}[/] ({rec.fit}{speed}): {r.recommended_why}", soft_wrap=True)
    if smaller is not None:
        con.print(f"  a smaller model of the family runs well here: {smaller.spec.name} ({smaller.spec.id}), "
                  f"{smaller.best_quant}, {smaller.fit}" + (f", ~{smaller.tokens_per_second:.0f} tok/s"
                                                          if smaller.tokens_per_second else ""),
                  soft_wrap=True, markup=False)
    if pp and o.context_source == "--content-tokens":
        con.print(f"  a {o.context}-token prompt: ~{o.context / pp:.1f} s before the first token", soft_wrap=True)
    for part in rec.gpu_split:
        con.print(f"  {part.gpu}: {part.layers} layers, {gib(part.bytes)} of {gib(part.budget_bytes)} GiB")
    if rec.cpu_moe_layers:
        con.print(f"  experts of the first {rec.cpu_moe_layers} layers stay in RAM (llama.cpp --n-cpu-moe)")
    _print_ollama(con, rec, hw)
    ram_bw = f"system RAM at {hw.ram_bandwidth_bytes_per_s / 1e9:g} GB/s" if hw.ram_bandwidth_bytes_per_s else \
        "system RAM assumed at 60 GB/s, --ram-bw sets it"
    con.print(f"  tok/s: decode speed estimated from memory bandwidth (the card's; {ram_bw}) and "
              "a per-layer cost, prompt speed from the card's FLOP/s, both calibrated on published llama.cpp runs "
              "(bench/RESULTS.md); "
              f"safety margin: {r.safety_margin}; --prefer speed and --min-tps N change the choice", soft_wrap=True)
    _print_commands(con, rec.commands)
    if rec.commands.llama_cpp:
        con.print("  llama.cpp pins -c and -ngl here: left out, it takes the full context and --fit shrinks it",
                  soft_wrap=True, markup=False)
    _print_template(con, r.template, o, rec)


def _print_template(con: Any, ct: TemplateCost, o: ResolvedOptions, rec: QuantRow) -> None:
    """What the chat template costs: tokens, the KV they take, the context left for content."""
    if not ct.present:
        con.print("Chat template: none (a base model: every token of the context is yours)")
        return
    if ct.safe is False:
        con.print(f"Chat template: [red]not rendered[/] ({ct.unsafe or ct.error})")
        return
    if ct.overhead_tokens is None:
        con.print("Chat template: present, not measured (its text is not known here)")
        return
    over = int(ct.overhead_tokens)
    kv = rec.memory.template_bytes or 0
    turns = ct.turns or 5
    which = " (Ollama's template layer)" if ct.origin == "Ollama template layer" else ""
    sp = ct.system_prompt_tokens
    con.print(f"Chat template{which}: default system prompt {sp} token{'' if sp == 1 else 's'}, "
              f"{ct.per_user_turn_tokens} per user turn, {ct.per_assistant_turn_tokens} per reply; "
              f"a {turns}-turn conversation adds {over} tokens = {kv / 2**20:.1f} MiB of {o.kv_type} KV; "
              f"{max(0, o.context - over)} of the {o.context} context tokens are left for content "
              f"(counted with {ct.counted_with})")


def print_hw(hw: Hardware) -> None:
    """The detected hardware."""
    con = Console(highlight=False)
    t = Table(title=f"Hardware ({hw.source}, {hw.platform})")
    for col in ("GPU", "total GiB", "free GiB", "bandwidth GB/s", "source"):
        t.add_column(col)
    for g in hw.gpus:
        bw = g.bandwidth_bytes_per_s
        t.add_row(g.name, gib(g.memory_total_bytes), gib(g.memory_free_bytes), "-" if not bw else f"{bw / 1e9:.0f}",
                  g.source)
    if hw.gpus:
        con.print(t)
    else:
        con.print(f"No GPU ({hw.source}, {hw.platform}): models run on the CPU; name one with --gpu NAME "
                  "(`catalog gpus` lists them) or --vram GIB")
    con.print(f"RAM: {gib(hw.ram_total_bytes)} GiB total, {gib(hw.ram_available_bytes)} GiB available")
    for n in hw.notes:
        con.print(f"note: {n}")


def print_search(specs: list[ModelSpec], summaries: dict[str, Summary] | None) -> None:
    """`catalog search`: one line a model (with its recommended quantization when fitted)."""
    for s in specs:
        kind = s.alignment.kind if s.alignment else None
        extra = f" {summaries[s.id].best_quant:7}" if summaries is not None else ""
        sys.stdout.write(f"{s.id:40} {kind or '?':10} {s.parameters / 1e9:6.2f}B{extra} {s.hf_repo or ''}\n")


def print_plan(res: PlanResult) -> None:
    """`catalog plan`: each engine's devices, hosts, commands and notes, then the head alone."""
    out = sys.stdout
    how, tps = res.fastest
    out.write(f"Fastest: {how}, ~{tps:g} tok/s\n" if how and tps else
              f"Fastest: {how}\n" if how else "Nothing runs on these hosts at this context\n")
    for n in res.notes:
        out.write(f"note: {n}\n")
    out.write("GiB per GPU: total of budget (weights + KV cache, and for llama.cpp its compute buffer + "
              "CUDA context and pool)\n")
    head = res.head_alone
    for p in res.plans:
        out.write(f"{p.engine}: {'fits' if p.fits else 'does not fit'}"
                  + (f", ~{p.tokens_per_second:g} tok/s" if p.tokens_per_second else "") + "\n")
        for d in p.devices:
            parts = " + ".join(f"{b / 2**30:.2f}" for b in (d.weights_bytes, d.kv_cache_bytes, d.compute_bytes,
                                                            d.overhead_bytes) if b is not None)
            out.write(f"  {d.host:12} {d.gpu:36} {d.layers:4} layers {d.bytes / 2**30:7.2f} of "
                      f"{d.budget_bytes / 2**30:6.2f} GiB" + (f"  ({parts})" if parts else "") + "\n")
        if p.cpu_layers:
            out.write(f"  {head.host:12} {'CPU':36} {p.cpu_layers:4} layers (in RAM)\n")
        for h in p.hosts:
            if h.ram_needed_bytes:
                out.write(f"  {h.host:12} RAM {h.ram_needed_bytes / 2**30:.2f} of {h.ram_bytes / 2**30:.2f} GiB\n")
        for c in p.commands:
            out.write(f"  {c}\n")
        for n in p.notes:
            out.write(f"  note: {n}\n")
    alone = f"{head.host} alone: {head.verdict.replace('_', ' ')}" + (
        f", ~{head.tokens_per_second:g} tok/s" if head.tokens_per_second else "")
    out.write(alone + (f": {head.command}\n" if head.verdict != "no_fit" else "\n"))


def print_ps(doc: dict[str, Any]) -> None:
    """`catalog ps`: what the local runtimes hold, beside our estimates."""
    con = Console()
    ol = doc.get("ollama")
    if ol is None:
        con.print("No Ollama server is running (set OLLAMA_HOST if it listens elsewhere).")
    else:
        con.print(f"Ollama {ol.get('version') or ''} at {ol['url']}: {len(ol['installed'])} installed, "
                  f"{len(ol['loaded'])} loaded")
        if ol["loaded"]:
            t = Table("loaded", "quant", "ctx", "Ollama VRAM", "our GPU estimate", "diff", "estimated from")
            for m in ol["loaded"]:
                est = m["estimate"]
                diff = m.get("estimate_vs_ollama_pct")
                t.add_row(m["name"], str(est.get("quant") or m.get("quantization") or "?"), str(m.get("context_length")
                          or est.get("context") or "?"), gib(m.get("size_vram_bytes")), gib(est.get("gpu_bytes")),
                          f"{diff:+.1f} %" if diff is not None else "", est.get("from") or est.get("error", ""))
            con.print(t)
        if ol["installed"]:
            t = Table("installed", "size", "parameters", "quant", "family")
            for m in ol["installed"]:
                t.add_row(m["name"], gib(m.get("size_bytes")), str(m.get("parameter_size") or ""),
                          str(m.get("quantization") or ""), str(m.get("family") or ""))
            con.print(t)
    servers = doc.get("llama_server") or []
    if not servers:
        con.print("No llama-server is running (checked LLAMA_SERVER_URL, 127.0.0.1:8080 and 127.0.0.1:9931).")
    for s in servers:
        slots = s.get("slots")
        con.print(f"llama-server at {s['url']}: {s.get('model_path') or '?'}, n_ctx {s.get('n_ctx')}, "
                  f"{s.get('total_slots') or (len(slots) if slots else '?')} slot(s)")


def print_probe(doc: dict[str, Any]) -> None:
    """`catalog probe`: each reply with its verdict and rules, then the rates."""
    con = Console()
    t = Table("set", "prompt", "refused", "rules", "reply (start)")
    for r in doc["replies"]:
        t.add_row(r["set"], r["id"], "yes" if r["refused"] else "no", ", ".join(r["rules"]),
                  r["reply"][:80].replace("\n", " "))
    con.print(t)
    rate, ctl = doc["refusal_rate"], doc["control_refusal_rate"]
    con.print(f"{doc['model']} at {doc['endpoint']} ({doc['api']} API): declined {rate:.0%} of harmful requests, "
              f"{ctl:.0%} of benign controls: {doc['reading']}.")
    if doc.get("catalog"):
        con.print(f"The catalog says {doc['catalog']['id']} is {doc['catalog']['kind']}.")
    con.print("Refusal = a reply whose first 400 characters match one of the rules "
              + ", ".join(r["id"] for r in doc["rules"]) + " (see --json for the patterns).")
