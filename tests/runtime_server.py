"""A loopback stand-in for the Ollama registry, a running Ollama, and a llama-server, with faults.

Shapes follow ../shared/reference/runtimes-and-metadata.md sections 1-2 (Ollama's api/types.go and
server/images.go; llama.cpp's tools/server/README.md). The registry's manifest and config blob for
llama3.1:8b are recorded responses (tests/data/ollama/, each with its source). Blobs are served
from files by HTTP Range after a redirect, as the registry sends blobs to its CDN; a blob may be a
sparse file (a real tensor table, no weights).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from hub_server import QuietServer


class RuntimeServer:
    """`with RuntimeServer() as srv:`; `srv.url` is the base of every API it plays."""

    def __init__(self) -> None:
        self.manifests: dict[str, dict[str, Any]] = {}  # "ns/model:tag" -> manifest
        self.blobs: dict[str, bytes | Path] = {}  # digest -> content or a file
        self.ollama: dict[str, Any] | None = None  # {"tags": ..., "ps": ..., "version": ...}; None: not Ollama
        self.llama: dict[str, Any] | None = None  # {"props": ..., "slots": ..., "models": ...}
        self.chat: Callable[[dict[str, Any]], str] | None = None  # the model behind /v1/chat/completions, /api/chat
        self.fail_next: dict[str, list[int]] = {}
        self.log: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        srv = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *a: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                srv._handle(self, None)

            def do_POST(self) -> None:  # noqa: N802
                n = int(self.headers.get("Content-Length") or 0)
                srv._handle(self, self.rfile.read(n) if n else b"")

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> RuntimeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def requests_to(self, fragment: str) -> list[dict[str, Any]]:
        return [e for e in self.log if fragment in e["path"]]

    # -- plumbing ---------------------------------------------------------------------------------------------
    def _send(self, h: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        try:
            h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _json(self, h: BaseHTTPRequestHandler, doc: Any, status: int = 200) -> None:
        self._send(h, status, json.dumps(doc).encode(), {"Content-Type": "application/json"})

    def _blob(self, h: BaseHTTPRequestHandler, digest: str) -> None:
        blob = self.blobs.get(digest)
        if blob is None:
            return self._json(h, {"errors": [{"code": "BLOB_UNKNOWN"}]}, 404)
        size = blob.stat().st_size if isinstance(blob, Path) else len(blob)
        start, end = 0, size - 1
        if m := re.fullmatch(r"bytes=(\d+)-(\d*)", h.headers.get("Range") or ""):
            start, end = int(m.group(1)), min(int(m.group(2) or size - 1), size - 1)
        if isinstance(blob, Path):
            with open(blob, "rb") as f:
                f.seek(start)
                data = f.read(end - start + 1)
        else:
            data = blob[start:end + 1]
        if h.headers.get("Range"):
            return self._send(h, 206, data, {"Content-Range": f"bytes {start}-{end}/{size}", "Accept-Ranges": "bytes"})
        return self._send(h, 200, data)

    def _handle(self, h: BaseHTTPRequestHandler, body: bytes | None) -> None:
        path = unquote(urlparse(h.path).path)
        with self.lock:
            self.log.append({"method": "GET" if body is None else "POST", "path": path,
                             "headers": dict(h.headers.items()), "body": body})
            for prefix, queue in self.fail_next.items():
                if path.startswith(prefix) and queue:
                    status = queue.pop(0)
                    return self._send(h, status, b"{}", {"Retry-After": "0"})
        # the registry
        if m := re.fullmatch(r"/v2/([^/]+)/([^/]+)/manifests/([^/]+)", path):
            doc = self.manifests.get(f"{m.group(1)}/{m.group(2)}:{m.group(3)}")
            if doc is None:
                return self._json(h, {"errors": [{"code": "MANIFEST_UNKNOWN"}]}, 404)
            return self._send(h, 200, json.dumps(doc).encode(),
                              {"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"})
        if m := re.fullmatch(r"/v2/[^/]+/[^/]+/blobs/(sha256:[0-9a-f]+)", path):
            return self._send(h, 307, b"", {"Location": f"{self.url}/cdn/{m.group(1)}"})  # to the "CDN"
        if m := re.fullmatch(r"/cdn/(sha256:[0-9a-f]+)", path):
            return self._blob(h, m.group(1))
        # a running Ollama
        if self.ollama is not None and path in ("/api/tags", "/api/ps", "/api/version"):
            return self._json(h, self.ollama[path.rsplit("/", 1)[1]])
        if self.ollama is not None and path == "/api/chat" and body is not None and self.chat:
            req = json.loads(body)
            return self._json(h, {"model": req.get("model"), "message": {"role": "assistant",
                                                                         "content": self.chat(req)}, "done": True})
        # a llama-server
        if self.llama is not None and path in ("/props", "/slots", "/v1/models", "/health"):
            key = {"/props": "props", "/slots": "slots", "/v1/models": "models", "/health": "health"}[path]
            if self.llama.get(key) is None:
                return self._json(h, {"error": {"code": 501, "message": "This server does not support slots"}}, 501)
            return self._json(h, self.llama[key])
        if path == "/v1/chat/completions" and body is not None and self.chat:
            req = json.loads(body)
            return self._json(h, {"object": "chat.completion", "model": req.get("model"),
                                  "choices": [{"index": 0, "finish_reason": "stop",
                                               "message": {"role": "assistant", "content": self.chat(req)}}]})
        return self._send(h, 404, b"404 page not found")
