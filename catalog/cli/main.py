"""The `catalog` command line: a client of the library, mapping options to its calls and its results to
JSON (catalog.document) or text (catalog.cli.render).

No rule lives here. Errors are one line on stderr with the contract's exit code; --debug shows the
traceback. Heavy modules (rich, huggingface_hub, textual) are imported only on the paths that need them.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import catalog
from catalog.cli.args import COMMANDS, fast_check_args, parse_count, parser
from catalog.core.options import DEFAULT_RUNTIME, implied_runtime
from catalog.errors import EXIT_INTERNAL, CatalogError


def _machine(args: Any) -> Any:
    return catalog.machine(args.gpu, args.vram, args.ram, getattr(args, "ram_bw", None))


def _out(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2) + "\n")


def _check(args: Any) -> int:
    req = catalog.CheckRequest(tuple(args.quant), args.ctx, args.content_tokens, args.kv_type,
                               args.flash_attn == "on", args.batch, args.ubatch, DEFAULT_RUNTIME, args.prefer,
                               args.min_tps, not args.no_vision, args.cache_type_k, args.cache_type_v,
                               args.gpu_layers, args.n_cpu_moe, args.parallel)
    req = req._replace(runtime=implied_runtime(args.runtime, req))
    req.validate()
    spec = catalog.resolve(args.model, offline=args.offline, quant=args.quant[0] if len(args.quant) == 1 else None,
                           runtimes=(req.runtime,), confirm=True)
    result = catalog.check(spec, req, _machine(args))
    meta = spec.provenance.metadata
    if meta is not None and meta.stale:
        sys.stderr.write(f"catalog: note: {spec.hf_repo or spec.id} metadata is from the cache, "
                         f"{meta.age_s // 3600} h old and may be stale (`catalog refresh` re-reads it)\n")
    smaller = catalog.smaller_for(result, req)
    if args.json:
        doc = catalog.document(result)
        if smaller is not None:
            from catalog.core.documents import smaller_model_json

            doc["smaller_model"] = smaller_model_json(smaller)
        sys.stdout.write(json.dumps(doc, indent=2, sort_keys=False) + "\n")
    else:
        from catalog.cli.render import print_check

        print_check(result, smaller, args.model)
    return result.exit_code


def _hw(args: Any) -> int:
    hw = _machine(args)
    if args.json:
        _out(catalog.document(hw))
    else:
        from catalog.cli.render import print_hw

        print_hw(hw)
    return 0


def _search(args: Any) -> int:
    limit = parse_count(args.max_params) if args.max_params else None
    specs = catalog.search(args.text, kind=args.kind, family=args.family, max_params=limit, cached=args.cached)
    summaries = None
    why = "no catalog model matches" + (f" {args.text!r}" if args.text else "") + _filters(args)
    if args.fits:
        hw = _machine(args)
        if not hw.gpus:
            why = "no GPU (none detected, none named): --fits lists models that fit entirely on one; " \
                  "name it with --gpu NAME or --vram GIB"
        summaries = {s.id: catalog.summarize(s, catalog.CheckRequest(), hw) for s in specs}
        if specs and hw.gpus:
            why = f"none of the {len(specs)} matching models fits entirely on {_gpus_text(hw)}"
        specs = [s for s in specs if summaries[s.id].verdict == "full_gpu"]
    if args.json:
        _out(catalog.document(specs, summaries=summaries))
    else:
        from catalog.cli.render import print_search

        print_search(specs, summaries)
    if not specs:
        sys.stderr.write(f"catalog: {why}\n")
    return 0


def _filters(args: Any) -> str:
    parts = [f"--{k.replace('_', '-')} {v}" for k, v in (("kind", args.kind), ("family", args.family),
                                                        ("max_params", args.max_params)) if v]
    return f" with {' '.join(parts)}" if parts else ""


def _gpus_text(hw: Any) -> str:
    return " + ".join(g.name for g in hw.gpus)


def _gpus(args: Any) -> int:
    rows = catalog.gpus(args.text)
    if args.json:
        _out({"schema": "llm-catalog/gpus/v1", "gpus": rows})
    else:
        for r in rows:
            sizes = "/".join(f"{m:g}" for m in r["memory_gib"])
            bw = "/".join(f"{b:g}" for b in dict.fromkeys(r["bandwidth_gb_per_s"].values()))
            sys.stdout.write(f"{r['name']:44} {sizes:>14} GB  {bw:>10} GB/s  {', '.join(r['aliases'][:4])}\n")
    if not rows:
        sys.stderr.write(f"catalog: no known GPU matches {args.text!r} (give --vram GIB for any other)\n")
    return 0


def _refresh(args: Any) -> int:
    from catalog.errors import EXIT_REMOTE, UsageError

    if args.offline:
        raise UsageError("catalog refresh reads the Hub and cannot run --offline",
                         "run it when online; offline, check and search answer from what it cached")

    with _progress("refresh", with_description=True) as bar:
        task = bar.add_task("", total=None)
        outcomes = catalog.refresh(args.models, args.jobs, lambda o: bar.update(task, advance=1, description=o.repo),
                                   lambda n: bar.update(task, total=n), popular=args.popular)
    if not outcomes:
        sys.stdout.write("nothing cached yet\n")
        return 0
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
        if o.status == "failed":
            sys.stderr.write(f"catalog: refresh failed: {o.detail}\n")
        else:
            sys.stdout.write(f"{o.repo}: {o.status} {o.detail}\n")
    sys.stderr.write(f"refresh: {len(outcomes)} repo{'s' if len(outcomes) != 1 else ''}: "
                     + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) + "\n")
    failed = [o.exit_code for o in outcomes if o.status == "failed"]
    return 0 if not failed else (EXIT_REMOTE if EXIT_REMOTE in failed else failed[0])


def _ps(args: Any) -> int:
    doc = catalog.running(args.ollama.rstrip("/") if args.ollama else None,
                          tuple(u.rstrip("/") for u in args.llama_server), args.offline)
    if args.json:
        _out(doc)
        return 0
    from catalog.cli.render import print_ps

    print_ps(doc)
    return 0


def _plan(args: Any) -> int:
    hosts = (catalog.hosts_from_toml(args.hosts_file) if args.hosts_file else []) + [
        catalog.parse_host(h) for h in args.host]
    spec = catalog.resolve(args.model, offline=args.offline, runtimes=(), confirm=True)
    res = catalog.plan(spec, hosts, catalog.PlanRequest(args.quant, args.ctx, args.split_mode, args.link_gbps,
                                                        args.link_ms))
    if args.json:
        _out(catalog.document(res))
    else:
        from catalog.cli.render import print_plan

        print_plan(res)
    return res.exit_code


def _export(args: Any) -> int:
    from catalog.cli import export

    if args.schema:
        sys.stdout.write(json.dumps(export.schemas(), indent=2, sort_keys=True) + "\n")
        return 0
    if not args.out:
        from catalog.errors import UsageError

        raise UsageError("--out DIR is required", "or --schema to print the file schemas")
    profiles = export.profiles_from_toml(args.profiles) if args.profiles else export.DEFAULT_PROFILES
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        from catalog.errors import UsageError

        raise UsageError(f"--out {args.out} is a file, not a folder", "give a folder to write the export into")
    try:
        with _progress("export") as bar:
            task = bar.add_task("", total=len(catalog.entries()))
            index = export.export(args.out, profiles, args.format, args.stamp,
                                  on_done=lambda _id: bar.update(task, advance=1), cached=args.cached)
    except OSError as exc:  # a read-only or full disk: the folder could not be written
        from catalog.errors import UsageError

        raise UsageError(f"--out {args.out}: cannot write ({exc.strerror or type(exc).__name__})") from None
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

    CatalogApp(_machine(args)).run()
    return 0


def _probe(args: Any) -> int:
    doc = catalog.probe(args.model, args.endpoint, args.api)
    if args.json:
        _out(doc)
        return 0
    from catalog.cli.render import print_probe

    print_probe(doc)
    return 0


def _mcp(args: Any) -> int:
    from catalog.errors import UsageError

    try:
        import mcp  # noqa: F401
    except ImportError:
        raise UsageError("catalog mcp needs the MCP SDK", "pip install 'llm-catalog[mcp]'") from None
    from catalog.cli.mcp_server import serve

    serve()
    return 0


HANDLERS = {"check": _check, "hw": _hw, "search": _search, "refresh": _refresh, "ps": _ps, "probe": _probe,
            "tui": _tui, "export": _export, "plan": _plan, "gpus": _gpus,
            "mcp": _mcp}


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    first = argv[0] if argv else None
    try:
        args = fast_check_args(argv) or parser(first if first in COMMANDS else None).parse_args(argv)
    except SystemExit as exc:  # argparse already printed its one-line usage error
        return int(exc.code or 0)
    except CatalogError as err:  # an option's own parser (--ctx 32q)
        sys.stderr.write(f"catalog: error: {err.line()}\n")
        return err.exit_code
    try:
        return HANDLERS[args.command](args)
    except CatalogError as err:
        if getattr(args, "debug", False):  # the traceback, then the same line and exit code as without --debug
            import traceback

            traceback.print_exc()
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
