"""The on-disk cache: atomic writes, crash safety, two writers, TTL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from catalog.sources import cache

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LLM_CATALOG_CACHE_DIR", str(tmp_path / "c"))
    return tmp_path / "c"


def test_round_trip_and_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    cache.put("hub", "Org/Model@main", {"a": 1}, now=1000.0)
    hit = cache.get("hub", "org/model@main", now=1000.0 + 60)
    assert hit is not None and hit.doc == {"a": 1} and not hit.stale and hit.age_s == 60
    monkeypatch.setenv("LLM_CATALOG_CACHE_TTL", "30")
    hit = cache.get("hub", "org/model@main", now=1000.0 + 60)
    assert hit is not None and hit.stale
    assert cache.get("hub", "org/other@main") is None


def test_keys_cannot_escape_the_cache_dir(_dir: Path) -> None:
    path = cache.put("gguf", "../../etc/passwd@x/../y", {"a": 1})
    assert Path(path).resolve().is_relative_to(_dir.resolve())
    assert cache.get("gguf", "../../etc/passwd@x/../y") is not None


def test_a_crash_mid_write_keeps_the_old_entry(_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache.put("hub", "a/b@main", {"v": "old"})

    def boom(*a: object, **k: object) -> None:
        raise KeyboardInterrupt  # the process dies with the new document written but not yet synced or renamed

    monkeypatch.setattr(cache.os, "fsync", boom)
    with pytest.raises(KeyboardInterrupt):
        cache.put("hub", "a/b@main", {"v": "new"})
    monkeypatch.undo()
    monkeypatch.setenv("LLM_CATALOG_CACHE_DIR", str(_dir))
    hit = cache.get("hub", "a/b@main")
    assert hit is not None and hit.doc == {"v": "old"}
    assert [p.name for p in (_dir / "hub").iterdir()] == ["a_2fb@main.json"]  # no temp file left


def test_a_killed_writer_leaves_a_whole_file(_dir: Path) -> None:
    """SIGKILL a process in the middle of many writes: the entry is always one whole document."""
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
        "from catalog.sources import cache\n"
        "big = {'x': 'y' * 2_000_000}\n"
        "i = 0\n"
        "while True:\n"
        "    i += 1; big['i'] = i; cache.put('hub', 'k/k@main', big)\n"
    )
    env = {**os.environ, "LLM_CATALOG_CACHE_DIR": str(_dir)}
    p = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        import time

        deadline = time.time() + 20
        while cache.get("hub", "k/k@main") is None and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
    finally:
        p.kill()
        p.wait()
    hit = cache.get("hub", "k/k@main")
    assert hit is not None and hit.doc["i"] >= 1 and len(hit.doc["x"]) == 2_000_000


def test_two_concurrent_writers_and_a_reader(_dir: Path) -> None:
    writer = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
        "from catalog.sources import cache\n"
        "for i in range(150): cache.put('hub', 'same/key@main', {'w': sys.argv[1], 'i': i, 'pad': 'p' * 50000})\n"
    )
    env = {**os.environ, "LLM_CATALOG_CACHE_DIR": str(_dir)}
    procs = [subprocess.Popen([sys.executable, "-c", writer, w], env=env) for w in ("A", "B")]
    seen = 0
    while any(p.poll() is None for p in procs):
        path = _dir / "hub" / "same_2fkey@main.json"
        if path.exists():
            doc = json.loads(path.read_text())  # never a torn file
            assert doc["doc"]["w"] in ("A", "B")
            seen += 1
    assert all(p.returncode == 0 for p in procs)
    hit = cache.get("hub", "same/key@main")
    assert hit is not None and hit.doc["i"] == 149
    assert seen > 0
    assert len(list((_dir / "hub").iterdir())) == 1


def test_unreadable_entries_are_misses(_dir: Path) -> None:
    (_dir / "hub").mkdir(parents=True)
    (_dir / "hub" / "x_2fy@main.json").write_text("{not json")
    assert cache.get("hub", "x/y@main") is None
    (_dir / "hub" / "x_2fy@main.json").write_text(json.dumps({"schema": "other", "doc": {}}))
    assert cache.get("hub", "x/y@main") is None


def test_unwritable_cache_is_not_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("LLM_CATALOG_CACHE_DIR", str(blocker / "sub"))
    cache.put("hub", "a/b@main", {"a": 1})  # no exception
    assert cache.get("hub", "a/b@main") is None


def test_two_long_keys_with_one_head_never_share_an_entry(_dir: Path) -> None:
    """Keys past the file-name limit keep a hash of the whole key, and an entry answers only its own key
    (issue 22: two GGUF files sharing a 200-character key prefix answered with each other's table)."""
    head = "https://example.org/" + "a" * 300
    cache.put("gguf", head + "/one.gguf", {"n": 1})
    cache.put("gguf", head + "/two.gguf", {"n": 2})
    one, two = cache.get("gguf", head + "/one.gguf"), cache.get("gguf", head + "/two.gguf")
    assert one is not None and two is not None and (one.doc, two.doc) == ({"n": 1}, {"n": 2})
    path = Path(cache.put("hub", "a/b@main", {"v": 1}))
    path.write_text(path.read_text().replace('"a/b@main"', '"c/d@main"'))  # another key's entry in this file
    assert cache.get("hub", "a/b@main") is None
