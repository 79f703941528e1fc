"""The command line's one error type: bad input, reported with what to fix, exit code 2."""

from __future__ import annotations

__all__ = ["EXIT_BAD_INPUT", "EXIT_CANCELLED", "EXIT_FAILED", "EXIT_OK", "UsageProblem"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_CANCELLED = 130


class UsageProblem(Exception):
    """Something the user gave cannot be used; the message says what to fix."""
