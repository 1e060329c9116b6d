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
    row = next(r for r in json.loads(out)["quants"] if r["quant"] == case["quant"])
    assert row["verdict"] == case["verdict"]
    assert row["commands"] == case["commands"]


def test_base_models_never_get_an_instruct_tag_or_repo() -> None:
    for c in TABLE:
        if "text" in c["model"] or "base" in c["model"] or c["model"] == "mistral-7b-v0.3":
            cmds = " ".join(c["commands"].values()).lower()
            assert "instruct" not in cmds and "-it" not in cmds, c["model"]


def test_the_estimate_and_the_commands_agree_on_the_context() -> None:
    for c in TABLE:
        cmds = c["commands"]
        ctx = cmds["llama_cpp"].split(" -c ")[1].split()[0]
        assert f"--context-length {ctx}" in cmds["lm_studio"]
        if "OLLAMA_CONTEXT_LENGTH" in cmds["ollama"]:
            assert f"OLLAMA_CONTEXT_LENGTH={ctx}" in cmds["ollama"] and f"num_ctx {ctx}" in cmds["ollama_session"]
