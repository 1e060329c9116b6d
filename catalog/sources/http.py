"""Every HTTP request the sources make goes through here: the client, its timeouts, the retry policy, the
offline switch, and small bodies read under a cap.

- `hub_endpoint()`, `offline_env()`: the two switches (catalog.sources), re-exported.
- `timeout_s()`: `LLM_CATALOG_HTTP_TIMEOUT` (default 30 s) for the next bytes of any answer.
- `shared_client(headers)`: one pooled, thread-safe httpx client per set of headers and timeout (a TLS
  context costs ~20 ms to build, which a refresh of hundreds of repos must not pay per repo).
- `client(timeout_s)`: a client of its own (the Ollama registry, a local server).
- `with_retries(fn)`: a transient failure (429, 5xx, a refused or cut connection) is tried again after the server's
  Retry-After or a doubling back-off, the tries within LLM_CATALOG_HTTP_TIMEOUT in all; a 429 says who
  rate-limited us. A request that ran out of time is not tried again (the timeout is the user's bound).
- `fetch_capped(client, url, limit)`: a GET whose body may not pass `limit` bytes.
- `Deadline`: the whole of a request (connect, headers and every byte of the body) within
  `LLM_CATALOG_HTTP_TIMEOUT`, not only each read: a server that trickles a byte at a time is cut off.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from catalog.errors import BadModelFile, CatalogError, RemoteUnavailable
from catalog.sources import hub_endpoint, offline_env

__all__ = ["Deadline", "client", "fetch_capped", "hub_endpoint", "offline_env", "retry_after", "shared_client",
           "timeout_s", "with_retries"]

T = TypeVar("T")
RETRIES = 4  # further tries of a transient failure (429, 5xx, a refused or cut connection; never a timeout)
BACKOFF_S = 0.5  # the first wait without a Retry-After; doubled each try
MAX_WAIT_S = 30.0  # a longer Retry-After is reported, not waited out
DEFAULT_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 10.0


def timeout_s() -> float:
    """Seconds to wait for a server's next bytes (`LLM_CATALOG_HTTP_TIMEOUT`, default 30)."""
    raw = os.environ.get("LLM_CATALOG_HTTP_TIMEOUT", "")
    try:
        return max(0.05, float(raw)) if raw else DEFAULT_TIMEOUT_S
    except ValueError:
        return DEFAULT_TIMEOUT_S


class Deadline:
    """The end of one request's time: `check()` raises RemoteUnavailable once it has passed."""

    def __init__(self, url: str, seconds: float | None = None) -> None:
        import time

        self.url, self.seconds = url, seconds or timeout_s()
        self.end = time.monotonic() + self.seconds

    def check(self) -> None:
        import time

        if time.monotonic() > self.end:
            raise RemoteUnavailable(f"{self.url}: did not answer in full within {self.seconds:g} s",
                                    "try again, or raise LLM_CATALOG_HTTP_TIMEOUT", timed_out=True)


def _timeout(t: float) -> Any:
    import httpx

    return httpx.Timeout(t, connect=min(t, CONNECT_TIMEOUT_S))


def client(timeout: float | None = None) -> Any:
    """A client of its own (close it: `with client() as c:`), redirects followed (blobs live on a CDN)."""
    import httpx

    return httpx.Client(timeout=_timeout(timeout or timeout_s()), follow_redirects=True)


_SHARED: dict[tuple[str, float], Any] = {}
_SHARED_LOCK = threading.Lock()


@atexit.register
def _close_shared() -> None:
    """Close the pooled clients' keep-alive connections at exit, not leave them to the collector."""
    with _SHARED_LOCK:
        for c in _SHARED.values():
            c.close()
        _SHARED.clear()


def shared_client(headers: dict[str, str]) -> Any:
    """The process's pooled client for these headers and the current timeout, as a context manager that
    leaves it open (`with shared_client(h) as c:`); a changed token or timeout gets a client of its own."""
    import httpx

    t = timeout_s()
    key = (str(sorted(headers.items())), t)
    with _SHARED_LOCK:
        c = _SHARED.get(key)
        if c is None or c.is_closed:
            c = _SHARED[key] = httpx.Client(headers=headers, timeout=_timeout(t), follow_redirects=True)
    return contextlib.nullcontext(c)


def retry_after(headers: Any) -> float | None:
    """A Retry-After header in seconds (delta-seconds form; an HTTP date counts as unknown)."""
    try:
        raw = headers.get("retry-after") if headers is not None else None
        return max(0.0, float(raw)) if raw not in (None, "") else None
    except (TypeError, ValueError, AttributeError):
        return None


def with_retries(fn: Callable[[], T], sleep: Callable[[float], None] | None = None, who: str = "the Hub") -> T:
    """`fn()`, tried again on a transient RemoteUnavailable: after the server's Retry-After, else
    after BACKOFF_S, doubling. A Retry-After past MAX_WAIT_S, a wait that would take the tries past
    LLM_CATALOG_HTTP_TIMEOUT in all, or the last failure, is raised (a 429 with a hint naming `who`
    rate-limited us): the user's timeout bounds a request's retries as it bounds the request."""
    import time

    wait_for = sleep or time.sleep
    budget, started, waited = timeout_s(), time.monotonic(), 0.0
    for attempt in range(RETRIES + 1):
        try:
            return fn()
        except RemoteUnavailable as err:
            wait = err.retry_after_s if err.retry_after_s is not None else BACKOFF_S * 2 ** attempt
            spent = max(time.monotonic() - started, waited)
            if (not err.transient or attempt == RETRIES or wait > MAX_WAIT_S or spent + wait > budget):
                if err.status == 429:
                    err.hint = (f"rate limited by {who}; try again in {err.retry_after_s:.0f} s"
                                if err.retry_after_s else f"rate limited by {who}; try again later")
                raise
            wait_for(wait)
            waited += wait
    raise AssertionError("unreachable")


def fetch_capped(c: Any, url: str, limit: int, headers: dict[str, str] | None = None,
                 missing: CatalogError | None = None, denied: CatalogError | None = None,
                 who: str = "the server", headers_out: dict[str, str] | None = None) -> bytes | None:
    """The body of a GET, at most `limit` bytes.

    Args:
        missing: raised on a 404 (None: return None).
        denied: raised on a 401/403 (None: treated like any other failure).
        who: named in the message when the request gets no answer.
        headers_out: filled with the answer's headers (a paginated listing's Link).
    Raises:
        BadModelFile: the body is larger than `limit`.
        RemoteUnavailable: any other status, or no answer (with the status and Retry-After when there is one).
    """
    deadline = Deadline(url)
    try:
        with c.stream("GET", url, headers=headers or {}) as r:
            if r.status_code == 404:
                if missing is None:
                    return None
                raise missing
            if r.status_code in (401, 403) and denied is not None:
                raise denied
            if r.status_code != 200:
                raise RemoteUnavailable(f"{url}: HTTP {r.status_code}", status=r.status_code,
                                        retry_after_s=retry_after(r.headers))
            if headers_out is not None:
                headers_out.update({k.lower(): v for k, v in r.headers.items()})
            chunks, got = [], 0
            for chunk in r.iter_bytes():
                deadline.check()
                chunks.append(chunk)
                got += len(chunk)
                if got > limit:
                    unit, size = ("MiB", limit >> 20) if limit >= 1 << 20 else ("KiB", limit >> 10)
                    raise BadModelFile(f"{url}: larger than {size} {unit}")
            return b"".join(chunks)
    except CatalogError:
        raise
    except Exception as exc:  # noqa: BLE001 - transport errors of every kind
        raise RemoteUnavailable(f"{url}: {who} did not answer ({type(exc).__name__})",
                                "try again, or use --offline", timed_out=timed_out(exc),
                                permanent=type(exc).__name__ == "TooManyRedirects") from None


def timed_out(exc: BaseException) -> bool:
    """Whether a transport error is httpx's timeout (connect, read, write or pool)."""
    import httpx

    return isinstance(exc, httpx.TimeoutException)
