"""A hostile Hub, case by case (issue 22): each fault a server can throw at `catalog check ORG/REPO`, run in a fresh
process with `LLM_CATALOG_HTTP_TIMEOUT=2`, must end in one `catalog: error:` line and a documented exit code (2 bad
input, 3 a remote source failed), within 10 s and 512 MiB of peak RSS (the child's own, from wait4), writing nothing
outside the cache. The server is a loopback one written here; the GGUF it serves is a real one (tests/gguf_files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from gguf_files import write_small_llama
from hub_server import QuietServer

SHA = "a" * 40
FILE = "tiny-Q4_K_M.gguf"


def _info(repo: str) -> bytes:
    return json.dumps({"id": repo, "sha": SHA, "tags": ["gguf", "llama"], "siblings": [{"rfilename": FILE}],
                       "gguf": {"total": 1000, "architecture": "llama", "context_length": 2048}}).encode()


def _tree(size: int) -> bytes:
    return json.dumps([{"type": "file", "path": FILE, "size": size, "oid": "b" * 40}]).encode()


class Hostile:
    """`/api/models/org/<mode>...` and `/org/<mode>/resolve/...` misbehave as `<mode>` says."""

    def __init__(self, gguf: bytes) -> None:
        self.gguf = gguf
        self.requests = 0
        hostile = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                hostile.requests += 1
                try:
                    hostile.answer(self)
                except OSError:
                    pass  # the client hung up: what a capped reader does

        self.httpd = QuietServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True

    def __enter__(self) -> str:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @staticmethod
    def send(h: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        h.send_response(status)
        for k, v in {"Content-Length": str(len(body)), **(headers or {})}.items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)

    def answer(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path.split("?")[0]
        parts = path.strip("/").split("/")
        if len(parts) < 4 and parts[:2] == ["api", "models"]:  # a search (the GGUF children): none
            return self.send(h, 200, b"[]")
        mode = parts[3] if parts[:2] == ["api", "models"] else parts[1]
        repo = f"org/{mode}"
        is_info = path == f"/api/models/{repo}"
        is_tree = path.startswith(f"/api/models/{repo}/tree/")
        stage, _, fault = mode.partition("-")  # "info-stall": model_info stalls; "file-short": the GGUF's ranges
        at = {"info": is_info, "tree": is_tree, "file": not (is_info or is_tree)}[stage]
        if not at:
            if is_info:
                return self.send(h, 200, _info(repo))
            if is_tree:
                return self.send(h, 200, _tree(len(self.gguf)))
            return self.send(h, 200, self.gguf)
        if fault == "stall":  # holds its headers
            time.sleep(30)
        elif fault == "trickle":  # a byte every 0.2 s
            h.send_response(200)
            h.send_header("Content-Length", "1000000")
            h.end_headers()
            for _ in range(300):
                h.wfile.write(b" ")
                h.wfile.flush()
                time.sleep(0.2)
        elif fault == "huge":  # 300 MB, as fast as it goes
            h.send_response(200)
            h.send_header("Content-Length", str(300 << 20))
            h.end_headers()
            block = (b"[" if is_tree else b"{") + b" " * ((1 << 20) - 1)
            for _ in range(300):
                h.wfile.write(block)
                block = b" " * (1 << 20)
        elif fault == "500":
            self.send(h, 500, b"Internal Server Error")
        elif fault == "429":  # rate limited for an hour
            self.send(h, 429, b"", {"Retry-After": "3600"})
        elif fault == "429soon":  # rate limited, retry in a second, forever
            self.send(h, 429, b"", {"Retry-After": "1"})
        elif fault == "cut":  # promises 100 kB, sends 10 bytes, hangs up
            h.send_response(200)
            h.send_header("Content-Length", "100000")
            h.end_headers()
            h.wfile.write(b'{"id": "or')
            h.wfile.flush()
            h.close_connection = True
        elif fault == "redirect":  # to itself, forever
            self.send(h, 302, b"", {"Location": h.path})
        elif fault == "badjson":
            self.send(h, 200, b"{not json")
        elif fault == "wrongtypes":
            self.send(h, 200, json.dumps({"id": 5, "sha": ["x"], "siblings": "all", "tags": {"a": 1},
                                          "gguf": "big"} if is_info else {"type": 7}).encode())
        elif fault == "nested":
            self.send(h, 200, b"[" * 100000 + b"]" * 100000)
        elif fault == "short":  # every Range answered with 100 bytes of the real header
            start = int((h.headers.get("Range") or "bytes=0-").split("=")[1].split("-")[0])
            body = self.gguf[start:start + 100]
            self.send(h, 206, body, {"Content-Range": f"bytes {start}-{start + len(body) - 1}/{len(self.gguf)}"})
        elif fault == "norange":  # ignores Range: the whole of a 300 MB file
            h.send_response(200)
            h.send_header("Content-Length", str(300 << 20))
            h.end_headers()
            h.wfile.write(self.gguf[:4096])
            for _ in range(300):
                h.wfile.write(b"\0" * (1 << 20))
        elif fault == "liar":  # a 206 whose Content-Range names other bytes than those asked for
            self.send(h, 206, b"\0" * 100, {"Content-Range": f"bytes 999-1098/{len(self.gguf)}"})
        else:
            raise AssertionError(mode)


CASES = [f"{stage}-{fault}" for stage in ("info", "tree")
         for fault in ("stall", "trickle", "huge", "500", "429", "429soon", "cut", "redirect", "badjson", "wrongtypes",
                       "nested")] + [f"file-{f}" for f in ("stall", "trickle", "500", "cut", "short", "norange", "liar",
                                                             "redirect", "429soon")]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    path = write_small_llama(tmp_path_factory.mktemp("g") / FILE, chat_template="{{ messages }}")
    with Hostile(path.read_bytes()) as url:
        yield url


@pytest.mark.parametrize("mode", CASES)
def test_a_hostile_hub_is_one_line_within_bounds(hub: str, tmp_path: Path, mode: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_TOKEN")}
    cache = str(tmp_path / "cache")
    env.update(HOME=str(home), XDG_CACHE_HOME=cache, LLM_CATALOG_CACHE_DIR=cache, HF_HOME=str(home / "hf"),
               HF_ENDPOINT=hub, LLM_CATALOG_HTTP_TIMEOUT="2", HF_TOKEN="hf_secret_never_shown")
    started = time.monotonic()
    rss = tmp_path / "rss"
    code = ("import resource, sys\nfrom catalog.cli.main import main\ncode = main(sys.argv[1:])\n"
            f"open({str(rss)!r}, 'w').write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))\n"
            "sys.exit(code)")
    proc = subprocess.run([sys.executable, "-c", code, "check", f"org/{mode}", "--gpu", "RTX 3060"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=30)
    seconds = time.monotonic() - started
    lines = proc.stderr.splitlines()
    assert proc.returncode in (2, 3), (proc.returncode, lines)
    assert len(lines) == 1 and lines[0].startswith("catalog: error: "), lines
    assert "hf_secret" not in proc.stderr + proc.stdout
    assert seconds < 10, (seconds, lines)
    assert int(rss.read_text()) < 512 * 1024  # KiB: the peak of the whole run
    assert not any(home.rglob("*")), sorted(home.rglob("*"))[:5]
