"""The errors the command line reports as one line (exit code 2) instead of a traceback."""

from __future__ import annotations

__all__ = ["CompareError", "DataError"]


class CompareError(Exception):
    """A problem the command line reports as one line (exit code 2) instead of a traceback."""


class DataError(CompareError, ValueError):
    """The user's data cannot be used as given (the message says why and what to do)."""
