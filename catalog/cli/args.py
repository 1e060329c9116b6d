"""The command line's arguments: argparse for every subcommand, and a fast path for a plain `check`.

The closed sets and defaults come from catalog.core.options, so a choice offered here is the one the
library accepts.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, NoReturn

from catalog import __version__
from catalog.core.options import (
    DEFAULT_BATCH,
    DEFAULT_RUNTIME,
    DEFAULT_UBATCH,
    KV_CHOICES,
    KV_TYPES,
    MIN_TPS,
    PLAN_CTX,
    PLAN_LINK_GBPS,
    PLAN_LINK_MS,
    PLAN_QUANT,
    PREFER,
    REFRESH_JOBS,
    RUNTIMES,
)
from catalog.errors import UsageError

if TYPE_CHECKING:
    import argparse


def _check(sub: Any, fmt: Any) -> None:
    c = sub.add_parser("check", help="advice for one model", formatter_class=fmt)
    c.add_argument("model", help="catalog name, Ollama name, HF repo id, config.json, model folder or .gguf")
    c.add_argument("--quant", action="append", default=[], help="quantization (repeatable), e.g. Q4_K_M")
    c.add_argument("--ctx", type=parse_ctx, help="context length the runtime allocates: 32768, 32k, 128K")
    c.add_argument("--content-tokens", type=int, help="tokens of your own content; template overhead is added")
    c.add_argument("--kv-type", default="f16", choices=list(KV_CHOICES), help="KV cache type (K and V)")
    c.add_argument("--flash-attn", default="on", choices=["on", "off"], help="flash attention")
    c.add_argument("-b", "--batch", type=int, default=DEFAULT_BATCH, help="llama.cpp logical batch")
    c.add_argument("-ub", "--ubatch", type=int, default=DEFAULT_UBATCH, help="llama.cpp physical batch")
    llama_cpp_options(c)
    hw_options(c)
    c.add_argument("--runtime", default=None, choices=list(RUNTIMES),
                   help=f"whose defaults the estimate assumes (default {DEFAULT_RUNTIME}; llama.cpp where one of "
                        "its own options is given)")
    c.add_argument("--prefer", default="quality", choices=list(PREFER),
                   help="recommend the best quality at a usable speed (entirely on the GPU at 4-bit or better "
                        "first), or the fastest")
    c.add_argument("--min-tps", type=positive, default=MIN_TPS, metavar="N",
                   help=f"a usable decode speed, tokens a second (default {MIN_TPS:g})")
    c.add_argument("--no-vision", action="store_true",
                   help="leave a vision model's projector (mmproj) out: llama-server --no-mmproj, text only")
    c.add_argument("--offline", action="store_true", help="embedded catalog, local files and cache only")
    c.add_argument("--json", action="store_true", help="machine output (llm-catalog/check/v1)")
    c.add_argument("--debug", action="store_true", help="show tracebacks")


def _hw(sub: Any, fmt: Any) -> None:
    h = sub.add_parser("hw", help="the detected hardware", formatter_class=fmt)
    hw_options(h)
    h.add_argument("--json", action="store_true")
    h.add_argument("--debug", action="store_true")


def _search(sub: Any, fmt: Any) -> None:
    from catalog.core.alignment import KINDS

    s = sub.add_parser("search", help="list catalog models", formatter_class=fmt)
    s.add_argument("text", nargs="?", default="")
    s.add_argument("--kind", choices=list(KINDS))
    s.add_argument("--family")
    s.add_argument("--max-params", help="e.g. 8B, 500M or 8e9")
    s.add_argument("--fits", action="store_true", help="only models whose recommended quantization fits on the GPU")
    s.add_argument("--cached", action="store_true",
                   help="also the Hub repos in the cache (those looked up, and `refresh --popular N`)")
    hw_options(s)
    s.add_argument("--json", action="store_true")
    s.add_argument("--debug", action="store_true")


def _refresh(sub: Any, fmt: Any) -> None:
    r = sub.add_parser("refresh", help="re-read models from Hugging Face into the cache",
                       formatter_class=fmt)
    r.add_argument("models", nargs="*", help="HF repo ids or catalog names; none: every cached repo")
    r.add_argument("--jobs", type=int, default=REFRESH_JOBS, metavar="N", help="repos read at once")
    r.add_argument("--popular", type=int, default=0, metavar="N",
                   help="also read the Hub's N most downloaded text-generation and GGUF repos")
    r.add_argument("--offline", action="store_true", help="refused with its reason: a refresh reads the Hub")
    r.add_argument("--debug", action="store_true")


def _gpus(sub: Any, fmt: Any) -> None:
    g = sub.add_parser("gpus", help="the known GPUs (names for --gpu)", formatter_class=fmt)
    g.add_argument("text", nargs="?", default="", help="part of a name, e.g. 4090, rtx 30, m2 max")
    g.add_argument("--json", action="store_true")
    g.add_argument("--debug", action="store_true")


def _plan(sub: Any, fmt: Any) -> None:
    from catalog.core.plan_types import SPLIT_MODES

    pl = sub.add_parser("plan", help="run a model across several GPUs and machines (llama.cpp RPC, vLLM + Ray)",
                        formatter_class=fmt)
    pl.add_argument("model", help="catalog name, Ollama name or HF repo id")
    pl.add_argument("--host", action="append", default=[], metavar="NAME:GPU[xN][,RAM]",
                    help="a machine, e.g. box1:RTX 4090x2,64 (repeatable; the first is the head)")
    pl.add_argument("--hosts-file", metavar="FILE", help="hosts as TOML: [[host]] name, gpus, ram_gib")
    pl.add_argument("--quant", default=PLAN_QUANT, help="the GGUF quantization for llama.cpp")
    pl.add_argument("--ctx", type=parse_ctx, default=PLAN_CTX, help="context length: 32768, 32k")
    pl.add_argument("--split-mode", choices=list(SPLIT_MODES),
                    help="llama.cpp's split over one host's GPUs (default: layer, and tensor where it applies)")
    pl.add_argument("--link-gbps", type=positive, default=PLAN_LINK_GBPS, help="network between hosts, Gbit/s")
    pl.add_argument("--link-ms", type=non_negative, default=PLAN_LINK_MS, help="latency of one hop, ms")
    pl.add_argument("--offline", action="store_true")
    pl.add_argument("--json", action="store_true")
    pl.add_argument("--debug", action="store_true")


def _export(sub: Any, fmt: Any) -> None:
    x = sub.add_parser("export", help="the catalog as a deterministic dataset for site builds",
                       formatter_class=fmt)
    x.add_argument("--out", metavar="DIR", help="where to write index.json, models/, hardware.json, glossary.json")
    x.add_argument("--profiles", metavar="FILE", help="hardware profiles as TOML ([[profile]] id, label, gpus, "
                                                       "ram_gib); default: 8-80 GB NVIDIA and Apple 16-128 GB")
    x.add_argument("--format", choices=["json", "csv"], default="json", help="csv adds models.csv")
    x.add_argument("--stamp", metavar="TEXT", help="put TEXT in index.json as generated_at (default: no clock)")
    x.add_argument("--schema", action="store_true", help="print the JSON Schemas of the files and exit")
    x.add_argument("--cached", action="store_true",
                   help="also the Hub repos the cache holds (catalog refresh --popular N), as hub--owner--name")
    x.add_argument("--offline", action="store_true", help="accepted: the export reads only the embedded catalog "
                                                          "and the cache")
    x.add_argument("--debug", action="store_true")


def _tui(sub: Any, fmt: Any) -> None:
    u = sub.add_parser("tui", help="browse the catalog against this machine (Textual)", formatter_class=fmt)
    hw_options(u)
    u.add_argument("--debug", action="store_true")


def _ps(sub: Any, fmt: Any) -> None:
    q = sub.add_parser("ps", help="models a local Ollama or llama-server has installed and loaded",
                       formatter_class=fmt)
    q.add_argument("--ollama", metavar="URL", help="the Ollama server (default: OLLAMA_HOST or 127.0.0.1:11434)")
    q.add_argument("--llama-server", metavar="URL", action="append", default=[],
                   help="a llama-server (default: LLAMA_SERVER_URL, else 127.0.0.1:8080 and :9931)")
    q.add_argument("--offline", action="store_true", help="never ask the Ollama registry")
    q.add_argument("--json", action="store_true", help="machine output (llm-catalog/ps/v1)")
    q.add_argument("--debug", action="store_true")


def _probe(sub: Any, fmt: Any) -> None:
    b = sub.add_parser("probe", help="send a fixed set of prompts to a local model and measure its refusals",
                       formatter_class=fmt)
    b.add_argument("model", help="the model as the endpoint names it (e.g. llama3.1:8b)")
    b.add_argument("--endpoint", metavar="URL",
                   help="Ollama (http://127.0.0.1:11434) or OpenAI-compatible base URL (.../v1); "
                        "default: the local Ollama (OLLAMA_HOST)")
    b.add_argument("--api", choices=["auto", "ollama", "openai"], default="auto")
    b.add_argument("--json", action="store_true", help="machine output (llm-catalog/probe/v1)")
    b.add_argument("--debug", action="store_true")


def _mcp(sub: Any, fmt: Any) -> None:
    m = sub.add_parser("mcp", help="serve check, search, hw, plan and explain to an assistant (MCP over stdio)",
                       formatter_class=fmt)
    m.add_argument("--debug", action="store_true")


_SUBCOMMANDS = {"check": _check, "hw": _hw, "search": _search, "refresh": _refresh, "plan": _plan, "export": _export,
                "tui": _tui, "ps": _ps, "probe": _probe, "gpus": _gpus, "mcp": _mcp}


def parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; with `command`, only that subcommand's options are built (start-up time)."""
    import argparse

    class _Formatter(argparse.HelpFormatter):
        """A fixed width: argparse otherwise imports shutil and asks the terminal for every option it adds."""

        def __init__(self, prog: str) -> None:
            super().__init__(prog, width=100, max_help_position=32)

    class _Parser(argparse.ArgumentParser):
        """argparse, its errors as the product's one line (`catalog: error: ...`, exit 2), not usage plus error."""

        def error(self, message: str) -> NoReturn:
            raise UsageError(message, f"`{self.prog} --help` lists the options")

    p = _Parser(prog="catalog", description="Will this LLM run on my machine, and how?", formatter_class=_Formatter)
    p.add_argument("--version", action="version", version=f"llm-catalog {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for name, build in _SUBCOMMANDS.items():
        if command in (None, name):
            build(sub, _Formatter)
    return p


COMMANDS = tuple(_SUBCOMMANDS)
_CHECK_DEFAULTS: dict[str, Any] = {
    "quant": [], "ctx": None, "content_tokens": None, "kv_type": "f16", "flash_attn": "on", "batch": DEFAULT_BATCH,
    "ubatch": DEFAULT_UBATCH, "gpu": [], "vram": None, "ram": None, "ram_bw": None, "runtime": None,
    "offline": False, "cache_type_k": None, "cache_type_v": None, "gpu_layers": None, "n_cpu_moe": None,
    "parallel": None,
    "json": False, "debug": False, "prefer": "quality", "min_tps": MIN_TPS, "no_vision": False,
}
_INT = {"--content-tokens", "--batch", "--ubatch", "--n-cpu-moe", "--parallel"}
_CTX = {"--ctx"}
_FLOAT = {"--vram", "--ram", "--min-tps", "--ram-bw"}
_CHOICE: dict[str, tuple[str, ...]] = {"--kv-type": KV_CHOICES, "--flash-attn": ("on", "off"), "--runtime": RUNTIMES,
                                       "--prefer": PREFER}
_LIST = {"--quant", "--gpu"}
_FLAG = {"--offline", "--json", "--debug", "--no-vision"}


def fast_check_args(argv: list[str]) -> Any:
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
        if a in _INT or a in _CTX or a in _FLOAT or a in _CHOICE or a in _LIST:
            if i + 1 >= len(argv) or argv[i + 1].startswith("--"):
                return None
            v = argv[i + 1]
            try:
                number = non_negative if a == "--vram" else positive  # --vram 0: no GPU
                val: Any = int(v) if a in _INT else parse_ctx(v) if a in _CTX else number(v) if a in _FLOAT else v
            except (ValueError, UsageError):
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


def llama_cpp_options(p: Any) -> None:
    """llama.cpp's own knobs, spelled as llama.cpp spells them; the estimate and the command then use them."""
    kv = [t.lower() for t in KV_TYPES]
    p.add_argument("-ctk", "--cache-type-k", dest="cache_type_k", choices=kv, help="K cache type (llama.cpp)")
    p.add_argument("-ctv", "--cache-type-v", dest="cache_type_v", choices=kv, help="V cache type (llama.cpp)")
    p.add_argument("-ngl", "--gpu-layers", dest="gpu_layers", type=parse_layers, metavar="N",
                   help="layers on the GPU, exactly N (or all); default: as many as fit")
    p.add_argument("--n-cpu-moe", dest="n_cpu_moe", type=int, metavar="N",
                   help="keep the experts of the first N layers in RAM (MoE models)")
    p.add_argument("-np", "--parallel", dest="parallel", type=int, metavar="N",
                   help="llama-server slots over one unified cache (its default: 4)")


def parse_layers(text: str) -> int | None:
    """-ngl's value: a layer count, or `all` (None: every layer)."""
    if text.strip().lower() == "all":
        return None
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"-ngl {text!r} is not a layer count", "a number or all") from None


def positive(text: str) -> float:
    """A finite number above 0 (`--vram 12`): not `nan`, `inf`, `1e309`, 0 or negative.

    Raises:
        ValueError: anything else (argparse's one-line error, exit 2).
    """
    v = float(text)  # ValueError: argparse names the option ("argument --vram: invalid positive value: 'x'")
    if not (math.isfinite(v) and v > 0):
        raise ValueError(text)
    return v


def non_negative(text: str) -> float:
    """A finite number, 0 or above (`--vram 0`: no GPU; `--link-ms 0`)."""
    v = float(text)
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(text)
    return v


def hw_options(p: Any) -> None:
    p.add_argument("--gpu", action="append", default=[], help="a known GPU instead of detection (repeatable)")
    p.add_argument("--vram", type=non_negative, help="GPU memory budget in GiB instead of detection")
    p.add_argument("--ram", type=positive, help="system RAM in GiB")
    p.add_argument("--ram-bw", type=positive, metavar="GBPS",
                   help="system RAM bandwidth in GB/s, for what a partial offload leaves on the CPU (default 60)")


def parse_ctx(text: str) -> int:
    """A context length as runtimes' users write it: `32768`, `32k`, `128K` (k = 1024 tokens), `1m`.

    Raises:
        UsageError: not a length (argparse reports it as the option's error).
    """
    t = text.strip().lower()
    scale = {"k": 1024, "m": 1024 * 1024}.get(t[-1:], 1)
    try:
        n = int(t[:-1] if scale != 1 else t) * scale
    except ValueError:
        raise UsageError(f"--ctx {text!r} is not a context length", "e.g. 32768 or 32k") from None
    if n <= 0:
        raise UsageError(f"--ctx {text!r} is not a context length", "e.g. 32768 or 32k")
    return n


def parse_count(text: str) -> float:
    """A parameter count as people write it: `8B`, `500M`, `1.5b`, `8e9`.

    Raises:
        UsageError: not a count.
    """
    t = text.strip().upper()
    scale = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}.get(t[-1:], 1.0)
    try:
        n = float(t[:-1] if scale != 1.0 else t) * scale
    except ValueError:
        raise UsageError(f"--max-params {text!r} is not a count", "e.g. 8B, 500M or 8e9") from None
    if not (math.isfinite(n) and n > 0):
        raise UsageError(f"--max-params {text!r} is not a count", "e.g. 8B, 500M or 8e9")
    return n
