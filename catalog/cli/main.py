"""The `catalog` command line: argument parsing and printing only.

Every rule lives in catalog.service.check and the core; this module maps options
to a CheckRequest and the result to JSON or a rich table. Errors are one
line on stderr with the contract's exit code; --debug shows the traceback.
Heavy modules (rich, huggingface_hub, textual) are imported only on the
paths that need them.
"""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

from catalog import __version__
from catalog.errors import EXIT_INTERNAL, EXIT_REMOTE, CatalogError, ModelNotFound, RemoteUnavailable, UsageError


def _parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; with `command`, only that subcommand's options are built (start-up time)."""
    import argparse

    class _Formatter(argparse.HelpFormatter):
        """A fixed width: argparse otherwise imports shutil and asks the terminal for every option it adds."""

        def __init__(self, prog: str) -> None:
            super().__init__(prog, width=100, max_help_position=32)

    p = argparse.ArgumentParser(prog="catalog", description="Will this LLM run on my machine, and how?",
                                formatter_class=_Formatter)
    p.add_argument("--version", action="version", version=f"llm-catalog {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    if command in (None, "check"):
        c = sub.add_parser("check", help="advice for one model", formatter_class=_Formatter)
        c.add_argument("model", help="catalog name, Ollama name, HF repo id, config.json, model folder or .gguf")
        c.add_argument("--quant", action="append", default=[], help="quantization (repeatable), e.g. Q4_K_M")
        c.add_argument("--ctx", type=int, help="context length the runtime allocates")
        c.add_argument("--content-tokens", type=int, help="tokens of your own content; template overhead is added")
        c.add_argument("--kv-type", default="f16", choices=["f16", "q8_0", "q4_0"], help="KV cache type")
        c.add_argument("--flash-attn", default="on", choices=["on", "off"], help="flash attention")
        c.add_argument("--batch", type=int, default=2048, help="llama.cpp logical batch (-b)")
        c.add_argument("--ubatch", type=int, default=512, help="llama.cpp physical batch (-ub)")
        _hw_options(c)
        c.add_argument("--runtime", default="ollama", choices=["ollama", "llama.cpp", "lmstudio"],
                       help="whose defaults the estimate assumes")
        c.add_argument("--offline", action="store_true", help="embedded catalog, local files and cache only")
        c.add_argument("--json", action="store_true", help="machine output (llm-catalog/check/v1)")
        c.add_argument("--debug", action="store_true", help="show tracebacks")
    if command in (None, "hw"):
        h = sub.add_parser("hw", help="the detected hardware", formatter_class=_Formatter)
        _hw_options(h)
        h.add_argument("--json", action="store_true")
        h.add_argument("--debug", action="store_true")
    if command in (None, "search"):
        s = sub.add_parser("search", help="list catalog models", formatter_class=_Formatter)
        s.add_argument("text", nargs="?", default="")
        s.add_argument("--kind", choices=["base", "aligned", "de-aligned"])
        s.add_argument("--family")
        s.add_argument("--max-params", help="e.g. 8B, 500M or 8e9")
        s.add_argument("--fits", action="store_true", help="only models whose recommended quantization fits on the GPU")
        _hw_options(s)
        s.add_argument("--json", action="store_true")
        s.add_argument("--debug", action="store_true")
    if command in (None, "refresh"):
        r = sub.add_parser("refresh", help="re-read models from Hugging Face into the cache",
                           formatter_class=_Formatter)
        r.add_argument("models", nargs="*", help="HF repo ids or catalog names; none: every cached repo")
        r.add_argument("--jobs", type=int, default=32, metavar="N", help="repos read at once")
        r.add_argument("--debug", action="store_true")
    if command in (None, "plan"):
        pl = sub.add_parser("plan", help="run a model across several GPUs and machines (llama.cpp RPC, vLLM + Ray)",
                            formatter_class=_Formatter)
        pl.add_argument("model", help="catalog name, Ollama name or HF repo id")
        pl.add_argument("--host", action="append", default=[], metavar="NAME:GPU[xN][,RAM]",
                        help="a machine, e.g. box1:RTX 4090x2,64 (repeatable; the first is the head)")
        pl.add_argument("--hosts-file", metavar="FILE", help="hosts as TOML: [[host]] name, gpus, ram_gib")
        pl.add_argument("--quant", default="Q4_K_M", help="the GGUF quantization for llama.cpp")
        pl.add_argument("--ctx", type=int, default=8192, help="context length")
        pl.add_argument("--split-mode", choices=["layer", "tensor", "row"],
                        help="llama.cpp's split over one host's GPUs (default: layer, and tensor where it applies)")
        pl.add_argument("--link-gbps", type=float, default=1.0, help="network between hosts, Gbit/s")
        pl.add_argument("--link-ms", type=float, default=0.5, help="latency of one hop, ms")
        pl.add_argument("--offline", action="store_true")
        pl.add_argument("--json", action="store_true")
        pl.add_argument("--debug", action="store_true")
    if command in (None, "export"):
        x = sub.add_parser("export", help="the catalog as a deterministic dataset for site builds",
                           formatter_class=_Formatter)
        x.add_argument("--out", metavar="DIR", help="where to write index.json, models/, hardware.json, glossary.json")
        x.add_argument("--profiles", metavar="FILE", help="hardware profiles as TOML ([[profile]] id, label, gpus, "
                                                           "ram_gib); default: 8-80 GB NVIDIA and Apple 16-128 GB")
        x.add_argument("--format", choices=["json", "csv"], default="json", help="csv adds models.csv")
        x.add_argument("--stamp", metavar="TEXT", help="put TEXT in index.json as generated_at (default: no clock)")
        x.add_argument("--schema", action="store_true", help="print the JSON Schemas of the files and exit")
        x.add_argument("--offline", action="store_true", help="accepted: the export reads only the embedded catalog")
        x.add_argument("--debug", action="store_true")
    if command in (None, "tui"):
        u = sub.add_parser("tui", help="browse the catalog against this machine (Textual)", formatter_class=_Formatter)
        _hw_options(u)
        u.add_argument("--debug", action="store_true")
    if command in (None, "ps"):
        q = sub.add_parser("ps", help="models a local Ollama or llama-server has installed and loaded",
                           formatter_class=_Formatter)
        q.add_argument("--ollama", metavar="URL", help="the Ollama server (default: OLLAMA_HOST or 127.0.0.1:11434)")
        q.add_argument("--llama-server", metavar="URL", action="append", default=[],
                       help="a llama-server (default: LLAMA_SERVER_URL, else 127.0.0.1:8080 and :9931)")
        q.add_argument("--offline", action="store_true", help="never ask the Ollama registry")
        q.add_argument("--json", action="store_true", help="machine output (llm-catalog/ps/v1)")
        q.add_argument("--debug", action="store_true")
    if command in (None, "probe"):
        b = sub.add_parser("probe", help="send a fixed set of prompts to a local model and measure its refusals",
                           formatter_class=_Formatter)
        b.add_argument("model", help="the model as the endpoint names it (e.g. llama3.1:8b)")
        b.add_argument("--endpoint", metavar="URL",
                       help="Ollama (http://127.0.0.1:11434) or OpenAI-compatible base URL (.../v1); "
                            "default: the local Ollama (OLLAMA_HOST)")
        b.add_argument("--api", choices=["auto", "ollama", "openai"], default="auto")
        b.add_argument("--json", action="store_true", help="machine output (llm-catalog/probe/v1)")
        b.add_argument("--debug", action="store_true")
    return p


def _count(text: str) -> float:
    t = text.strip().upper()
    scale = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}.get(t[-1:], 1.0)
    try:
        return float(t[:-1] if scale != 1.0 else t) * scale
    except ValueError:
        raise UsageError(f"--max-params {text!r} is not a count", "e.g. 8B, 500M or 8e9") from None


COMMANDS = ("check", "hw", "search", "refresh", "ps", "probe", "tui", "export", "plan")
_CHECK_DEFAULTS: dict[str, Any] = {
    "quant": [], "ctx": None, "content_tokens": None, "kv_type": "f16", "flash_attn": "on", "batch": 2048,
    "ubatch": 512, "gpu": [], "vram": None, "ram": None, "runtime": "ollama", "offline": False, "json": False,
    "debug": False,
}
_INT = {"--ctx", "--content-tokens", "--batch", "--ubatch"}
_FLOAT = {"--vram", "--ram"}
_CHOICE = {"--kv-type": ("f16", "q8_0", "q4_0"), "--flash-attn": ("on", "off"),
           "--runtime": ("ollama", "llama.cpp", "lmstudio")}
_LIST = {"--quant", "--gpu"}
_FLAG = {"--offline", "--json", "--debug"}


def _fast_check_args(argv: list[str]) -> Any:
    """Parse a plain `check` command line without building argparse's parser (start-up time).

    Returns None for anything unusual (help, `--opt=value`, abbreviations, bad values), which then
    goes through argparse for its full behaviour and messages. Tests hold the two to the same result.
    """
    if len(argv) < 2 or argv[0] != "check":
        return None
    ns: dict[str, Any] = {k: (list(v) if isinstance(v, list) else v) for k, v in _CHECK_DEFAULTS.items()}
    model = None
    i = 1
    while i < len(argv):
        a = argv[i]
        key = a[2:].replace("-", "_")
        if a in _FLAG:
            ns[key] = True
            i += 1
            continue
        if a in _INT or a in _FLOAT or a in _CHOICE or a in _LIST:
            if i + 1 >= len(argv) or argv[i + 1].startswith("--"):
                return None
            v = argv[i + 1]
            try:
                val: Any = int(v) if a in _INT else float(v) if a in _FLOAT else v
            except ValueError:
                return None
            if a in _CHOICE and v not in _CHOICE[a]:
                return None
            if a in _LIST:
                ns[key].append(v)
            else:
                ns[key] = val
            i += 2
            continue
        if a.startswith("-") or model is not None:
            return None
        model = a
        i += 1
    if model is None:
        return None
    return SimpleNamespace(command="check", model=model, **ns)


def _hw_options(p: Any) -> None:
    p.add_argument("--gpu", action="append", default=[], help="a known GPU instead of detection (repeatable)")
    p.add_argument("--vram", type=float, help="GPU memory budget in GiB instead of detection")
    p.add_argument("--ram", type=float, help="system RAM in GiB")


def _hardware(args: Any) -> Any:
    import hardware

    if args.gpu:
        if args.vram is not None:
            raise UsageError("give --gpu or --vram, not both")
        return hardware.profile(args.gpu, args.ram)
    if args.vram is not None:
        if args.vram < 0:
            raise UsageError("--vram must not be negative")
        return hardware.budget(args.vram, args.ram)
    hw = hardware.detect()
    if args.ram is not None:
        ram = int(args.ram * (1 << 30))
        hw = hw._replace(ram_total_bytes=ram, ram_available_bytes=ram)
    return hw


def resolve(ref: str, offline: bool, want_quant: str | None = None) -> tuple[Any, str | None]:
    """Find a model: a local path, then the embedded catalog, then the Hugging Face Hub (or its cache)."""
    import os

    if ref.endswith((".gguf", ".json")) or ref.startswith((".", "/", "~")) or os.path.exists(ref):
        from catalog.sources import local

        return local.load(ref), None
    from catalog.sources import bundled

    try:
        r = bundled.resolve(ref)
    except ModelNotFound as not_in_catalog:
        return _resolve_remote(ref, offline, want_quant, not_in_catalog)
    return r.spec, r.quant


def _resolve_remote(ref: str, offline: bool, want_quant: str | None, not_in_catalog: ModelNotFound
                    ) -> tuple[Any, str | None]:
    """A name the catalog lacks: a Hugging Face repo, else an Ollama `model:tag` from its registry.

    `owner/name` is both a Hub repo and Ollama's `namespace/model`: the Hub is asked first. A plain
    name that neither knows keeps the catalog's near-miss suggestions (exit 2); offline, only the
    cache can answer."""
    from catalog.sources import hub, ollama

    offline = offline or hub.offline_env()
    try:
        hf_ref = hub.parse_ref(ref)
    except ModelNotFound:  # owner/name:tag whose tag is no quantization: an Ollama namespaced model
        hf_ref = None
    if hf_ref is not None:
        try:
            return hub.load(ref, offline, want_quant)
        except ModelNotFound as hf_error:
            if ":" in ref or ollama.parse_name(ref) is None or offline:
                raise
            try:
                return ollama.load(ref)
            except CatalogError:
                raise hf_error from None  # the registry knows it no better (or is unreachable)
    if ollama.parse_name(ref) is None:
        raise not_in_catalog
    try:
        return ollama.load(ref, offline)
    except ModelNotFound:
        raise not_in_catalog from None
    except RemoteUnavailable:
        if offline:
            raise not_in_catalog from None  # nothing cached: the near misses help more than "offline"
        raise


def _check(args: Any) -> int:
    from catalog.service.check import CheckRequest, check, exit_code_for

    for name in ("ctx", "content_tokens", "batch", "ubatch"):
        v = getattr(args, name)
        if v is not None and v <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be positive")
    spec, pinned = resolve(args.model, args.offline, args.quant[0] if len(args.quant) == 1 else None)
    hw = _hardware(args)
    req = CheckRequest(tuple(args.quant), args.ctx, args.content_tokens, args.kv_type, args.flash_attn == "on",
                       args.batch, args.ubatch, args.runtime)
    result = check(spec, pinned, req, hw)
    meta = (spec.sources or {}).get("metadata") or {}
    if meta.get("stale"):
        sys.stderr.write(f"catalog: note: {spec.hf_repo or spec.id} metadata is from the cache, "
                         f"{meta.get('age_s', 0) // 3600} h old and may be stale (`catalog refresh` re-reads it)\n")
    if args.json:
        sys.stdout.write(json.dumps(result, indent=2, sort_keys=False) + "\n")
    else:
        from catalog.cli.render import print_check

        print_check(result)
    return exit_code_for(result)


def _hw(args: Any) -> int:
    hw = _hardware(args)
    doc = {
        "schema": "llm-catalog/hw/v1", "source": hw.source, "platform": hw.platform,
        "gpus": [g._asdict() for g in hw.gpus], "ram_total_bytes": hw.ram_total_bytes,
        "ram_available_bytes": hw.ram_available_bytes, "notes": list(hw.notes),
    }
    if args.json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        from catalog.cli.render import print_hw

        print_hw(doc)
    return 0


def _search(args: Any) -> int:
    from catalog.sources import bundled

    text = args.text.lower()
    limit = _count(args.max_params) if args.max_params else None
    hw = _hardware(args) if args.fits else None
    rows = []
    for e in bundled.entries():
        hay = " ".join([e["id"], e["name"], e["family"], e.get("hf_repo") or ""]).lower()
        kind = (e.get("alignment") or {}).get("kind")
        if text and text not in hay:
            continue
        if args.kind and kind != args.kind:
            continue
        if args.family and args.family.lower() != e["family"].lower():
            continue
        spec = bundled.to_spec(e)
        if limit is not None and spec.parameters > limit:
            continue
        row = {"id": e["id"], "name": e["name"], "family": e["family"], "kind": kind, "parameters": spec.parameters,
               "hf_repo": e.get("hf_repo"), "ollama": (e.get("ollama") or {}).get("library")}
        if hw is not None:
            from catalog.service.check import CheckRequest, summary

            s = summary(spec, CheckRequest(), hw)
            if s["verdict"] != "full_gpu":
                continue
            row.update(best_quant=s["best_quant"], gpu_bytes=s["gpu_bytes"])
        rows.append(row)
    if args.json:
        sys.stdout.write(json.dumps({"schema": "llm-catalog/search/v1", "models": rows}, indent=2) + "\n")
    else:
        for r in rows:
            extra = f" {r['best_quant']:7}" if "best_quant" in r else ""
            sys.stdout.write(f"{r['id']:40} {r['kind'] or '?':10} {r['parameters'] / 1e9:6.2f}B{extra} "
                             f"{r['hf_repo'] or ''}\n")
    return 0


def _refresh(args: Any) -> int:
    from catalog.sources import bundled, cache, hub

    repos = []
    for name in args.models:
        if hub.parse_ref(name) is None:
            name = bundled.resolve(name).spec.hf_repo or name
        parsed = hub.parse_ref(name)
        if parsed is None:
            raise UsageError(f"{name!r} is not a Hugging Face repo id")
        repos.append((parsed[0], parsed[2]))
    if not args.models:
        repos = [(k.rpartition("@")[0], None) for k in cache.keys("hub")]
        if not repos:
            sys.stdout.write("nothing cached yet\n")
            return 0
    if hub.offline_env():
        raise UsageError("HF_HUB_OFFLINE is set: refresh needs the network")
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    from catalog.sources import refresh

    with _progress("refresh", with_description=True) as bar:
        task = bar.add_task("", total=len(repos))

        def advance(o: refresh.Outcome) -> None:
            bar.update(task, advance=1, description=o.repo)

        outcomes = refresh.refresh(repos, jobs=args.jobs, on_done=advance)
    for o in outcomes:
        if o.status == "failed":
            sys.stderr.write(f"catalog: refresh failed: {o.detail}\n")
        else:
            sys.stdout.write(f"{o.repo}: {o.status} {o.detail}\n")
    counts = refresh.summary(outcomes)
    sys.stderr.write("refreshed " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) + "\n")
    failed = [o.exit_code for o in outcomes if o.status == "failed"]
    return 0 if not failed else (EXIT_REMOTE if EXIT_REMOTE in failed else failed[0])


def _ps(args: Any) -> int:
    from catalog.service import ps as runtimes

    doc = runtimes.state(args.ollama.rstrip("/") if args.ollama else None,
                         tuple(u.rstrip("/") for u in args.llama_server), args.offline)
    if args.json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return 0
    from catalog.cli.render import print_ps

    print_ps(doc)
    return 0


def _plan(args: Any) -> int:
    from catalog.core.quants import normalize_preset
    from catalog.service import plan

    if not args.host and not args.hosts_file:
        raise UsageError("give at least one --host NAME:GPU[xN][,RAM]", "e.g. --host a:RTX 4090x2,64 --host b:RTX 3090")
    quant = normalize_preset(args.quant)
    if quant is None:
        raise UsageError(f"unknown quantization {args.quant!r}")
    hosts = (plan.hosts_from_toml(args.hosts_file) if args.hosts_file else []) + [plan.parse_host(h) for h in args.host]
    if len({h.name for h in hosts}) != len(hosts):
        raise UsageError("host names must be unique")
    if args.split_mode == "row":
        raise UsageError("-sm row is deprecated in llama.cpp (docs/multi-gpu.md) and CUDA and Vulkan builds since "
                         "b9890 refuse it (\"does not support split buffers\")",
                         "--split-mode tensor plans its replacement; --split-mode layer the default")
    if args.split_mode == "tensor" and (len(hosts) > 1 or len(hosts[0].gpus) < 2):
        raise UsageError("--split-mode tensor splits the GPUs of one host: give one --host with several GPUs")
    spec, _ = resolve(args.model, args.offline)
    plans = [] if args.split_mode == "tensor" else [plan.rpc_plan(spec, quant, args.ctx, hosts, args.link_gbps,
                                                                  args.link_ms)]
    if len(hosts) == 1 and len(hosts[0].gpus) > 1 and args.split_mode != "layer":
        plans.append(plan.tensor_plan(spec, quant, args.ctx, hosts[0]))
    for fmt in plan.VLLM_FORMATS:  # BF16 as published; when it does not fit, the first checkpoint format that does
        v = plan.vllm_plan(spec, args.ctx, hosts, fmt, link_gbps=args.link_gbps, link_ms=args.link_ms)
        if fmt == "BF16" or v.fits:
            plans.append(v)
        if v.fits:
            break
    # the honest comparison: the head alone, offloading what does not fit to its CPU
    import hardware
    from catalog.service.check import CheckRequest, check

    head = check(spec, quant, CheckRequest(quants=(quant,), ctx=args.ctx),
                 hardware.Hardware("profile", hosts[0].gpus, hosts[0].ram_bytes, hosts[0].ram_bytes, "linux"))
    alone = head["quants"][0]
    local = {"host": hosts[0].name, "verdict": alone["verdict"], "tokens_per_second": alone["tokens_per_second"]}
    for i, p in enumerate(plans):
        if p.fits and alone["verdict"] in ("partial", "cpu_only") and alone["tokens_per_second"] and \
                p.tokens_per_second and p.tokens_per_second < alone["tokens_per_second"]:
            plans[i] = p._replace(notes=(*p.notes, f"slower than {hosts[0].name} alone with partial offload "
                                                  f"(~{alone['tokens_per_second']:.0f} tok/s): keep it local"))
    doc = {"schema": "llm-catalog/plan/v1", "model": spec.id, "quant": quant, "context": args.ctx,
           "plans": [p._asdict() for p in plans], "head_alone": local}
    if args.json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        sys.stdout.write("GiB per GPU: total of budget (weights + KV cache, and for llama.cpp its compute buffer + "
                         "CUDA context and pool)\n")
        for p in plans:
            sys.stdout.write(f"{p.engine}: {'fits' if p.fits else 'does not fit'}"
                             + (f", ~{p.tokens_per_second:g} tok/s" if p.tokens_per_second else "") + "\n")
            for d in p.devices:
                parts = " + ".join(f"{d[k] / 2**30:.2f}" for k in ("weights_bytes", "kv_cache_bytes", "compute_bytes",
                                                                   "overhead_bytes") if k in d)
                sys.stdout.write(f"  {d['host']:12} {d['gpu']:36} {d['layers']:4} layers "
                                 f"{d['bytes'] / 2**30:7.2f} of {d['budget_bytes'] / 2**30:6.2f} GiB"
                                 + (f"  ({parts})" if parts else "") + "\n")
            if p.cpu_layers:
                sys.stdout.write(f"  {hosts[0].name:12} {'CPU':36} {p.cpu_layers:4} layers (in RAM)\n")
            for h in p.hosts:
                if h["ram_needed_bytes"]:
                    sys.stdout.write(f"  {h['host']:12} RAM {h['ram_needed_bytes'] / 2**30:.2f} of "
                                     f"{h['ram_bytes'] / 2**30:.2f} GiB\n")
            for c in p.commands:
                sys.stdout.write(f"  {c}\n")
            for n in p.notes:
                sys.stdout.write(f"  note: {n}\n")
        alone = f"{local['host']} alone: {local['verdict'].replace('_', ' ')}" + (
            f", ~{local['tokens_per_second']:g} tok/s" if local["tokens_per_second"] else "")
        sys.stdout.write(alone + (f": {head['quants'][0]['commands']['llama_cpp']}\n"
                                  if local["verdict"] != "no_fit" else "\n"))
    return 0 if any(p.fits for p in plans) else 12


def _export(args: Any) -> int:
    from catalog.cli import export

    if args.schema:
        sys.stdout.write(json.dumps(export.schemas(), indent=2, sort_keys=True) + "\n")
        return 0
    if not args.out:
        raise UsageError("--out DIR is required", "or --schema to print the file schemas")
    profiles = export.profiles_from_toml(args.profiles) if args.profiles else export.DEFAULT_PROFILES
    from catalog.sources.bundled import entries

    with _progress("export") as bar:
        task = bar.add_task("", total=len(entries()))
        index = export.export(args.out, profiles, args.format, args.stamp,
                              on_done=lambda _id: bar.update(task, advance=1))
    sys.stderr.write(f"wrote {len(index['models'])} models x {len(profiles)} profiles to {args.out}\n")
    return 0


def _progress(label: str, with_description: bool = False) -> Any:
    """A progress bar on stderr, shown only on a terminal and gone when done."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    columns = [TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    if with_description:
        columns.append(TextColumn("{task.description}"))
    return Progress(*columns, console=console, transient=True, disable=not console.is_terminal)


def _tui(args: Any) -> int:
    from tui.app import CatalogApp

    CatalogApp(_hardware(args)).run()
    return 0


def _probe(args: Any) -> int:
    from catalog.core import probe
    from catalog.sources import chat, ollama

    endpoint = (args.endpoint or ollama.host_url()).rstrip("/")
    if not args.endpoint and not chat.is_local(endpoint):
        raise UsageError(f"OLLAMA_HOST points off this machine ({endpoint})",
                         "the probe sends prompts only where you say: pass --endpoint URL to probe it")
    api, replies = chat.run(endpoint, args.model, args.api)
    doc: dict[str, Any] = {"schema": "llm-catalog/probe/v1", "endpoint": endpoint, "api": api, "model": args.model,
                           **probe.summarize(replies)}
    from catalog.sources import bundled

    try:
        known = bundled.resolve(args.model).spec
        doc["catalog"] = {"id": known.id, "kind": known.alignment.get("kind")}
    except CatalogError:
        doc["catalog"] = None
    if args.json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return 0
    from catalog.cli.render import print_probe

    print_probe(doc)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    first = argv[0] if argv else None
    try:
        args = _fast_check_args(argv) or _parser(first if first in COMMANDS else None).parse_args(argv)
    except SystemExit as exc:  # argparse already printed its one-line usage error
        return int(exc.code or 0)
    try:
        handler = {"check": _check, "hw": _hw, "search": _search, "refresh": _refresh, "ps": _ps,
                   "probe": _probe, "tui": _tui, "export": _export, "plan": _plan}[args.command]
        return handler(args)
    except CatalogError as err:
        if getattr(args, "debug", False):
            raise
        sys.stderr.write(f"catalog: error: {err.line()}\n")
        return err.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("catalog: interrupted\n")
        return 130
    except Exception as exc:  # noqa: BLE001 - the contract's exit 1, one line, traceback with --debug
        if getattr(args, "debug", False):
            raise
        sys.stderr.write(f"catalog: error: internal error: {type(exc).__name__}: {exc} (run with --debug)\n")
        return EXIT_INTERNAL


def run() -> None:
    """Console-script entry point: `main`, then exit without tearing the interpreter down.

    Python's orderly shutdown (freeing every module) costs a CLI run about 4 ms,
    a sixth of an offline check. Nothing of ours needs it: output is flushed here
    and caches are closed, atomically renamed files before this point.
    """
    import os

    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):  # a closed pipe (`catalog ... | head`) is not an error
        pass
    os._exit(code)


if __name__ == "__main__":
    run()
