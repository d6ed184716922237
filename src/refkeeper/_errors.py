"""One error hierarchy for refkeeper.

The CLI turns every ``RefkeeperError`` into a one-line message and the exit code in
``exit_code``; anything else is a bug and is allowed to show a traceback.
"""

from __future__ import annotations


class RefkeeperError(Exception):
    """Base class for every error refkeeper raises on purpose."""

    exit_code = 2


class UsageError(RefkeeperError):
    """The caller asked for something that cannot be done (bad option, bad input)."""


class InputError(UsageError):
    """An input value (citation, DOI, file) is malformed."""


class NotFoundError(RefkeeperError):
    """A DOI or stored object does not exist."""


class StoreError(RefkeeperError):
    """The database could not be read or written."""


class CrossrefError(RefkeeperError):
    """Crossref (or the configured stand-in) failed for good after retries."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RateLimitedError(CrossrefError):
    """Crossref kept answering 429 after every retry."""


class CrossrefUnavailableError(CrossrefError):
    """Crossref could not be reached at all (connection refused, DNS, timeouts)."""


class OutputError(RefkeeperError):
    """An output file could not be written (missing folder, full disk, exists without --force)."""
