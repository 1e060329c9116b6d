"""A loopback Hugging Face Hub: the model-info, tree and resolve endpoints, with Range support and faults.

Response shapes follow the Hub API as huggingface_hub reads it (../shared/reference/
runtimes-and-metadata.md section 4): `GET /api/models/{id}[/revision/{rev}]` (with `expand`),
`GET /api/models/{id}/tree/{rev}` (a list of `{type, path, size, oid}`), and
`GET /{id}/resolve/{rev}/{path}` for files, gated with `X-Error-Code: GatedRepo`.
The metadata served is recorded from real repos (tests/data/hub/*.json, each with its source).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse


class QuietServer(ThreadingHTTPServer):
    """A loopback server that does not print a traceback when a client hangs up mid-answer (the product stops
    reading at its caps and on errors): those lines would land in the stderr the tests read as the product's."""

    def handle_error(self, request: object, client_address: object) -> None:
        pass


class Repo:
    def __init__(self, repo_id: str, info: dict[str, Any], files: dict[str, bytes], gated: bool = False) -> None:
        self.id = repo_id
        self.info = info
        self.files = files
        self.gated = gated
        self.sha = hashlib.sha1(repo_id.encode()).hexdigest()


class HubServer:
    """Start with `with HubServer() as hub:`; `hub.url` is the endpoint."""

    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.log: list[dict[str, Any]] = []
        self.ignore_range = False
        self.status_for: dict[str, int] = {}  # path prefix -> forced status
        self.fail_next: dict[str, list[int]] = {}  # path prefix -> statuses for the next requests, then normal
        self.bytes_served = 0
        self.delay_s = 0.0  # added to every request (a slow or distant Hub)
        self.cut_next: dict[str, int] = {}  # path prefix -> how many bodies to cut off halfway (then close)
        self.short_length_next: dict[str, int] = {}  # path prefix -> how many bodies to send a too small length for
        self.in_flight = 0
        self.max_in_flight = 0
        self.chaos: tuple[float, float, float] | None = None  # each request's odds of a 429, a 500, a cut body
        self.chaos_rng = __import__("random").Random(7)
        self.lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the Hub serves
            disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall

            def log_message(self, *a: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                hub._handle(self)

            def do_HEAD(self) -> None:  # noqa: N802
                hub._handle(self, head=True)

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> HubServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def add(self, repo_id: str, info: dict[str, Any], files: dict[str, bytes], gated: bool = False) -> Repo:
        r = Repo(repo_id, info, files, gated)
        self.repos[repo_id.lower()] = r
        return r

    def requests_to(self, fragment: str) -> list[dict[str, Any]]:
        return [e for e in self.log if fragment in e["path"]]

    # -- handling ---------------------------------------------------------------------------------------------
    def _send(self, h: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        if getattr(h, "_head", False):
            h.send_response(status)
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            return
        path = unquote(urlparse(h.path).path)
        cut = self._take(self.cut_next, path) or getattr(h, "_cut", False)
        short = self._take(self.short_length_next, path)
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body) // 2 if short else len(body)))
        if cut or short:
            h.send_header("Connection", "close")
            h.close_connection = True
        h.end_headers()
        try:
            h.wfile.write(body[:len(body) // 2] if cut or short else body)
        except (BrokenPipeError, ConnectionResetError):  # the client read only what it needed
            pass
        with self.lock:
            self.bytes_served += len(body)

    def _json(self, h: BaseHTTPRequestHandler, doc: Any, status: int = 200) -> None:
        self._send(h, status, json.dumps(doc).encode(), {"Content-Type": "application/json"})

    def _take(self, faults: dict[str, int], path: str) -> bool:
        with self.lock:
            for prefix, n in faults.items():
                if n > 0 and path.startswith(prefix):
                    faults[prefix] = n - 1
                    return True
        return False

    def _handle(self, h: BaseHTTPRequestHandler, head: bool = False) -> None:
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay_s:
                time.sleep(self.delay_s)
            self._route(h, head)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _route(self, h: BaseHTTPRequestHandler, head: bool = False) -> None:
        h._head = head  # type: ignore[attr-defined]
        u = urlparse(h.path)
        path = unquote(u.path)
        with self.lock:
            self.log.append({"method": "HEAD" if head else "GET", "path": path, "query": parse_qs(u.query),
                             "headers": dict(h.headers.items())})
        if self.chaos is not None:
            with self.lock:
                roll = self.chaos_rng.random()
            p429, p500, pcut = self.chaos
            if roll < p429:
                return self._send(h, 429, b"{}", {"Retry-After": "0"})
            if roll < p429 + p500:
                return self._send(h, 500, b"{}")
            h._cut = roll < p429 + p500 + pcut  # type: ignore[attr-defined]
        for prefix, queue in self.fail_next.items():
            if path.startswith(prefix) and queue:
                return self._send(h, queue.pop(0), b"{}", {"Retry-After": "0.05"})
        for prefix, status in self.status_for.items():
            if path.startswith(prefix):
                return self._send(h, status, b"{}", {"Retry-After": "0"} if status in (429, 503) else None)
        if path == "/api/models":  # list_models: the filter tags must all be among a repo's tags
            query = parse_qs(u.query)
            want = query.get("filter", [])
            siblings = "siblings" in query.get("expand[]", [])  # expand[]=siblings adds each repo's file names
            hits = [{"id": r.id, "tags": r.info.get("tags", []), "downloads": r.info.get("downloads", 0),
                     **({"siblings": [{"rfilename": p} for p in sorted(r.files)]} if siblings else {})}
                    for r in self.repos.values() if set(want) <= set(r.info.get("tags", []))]
            return self._json(h, sorted(hits, key=lambda d: -d["downloads"]))
        if m := re.fullmatch(r"/api/models/([^/]+/[^/]+)/tree/([^/]+)(/.*)?", path):
            repo = self.repos.get(m.group(1).lower())
            if repo is None:
                return self._send(h, 404, b'{"error":"Repository not found"}', {"X-Error-Code": "RepoNotFound"})
            tree = [{"type": "file", "path": p, "size": len(b), "oid": hashlib.sha1(b).hexdigest()}
                    for p, b in sorted(repo.files.items())]
            return self._json(h, tree)
        if m := re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/([^/]+))?", path):
            repo = self.repos.get(m.group(1).lower())
            if repo is None:
                return self._send(h, 404, b'{"error":"Repository not found"}', {"X-Error-Code": "RepoNotFound"})
            # the Hub counts every repo whose lineage tags name this one (quantizations, finetunes, ...)
            children = sum(1 for r in self.repos.values()
                           if any(str(t).startswith("base_model:") and str(t).endswith(f":{repo.id}")
                                  for t in r.info.get("tags", [])))
            doc = {"id": repo.id, "_id": repo.sha[:24], "sha": repo.sha, "private": False,
                   "gated": "manual" if repo.gated else False, "childrenModelCount": children,
                   "siblings": [{"rfilename": p} for p in sorted(repo.files)], **repo.info}
            return self._json(h, doc)
        if m := re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path):
            repo = self.repos.get(m.group(1).lower())
            if repo is None:
                return self._send(h, 404, b"", {"X-Error-Code": "RepoNotFound"})
            if repo.gated and "authorization" not in {k.lower() for k in h.headers}:
                return self._send(h, 403, b"gated", {"X-Error-Code": "GatedRepo"})
            body = repo.files.get(m.group(3))
            if body is None:
                return self._send(h, 404, b"", {"X-Error-Code": "EntryNotFound"})
            rng = h.headers.get("Range")
            if rng and not self.ignore_range:
                rm = re.fullmatch(r"bytes=(\d+)-(\d*)", rng)
                if rm is None:
                    return self._send(h, 400, b"bad range")
                start = int(rm.group(1))
                end = min(int(rm.group(2)) if rm.group(2) else len(body) - 1, len(body) - 1)
                if start >= len(body):
                    return self._send(h, 416, b"", {"Content-Range": f"bytes */{len(body)}"})
                return self._send(h, 206, body[start:end + 1],
                                  {"Content-Range": f"bytes {start}-{end}/{len(body)}", "Accept-Ranges": "bytes"})
            return self._send(h, 200, body, {"Accept-Ranges": "none"})
        return self._send(h, 404, b"")


def aim_at(srv: HubServer, monkeypatch: Any, tmp_path: Any) -> None:
    """Point huggingface_hub and our own reads at `srv`, online, with a cache and HF home of the test's own."""
    import huggingface_hub.constants as hc

    monkeypatch.setenv("HF_ENDPOINT", srv.url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("LLM_CATALOG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", False)
