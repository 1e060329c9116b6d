"""One error family for every face, and the exit codes of the public contract.

The CLI catches `CatalogError` only and prints `catalog: error: <message>`
(plus the hint when there is one) as one line on stderr.
"""

from __future__ import annotations

# exit codes (../shared/CONTRACT.md)
EXIT_FITS = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_REMOTE = 3
EXIT_PARTIAL = 10
EXIT_CPU_ONLY = 11
EXIT_NO_FIT = 12


class CatalogError(Exception):
    """Base of every error the faces report as one line."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def line(self) -> str:
        """The one line printed on stderr."""
        text = self.message.replace("\n", " ")
        return f"{text} ({self.hint})" if self.hint else text


class UsageError(CatalogError):
    """A bad option or combination of options."""


class ModelNotFound(CatalogError):
    """No catalog entry, file or repo matches the name given."""


class BadModelFile(CatalogError):
    """A local config.json or GGUF file that cannot be read safely."""


class UnknownGpu(CatalogError):
    """A --gpu name that matches no known GPU, or several."""


class GatedModel(CatalogError):
    """A Hugging Face repo that needs an approved token."""

    exit_code = EXIT_REMOTE


class RemoteUnavailable(CatalogError):
    """A remote source failed and no cached answer exists."""

    exit_code = EXIT_REMOTE

    def __init__(self, message: str, hint: str | None = None, status: int | None = None,
                 retry_after_s: float | None = None, timed_out: bool = False, permanent: bool = False) -> None:
        super().__init__(message, hint)
        self.status = status  # the HTTP status, when the server answered
        self.retry_after_s = retry_after_s  # the server's Retry-After, in seconds
        self.timed_out = timed_out  # the request used its whole LLM_CATALOG_HTTP_TIMEOUT
        self.permanent = permanent  # the same request would fail the same way (a redirect loop)

    @property
    def transient(self) -> bool:
        """Worth another try: rate limited, a 5xx, or a connection refused or cut. A request that ran out of time
        is not: the user's timeout bounds the wait, and trying again would multiply it (issue 22); nor is a
        redirect loop."""
        if self.timed_out or self.permanent:
            return False
        return self.status is None or self.status == 429 or self.status >= 500


def exit_code(err: CatalogError) -> int:
    """The process exit code for an error."""
    return err.exit_code
