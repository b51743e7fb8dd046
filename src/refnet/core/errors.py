"""Domain errors shared by every component.

`TransientError` means "try again later" (timeouts, 429, 5xx); `PermanentError` means retrying
cannot help (4xx, unparseable input). Both carry a message a person can read.
"""

from __future__ import annotations


class RefNetError(Exception):
    """Base class of RefNet's own errors."""


class TransientError(RefNetError):
    """A failure that may go away by itself; callers retry with backoff."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(RefNetError):
    """A failure that retrying cannot fix."""


class NotFound(PermanentError):
    """The thing asked for does not exist."""


class Conflict(PermanentError):
    """The request clashes with what exists (a taken name, the last admin); the message says
    which."""


class InvalidInput(PermanentError):
    """The user's input is malformed; the message says what is accepted."""


class SchemaOutOfDate(RefNetError):
    """The database schema is behind the code."""
