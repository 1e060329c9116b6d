"""A GGUF header read over HTTP Range requests (Hugging Face `resolve` URLs or any server).

Only the header is fetched. The first window is 1 MiB and each further one
doubles, and only as far as the bounded parser (catalog.sources.gguf_reader) asks:
a 128k-token vocabulary needs about 8 MiB, a small model one request. A hard
cap bounds the bytes downloaded for one header. A server that ignores Range
(200 instead of 206) has its body read only as far as needed, then closed.
The client (an `httpx.Client`, with any auth header) is the caller's, so
tests hand in one aimed at a loopback server; nothing here logs headers.
"""

from __future__ import annotations

import re
import time
from typing import Any

from catalog.errors import BadModelFile, GatedModel, ModelNotFound, RemoteUnavailable
from catalog.sources.gguf_reader import GGUFError, GGUFHeader, parse
from catalog.sources.http import Deadline, retry_after, timed_out

FIRST_WINDOW = 1 << 20
MAX_TOTAL = 64 << 20  # bytes we agree to download for one header (a 260k-token vocabulary needs ~12 MiB)
MAX_REQUESTS = 32  # a server answering each Range with a few bytes is given up on, not followed (README)
RETRIES = 2  # for 429/503 answers, waiting out Retry-After
MAX_RETRY_WAIT_S = 10.0
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class RangeReader:
    """`read(offset, n)` over HTTP: fetches growing windows from the start and keeps what it got."""

    def __init__(self, client: Any, url: str, max_total: int = MAX_TOTAL, first_window: int = FIRST_WINDOW) -> None:
        self.client = client
        self.url = url
        self.max_total = max_total
        self.window = first_window
        self.buf = b""  # bytes [0, len(buf)) of the file
        self.size: int | None = None
        self.downloaded = 0
        self.requests = 0
        self.eof = False

    def _fetch(self, end: int) -> None:
        start = len(self.buf)
        want = max(end, start + self.window)
        if self.size is not None:
            want = min(want, self.size)
        if want > self.max_total:
            raise BadModelFile(f"{self.url}: GGUF header larger than the {self.max_total >> 20} MiB read limit")
        if self.requests >= MAX_REQUESTS:
            raise BadModelFile(f"{self.url}: the server answered {self.requests} Range requests without reaching the "
                               f"end of the GGUF header ({len(self.buf)} bytes so far)")
        headers = {"Range": f"bytes={start}-{want - 1}", "Accept-Encoding": "identity"}
        for attempt in range(RETRIES + 1):
            data = self._get(headers, start, want, last=attempt == RETRIES)
            if data is not None:
                break
        assert data is not None
        self.downloaded += len(data)
        if self.downloaded > self.max_total:
            raise BadModelFile(f"{self.url}: GGUF header larger than the {self.max_total >> 20} MiB read limit")
        if not data or (self.size is not None and len(self.buf) >= self.size):
            self.eof = True
        self.window *= 2

    def _get(self, headers: dict[str, str], start: int, want: int, last: bool) -> bytes | None:
        """One ranged GET; None when the server asked us to come back later (429/503 with Retry-After)."""
        self.requests += 1
        try:
            with self.client.stream("GET", self.url, headers=headers, follow_redirects=True) as r:
                if r.status_code in (429, 503) and not last:
                    wait = r.headers.get("retry-after", "")
                    time.sleep(min(MAX_RETRY_WAIT_S, float(wait) if wait.replace(".", "", 1).isdigit() else 1.0))
                    return None
                _raise_for(r, self.url)
                if r.status_code == 416:  # asked past the end: the file is shorter than the header claims
                    self.eof = True
                    return b""
                if r.status_code == 206:
                    m = _CONTENT_RANGE.match(r.headers.get("content-range", ""))
                    if m is None or int(m.group(1)) != start:
                        raise RemoteUnavailable(f"{self.url}: the server answered a different byte range")
                    if m.group(3) != "*":
                        self.size = int(m.group(3))
                    data = _read_upto(r, want - start, Deadline(self.url))
                    self.buf += data
                else:  # 200: Range ignored; the body starts at byte 0, read only as far as needed
                    length = r.headers.get("content-length", "")
                    if length.isdigit():
                        self.size = int(length)
                    body = _read_upto(r, want, Deadline(self.url))
                    data = body[start:]
                    self.buf = body
        except (GatedModel, ModelNotFound, RemoteUnavailable, BadModelFile):
            raise
        except Exception as exc:  # noqa: BLE001 - httpx transport errors of every kind
            raise RemoteUnavailable(f"{self.url}: {type(exc).__name__}", timed_out=timed_out(exc)) from None
        return data

    def read(self, offset: int, n: int) -> bytes:
        end = offset + n
        while len(self.buf) < end and not self.eof:
            self._fetch(end)
        return self.buf[offset:end]


def _read_upto(r: Any, n: int, deadline: Deadline | None = None) -> bytes:
    """At most `n` bytes of a streamed body, within the request's deadline; the rest is never downloaded."""
    chunks: list[bytes] = []
    got = 0
    for chunk in r.iter_bytes():
        if deadline is not None:
            deadline.check()
        chunks.append(chunk)
        got += len(chunk)
        if got >= n:
            break
    return b"".join(chunks)[:n]


def _raise_for(r: Any, url: str) -> None:
    code = r.status_code
    if code in (200, 206, 416):
        return
    if r.headers.get("x-error-code") == "GatedRepo" or code in (401, 403):
        raise GatedModel(f"{url}: access is gated", "accept the licence on the model page and set HF_TOKEN")
    if code == 404:
        raise ModelNotFound(f"{url}: not found")
    # the status says whether it is worth another try (429, 5xx) or not (another 4xx)
    raise RemoteUnavailable(f"{url}: HTTP {code}", status=code, retry_after_s=retry_after(r.headers))


def read_header(client: Any, url: str, max_total: int = MAX_TOTAL,
                keep: frozenset[str] = frozenset()) -> tuple[GGUFHeader, RangeReader]:
    """Parse a remote GGUF's header (`keep`: keys whose arrays keep their values, see gguf_reader.parse).

    Returns:
        The header and the reader (its `size`, `downloaded` and `requests` say what it cost).
    Raises:
        BadModelFile: malformed or hostile header, or one over the read limit.
        GatedModel, ModelNotFound, RemoteUnavailable: the HTTP side failed.
    """
    reader = RangeReader(client, url, max_total)
    try:
        header = parse(reader.read, None, keep=keep)
    except GGUFError as exc:
        raise BadModelFile(f"{url}: {exc}") from None
    end = max((o + t.nbytes for t, o in zip(header.tensors, header.offsets, strict=True)), default=0)
    if reader.size is not None and header.data_offset + end > reader.size:
        raise BadModelFile(f"{url}: tensor data runs past the end of the file ({reader.size} bytes)")
    return header, reader
