"""Cancelling a running action with SIGTERM or Ctrl-C.

The first signal raises :class:`JobCancelled` inside a step's own code (or is held through
steprail's bookkeeping and raised at the next safe point): that step fails and the orchestrator
rolls the run back, so the job ends ``cancelled`` with a full rollback report. During a rollback
the first signal is only noted; a second one raises ``KeyboardInterrupt``, which stops the
rollback at once. A second signal while a step ignores the first (it swallowed ``JobCancelled``)
raises ``KeyboardInterrupt`` too.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Final

from .._orchestrator import ROLLBACK_CODES

__all__ = ["CancellationGuard", "JobCancelled", "cancellation_signals"]

#: The signals that cancel a job: SIGINT (Ctrl-C), SIGTERM (``kill``), SIGHUP (the terminal or
#: ssh session closed) and SIGQUIT (Ctrl-\\): each would otherwise end the process with the work
#: in place. (SIGHUP and SIGQUIT do not exist on Windows.)
CANCEL_SIGNALS: Final = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT") if hasattr(signal, name)
)
_SIGNALS: Final = CANCEL_SIGNALS


class JobCancelled(Exception):  # noqa: N818 - it names the event, like KeyboardInterrupt
    """The job was asked to stop (SIGTERM, Ctrl-C, SIGHUP or SIGQUIT).

    It is an ``Exception`` on purpose: the orchestrator then treats it like a failure of the
    running step and rolls back with a full report. A step that swallows it with ``except
    Exception`` only delays the stop: the action raises it again as soon as that step returns.
    No retry policy retries it (``steprail_no_retry``).
    """

    steprail_no_retry = True

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"cancelled by {signal.Signals(signum).name}")


class CancellationGuard:
    """What :func:`cancellation_signals` yields: whether a stop was asked and by which signal.

    Where a signal lands decides what it does:

    - while :attr:`deferred` is set (the action is recording something), or while the program
      is in steprail's own lifecycle code (the orchestrator's loop, the action's bookkeeping),
      it is noted and delivered by :meth:`check` at the next safe point: the start of a step, a
      progress report, or the run's commit;
    - inside a step's own code it raises :class:`JobCancelled` at once;
    - during a rollback the first signal is noted and the rollback goes on; a second one stops
      the rollback with ``KeyboardInterrupt`` (see :attr:`during_rollback`).
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self.count = 0
        self.deferred = False
        # Set once a JobCancelled has reached the framework (the orchestrator or the action):
        # from then on the cancellation is under way and check() stays quiet.
        self.acknowledged = False
        #: Signals that arrived while a rollback ran (the first is noted, the second stops it).
        self.during_rollback = 0
        #: Whether a second signal stopped a rollback before it finished.
        self.rollback_stopped = False
        #: Whether a JobCancelled has been raised (delivered) at least once.
        self.delivered = False

    @property
    def requested(self) -> bool:
        """Whether a signal arrived."""
        return self.signum is not None

    @property
    def pending(self) -> bool:
        """Whether a signal arrived that no one has acted on yet."""
        return self.signum is not None and not self.acknowledged

    def check(self) -> None:
        """Raise :class:`JobCancelled` if a signal arrived and has not reached the framework yet
        (it came while deferred, in steprail's own code, or a step swallowed it)."""
        if self.signum is not None and not self.deferred and not self.acknowledged:
            self.delivered = True
            raise JobCancelled(self.signum)

    def deliver_pending(self) -> None:
        """Raise :class:`JobCancelled` for a signal not acted on yet, even while deferred."""
        if self.signum is not None and not self.acknowledged:
            self.acknowledged = self.delivered = True
            raise JobCancelled(self.signum)

    def deferring(self) -> _Deferring:
        """Hold signals for the duration of the block (nesting is fine)."""
        return _Deferring(self)

    def _raise(self, signum: int) -> None:
        if not self.delivered:  # the first cancellation to reach the program (others were held)
            self.delivered = True
            raise JobCancelled(signum)
        # The job was told once and is still running its steps (a step swallowed JobCancelled):
        # stop now with what no ``except Exception`` catches. Later signals act as by default.
        _restore_defaults()
        raise KeyboardInterrupt(f"second {signal.Signals(signum).name}: the job did not stop at the first")

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.signum is None:
            self.signum = signum
        if _rolling_back(frame):
            self.during_rollback += 1
            # A rollback started by a failure survives its first signal; a second signal (or
            # the first during a rollback that a signal started) stops it.
            if self.count >= 2:
                self.rollback_stopped = True
                _restore_defaults()
                raise KeyboardInterrupt(
                    f"second {signal.Signals(signum).name}: rollback stopped before it finished"
                )
            self.acknowledged = True  # noted: the rollback goes on, the record will say so
            return
        if self.deferred or _in_framework(frame):
            return  # noted; check() delivers it at the next safe point
        self._raise(signum)


class _Deferring:
    """``with guard.deferring():`` -- a class, not a generator, so that no frame outside this
    module runs between the flag and the block (a signal there would not be held)."""

    __slots__ = ("_guard", "_outer")

    def __init__(self, guard: CancellationGuard) -> None:
        self._guard = guard
        self._outer = False

    def __enter__(self) -> None:
        self._outer = self._guard.deferred
        self._guard.deferred = True

    def __exit__(self, *exc: object) -> None:
        self._guard.deferred = self._outer


def _restore_defaults() -> None:
    for number in _SIGNALS:
        signal.signal(number, signal.SIG_DFL if number != signal.SIGINT else signal.default_int_handler)


# Files whose frames are lifecycle bookkeeping: a signal landing there is held, not raised.
_FRAMEWORK_FILES: Final = frozenset(
    {
        __file__,
        str(Path(__file__).with_name("_base.py")),
        str(Path(__file__).parent.parent / "_orchestrator.py"),
        # The context's bookkeeping (on_rollback, set_progress): an undo is registered whole.
        str(Path(__file__).parent.parent / "_context.py"),
    }
)


def _in_framework(frame: FrameType | None) -> bool:
    return frame is not None and frame.f_code.co_filename in _FRAMEWORK_FILES


def _rolling_back(frame: FrameType | None) -> bool:
    """Whether the interrupted code runs under an orchestrator's rollback (signals are rare, so
    walking the stack here costs nothing on the hot path)."""
    while frame is not None:
        if frame.f_code in ROLLBACK_CODES:
            return True
        frame = frame.f_back
    return False


@contextmanager
def cancellation_signals(enabled: bool = True) -> Iterator[CancellationGuard]:
    """Turn SIGINT, SIGTERM, SIGHUP and SIGQUIT into :class:`JobCancelled` while the block runs.

    Signal handlers can only be set from the main thread; elsewhere (or with ``enabled=False``)
    nothing is installed and the guard never fires. The guard starts deferred: set
    ``guard.deferred = False`` once the code is ready to be interrupted, then ``guard.check()``
    delivers a signal that came before.
    """
    guard = CancellationGuard()
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield guard
        return
    # Held until the caller is ready (it clears ``deferred``): a signal that lands while the
    # handlers are being installed must not escape from here.
    guard.deferred = True
    previous = {number: signal.getsignal(number) for number in _SIGNALS}
    for number in _SIGNALS:
        signal.signal(number, guard._handle)
    # A caller that blocked them until the job could be cancelled (steprail's submitted-job
    # process) gets the pending one delivered here, to the guard, as a cancel.
    mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
    try:
        yield guard
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        for number, handler in previous.items():
            signal.signal(number, handler)
