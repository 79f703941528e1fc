"""Cancelling a running action with SIGTERM or Ctrl-C.

The first signal raises :class:`JobCancelled` where the program is: inside a step that step fails
and the orchestrator rolls the run back, so the job ends ``cancelled`` with a full rollback report.
A second signal raises ``KeyboardInterrupt``, which rollback does not catch: it stops at once.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Final

__all__ = ["CancellationGuard", "JobCancelled", "cancellation_signals"]

_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)


class JobCancelled(Exception):  # noqa: N818 - it names the event, like KeyboardInterrupt
    """The job was asked to stop (SIGTERM or Ctrl-C).

    It is an ``Exception`` on purpose: the orchestrator then treats it like a failure of the
    running step and rolls back with a full report. A step that swallows it with ``except
    Exception`` only delays the stop: the action raises it again as soon as that step returns.
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"cancelled by {signal.Signals(signum).name}")


class CancellationGuard:
    """What :func:`cancellation_signals` yields: whether a stop was asked and by which signal.

    While :attr:`deferred` is set (the action is telling its runtime about a step, or writing
    the final record) a signal is remembered instead of raised, so no record is cut in half; it
    is delivered by :meth:`check` at the next safe point (the start of a step, a progress report).
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self.count = 0
        self.deferred = False
        # Set once a JobCancelled has reached the framework (the orchestrator or the action):
        # from then on the cancellation is under way and check() stays quiet.
        self.acknowledged = False

    @property
    def requested(self) -> bool:
        """Whether a signal arrived."""
        return self.signum is not None

    def check(self) -> None:
        """Raise :class:`JobCancelled` if a signal arrived and has not reached the framework yet
        (it came while deferred, or a step swallowed it)."""
        if self.signum is not None and not self.deferred and not self.acknowledged:
            self._raise(self.signum)

    @contextmanager
    def deferring(self) -> Iterator[None]:
        """Hold signals for the duration of the block (nesting is fine)."""
        if self.deferred:
            yield
            return
        self.deferred = True
        try:
            yield
        finally:
            self.deferred = False

    def _raise(self, signum: int) -> None:
        if self.count <= 1:
            raise JobCancelled(signum)
        # Second signal: stop now, rollback included. Later signals get the default behaviour.
        for number in _SIGNALS:
            signal.signal(number, signal.SIG_DFL if number != signal.SIGINT else signal.default_int_handler)
        raise KeyboardInterrupt(f"second {signal.Signals(signum).name}: stopping without finishing rollback")

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.signum is None:
            self.signum = signum
        if self.deferred:
            return
        self._raise(signum)


@contextmanager
def cancellation_signals(enabled: bool = True) -> Iterator[CancellationGuard]:
    """Turn SIGINT and SIGTERM into :class:`JobCancelled` while the block runs.

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
    try:
        yield guard
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
