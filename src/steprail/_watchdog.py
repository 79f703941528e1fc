"""One timer thread per process: calls each scheduled expiry at its deadline.

:class:`Watchdog` keeps every pending deadline in one heap guarded by one
:class:`threading.Condition`. Its daemon thread is started by the first :meth:`Watchdog.schedule`
(a process that never schedules anything never has it) and sleeps on the condition until the
nearest deadline. An expiry runs in that thread *with the lock held*, so once
:meth:`Watchdog.cancel` returns the entry's expiry has either finished or will never run: a
caller can tear down what the expiry touches without a race.

A cancelled entry stays in the heap until it reaches the top or the heap is rebuilt (when more
than half of it is cancelled), so cancelling costs one lock round trip and no reordering.
"""

from __future__ import annotations

import heapq
import os
import threading
import time
from collections.abc import Callable

__all__ = ["Watchdog", "WatchdogEntry", "watchdog"]

# Rebuild the heap when cancelled entries are more than half of it and at least this many:
# a run of quick steps under long limits must not grow the heap without bound.
_COMPACT_AT = 64


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

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget every entry and the thread (in a forked child, which has none of the parent's
        threads, and whose copy of the lock may have been held by the parent's watchdog)."""
        self._condition = threading.Condition(threading.Lock())
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
        with self._condition:
            heapq.heappush(self._heap, entry)
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="steprail-watchdog", daemon=True)
                self._thread.start()
            elif self._heap[0] is entry:  # it is now the nearest: the thread sleeps too long
                self._condition.notify()
        return entry

    def cancel(self, *entries: WatchdogEntry, then: Callable[[], None] | None = None) -> None:
        """Cancel ``entries``: when this returns, their expiries have finished or will never
        run. ``then``, if given, is called with the lock held after cancelling, so every expiry
        that runs later sees what it changed."""
        with self._condition:
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
        with condition:
            while True:
                heap = self._heap
                while heap and heap[0].cancelled:
                    heapq.heappop(heap)
                    self._cancelled -= 1
                if not heap:
                    condition.wait()
                    continue
                delay = heap[0].deadline - time.monotonic()
                if delay > 0:
                    condition.wait(delay)
                    continue
                entry = heapq.heappop(heap)
                entry.cancelled = True
                try:
                    entry.expire()
                except Exception:  # noqa: BLE001 - one failed expiry must not stop the others'
                    pass


#: The process's watchdog (its thread starts with the first schedule).
watchdog = Watchdog()
if hasattr(os, "register_at_fork"):  # a forked child starts afresh; its next schedule starts a thread
    os.register_at_fork(after_in_child=watchdog.reset)
