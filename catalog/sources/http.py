"""Small HTTP bodies read safely: one capped, streamed GET with the errors every adapter maps the
same way (a 429/5xx keeps its status and Retry-After for `hub.with_retries`)."""

from __future__ import annotations

from typing import Any

from catalog.errors import BadModelFile, CatalogError, RemoteUnavailable


def retry_after(headers: Any) -> float | None:
    """A Retry-After header in seconds (delta-seconds form; an HTTP date counts as unknown)."""
    try:
        raw = headers.get("retry-after") if headers is not None else None
        return max(0.0, float(raw)) if raw not in (None, "") else None
    except (TypeError, ValueError, AttributeError):
        return None


def fetch_capped(client: Any, url: str, limit: int, headers: dict[str, str] | None = None,
                 missing: CatalogError | None = None, denied: CatalogError | None = None,
                 who: str = "the server") -> bytes | None:
    """The body of a GET, at most `limit` bytes.

    Args:
        missing: raised on a 404 (None: return None).
        denied: raised on a 401/403 (None: treated like any other failure).
        who: named in the message when the request gets no answer.
    Raises:
        BadModelFile: the body is larger than `limit`.
        RemoteUnavailable: any other status, or no answer (with the status and Retry-After when there is one).
    """
    try:
        with client.stream("GET", url, headers=headers or {}) as r:
            if r.status_code == 404:
                if missing is None:
                    return None
                raise missing
            if r.status_code in (401, 403) and denied is not None:
                raise denied
            if r.status_code != 200:
                raise RemoteUnavailable(f"{url}: HTTP {r.status_code}", status=r.status_code,
                                        retry_after_s=retry_after(r.headers))
            chunks, got = [], 0
            for chunk in r.iter_bytes():
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
                                "try again, or use --offline") from None
