"""The command line's one error type: bad input, reported with what to fix, exit code 2."""

from __future__ import annotations

__all__ = ["EXIT_BAD_INPUT", "EXIT_CANCELLED", "EXIT_FAILED", "EXIT_OK", "UsageProblem", "with_article"]

#: The job succeeded (or a command that runs no job worked).
EXIT_OK = 0
#: The job failed (after its rollback).
EXIT_FAILED = 1
#: Bad input: a :class:`UsageProblem`, reported on stderr with what to fix.
EXIT_BAD_INPUT = 2
#: The job was cancelled by SIGTERM or Ctrl-C (128 + SIGINT, as shells report it).
EXIT_CANCELLED = 130


class UsageProblem(Exception):
    """Something the user gave cannot be used; the message says what to fix."""


def with_article(word: str) -> str:
    """``'int'`` -> ``'an int'``, ``'list'`` -> ``'a list'``: messages name types with an article."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"
