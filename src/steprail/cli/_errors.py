"""The command line's exit codes and error types: bad input (exit code 2, reported with what to
fix) and a job store that failed during the job (exit code 3)."""

from __future__ import annotations

import stat
from pathlib import Path

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_CANCELLED",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_STORE_FAILED",
    "JobInterrupted",
    "StoreFailedDuringJob",
    "UsageProblem",
    "file_kind",
    "with_article",
]

#: The job succeeded (or a command that runs no job worked).
EXIT_OK = 0
#: The job failed (after its rollback).
EXIT_FAILED = 1
#: Bad input: a :class:`UsageProblem`, reported on stderr with what to fix.
EXIT_BAD_INPUT = 2
#: The job store failed while the job ran (disk full, store made read-only, lock held too long):
#: the job was rolled back (the message says so) but its final record could not be written.
EXIT_STORE_FAILED = 3
#: The job was cancelled (SIGTERM, Ctrl-C, SIGHUP, SIGQUIT, or a step's task cancelled), after its rollback
#: (128 + SIGINT, as shells report it).
EXIT_CANCELLED = 130


class UsageProblem(Exception):
    """Something the user gave cannot be used; the message says what to fix."""


class StoreFailedDuringJob(Exception):
    """The job store failed after the job had started (exit code 3); the message says how the
    job ended and that its final record could not be written. ``job_id`` is the job's id."""

    def __init__(self, message: str, job_id: int | None = None) -> None:
        super().__init__(message)
        self.job_id = job_id


class JobInterrupted(Exception):
    """The process running the job's action was lost (a Ray worker killed, its node gone): the
    job was recorded ``interrupted`` (exit code 1). ``job_id`` is the job's id."""

    def __init__(self, message: str, job_id: int | None = None) -> None:
        super().__init__(message)
        self.job_id = job_id


def with_article(word: str) -> str:
    """``'int'`` -> ``'an int'``, ``'list'`` -> ``'a list'``: messages name types with an article."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def file_kind(path: Path) -> str | None:
    """What ``path`` is when it is not a regular file (``a FIFO``, ``a directory``, ...), or
    ``None`` for a regular file. Missing paths raise ``FileNotFoundError``.

    Checked before opening: reading a FIFO blocks forever and a device such as ``/dev/zero``
    never ends.
    """
    mode = path.stat().st_mode
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"
