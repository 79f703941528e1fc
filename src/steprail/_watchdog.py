"""One timer thread per process: calls each scheduled expiry at its deadline.

:class:`Watchdog` keeps every pending deadline in one heap guarded by one
:class:`threading.Condition`. Its daemon thread is started by the first :meth:`Watchdog.schedule`
(a process that never schedules anything never has it) and sleeps on the condition until the
nearest deadline. An expiry runs in that thread *with the lock held*, so once
:meth:`Watchdog.cancel` returns the entry's expiry has either finished or will never run: a
caller can tear down what the expiry touches without a race.

A cancelled entry stays in the heap until it reaches the top or the heap is rebuilt (when more
than half of it is cancelled), so cancelling costs one lock round trip and no reordering.

The thread blocks every signal for itself (a process-directed signal, ``kill PID``, then goes to a
thread of the program, as if steprail's thread did not exist), never dies of an error (a deadline
beyond what the platform can wait for is waited for in steps; an expiry that raises is dropped),
and exits once it has had nothing to wait for during :attr:`Watchdog.idle_exit` seconds (so a
program that forks later is single-threaded again); the next schedule starts a new one.
"""

from __future__ import annotations

import heapq
import os
import signal
import threading
import time
from collections.abc import Callable

__all__ = ["Watchdog", "WatchdogEntry", "watchdog"]

# Rebuild the heap when cancelled entries are more than half of it and at least this many:
# a run of quick steps under long limits must not grow the heap without bound.
_COMPACT_AT = 64

# The longest single wait: ``Condition.wait`` refuses more than ``threading.TIMEOUT_MAX`` (and the
# platform's time_t less than that); a farther deadline is waited for in steps of this.
_LONGEST_WAIT = min(threading.TIMEOUT_MAX, 86_400.0)


class WatchdogEntry:
    """A scheduled expiry: its deadline (``time.monotonic()`` seconds) and what to call."""

    __slots__ = ("deadline", "expire", "cancelled")

    def __init__(self, deadline: float, expire: Callable[[], None]) -> None:
        self.deadline = deadline
        self.expire = expire
        self.cancelled = False  # cancelled, or already expired: never call it (again)

    def __lt__(self, other: WatchdogEntry) -> bool:
        return self.deadline < other.deadline


class Watchdog:
    """Deadlines of the whole process in one heap, served by one lazily started daemon thread."""

    def __init__(self, idle_exit: float = 2.0) -> None:
        #: Seconds with nothing scheduled after which the thread exits (restarted when needed).
        self.idle_exit = idle_exit
        self.reset()

    def reset(self) -> None:
        """Forget every entry and the thread (in a forked child, which has none of the parent's
        threads, and whose copy of the lock may have been held by the parent's watchdog)."""
        # Callers (the main thread) hold the lock itself, not the condition: ``Condition.__enter__``
        # is Python code, so an exception from a signal handler (KeyboardInterrupt) can be raised
        # in it once the lock is taken and before the ``with`` block owns it, leaving it held for
        # good; a C lock's ``with`` cannot be cut there.
        self._lock = threading.Lock()
        self._condition = threading.Condition(self._lock)
        self._heap: list[WatchdogEntry] = []
        self._cancelled = 0
        self._thread: threading.Thread | None = None

    @property
    def started(self) -> bool:
        """Whether this process's watchdog thread was started."""
        return self._thread is not None

    def schedule(self, deadline: float, expire: Callable[[], None]) -> WatchdogEntry:
        """Call ``expire()`` in the watchdog thread, with the watchdog's lock held, once
        ``time.monotonic()`` reaches ``deadline`` (unless the entry is cancelled first).
        ``expire`` must be quick and must not call back into the watchdog."""
        entry = WatchdogEntry(deadline, expire)
        with self._lock:
            heapq.heappush(self._heap, entry)
            if self._thread is None:
                thread = threading.Thread(target=self._serve, name="steprail-watchdog", daemon=True)
                thread.start()
                self._thread = thread
            elif self._heap[0] is entry:  # it is now the nearest: the thread sleeps too long
                self._condition.notify()
        return entry

    def cancel(self, *entries: WatchdogEntry, then: Callable[[], None] | None = None) -> None:
        """Cancel ``entries``: when this returns, their expiries have finished or will never
        run. ``then``, if given, is called with the lock held after cancelling, so every expiry
        that runs later sees what it changed."""
        with self._lock:
            for entry in entries:
                if not entry.cancelled:
                    entry.cancelled = True
                    self._cancelled += 1
            if self._cancelled >= _COMPACT_AT and 2 * self._cancelled > len(self._heap):
                self._heap = [kept for kept in self._heap if not kept.cancelled]
                heapq.heapify(self._heap)
                self._cancelled = 0
            if then is not None:
                then()

    def _serve(self) -> None:
        condition = self._condition  # a fork replaces it; this thread then no longer exists
        _block_every_signal()
        with condition:
            try:
                while self._serve_once(condition):
                    pass
            finally:  # it exits (idle, or an error it cannot survive): the next schedule starts one
                if self._condition is condition and self._thread is threading.current_thread():
                    self._thread = None

    def _serve_once(self, condition: threading.Condition) -> bool:
        """Wait for, or run, the nearest expiry; ``False`` once the thread should exit (idle)."""
        heap = self._heap
        while heap and heap[0].cancelled:
            heapq.heappop(heap)
            self._cancelled -= 1
        if not heap:
            if not condition.wait(self.idle_exit) and not self._heap:
                return False
            return True
        delay = heap[0].deadline - time.monotonic()
        if delay > 0:
            condition.wait(min(delay, _LONGEST_WAIT))
            return True
        entry = heapq.heappop(heap)
        entry.cancelled = True
        try:
            entry.expire()
        except Exception:  # noqa: BLE001 - one failed expiry must not stop the others'
            pass
        return True


def _block_every_signal() -> None:
    """Block every signal in the calling thread: Python runs handlers in the main thread only,
    and a process-directed signal must go to a thread of the program, never to the watchdog's."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())


#: The process's watchdog (its thread starts with the first schedule).
watchdog = Watchdog()
if hasattr(os, "register_at_fork"):  # a forked child starts afresh; its next schedule starts a thread
    os.register_at_fork(after_in_child=watchdog.reset)
