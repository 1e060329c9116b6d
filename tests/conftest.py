"""Shared fixtures: isolated cache/config dirs and helpers to write real GGUF files."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))


@pytest.fixture(autouse=True)
def _isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    # nothing listens on port 9: a test that forgets to aim at its own server fails fast, offline
    monkeypatch.setenv("LLM_CATALOG_OLLAMA_REGISTRY", "http://127.0.0.1:9")
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from catalog.cli.main import main

    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    return lambda *args: run_cli(list(args), capsys)


def env_without_network() -> dict[str, str]:
    env = dict(os.environ)
    env["HF_HUB_OFFLINE"] = "1"
    return env
