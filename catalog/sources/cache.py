"""The on-disk cache of what was read from the network (Hugging Face metadata, GGUF headers).

One JSON file per key under the user cache directory (platformdirs;
`LLM_CATALOG_CACHE_DIR` overrides it). Writes go to a temporary file in the
same directory, are flushed and fsynced, then `os.replace`d over the old
file: a reader sees the old document or the new one, never half of either,
so a crash mid-write loses nothing and two `catalog` processes writing the
same key both leave a whole file (the last rename wins). Unreadable files
are treated as absent and never raise.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from typing import Any

from catalog.core.record import Record
from catalog.sources.files import read_capped

SCHEMA = "llm-catalog/cache/v1"
DEFAULT_TTL_S = 24 * 3600  # Hub metadata changes rarely; `catalog refresh` re-reads on demand
MAX_ENTRY_BYTES = 64 << 20


class Cached(Record):
    """A cache hit: the document, when it was written (epoch seconds) and whether it is older than the TTL."""

    doc: dict[str, Any]
    fetched_at: float
    age_s: float
    stale: bool


def cache_dir() -> str:
    """The cache directory (not created here)."""
    env = os.environ.get("LLM_CATALOG_CACHE_DIR")
    if env:
        return os.path.expanduser(env)
    if sys.platform.startswith("linux"):  # platformdirs' XDG rule, without its import on every offline check
        return os.path.join(os.environ.get("XDG_CACHE_HOME", "").strip() or os.path.expanduser("~/.cache"),
                            "llm-catalog")
    import platformdirs

    return platformdirs.user_cache_dir("llm-catalog", appauthor=False)


def ttl_s() -> float:
    """Seconds a cached answer stays fresh (`LLM_CATALOG_CACHE_TTL`, default one day)."""
    raw = os.environ.get("LLM_CATALOG_CACHE_TTL", "")
    try:
        return max(0.0, float(raw)) if raw else float(DEFAULT_TTL_S)
    except ValueError:
        return float(DEFAULT_TTL_S)


def _path(kind: str, key: str) -> str:
    # a readable, collision-free file name: lower case, unsafe characters escaped as _xx
    safe = re.sub(r"[^a-z0-9.\-@]", lambda m: f"_{ord(m.group()):02x}", key.lower())
    if len(safe) > 200:  # a long key keeps a readable head and a hash of the whole: two keys never share a file
        import hashlib

        safe = safe[:180] + "~" + hashlib.sha256(key.lower().encode("utf-8", "surrogatepass")).hexdigest()[:19]
    return os.path.join(cache_dir(), kind, safe + ".json")


def get(kind: str, key: str, now: float | None = None) -> Cached | None:
    """The cached document for `key`, or None (absent, unreadable, or of another schema)."""
    path = _path(kind, key)
    try:  # a regular file under the cap only: a symlink to /dev/zero or a FIFO is a miss, never a hang
        wrapper = json.loads(read_capped(path, MAX_ENTRY_BYTES).decode("utf-8"))
    except (OSError, ValueError, RecursionError):  # a corrupt entry is a miss, never a crash
        return None
    if not isinstance(wrapper, dict) or wrapper.get("schema") != SCHEMA or not isinstance(wrapper.get("doc"), dict):
        return None
    if str(wrapper.get("key", "")).lower() != key.lower():  # keys are case-insensitive, like the file names
        return None  # another key's entry (a long key's twin, a file copied over it) is not this one's
    fetched = wrapper.get("fetched_at")
    if not isinstance(fetched, (int, float)):
        return None
    age = max(0.0, (time.time() if now is None else now) - float(fetched))
    return Cached(wrapper["doc"], float(fetched), age, age > ttl_s())


def keys(kind: str) -> list[str]:
    """The keys stored under `kind` (read from the entries themselves), sorted."""
    out = []
    try:
        names = os.listdir(os.path.join(cache_dir(), kind))
    except OSError:
        return []
    for name in names:
        if name.startswith(".tmp-") or not name.endswith(".json"):
            continue
        try:
            key = json.loads(read_capped(os.path.join(cache_dir(), kind, name), MAX_ENTRY_BYTES)).get("key")
        except (OSError, ValueError, AttributeError, RecursionError):
            continue
        if isinstance(key, str):
            out.append(key)
    return sorted(out)


def put(kind: str, key: str, doc: dict[str, Any], now: float | None = None) -> str:
    """Store `doc` atomically under `key`; returns the file's path.

    A failure to write (read-only disk, full disk) is not an error for the
    caller: the answer was computed, only not remembered.
    """
    path = _path(kind, key)
    wrapper = {"schema": SCHEMA, "key": key, "fetched_at": time.time() if now is None else now, "doc": doc}
    # dumps: the C encoder; dump is not
    _write_atomic(path, json.dumps(wrapper, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    return path


def file_path(kind: str, key: str, suffix: str = ".json") -> str:
    """Where a raw cached file (not a wrapped document) for `key` lives."""
    return _path(kind, key)[: -len(".json")] + suffix


def put_file(kind: str, key: str, data: bytes, suffix: str = ".json") -> str | None:
    """Store raw bytes atomically under `key`; the path, or None when the disk refused them."""
    path = file_path(kind, key, suffix)
    return path if _write_atomic(path, data) else None


def _write_atomic(path: str, data: bytes) -> bool:
    """Write `data` to a temporary file beside `path`, fsync it and rename it over `path`: a crash
    leaves the old file or the new one, never half of one. False when the disk refused."""
    tmp = None
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        import tempfile

        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.splitext(path)[1], dir=os.path.dirname(path))
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
        return True
    except OSError:
        return False
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
