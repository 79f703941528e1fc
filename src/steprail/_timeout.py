"""Per-step time limits: :class:`TimeLimitStep` and :class:`StepTimeoutError`.

How a running synchronous step is interrupted: in the main thread of a POSIX process, the
process's watchdog thread (:mod:`steprail._watchdog`, started by the first limit) sends a signal
that steprail borrows for the purpose to the main thread only (``signal.pthread_kill``) when the
limit passes, and that signal's handler raises :class:`StepTimeoutError` inside the step. Python
runs signal handlers between bytecodes, and a blocking system call (``time.sleep``, a socket
read, waiting for a subprocess) is interrupted by the signal, so the step stops within moments of
its limit, where it is. What this cannot interrupt: a long computation inside a C extension that
does not return to the interpreter (a NumPy kernel, a blocking call that retries on EINTR inside
C); the error is raised as soon as it returns.

``SIGALRM`` and the real-time timer (``ITIMER_REAL``) are never used: they stay the program's.
The borrowed signal is a real-time signal (``SIGRTMAX - 1`` and down, the first whose handler is
the default and that the main thread does not block; ``SIGUSR2``/``SIGUSR1`` where real-time
signals do not exist). Its handler is installed when the outermost limited step starts and put back
when it ends; a signal sent to one thread is pending for that thread only, so no other thread of
the process can take it.

Why a real signal rather than ``_thread.interrupt_main``: that only sets the interpreter's flag,
so a step blocked in a system call (a sleep, a socket read) would not notice it until the call
returned; a signal sent with ``pthread_kill`` also cuts the call short.

Elsewhere (another thread, Windows, or no signal free) no signal can reach the step: it runs to
its end and then fails with the same error if it overran. Either way, the guarantee is: **a step
that overran its limit never succeeds**; it fails with :class:`StepTimeoutError` and is rolled
back like any failure (its undo actions, then the completed steps under the ``rollback``
policy). A step that catches ``Exception`` around its work and swallows the error is failed when
it returns.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import CodeType, FrameType

from ._context import BaseStepContext
from ._result import StepResult
from ._step import BaseStep
from ._watchdog import WatchdogEntry, watchdog
from ._wrappers import WrapperStep

__all__ = ["StepTimeoutError", "TimeLimitStep", "check_time_limit"]


class StepTimeoutError(TimeoutError):
    """A step ran past its time limit. A ``TimeoutError``: a retry policy may retry it."""


def check_time_limit(seconds: object) -> float:
    """``seconds`` as a float if it is a finite number of seconds > 0, else a ``ValueError``."""
    refused = ValueError(f"a step's time limit must be a finite number of seconds > 0, got {seconds!r}")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise refused
    try:
        as_float = float(seconds)  # an int beyond a float's range (10**400) raises OverflowError
    except OverflowError:
        raise refused from None
    if not math.isfinite(as_float) or as_float <= 0:
        raise refused
    return as_float


def _can_interrupt() -> bool:
    return _SIGNALS_USABLE and threading.current_thread() is threading.main_thread()


def _candidate_signals() -> tuple[int, ...]:
    """The signals steprail may borrow, in order of preference. Real-time signals first: no
    library gives them a meaning, and glibc keeps the lowest ones for itself, so take them from
    the top (leaving ``SIGRTMAX`` itself, which some tools such as Valgrind use)."""
    if hasattr(signal, "SIGRTMAX") and hasattr(signal, "SIGRTMIN"):
        return tuple(range(signal.SIGRTMAX - 1, max(signal.SIGRTMIN, signal.SIGRTMAX - 9), -1))
    return tuple(getattr(signal, name) for name in ("SIGUSR2", "SIGUSR1") if hasattr(signal, name))


#: The code of the orchestrator's rollbacks (a failed run's, and the undo actions between two
#: attempts), filled in by the orchestrator: a limit that passes while one of them runs inside its
#: step lets it finish (a rollback cut in half leaves work half undone) and stops the step right
#: after, by sending its signal again every ``_RESEND_AFTER`` seconds until it can be raised.
ROLLBACK_CODES: set[CodeType] = set()
_RESEND_AFTER = 0.01

_SIGNALS_USABLE = all(hasattr(signal, name) for name in ("pthread_kill", "pthread_sigmask", "sigtimedwait"))
_CANDIDATES = _candidate_signals() if _SIGNALS_USABLE else ()


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
        try:
            if _can_interrupt():
                result = self._execute_interruptibly(context)
            else:
                result = self._wrapped.execute(context)
        except Exception as error:
            # Past its limit, the step's failure is its timeout whatever it raised (a nested
            # run's failure, an error it met when stopped), so ``on=TimeoutError`` applies.
            elapsed = time.monotonic() - began
            if elapsed > self.seconds and not isinstance(error, StepTimeoutError):
                raise self._error(elapsed) from error
            raise
        elapsed = time.monotonic() - began
        if elapsed > self.seconds:  # it swallowed the error, or it could not be interrupted
            raise self._error(elapsed)
        return result

    def _error(self, elapsed: float) -> StepTimeoutError:
        return StepTimeoutError(
            f"step {self.name!r} exceeded its time limit of {self.seconds:g}s (ran {elapsed:.3g}s)"
        )

    def _execute_interruptibly(self, context: C) -> StepResult:
        limit = _Limit(self.seconds, self._error)
        try:
            # Inside the try: the limit may expire as soon as it is scheduled, even before the
            # step starts, and the teardown must still run.
            _begin(limit)
            try:
                return self._wrapped.execute(context)
            finally:
                # From here on the handler ignores this limit (the elapsed check fails a step that
                # overran). An expiry handled before this line raised as if inside the step.
                limit.inside = False
        finally:
            _end(limit)


class _Limit:
    """One running time limit of the main thread: its deadline, its error, and its state."""

    __slots__ = ("began", "deadline", "error", "inside", "expired", "fired", "entry", "target", "signum", "frame")

    def __init__(self, seconds: float, error: Callable[[float], StepTimeoutError]) -> None:
        # The frame that runs the limited step (the caller's): while it is on the main thread's
        # stack the limit is live; once it is not, the limit's end was cut short (an exception
        # from another signal handler, such as KeyboardInterrupt, landed in it) and the limit is
        # stale. Dropped when the limit ends.
        self.frame: FrameType | None = sys._getframe(1)
        self.began = time.monotonic()
        self.deadline = self.began + seconds
        self.error = error
        self.inside = True  # the step is running: the handler may stop it
        self.expired = False  # the deadline passed (set by the watchdog)
        self.fired = False  # its error was raised (it is raised once at most)
        self.entry: WatchdogEntry | None = None  # its watchdog entry, while it is scheduled
        self.target = 0  # the thread the signal goes to (the main thread's ident)
        self.signum = 0  # the borrowed signal

    def expire(self) -> None:
        """In the watchdog thread, with its lock held: the deadline passed; interrupt the step
        if it still runs and its signal is still borrowed. ``_end`` cancels the entry, and the
        outermost one marks the signal as no longer borrowed, under the same lock before it
        gives the signal back, so no signal is sent once that began."""
        self.expired = True
        if self.inside and not self.fired and _main.signum == self.signum:
            _main.sent = True
            signal.pthread_kill(self.target, self.signum)


class _MainThread:
    """The time limits running in the main thread, outermost first, and the signal borrowed
    for them (``0`` when none is: outside any limit, or no candidate was free)."""

    def __init__(self) -> None:
        self.active: list[_Limit] = []
        self.signum = 0
        # Whether the watchdog sent the signal since it was borrowed (written under its lock):
        # if not, none can be on its way, and giving it back needs no blocking and draining.
        self.sent = False
        # While steprail updates this state the handler only notes that it ran (``deferred``);
        # the note is acted on right after, at a point where raising is safe.
        self.critical = False
        self.deferred = False
        # What must still be undone, kept until it is: the signals given steprail's handler and
        # not yet given back, and those steprail blocked and has not unblocked. Another handler
        # that raises (KeyboardInterrupt) can cut any teardown short; the next limit's start (or
        # end) finishes it, so nothing stays borrowed or blocked for good.
        self.owed: set[int] = set()
        self.blocked: set[int] = set()


_main = _MainThread()

# Why this is race-free.
# - Raising: the handler raises a limit's error only while that limit's step runs (``inside``)
#   after its deadline passed, at most once per limit, and marks every limit nested in it as
#   fired too (the error unwinds them all). So once a limit's own ``inside = False`` ran (or it
#   fired), nothing can raise in its teardown except an outer limit, whose own teardown then
#   cleans the stack from its position up. The handler never raises inside steprail's own
#   bookkeeping (``critical``): what it found there is raised just after, at a known point.
# - Sending: the watchdog sends the signal to the main thread only, under its lock, and only for
#   a limit still running whose signal is still borrowed. A signal sent to one thread is pending
#   for that thread only: no other thread of the process can take it.
# - Giving back: the outermost teardown cancels every entry and marks the signal unborrowed under
#   the watchdog's lock, so nothing is sent after that. If something was sent, it then blocks the
#   signal in the main thread (which runs a handler whose signal already arrived: it only notes
#   it), drops any instance still pending, and only then puts the default handler back. No
#   instance can arrive once the default action (ending the process) is back.
# - Cut short: another signal handler that raises (KeyboardInterrupt, a program's SIGALRM
#   handler) can land anywhere in a teardown. What is still to be done is state, not position in
#   the code: the signals still borrowed (``owed``) and blocked by steprail (``blocked``) are
#   noted before each change and cleared after it, and a limit whose frame left the stack without
#   its end is stale. The next limit's start drops stale limits (cancelling their entries before
#   the signal is marked unborrowed) and settles what is owed; the handler never raises a stale
#   limit. So a cut-short teardown costs at most one signal, until the next limited step.


def _on_expiry(signum: int, frame: FrameType | None) -> None:
    """The borrowed signal's handler: stop the outermost step whose limit passed (a step nested
    in it is stopped with it, and the error names the step whose limit it was)."""
    if _main.critical:
        _main.deferred = True
        return
    _raise_expired()


def _raise_expired() -> None:
    for position, limit in enumerate(_main.active):
        if limit.expired and limit.inside and not limit.fired:
            if position >= _live_count(_main.active):  # its end was cut short: never raise it
                limit.fired = True
                continue
            if _rolling_back_inside(limit):
                if limit.entry is None or limit.entry.cancelled:  # one resend on its way at most
                    limit.entry = watchdog.schedule(time.monotonic() + _RESEND_AFTER, limit.expire)
                continue  # a limit inside the rollback (an undo action's own) may still be raised
            for unwound in _main.active[position:]:
                unwound.fired = True
            raise limit.error(time.monotonic() - limit.began)


def _after_critical() -> None:
    _main.critical = False
    if _main.deferred:
        _main.deferred = False
        _raise_expired()


def _live_count(active: list[_Limit]) -> int:
    """How many limits, from the outermost, still have their frame on this thread's stack (the
    others' end was cut short; a live limit is never nested in a stale one)."""
    frames = set()
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        frames.add(id(frame))
        frame = frame.f_back
    for position, limit in enumerate(active):
        if id(limit.frame) not in frames:
            return position
    return len(active)


def _rolling_back_inside(limit: _Limit) -> bool:
    """Whether a rollback runs in ``limit``'s step (between its frame and the handler's)."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None and frame is not limit.frame:
        if frame.f_code in ROLLBACK_CODES:
            return True
        frame = frame.f_back
    return False


def _begin(limit: _Limit) -> None:
    _main.critical = True
    try:
        if _main.active:
            _drop_stale()
        if not _main.active:  # the outermost limit: borrow a signal for the limits to come
            if _main.owed or _main.blocked:  # a teardown was cut short: finish it first
                _settle(drain=True)
            _main.signum = _borrow_signal()
            _main.sent = False
        _main.active.append(limit)
        if _main.signum:
            limit.target = threading.get_ident()
            limit.signum = _main.signum
            limit.entry = watchdog.schedule(limit.deadline, limit.expire)
    finally:
        _after_critical()


def _end(limit: _Limit) -> None:
    """Take ``limit`` off the stack with any inner limit whose own end was cut short; the
    outermost gives the borrowed signal back."""
    _main.critical = True
    try:
        active = _main.active
        position = active.index(limit) if limit in active else len(active)
        ended = active[position:] or [limit]
        outermost = position == 0 or not active
        signum = _main.signum
        if signum:
            # Cancelled before they leave the stack: an end cut short (by KeyboardInterrupt)
            # leaves them for the outer limit's end to cancel.
            entries = [each.entry for each in ended if each.entry is not None]
            watchdog.cancel(*entries, then=_release_signal if outermost else None)
        for each in ended:
            each.frame = None  # no reference cycle through the step's frame
        del active[position:]
        if outermost:
            _settle(drain=_main.sent)  # ``sent`` is final: no expiry sends from now
    finally:
        _after_critical()


def _drop_stale() -> None:
    """Take off the stack the limits whose end was cut short (and so cannot run again): cancel
    their entries and, if no live limit is left, stop sending the borrowed signal."""
    active = _main.active
    live = _live_count(active)
    if live == len(active):
        return
    stale = active[live:]
    entries = [each.entry for each in stale if each.entry is not None]
    watchdog.cancel(*entries, then=_release_signal if live == 0 else None)
    for each in stale:
        each.frame = None
    del active[live:]


def _settle(*, drain: bool) -> None:
    """Give back every signal still borrowed and unblock what steprail blocked (no limit runs,
    and no expiry sends any more). Each step is recorded when done, so a settle cut short is
    finished by the next one."""
    for signum in sorted(_main.owed):
        _give_back(signum, drain=drain)
    for signum in sorted(_main.blocked):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signum})
        _main.blocked.discard(signum)


def _release_signal() -> None:
    """With the watchdog's lock held: the signal is no longer borrowed, no expiry sends it."""
    _main.signum = 0


def _borrow_signal() -> int:
    """Install the handler on the first candidate signal that is free (its handler is the
    default, set by nobody) and not blocked in this thread; ``0`` if none is."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, ())
    for signum in _CANDIDATES:
        if signum not in blocked and signal.getsignal(signum) in (signal.SIG_DFL, _on_expiry):
            _main.owed.add(signum)  # noted first: an interruption from here on leaves it owed
            signal.signal(signum, _on_expiry)
            return signum
    return 0


def _give_back(signum: int, *, drain: bool) -> None:
    """Put the default handler back on ``signum`` once no instance of it can still arrive
    (``drain``: the signal was sent, and one may still be on its way)."""
    if drain:
        # Blocking runs the handler of a signal that already arrived (CPython checks its flags
        # when the mask changes); ours only notes it, while ``critical``.
        if signum not in signal.pthread_sigmask(signal.SIG_BLOCK, ()):
            _main.blocked.add(signum)  # noted first: whatever interrupts, it is unblocked later
            signal.pthread_sigmask(signal.SIG_BLOCK, {signum})
        # A signal sent to this thread while it is blocked stays pending for this thread (no
        # other thread takes it); real-time signals queue, so drop every instance.
        while signal.sigtimedwait({signum}, 0) is not None:
            pass
    _restore_default(signum)
    _main.owed.discard(signum)
    if signum in _main.blocked:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signum})
        _main.blocked.discard(signum)


def _restore_default(signum: int) -> None:
    if signal.getsignal(signum) is _on_expiry:  # a step may have taken it over: leave theirs
        signal.signal(signum, signal.SIG_DFL)
