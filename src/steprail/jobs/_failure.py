"""What the command line and the job record say about an exception that ended a job: the
exception the step raised, where it was raised, and its formatted traceback."""

from __future__ import annotations

import traceback
from dataclasses import dataclass

from .._errors import StepFailedError

__all__ = ["RaisedAt", "failure_traceback", "raised_at", "step_exception"]


@dataclass(frozen=True, slots=True)
class RaisedAt:
    """The innermost frame of a traceback: where the exception was raised."""

    file: str
    line: int
    function: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}, in {self.function}"


def step_exception(error: BaseException) -> BaseException | None:
    """The exception worth showing for ``error``: the one a step raised for a
    :class:`~steprail.StepFailedError` (``None`` when the step returned a failed result and
    nothing was raised), else ``error`` itself."""
    if isinstance(error, StepFailedError):
        return error.__cause__
    return error


def raised_at(error: BaseException) -> RaisedAt | None:
    """Where ``error`` was raised (the last frame of its traceback), if it has one."""
    tb = error.__traceback__
    if tb is None:
        return None
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code
    return RaisedAt(code.co_filename, tb.tb_lineno, code.co_name)


def failure_traceback(error: BaseException | None) -> str | None:
    """The formatted traceback of what a step raised (with its causes), or ``None`` when nothing
    was raised."""
    shown = None if error is None else step_exception(error)
    if shown is None or shown.__traceback__ is None:
        return None
    return "".join(traceback.format_exception(shown))
