"""`catalog mcp` through the MCP SDK's own client, against the real server process (issue 24): the tools are
listed with schemas generated from the command line's options, and a call answers what `catalog check --json`
answers, errors as the same one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp")

import anyio  # noqa: E402
from mcp.client.session import ClientSession  # noqa: E402
from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


async def _session(calls: list[tuple[str, dict[str, Any]]]) -> tuple[list[Any], list[Any]]:
    params = StdioServerParameters(command=sys.executable, args=["-m", "catalog", "mcp"], env=dict(os.environ),
                                   cwd=str(ROOT))
    with open(os.devnull, "w") as quiet:
        async with stdio_client(params, errlog=quiet) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            tools = (await session.list_tools()).tools
            results = [await session.call_tool(name, args) for name, args in calls]
    return tools, results


def _cli_json(*args: str) -> tuple[int, Any, str]:
    p = subprocess.run([sys.executable, "-m", "catalog", *args], capture_output=True, text=True, cwd=ROOT,
                       env=dict(os.environ), timeout=120)
    return p.returncode, json.loads(p.stdout) if p.stdout.strip() else None, p.stderr.strip()


def test_the_tools_answer_what_the_command_line_answers() -> None:
    ask = {"model": "llama3.1:8b", "gpu": ["RTX 3060"], "ram": 32, "ctx": "16k", "kv_type": "q8_0"}
    tools, (check, missing, bad, term, search) = anyio.run(_session, [
        ("check", ask), ("check", {"model": "no-such-model-at-all"}), ("check", {"model": "llama3.1:8b", "vram": -3}),
        ("explain", {"term": "RLHF"}), ("search", {"text": "llama 3.1", "kind": "base"})])
    by_name = {t.name: t for t in tools}
    assert set(by_name) == {"check", "search", "hw", "plan", "explain"}
    schema = by_name["check"].input_schema
    assert schema["required"] == ["model"]
    assert schema["properties"]["kv_type"]["enum"] == ["f16", "q8_0", "q4_0"]  # the CLI's choices
    assert schema["properties"]["gpu_layers"]["description"]
    assert "json" not in schema["properties"] and "offline" not in schema["properties"]

    code, want, _ = _cli_json("check", "llama3.1:8b", "--gpu", "RTX 3060", "--ram", "32", "--ctx", "16k",
                              "--kv-type", "q8_0", "--offline", "--json")
    assert code == 0
    assert not check.is_error
    assert check.structured_content == want
    assert json.loads(check.content[0].text) == want

    code, _, line = _cli_json("check", "no-such-model-at-all", "--offline", "--json")
    assert code == 2
    assert missing.is_error and missing.content[0].text == line
    assert bad.is_error and bad.content[0].text.startswith("catalog: error:") and "\n" not in bad.content[0].text

    assert not term.is_error and term.structured_content["id"] == "rlhf"
    assert term.structured_content["models"]
    assert not search.is_error
    _, want_search, _ = _cli_json("search", "llama 3.1", "--kind", "base", "--json")
    assert json.loads(search.content[0].text) == want_search


def test_no_network_unless_a_hub_repo_is_named() -> None:
    from catalog.cli.mcp_server import argv_for

    assert argv_for("check", {"model": "llama3.1:8b"})[-1] == "--offline"
    assert argv_for("check", {"model": "qwen3:8b-q4_K_M"})[-1] == "--offline"
    assert "--offline" not in argv_for("check", {"model": "Qwen/Qwen3-8B"})
    assert "--offline" not in argv_for("check", {"model": "hf.co/bartowski/Qwen_Qwen3-8B-GGUF:Q4_K_M"})
    assert argv_for("check", {"model": "./models/config.json"})[-1] == "--offline"
    with pytest.raises(ValueError, match="unknown option"):
        argv_for("check", {"model": "x", "rm_rf": True})
