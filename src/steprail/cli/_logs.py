"""How ``$STEPRAIL_LOG_LEVEL`` shows the library's log records on stderr, beside the live lines."""

from __future__ import annotations

import logging
from typing import Final

from ..jobs._failure import terminal_text

__all__ = ["NotShownTwice", "TerminalFormatter"]

# The job's events the live lines (ConsoleRuntime) already print: their steprail.job records
# would say the same again. Log events (``log``) are not among them.
_SHOWN_BY_THE_LIVE_LINES: Final = frozenset(
    {"job_created", "job_started", "step_started", "step_finished", "step_rolled_back", "job_finished", "progress", "metrics"}
)
# The library's own records of a failed step or rollback and of the run's end: the live lines
# print the same.
_REPEATS_A_LIVE_LINE: Final = frozenset(
    {"step %s failed: %s", "rollback of step %s failed: %s", "action %s: run %s in %.3fs%s"}
)


class NotShownTwice(logging.Filter):
    """Drops the records that repeat what the live lines of ``steprail run`` already print: with
    ``STEPRAIL_LOG_LEVEL=INFO`` a failure is printed once, not three times."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "steprail.job":
            return getattr(record, "steprail_event", None) not in _SHOWN_BY_THE_LIVE_LINES
        if record.name == "steprail.actions":
            return record.msg not in _REPEATS_A_LIVE_LINE
        return True


class TerminalFormatter(logging.Formatter):
    """A formatter whose lines are safe on a terminal: a message's control characters (ANSI
    escapes) neutralised and a huge message cut (see :func:`~steprail.jobs._failure.terminal_text`)."""

    def format(self, record: logging.LogRecord) -> str:
        return terminal_text(super().format(record))
