"""`catalog refresh` and the Hub reads under faults, against a loopback Hub (tests/hub_server.py).

The repos are test repos built from one real config.json (Qwen2.5-Coder-7B-Instruct's,
tests/data/configs); the faults are the ones the Hub and its CDN really produce: 429 with
Retry-After, 5xx, slow answers, a connection cut mid-body, a Content-Length that lies.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hub_server import HubServer

from catalog.errors import BadModelFile, RemoteUnavailable
from catalog.sources import cache, http, hub, refresh

ROOT = Path(__file__).resolve().parent.parent
CONFIG = json.dumps(json.loads((ROOT / "tests/data/configs/qwen25_7b.json").read_text())["config"]).encode()
N = 12


def _files(i: int) -> dict[str, bytes]:
    readme = f"---\nlicense: mit\n---\nThis repo contains the base model {i}.\n"
    return {"config.json": CONFIG, "README.md": readme.encode()}


@pytest.fixture
def hubenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    with HubServer() as srv:
        for i in range(N):
            srv.add(f"org/m{i}", {"tags": ["qwen2"], "cardData": {"license": "mit"}}, _files(i))
        monkeypatch.setenv("HF_ENDPOINT", srv.url)
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setenv("LLM_CATALOG_CACHE_DIR", str(tmp_path / "cache"))
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
        monkeypatch.setattr(http, "BACKOFF_S", 0.01)
        import huggingface_hub.constants as hc

        monkeypatch.setattr(hc, "HF_HUB_OFFLINE", False)
        yield srv


def _repos(n: int = N) -> list[tuple[str, str | None]]:
    return [(f"org/m{i}", None) for i in range(n)]


def test_refresh_reads_concurrently_and_rereads_only_what_changed(hubenv) -> None:  # type: ignore[no-untyped-def]
    srv = hubenv
    srv.delay_s = 0.05
    out = refresh.refresh(_repos(), jobs=6)
    assert [o.status for o in out] == ["updated"] * N
    assert srv.max_in_flight > 1, "repos must be read in parallel"
    assert cache.get("hub", "org/m3@main").doc["config"]["hidden_size"] == 3584
    # nothing moved on the Hub: one model_info per repo (+ the GGUF-children query), no file re-read
    before = len(srv.log)
    out = refresh.refresh(_repos(), jobs=6)
    assert [o.status for o in out] == ["unchanged"] * N
    new = srv.log[before:]
    assert not [e for e in new if "/resolve/" in e["path"] or "/tree/" in e["path"]]
    # a new commit on one repo: that repo alone has its files read again
    srv.repos["org/m5"].sha = "f" * 40
    srv.repos["org/m5"].files["config.json"] = CONFIG.replace(b'"num_hidden_layers": 28', b'"num_hidden_layers": 29')
    before = len(srv.log)
    out = refresh.refresh(_repos(), jobs=6)
    assert out[5].status == "updated" and {o.status for i, o in enumerate(out) if i != 5} == {"unchanged"}
    assert {e["path"].split("/")[2] for e in srv.log[before:] if "/resolve/" in e["path"]} == {"m5"}
    assert cache.get("hub", "org/m5@main").doc["config"]["num_hidden_layers"] == 29


def test_rate_limits_and_server_errors_are_retried(hubenv) -> None:  # type: ignore[no-untyped-def]
    srv = hubenv
    srv.fail_next["/api/models/org/m1"] = [429, 429]  # with Retry-After: 0.05
    srv.fail_next["/api/models/org/m2"] = [500, 502, 503]
    out = refresh.refresh(_repos(4), jobs=2)
    assert [o.status for o in out] == ["updated"] * 4
    assert len([e for e in srv.requests_to("/api/models/org/m1") if "/tree/" not in e["path"]]) == 3


def test_a_long_retry_after_or_a_persistent_failure_is_reported_not_waited(hubenv) -> None:  # type: ignore[no-untyped-def]
    srv = hubenv
    srv.status_for["/api/models/org/m0"] = 500
    out = refresh.refresh(_repos(3), jobs=3)
    assert out[0].status == "failed" and "HTTP 500" in out[0].detail and out[0].exit_code == 3
    assert [o.status for o in out[1:]] == ["updated", "updated"]  # one failure never stops the others
    # one retry layer a request; a refresh gives a repo that ran out of tries two more passes (a flaky Hub)
    assert len(srv.requests_to("/api/models/org/m0")) == refresh.PASSES * (http.RETRIES + 1)
    srv.status_for["/api/models/org/m1"] = 429  # answered with Retry-After: 0, for ever
    with pytest.raises(RemoteUnavailable) as exc:
        hub.record("org/m1", refresh=True)
    assert exc.value.status == 429 and "rate limited by the Hub" in exc.value.line()


def _no_sleep(s: float) -> None:
    raise AssertionError(f"waited {s} s")


def test_retry_after_is_honoured_and_capped() -> None:
    calls: list[float] = []
    errors = [RemoteUnavailable("x", status=429, retry_after_s=2.0), RemoteUnavailable("x", status=503)]

    def fn() -> str:
        if errors:
            raise errors.pop(0)
        return "ok"

    assert http.with_retries(fn, sleep=calls.append) == "ok"
    assert calls == [2.0, http.BACKOFF_S * 2]
    with pytest.raises(RemoteUnavailable) as exc:
        http.with_retries(lambda: (_ for _ in ()).throw(RemoteUnavailable("x", status=429, retry_after_s=600)),
                         sleep=_no_sleep)
    assert exc.value.line() == "x (rate limited by the Hub; try again in 600 s)"
    # a 404 or a 401 is an answer, not a hiccup: never retried
    with pytest.raises(RemoteUnavailable):
        http.with_retries(lambda: (_ for _ in ()).throw(RemoteUnavailable("x", status=404)), sleep=_no_sleep)


def test_a_timeout_or_a_redirect_loop_is_not_tried_again_and_retries_stay_within_the_timeout(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Trying a request that used its whole timeout again would multiply the user's bound (5 x 5 s + back-off for
    LLM_CATALOG_HTTP_TIMEOUT=5, issue 22), and a redirect loop fails the same way each time; the waits between
    tries of a 5xx or 429 stop where they would pass the timeout."""
    def failing(err: RemoteUnavailable):  # type: ignore[no-untyped-def]
        def fn() -> str:
            raise err
        return fn

    for err in (RemoteUnavailable("x", timed_out=True), RemoteUnavailable("x", permanent=True)):
        with pytest.raises(RemoteUnavailable):
            http.with_retries(failing(err), sleep=_no_sleep)
    monkeypatch.setenv("LLM_CATALOG_HTTP_TIMEOUT", "2")
    calls: list[float] = []
    with pytest.raises(RemoteUnavailable):
        http.with_retries(failing(RemoteUnavailable("x", status=500)), sleep=calls.append)
    assert calls == [http.BACKOFF_S, http.BACKOFF_S * 2] and sum(calls) <= 2
    calls.clear()
    with pytest.raises(RemoteUnavailable) as exc:
        http.with_retries(failing(RemoteUnavailable("x", status=429, retry_after_s=1.5)), sleep=calls.append)
    assert calls == [1.5] and "try again in 2 s" in exc.value.line()
    monkeypatch.delenv("LLM_CATALOG_HTTP_TIMEOUT")
    calls.clear()
    with pytest.raises(RemoteUnavailable):  # the default 30 s: all four further tries of a 5xx
        http.with_retries(failing(RemoteUnavailable("x", status=503)), sleep=calls.append)
    assert len(calls) == http.RETRIES


def test_a_body_cut_off_or_a_lying_length_leaves_no_half_entry(hubenv) -> None:  # type: ignore[no-untyped-def]
    srv = hubenv
    # cut once: the retry reads it whole
    srv.cut_next["/org/m0/resolve/"] = 1
    rec, _ = hub.record("org/m0")
    assert rec["config"]["hidden_size"] == 3584
    # cut every time: a clear failure, and nothing cached for that repo
    srv.cut_next["/org/m1/resolve/"] = 99
    with pytest.raises(RemoteUnavailable):
        hub.record("org/m1")
    assert cache.get("hub", "org/m1@main") is None
    # a Content-Length smaller than the body: the truncated JSON is refused, not half-read
    srv.short_length_next["/org/m2/resolve/main/config.json"] = 99
    srv.short_length_next[f"/org/m2/resolve/{srv.repos['org/m2'].sha}/config.json"] = 99
    with pytest.raises(BadModelFile, match="not valid JSON"):
        hub.record("org/m2")
    assert cache.get("hub", "org/m2@main") is None


def test_slow_answers_time_out_into_one_clear_error(hubenv, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    srv = hubenv
    monkeypatch.setenv("LLM_CATALOG_HTTP_TIMEOUT", "0.2")
    monkeypatch.setattr(http, "RETRIES", 1)
    srv.delay_s = 0.6
    with pytest.raises(RemoteUnavailable, match="did not answer|Timeout"):
        hub.record("org/m0")
    assert cache.get("hub", "org/m0@main") is None


def test_an_interrupted_refresh_resumes(hubenv) -> None:  # type: ignore[no-untyped-def]
    srv = hubenv
    seen: list[str] = []

    def interrupt(o: refresh.Outcome) -> None:
        seen.append(o.repo)
        if len(seen) == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        refresh.refresh(_repos(), jobs=1, on_done=interrupt)
    before = len(srv.log)
    out = refresh.refresh(_repos(), jobs=3)
    resumed = {o.repo for o in out if o.status == "resumed"}
    # the four reported before Ctrl-C (and the one running then) are not read again; the rest are
    assert set(seen) <= resumed and len(resumed) <= 5
    assert {o.status for o in out} == {"resumed", "updated"}
    assert not [e for e in srv.log[before:] if any(e["path"].endswith(r) or f"{r}/" in e["path"] for r in resumed)]
    # the run finished: the next refresh reads everything again
    assert {o.status for o in refresh.refresh(_repos(), jobs=3)} == {"unchanged"}


def test_cli_refresh_reports_failures_and_exits_3(hubenv, cli) -> None:  # type: ignore[no-untyped-def]
    srv = hubenv
    srv.status_for["/api/models/org/m1"] = 503
    code, out, err = cli("refresh", "org/m0", "org/m1", "org/m2", "--jobs", "2")
    assert code == 3
    assert out.splitlines()[0].startswith("org/m0: updated") and "org/m2: updated" in out
    assert err.splitlines()[0].startswith("catalog: refresh failed: org/m1: the Hub did not answer (HTTP 503)")
    assert err.splitlines()[-1] == "refresh: 3 repos: 1 failed, 2 updated"


def test_a_repo_without_usable_weights_is_one_clear_error(hubenv, cli) -> None:  # type: ignore[no-untyped-def]
    srv = hubenv
    srv.add("org/readme-only", {"tags": ["llama"]}, {"README.md": b"---\nlicense: mit\n---\nSoon.\n"})
    srv.add("org/mamba", {"tags": []}, {"config.json": json.dumps({"architectures": ["MambaForCausalLM"],
                                                                   "hidden_size": 768}).encode()})
    code, out, err = cli("check", "org/readme-only", "--vram", "8")
    assert code == 2 and "no config.json and no GGUF file" in err and err.count("\n") == 1
    code, out, err = cli("check", "org/mamba", "--vram", "8")
    assert code == 2 and "MambaForCausalLM is not supported" in err and err.count("\n") == 1


def test_the_gguf_children_are_asked_again_only_when_the_hubs_children_count_moves(hubenv) -> None:  # type: ignore[no-untyped-def]
    srv = hubenv
    refresh.refresh(_repos(2), jobs=2)
    assert cache.get("hub", "org/m0@main").doc["gguf_children"] == []
    before = len(srv.log)
    refresh.refresh(_repos(2), jobs=2)
    assert not [e for e in srv.log[before:] if e["path"] == "/api/models"]  # one model_info a repo, no search
    srv.add("someone/m0-GGUF", {"tags": ["gguf", "base_model:quantized:org/m0"]}, {})
    before = len(srv.log)
    out = refresh.refresh(_repos(2), jobs=2)
    assert [o.status for o in out] == ["unchanged", "unchanged"]
    searches = [e for e in srv.log[before:] if e["path"] == "/api/models"]
    assert len(searches) == 1 and cache.get("hub", "org/m0@main").doc["gguf_children"] == [
        {"repo": "someone/m0-GGUF", "files": []}]
    # a record cached when children were kept as bare repo ids is asked again, for their file lists
    old = cache.get("hub", "org/m0@main").doc
    cache.put("hub", "org/m0@main", {**old, "gguf_children": ["someone/m0-GGUF"]})
    before = len(srv.log)
    refresh.refresh(_repos(2), jobs=2)
    assert len([e for e in srv.log[before:] if e["path"] == "/api/models"]) == 1
    assert cache.get("hub", "org/m0@main").doc["gguf_children"] == [{"repo": "someone/m0-GGUF", "files": []}]


def test_the_tui_lists_cached_hub_repos_beside_the_catalog(hubenv) -> None:  # type: ignore[no-untyped-def]
    from catalog.service.search import cached_specs

    assert cached_specs() == []
    refresh.refresh(_repos(3), jobs=3)
    specs = cached_specs()  # offline: from the cache only
    assert sorted(s.hf_repo for s in specs) == ["org/m0", "org/m1", "org/m2"]
    assert all(s.arch.n_layer == 28 for s in specs)  # Qwen2.5-Coder-7B's config, read from the cache


def test_refresh_under_faults_leaves_every_repo_answerable(hubenv, cli) -> None:  # type: ignore[no-untyped-def]
    """46 repos refreshed while 15 % of requests get 429, 10 % 500 and 5 % a body cut halfway (seeded): each
    request is retried on its own, so every repo is answerable offline afterwards (issue 22: 7 of 46 were not)."""
    import catalog

    srv = hubenv
    for i in range(46):
        srv.add(f"org/x{i}", {"tags": ["qwen2"], "cardData": {"license": "mit"}}, _files(i % N))
    srv.chaos = (0.15, 0.10, 0.05)
    names = [f"org/x{i}" for i in range(46)]
    code, out, err = cli("refresh", *names, "--jobs", "8")
    srv.chaos = None
    assert code == 0, err
    for name in names:
        assert catalog.resolve(name, offline=True).hf_repo == name
