"""`catalog mcp`: the library as Model Context Protocol tools over stdio, on the official `mcp` SDK.

The tools are the command line's questions, so an assistant gets exactly what a person gets: `check`, `search`,
`hw` and `plan` are the subcommands of the same name, each tool's input schema generated from that subcommand's
typed options (argparse's types, choices, defaults and help: the options catalog.core.options defines), and a
call runs the same `main` with `--json`. `explain` gives a glossary term (`catalog.explain`). An answer is the
subcommand's JSON (check's exit codes 10-12 are answers too); an error is the same one line the command line
prints, returned as a tool error. Nothing reaches the network unless the call names a Hugging Face repo
(`owner/name`, `hf.co/...`): every other model is answered offline, from the catalog, local files and the cache.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
from typing import Any

from catalog import __version__
from catalog.cli.args import parse_ctx, parser
from catalog.errors import EXIT_CPU_ONLY, EXIT_FITS, EXIT_NO_FIT, EXIT_PARTIAL

TOOLS = ("check", "search", "hw", "plan")
# options a call never sets: the server asks for JSON, decides what is offline, and answers in one line
HIDDEN = {"json", "debug", "offline", "help"}
EXPLAIN_SCHEMA = {"type": "object", "required": ["term"], "additionalProperties": False, "properties": {
    "term": {"type": "string", "description": "a glossary term's id or name: rlhf, kv-cache, 'Mixture of experts'"}}}
ANSWER_CODES = (EXIT_FITS, EXIT_PARTIAL, EXIT_CPU_ONLY, EXIT_NO_FIT)  # check and plan answered (the contract's)


def _subparser(command: str) -> argparse.ArgumentParser:
    p = parser(command)
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    found: argparse.ArgumentParser = sub.choices[command]
    return found


def _option(action: argparse.Action) -> dict[str, Any]:
    """One option's JSON Schema, from its argparse action."""
    if isinstance(action, argparse._StoreTrueAction):
        out: dict[str, Any] = {"type": "boolean"}
    elif isinstance(action, argparse._AppendAction):
        out = {"type": "array", "items": {"type": "string"}}
    elif action.choices:
        out = {"type": "string", "enum": [str(c) for c in action.choices]}
    elif action.type is int:
        out = {"type": "integer"}
    elif action.type is parse_ctx:
        out = {"type": ["integer", "string"]}  # 32768, "32k"
    elif callable(action.type):
        out = {"type": "number"}
    else:
        out = {"type": "string"}
    if action.help:
        out["description"] = action.help
    if action.default not in (None, [], False, "", argparse.SUPPRESS):
        out["default"] = action.default
    return out


def input_schema(command: str) -> dict[str, Any]:
    """The tool's input schema: the subcommand's positional and options, by their argparse names."""
    props, required = {}, []
    for a in _subparser(command)._actions:
        if a.dest in HIDDEN or a.dest == argparse.SUPPRESS:
            continue
        props[a.dest] = _option(a)
        if not a.option_strings and a.nargs is None:
            required.append(a.dest)
    return {"type": "object", "properties": props, "required": required, "additionalProperties": False}


def argv_for(command: str, arguments: dict[str, Any]) -> list[str]:
    """The command line a call stands for (`--json`, and `--offline` unless it names a Hub repo)."""
    every = _subparser(command)._actions
    actions = {a.dest: a for a in every if a.dest not in HIDDEN}
    unknown = sorted(set(arguments) - set(actions))
    if unknown:
        raise ValueError(f"unknown option(s) for {command}: {', '.join(unknown)}")
    argv = [command]
    for dest, value in arguments.items():
        a = actions[dest]
        if not a.option_strings:
            argv.append(str(value))
        elif isinstance(a, argparse._StoreTrueAction):
            argv += [a.option_strings[-1]] if value else []
        elif isinstance(a, argparse._AppendAction):
            for v in value if isinstance(value, list) else [value]:
                argv += [a.option_strings[-1], str(v)]
        else:
            argv += [a.option_strings[-1], str(value)]
    argv.append("--json")
    model = str(arguments.get("model", ""))
    if any(a.dest == "offline" for a in every) and not _names_hub_repo(model):
        argv.append("--offline")
    return argv


def _names_hub_repo(model: str) -> bool:
    return model.startswith(("hf.co/", "huggingface.co/")) or (
        model.count("/") == 1 and not model.startswith((".", "/", "~")) and not model.endswith((".gguf", ".json")))


def run_tool(name: str, arguments: dict[str, Any]) -> tuple[bool, str]:
    """(is an answer, text): the subcommand's JSON, or its one-line error."""
    if name == "explain":
        import catalog

        try:
            return True, json.dumps(catalog.explain(str(arguments.get("term", ""))), indent=2)
        except catalog.CatalogError as err:
            return False, f"catalog: error: {err.line()}"
    if name not in TOOLS:
        return False, f"catalog: error: no tool {name!r} (tools: {', '.join((*TOOLS, 'explain'))})"
    try:
        argv = argv_for(name, arguments)
    except ValueError as bad:
        return False, f"catalog: error: {bad}"
    from catalog.cli.main import main

    out, said = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(said):
        code = main(argv)
    if code in ANSWER_CODES and out.getvalue().strip():
        return True, out.getvalue()
    return False, (said.getvalue().strip().splitlines() or [f"catalog: error: exit {code}"])[-1]


def _tools() -> list[Any]:
    import mcp_types as types

    about = {"check": "Does a model run on this machine or a named GPU: quantization, context, memory per part, "
                      "speed and the Ollama / llama.cpp / LM Studio commands (the llm-catalog/check/v1 JSON).",
             "search": "List catalog models by text, kind (base, aligned, de-aligned), family or size; with fits, "
                       "only those that run entirely on the GPU.",
             "hw": "The detected (or named) GPUs, RAM and the memory budget the estimates use.",
             "plan": "Run a model across several GPUs and machines: llama.cpp RPC and vLLM + Ray plans."}
    tools = [types.Tool(name=n, description=about[n], input_schema=input_schema(n)) for n in TOOLS]
    tools.append(types.Tool(name="explain", description="A glossary term (RLHF, DPO, KV cache, partial offload...): "
                            "its definition, the distinctions people get wrong, sources, and the catalog models "
                            "that show it.", input_schema=EXPLAIN_SCHEMA))
    return tools


def serve() -> None:
    """Serve the tools over stdin/stdout until the client closes them."""
    import anyio
    import mcp_types as types
    from mcp.server.lowlevel import Server
    from mcp.server.stdio import stdio_server

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=_tools())

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        ok, text = run_tool(params.name, dict(params.arguments or {}))
        doc = json.loads(text) if ok else None
        structured = doc if isinstance(doc, dict) else None
        return types.CallToolResult(content=[types.TextContent(text=text)], structured_content=structured,
                                    is_error=not ok)

    server: Server[Any] = Server("llm-catalog", version=__version__, on_list_tools=list_tools,
                                 on_call_tool=call_tool)

    async def main() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(main)
