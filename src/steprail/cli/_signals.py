"""A flag the ``steprail`` console script sets for its own process (kept apart from the runner
so that setting it imports nothing)."""

from __future__ import annotations

__all__ = ["KEEP_NOTING_AFTER_THE_JOB"]

#: Set by the ``steprail`` console script (never in-process use): once a job has recorded its
#: end, signals stay noted until the interpreter is gone (see ``_runner.late_signals_noted``).
KEEP_NOTING_AFTER_THE_JOB = [False]
