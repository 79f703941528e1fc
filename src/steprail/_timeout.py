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
from types import FrameType

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
        began = time.monotonic()

        def overrun(signum: int, frame: FrameType | None) -> None:
            raise self._error(time.monotonic() - began)

        previous_handler = signal.signal(signal.SIGALRM, overrun)
        previous_delay, _ = signal.setitimer(signal.ITIMER_REAL, self.seconds)
        try:
            return self._wrapped.execute(context)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous_handler)
            if previous_delay > 0:  # an outer limit (a nested run) keeps ticking
                remaining = previous_delay - (time.monotonic() - began)
                signal.setitimer(signal.ITIMER_REAL, max(remaining, 1e-6))
