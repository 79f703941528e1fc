"""What the command line and the job record say about an exception that ended a job: the
exception the step raised, where it was raised, and its formatted traceback."""

from __future__ import annotations

import os
import re
import sysconfig
import traceback
from dataclasses import dataclass
from types import TracebackType

from .._errors import StepFailedError

__all__ = [
    "RaisedAt",
    "TERMINAL_TEXT_LIMIT",
    "failure_traceback",
    "is_library_file",
    "raised_at",
    "shown_path",
    "step_exception",
    "terminal_text",
]

#: The most characters of one message (an error, a log line) printed on the terminal; the job
#: record keeps more (``steprail.jobs._store.MAX_ERROR_CHARS``).
TERMINAL_TEXT_LIMIT = 2000
# Control characters but newline and tab: ESC starts ANSI sequences that recolour, move the
# cursor or retitle the terminal; C1 controls (0x80-0x9f) can do the same on some terminals.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass(frozen=True, slots=True)
class RaisedAt:
    """A frame of a traceback: where an exception was raised (``file`` as Python names it;
    shown relative to the working folder)."""

    file: str
    line: int
    function: str

    def __str__(self) -> str:
        return f"{shown_path(self.file)}:{self.line}, in {self.function}"


def step_exception(error: BaseException) -> BaseException | None:
    """The exception worth showing for ``error``: the one a step raised for a
    :class:`~steprail.StepFailedError` (``None`` when the step returned a failed result and
    nothing was raised), else ``error`` itself."""
    if isinstance(error, StepFailedError):
        return error.__cause__
    return error


def _library_folders() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    return tuple({os.path.join(paths[key], "") for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths})


def is_library_file(filename: str) -> bool:
    """Whether ``filename`` belongs to Python's standard library or an installed package (not
    to the code being worked on)."""
    return filename.startswith(_library_folders())


def shown_path(filename: str) -> str:
    """``filename`` relative to the working folder when it is inside it."""
    try:
        relative = os.path.relpath(filename)
    except ValueError:  # another drive (Windows)
        return filename
    return filename if relative.startswith(os.pardir) else relative


def raised_at(error: BaseException) -> RaisedAt | None:
    """Where ``error`` was raised, as far as your code goes: the last frame of its traceback
    outside the standard library and installed packages (``os.rename`` failing is shown where
    your code called it), else the last frame. ``None`` without a traceback."""
    tb: TracebackType | None = error.__traceback__
    last = chosen = None
    while tb is not None:
        last = tb
        if not is_library_file(tb.tb_frame.f_code.co_filename):
            chosen = tb
        tb = tb.tb_next
    frame = chosen or last
    if frame is None:
        return None
    code = frame.tb_frame.f_code
    return RaisedAt(code.co_filename, frame.tb_lineno, code.co_name)


def failure_traceback(error: BaseException | None) -> str | None:
    """The formatted traceback of what a step raised (with its causes), or ``None`` when nothing
    was raised."""
    shown = None if error is None else step_exception(error)
    if shown is None or shown.__traceback__ is None:
        return None
    return "".join(traceback.format_exception(shown))


def terminal_text(text: str, limit: int = TERMINAL_TEXT_LIMIT) -> str:
    """``text`` made safe to print on a terminal: control characters (ANSI escapes start with
    one) shown as ``\\x1b`` and the like, and anything past ``limit`` characters cut, saying how
    much more the job record has (``steprail jobs show ID``)."""
    if len(text) > limit:
        text = f"{text[:limit]}... ({len(text) - limit} more characters in the job record: steprail jobs show ID)"
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)
