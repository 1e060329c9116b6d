"""A catalog entry's GGUF files confirmed by the Hub's listing: a printed command names a file the Hub lists
now, a file it no longer lists is not printed, the listing is cached for offline use, and a Hub that does not
answer leaves the catalog's recorded list (against a loopback Hub)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hub_server import HubServer

import catalog
from catalog.sources.bundled import entries, source_text

ENTRY = next(e for e in entries() if e["id"] == "qwen2.5-0.5b-instruct")
REPO = ENTRY["gguf_repos"][0]["repo"]
RECORDED = ENTRY["gguf_repos"][0]["files"]["Q4_K_M"]["file"]
HW = catalog.machine(["RTX 3060"], ram_gib=32)


@pytest.fixture
def hubsrv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    with HubServer() as srv:
        monkeypatch.setenv("HF_ENDPOINT", srv.url)
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setenv("LLM_CATALOG_CACHE_DIR", str(tmp_path / "cache"))
        yield srv


def _commands(quant: str, offline: bool = False) -> dict[str, str]:
    spec = catalog.resolve("qwen2.5:0.5b", offline=offline, confirm=True)
    res = catalog.check(spec, catalog.CheckRequest(quants=(quant,)), HW)
    return dict(res.rows[0].commands._asdict())


def test_listed_file_is_printed_and_a_dropped_one_is_not(hubsrv) -> None:  # type: ignore[no-untyped-def]
    srv = hubsrv
    srv.add(REPO, {"tags": ["gguf"]}, {"qwen2.5-0.5b-instruct-q5_1.gguf": b"\0", "README.md": b""})
    cmds = _commands("Q5_1")
    assert f"-hf {REPO}:Q5_1" in cmds["llama_cpp"] and cmds["lm_studio"].startswith(
        f"lms get https://huggingface.co/{REPO}@Q5_1")
    sha = srv.repos[REPO.lower()].sha
    assert cmds["file_source"] == f"{srv.url}/{REPO}/tree/{sha}"
    # the recorded Q4_K_M file is not in today's listing: no command names it from this repo
    q4 = _commands("Q4_K_M")
    assert f"{REPO}:Q4_K_M" not in json.dumps(q4) and f"{REPO}@Q4_K_M" not in json.dumps(q4)
    asked = len(srv.requests_to(f"/api/models/{REPO}"))
    assert asked == 1  # the second check answered from the cached listing
    # offline: the cached listing, no request
    assert f"-hf {REPO}:Q5_1" in _commands("Q5_1", offline=True)["llama_cpp"]
    assert len(srv.requests_to(f"/api/models/{REPO}")) == asked


def test_unanswered_hub_keeps_the_recorded_list(hubsrv) -> None:  # type: ignore[no-untyped-def]
    srv = hubsrv
    srv.status_for["/api/"] = 503
    cmds = _commands("Q4_K_M")
    assert f"-hf {REPO}:Q4_K_M" in cmds["llama_cpp"]
    assert cmds["file_source"] == source_text(ENTRY["gguf_repos"][0]["source"])  # the catalog's, not a listing
    assert not cmds["file_source"].startswith(srv.url)
    asked = len(srv.requests_to(f"/api/models/{REPO}"))
    _commands("Q4_K_M")  # a moment later: not asked again (a machine without a network never waits each time)
    assert len(srv.requests_to(f"/api/models/{REPO}")) == asked


def test_gone_repo_names_no_file(hubsrv) -> None:  # type: ignore[no-untyped-def]
    cmds = _commands("Q4_K_M")  # the loopback Hub does not hold the repo: 404
    assert f"{REPO}:Q4_K_M" not in cmds["llama_cpp"] and RECORDED not in json.dumps(cmds)


def test_offline_without_a_cached_listing_asks_nothing(hubsrv, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    srv = hubsrv
    srv.add(REPO, {"tags": ["gguf"]}, {"qwen2.5-0.5b-instruct-q5_1.gguf": b"\0"})
    cmds = _commands("Q4_K_M", offline=True)
    assert f"-hf {REPO}:Q4_K_M" in cmds["llama_cpp"] and not srv.log
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert f"-hf {REPO}:Q4_K_M" in _commands("Q4_K_M")["llama_cpp"] and not srv.log
