"""Per-step time limits: :class:`TimeLimitStep` and :class:`StepTimeoutError`.

How a running synchronous step is interrupted: in the main thread of a POSIX process, with a
real-time timer (``signal.setitimer(ITIMER_REAL)``) whose ``SIGALRM`` handler raises
:class:`StepTimeoutError` inside the step. Python runs signal handlers between bytecodes, and a
blocking system call (``time.sleep``, a socket read, a file read) is interrupted by the signal,
so the step stops within moments of its limit, where it is. What this cannot interrupt: a long
computation inside a C extension that does not return to the interpreter (a NumPy kernel, a
blocking call that retries on EINTR inside C); the error is raised as soon as it returns.

Elsewhere (another thread, Windows) no signal can reach the step: it runs to its end and then
fails with the same error if it overran. Either way, the guarantee is: **a step that overran its
limit never succeeds**; it fails with :class:`StepTimeoutError` and is rolled back like any
failure (its undo actions, then the completed steps under the ``rollback`` policy). A step that
catches ``Exception`` around its work and swallows the error is failed when it returns.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import cast

from ._context import BaseStepContext
from ._result import StepResult
from ._step import BaseStep
from ._wrappers import WrapperStep

__all__ = ["StepTimeoutError", "TimeLimitStep", "check_time_limit"]


class StepTimeoutError(TimeoutError):
    """A step ran past its time limit. A ``TimeoutError``: a retry policy may retry it."""


def check_time_limit(seconds: object) -> float:
    """``seconds`` as a float if it is a finite number of seconds > 0, else a ``ValueError``."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"a step's time limit must be a finite number of seconds > 0, got {seconds!r}")
    return float(seconds)


def _can_use_alarm() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


class TimeLimitStep[C: BaseStepContext](WrapperStep[C]):
    """Runs ``step`` with a time limit of ``seconds`` for its ``execute`` (same name).

    Args:
        step: The step to limit.
        seconds: The limit, a finite number of seconds > 0.

    Raises:
        ValueError: ``seconds`` is not a finite number > 0.
    """

    prefix = ""

    def __init__(self, step: BaseStep[C], seconds: float) -> None:
        super().__init__(step)
        self.seconds = check_time_limit(seconds)

    def execute(self, context: C) -> StepResult:
        """Run the wrapped step; raise :class:`StepTimeoutError` if it overruns."""
        began = time.monotonic()
        if not _can_use_alarm():
            result = self._wrapped.execute(context)
        else:
            result = self._execute_with_alarm(context)
        elapsed = time.monotonic() - began
        if elapsed > self.seconds:  # it swallowed the alarm, or no alarm could be used
            raise self._error(elapsed)
        return result

    def _error(self, elapsed: float) -> StepTimeoutError:
        return StepTimeoutError(
            f"step {self.name!r} exceeded its time limit of {self.seconds:g}s (ran {elapsed:.3g}s)"
        )

    def _execute_with_alarm(self, context: C) -> StepResult:
        limit = _Limit(self.seconds, self._error)
        try:
            # Inside the try: the alarm may come as soon as the timer is armed, even before the
            # step starts, and the teardown must still run.
            _begin(limit)
            try:
                return self._wrapped.execute(context)
            finally:
                # From here on the handler ignores this limit (the elapsed check fails a step that
                # overran). An alarm just before this line raised as if inside the step.
                limit.inside = False
        finally:
            _end(limit)


class _Limit:
    """One running time limit: its deadline, its error, and whether its step still runs."""

    def __init__(self, seconds: float, error: Callable[[float], StepTimeoutError]) -> None:
        self.began = time.monotonic()
        self.deadline = self.began + seconds
        self.error = error
        self.inside = True  # the step is running: the alarm may stop it
        self.fired = False  # its error was raised (it is raised once at most)


class _Alarms:
    """The time limits running in the main thread, outermost first, and what the program had
    before the outermost began (its SIGALRM handler and its own timer)."""

    def __init__(self) -> None:
        self.active: list[_Limit] = []
        self.previous_handler: object = None
        self.previous_delay = 0.0
        self.previous_since = 0.0


_alarms = _Alarms()

# Why this is race-free. The handler raises a limit's error only while that limit's step runs
# (``inside``), at most once per limit, and marks every limit nested in it as fired too (the error
# unwinds them all). So once a limit's own ``inside = False`` ran (or it fired), nothing can
# raise in its teardown except an outer limit, whose own teardown then cleans the stack from its
# position up. The teardown runs with SIGALRM blocked, so an alarm cannot cut it in half, and a
# late one is dropped before the program's handler is put back.


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    """SIGALRM while limits run: stop the outermost step whose deadline passed (a step nested
    in it is stopped with it, and the error names the step whose limit it was), else arm the
    timer for the nearest deadline still ahead."""
    now = time.monotonic()
    for position, limit in enumerate(_alarms.active):
        if limit.inside and not limit.fired and now >= limit.deadline - 1e-4:
            for unwound in _alarms.active[position:]:
                unwound.fired = True
            raise limit.error(now - limit.began)
    _arm(now)


def _arm(now: float) -> None:
    """Arm the timer for the nearest deadline of the limits that can still fire (or disarm it)."""
    deadlines = [limit.deadline for limit in _alarms.active if limit.inside and not limit.fired]
    signal.setitimer(signal.ITIMER_REAL, max(min(deadlines) - now, 1e-6) if deadlines else 0)


def _alarm_blocked() -> bool:
    return signal.SIGALRM in signal.pthread_sigmask(signal.SIG_BLOCK, ())


def _begin(limit: _Limit) -> None:
    was_blocked = _alarm_blocked()
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        if not _alarms.active:  # the outermost limit: keep what the program had
            _alarms.previous_handler = signal.signal(signal.SIGALRM, _on_alarm)
            _alarms.previous_delay, _ = signal.setitimer(signal.ITIMER_REAL, 0)
            _alarms.previous_since = limit.began
        _alarms.active.append(limit)
        _arm(time.monotonic())
    finally:
        if not was_blocked:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGALRM})


def _end(limit: _Limit) -> None:
    """Take ``limit`` off the stack with any inner limit whose own end was cut short; the
    outermost puts back the program's handler and timer."""
    was_blocked = _alarm_blocked()
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        if limit in _alarms.active:
            del _alarms.active[_alarms.active.index(limit) :]
        if _alarms.active:  # an outer limit keeps ticking, with the time it has left
            _arm(time.monotonic())
            return
        signal.setitimer(signal.ITIMER_REAL, 0)
        # A limit's alarm that came too late is not the program's: drop it (a poll, never a wait:
        # another thread may take a process-wide signal first).
        signal.sigtimedwait({signal.SIGALRM}, 0)
        # Blocking SIGALRM here does not stop another thread (pytest-xdist's, a library's) from
        # taking it: then only Python's flag is set, and whichever handler is installed when the
        # flag is next checked would run. Run it now, while ours is still installed (with no
        # limit left it only disarms the timer): unblocking checks the flag.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGALRM})
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        signal.signal(signal.SIGALRM, cast(signal.Handlers, _alarms.previous_handler))
        if _alarms.previous_delay > 0:  # the program's own timer keeps ticking
            remaining = _alarms.previous_delay - (time.monotonic() - _alarms.previous_since)
            signal.setitimer(signal.ITIMER_REAL, max(remaining, 1e-6))
    finally:
        if not was_blocked:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGALRM})
