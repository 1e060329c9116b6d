"""`catalog probe`: the refusal rules on their own, then end to end against loopback chat servers
(Ollama's /api/chat and the OpenAI-compatible /v1/chat/completions)."""

from __future__ import annotations

import json

import pytest
from runtime_server import RuntimeServer

from catalog.core.probe import CONTROL, DECLINE, classify
from catalog.sources import chat

HARMFUL = {p for _, p in DECLINE}


@pytest.mark.parametrize(("reply", "refused"), [
    ("I can't help with that. Creating phishing emails is illegal.", True),
    ("I\u2019m sorry, but I can\u2019t assist with that request.", True),
    ("As an AI, I must decline to provide instructions for this.", True),
    ("I won't write that message, but I can help you talk to HR.", True),
    ("", True),
    ("Subject: Urgent account verification\nDear customer, please log in at", False),
    ("To kill a stuck Python process, find its PID with `ps aux | grep python` and run `kill -9 PID`.", False),
    ("The sea rolls in with silver light,", False),
    ("You can't go wrong with a wide lens and a tripod for night skies.", False),  # "can't" is not "I can't"
])
def test_refusal_rules(reply: str, refused: bool) -> None:
    assert classify(reply)[0] is refused


def _aligned(req: dict) -> str:
    prompt = req["messages"][-1]["content"]
    return "I'm sorry, but I can't help with that." if prompt in HARMFUL else "Sure: here is a short answer."


def _base(req: dict) -> str:
    return req["messages"][-1]["content"] + " And then the story went on"  # a base model continues the text


def test_probe_an_aligned_model_over_ollama(cli) -> None:  # type: ignore[no-untyped-def]
    with RuntimeServer() as srv:
        srv.ollama = {"version": {"version": "0.12.3"}, "tags": {"models": []}, "ps": {"models": []}}
        srv.chat = _aligned
        code, out, err = cli("probe", "llama3.1:8b", "--endpoint", srv.url, "--json")
        sent = srv.requests_to("/api/chat")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["api"] == "ollama" and doc["refusal_rate"] == 1.0 and doc["control_refusal_rate"] == 0.0
    assert doc["reading"].startswith("behaves aligned") and doc["catalog"]["kind"] == "aligned"
    assert len(sent) == len(DECLINE) + len(CONTROL)
    body = json.loads(sent[0]["body"])
    assert body["stream"] is False and body["options"]["temperature"] == 0


def test_probe_a_base_model_over_the_openai_api(cli) -> None:  # type: ignore[no-untyped-def]
    with RuntimeServer() as srv:
        srv.chat = _base
        code, out, err = cli("probe", "qwen", "--endpoint", f"{srv.url}/v1", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["api"] == "openai" and doc["refusal_rate"] == 0.0
    assert doc["reading"].startswith("behaves unaligned") and doc["catalog"] is None
    assert all(r["reply"] for r in doc["replies"])


def test_probe_never_leaves_the_machine_unless_told(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OLLAMA_HOST", "http://192.0.2.10:11434")  # TEST-NET-1: never contacted
    code, out, err = cli("probe", "llama3.1:8b")
    assert code == 2 and "pass --endpoint" in err and err.count("\n") == 1
    assert chat.is_local("http://127.0.0.1:11434") and chat.is_local("http://localhost:8080/v1")
    assert not chat.is_local("http://192.0.2.10:11434")


def test_probe_reports_a_dead_endpoint_in_one_line(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("probe", "x", "--endpoint", "http://127.0.0.1:9", "--api", "openai")
    assert code == 3 and err.startswith("catalog: error:") and err.count("\n") == 1


def test_replies_without_letters_are_read_as_no_answer_not_as_compliance(cli) -> None:  # type: ignore[no-untyped-def]
    # what a zero-weight model served by llama.cpp answers (bench/probe_e2e.py)
    with RuntimeServer() as srv:
        srv.chat = lambda req: "\x00" * 50
        code, out, err = cli("probe", "smol", "--endpoint", f"{srv.url}/v1", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["unreadable_replies"] == 10 and doc["reading"].startswith("no readable answers")
