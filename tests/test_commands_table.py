"""Exact runtime commands for 22 (model, options, quantization) cases: base and aligned, library
and hf.co models, a split GGUF (405B), partial offload, several GPUs, MoE experts in RAM,
non-default context, KV type, flash attention and batches (tests/data/commands_table.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

TABLE = json.loads((Path(__file__).parent / "data" / "commands_table.json").read_text())["cases"]


@pytest.mark.parametrize("case", TABLE, ids=[f"{c['model']} {' '.join(c['options'])} {c['quant']}" for c in TABLE])
def test_commands(case: dict, cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("check", case["model"], *case["options"], "--offline", "--json")
    assert code in (0, 10, 11, 12), err
    rows = json.loads(out)["quants"]
    row = next(r for r in rows if r["quant"] == case["quant"])
    assert row["verdict"] == case["verdict"]
    assert row["commands"] == case["commands"]
    for r in rows:  # every quantization the product offers, not only the recorded one
        cmds = r["commands"]
        if "text" in case["model"] or "base" in case["model"] or case["model"] == "mistral-7b-v0.3":
            joined = " ".join(v for v in cmds.values() if isinstance(v, str)).lower()
            assert "instruct" not in joined and "-it" not in joined, (case["model"], r["quant"])
        # the estimate's context and every runtime's command agree
        ctx = cmds["llama_cpp"].split(" -c ")[1].split()[0]
        assert f"--context-length {ctx}" in cmds["lm_studio"] or (not cmds["lm_studio"] and cmds["note"]), r["quant"]
        assert "ollama serve" not in cmds["ollama"]  # never a second server racing the running service
        if "OLLAMA_CONTEXT_LENGTH" in cmds["ollama_server_env"]:
            assert f"OLLAMA_CONTEXT_LENGTH={ctx}" in cmds["ollama_server_env"]
            assert f"num_ctx {ctx}" in cmds["ollama_session"]
