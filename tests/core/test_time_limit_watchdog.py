"""Time limits through the watchdog thread: what interrupts a main-thread step, what is left to
the program (SIGALRM, its timer, a signal it uses), what costs nothing, in real processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType

import pytest

from steprail import (
    BaseStep,
    BaseStepContext,
    Orchestrator,
    RuntimeContext,
    StepFailedError,
    StepRegistry,
    StepResult,
    StepTimeoutError,
    TimeLimitStep,
)
from steprail._timeout import _CANDIDATES
from steprail._watchdog import Watchdog

pytestmark = pytest.mark.skipif(not _CANDIDATES, reason="no signal can be sent to one thread here")


@dataclass
class Ctx(BaseStepContext):
    pass


class Run(BaseStep[Ctx]):
    def __init__(self, name: str, work: Callable[[], object]) -> None:
        self._name, self.work = name, work

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: Ctx) -> StepResult:
        self.work()
        return StepResult()


def _busy_loop() -> None:
    until = time.monotonic() + 30
    while time.monotonic() < until:
        pass


def _socket_read() -> None:
    left, right = socket.socketpair()
    with left, right:
        right.recv(1)  # nothing is ever sent


def _subprocess_wait() -> None:
    subprocess.run([sys.executable, "-c", "import time; time.sleep(30)"], check=False)


def _lock_wait() -> None:
    lock = threading.Lock()
    lock.acquire()
    lock.acquire()  # never released


@pytest.mark.parametrize(
    "work",
    [lambda: time.sleep(30), _socket_read, _subprocess_wait, _busy_loop, _lock_wait],
    ids=["sleep", "socket-read", "subprocess-wait", "busy-loop", "lock-wait"],
)
def test_a_main_thread_step_is_interrupted_wherever_it_waits(work: Callable[[], object]) -> None:
    registry = StepRegistry[Ctx]()
    registry.register(Run("stuck", work))
    began = time.monotonic()
    with pytest.raises(StepFailedError, match=r"Step 'stuck' failed: StepTimeoutError: step 'stuck' exceeded its time limit of 0.2s"):
        Orchestrator(registry, Ctx(runtime_ctx=RuntimeContext()), lambda c, t: None, time_limits={"stuck": 0.2}).execute()
    assert time.monotonic() - began < 5  # stopped near its limit, not after 30 s


def _program_rt_handler(signum: int, frame: FrameType | None) -> None:
    raise AssertionError("the program's own handler of a real-time signal ran")


def test_a_signal_the_program_handles_is_not_borrowed() -> None:
    taken = _CANDIDATES[0]
    before = signal.signal(taken, _program_rt_handler)
    try:
        began = time.monotonic()
        with pytest.raises(StepTimeoutError):
            TimeLimitStep(Run("slow", lambda: time.sleep(30)), 0.2).execute(Ctx(runtime_ctx=RuntimeContext()))
        assert time.monotonic() - began < 5  # another candidate was borrowed and interrupted it
        assert signal.getsignal(taken) is _program_rt_handler
    finally:
        signal.signal(taken, before)


def test_with_every_candidate_signal_taken_the_step_fails_when_it_returns() -> None:
    before = {signum: signal.signal(signum, _program_rt_handler) for signum in _CANDIDATES}
    try:
        with pytest.raises(StepTimeoutError, match=r"exceeded its time limit of 0.1s \(ran 0.3"):
            TimeLimitStep(Run("slow", lambda: time.sleep(0.3)), 0.1).execute(Ctx(runtime_ctx=RuntimeContext()))
        assert all(signal.getsignal(signum) is _program_rt_handler for signum in _CANDIDATES)
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


def _python(script: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_without_a_limit_no_thread_is_started_and_no_signal_is_touched() -> None:
    child = _python(
        """
        import json, signal, threading
        from dataclasses import dataclass
        from steprail import BaseStep, BaseStepContext, Orchestrator, RuntimeContext, StepRegistry, StepResult
        from steprail._timeout import _CANDIDATES
        from steprail._watchdog import watchdog

        @dataclass
        class Ctx(BaseStepContext):
            pass

        class Quick(BaseStep[Ctx]):
            name = "quick"
            progress_weight = 1.0
            def execute(self, context):
                return StepResult()

        registry = StepRegistry[Ctx]()
        registry.register(Quick())
        handlers = [signal.getsignal(s) for s in (signal.SIGALRM, *_CANDIDATES)]
        for _ in range(100):
            Orchestrator(registry, Ctx(runtime_ctx=RuntimeContext()), lambda c, t: None).execute()
        # A limit in another thread cannot interrupt its step: it does not start the watchdog.
        other = threading.Thread(target=lambda: Orchestrator(
            registry, Ctx(runtime_ctx=RuntimeContext()), lambda c, t: None, time_limits={"quick": 5}).execute())
        other.start(); other.join()
        print(json.dumps({
            "threads": [t.name for t in threading.enumerate()],
            "started": watchdog.started,
            "handlers_kept": handlers == [signal.getsignal(s) for s in (signal.SIGALRM, *_CANDIDATES)],
        }))
        """
    )
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout) == {"threads": ["MainThread"], "started": False, "handlers_kept": True}


# A worker process as Ray runs one: several threads that do not block signals, and a program
# that uses SIGALRM and ITIMER_REAL itself (a periodic timer and a handler that counts). It runs
# many short limited steps in the main thread, some ending around their limit, some stopped
# mid-sleep, mid-socket-read and mid-busy-loop.
_WORKER = """
import json, signal, socket, sys, threading, time
from dataclasses import dataclass
from steprail import BaseStep, BaseStepContext, RuntimeContext, StepResult, StepTimeoutError, TimeLimitStep
from steprail._timeout import _CANDIDATES

INTERVAL = 0.02
RUNS = 1500
alarms = 0

def program_handler(signum, frame):
    global alarms
    alarms += 1

signal.signal(signal.SIGALRM, program_handler)
stop = threading.Event()
left, right = socket.socketpair()

def compute():
    while not stop.is_set():
        sum(range(1000))

def nap():
    while not stop.is_set():
        time.sleep(0.0005)

def serve():
    right.settimeout(0.01)
    while not stop.is_set():
        try:
            right.recv(1)
        except TimeoutError:
            pass

threads = [threading.Thread(target=work, daemon=True) for work in (compute, compute, nap, serve)]
for thread in threads:
    thread.start()

@dataclass
class Ctx(BaseStepContext):
    pass

seen = {"handler_changed": 0, "timer_changed": 0}

class Work(BaseStep[Ctx]):
    name = "work"
    progress_weight = 1.0
    def __init__(self, name, work):
        self.name, self.work = name, work
    def execute(self, context):
        if signal.getsignal(signal.SIGALRM) is not program_handler:
            seen["handler_changed"] += 1
        if signal.getitimer(signal.ITIMER_REAL)[1] != INTERVAL:
            seen["timer_changed"] += 1
        self.work()
        return StepResult()

def spin(seconds):
    def work():
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            pass
    return work

def read():
    a, b = socket.socketpair()
    with a, b:
        b.recv(1)

context = Ctx(runtime_ctx=RuntimeContext())
signal.setitimer(signal.ITIMER_REAL, INTERVAL, INTERVAL)
began = time.monotonic()
outcomes = {"timeout": 0, "ok": 0}
stopped = {}
for index in range(RUNS):
    limit = 0.0005
    step = TimeLimitStep(Work("quick", spin(limit * (0.7 + 0.6 * (index % 7) / 6))), limit)
    try:
        step.execute(context)
        outcomes["ok"] += 1
    except StepTimeoutError:
        outcomes["timeout"] += 1
for name, work in (("sleep", lambda: time.sleep(30)), ("read", read), ("busy", spin(30))):
    started = time.monotonic()
    try:
        TimeLimitStep(Work(name, work), 0.1).execute(context)
    except StepTimeoutError:
        stopped[name] = time.monotonic() - started
elapsed = time.monotonic() - began
timer = signal.getitimer(signal.ITIMER_REAL)
signal.setitimer(signal.ITIMER_REAL, 0)
stop.set()
print(json.dumps({
    "alarms": alarms, "most": int(elapsed / INTERVAL) + 1, "outcomes": outcomes, "stopped": stopped,
    "seen": seen, "interval_kept": timer[1] == INTERVAL, "handler_kept": signal.getsignal(signal.SIGALRM) is program_handler,
    "borrowed_left": [s for s in _CANDIDATES if signal.getsignal(s) != signal.SIG_DFL],
}))
"""


def test_in_a_multithreaded_worker_the_programs_alarm_is_never_touched_nor_fed() -> None:
    child = _python(_WORKER, timeout=120)
    assert child.returncode == 0, child.stderr
    report = json.loads(child.stdout)
    assert report["seen"] == {"handler_changed": 0, "timer_changed": 0}  # never touched during a step
    assert report["interval_kept"] and report["handler_kept"] and report["borrowed_left"] == []
    # The program's handler counts its own timer's alarms only: never more than the timer made.
    assert report["most"] // 4 <= report["alarms"] <= report["most"]  # and its timer kept ticking
    assert report["outcomes"]["timeout"] > 0 and report["outcomes"]["ok"] > 0
    assert set(report["stopped"]) == {"sleep", "read", "busy"}
    assert all(seconds < 5 for seconds in report["stopped"].values())


def test_a_forked_child_gets_its_own_watchdog() -> None:
    child = _python(
        """
        import os, time
        from dataclasses import dataclass
        from steprail import BaseStep, BaseStepContext, RuntimeContext, StepResult, StepTimeoutError, TimeLimitStep

        @dataclass
        class Ctx(BaseStepContext):
            pass

        class Sleep(BaseStep[Ctx]):
            name = "sleep"
            progress_weight = 1.0
            def __init__(self, seconds):
                self.seconds = seconds
            def execute(self, context):
                time.sleep(self.seconds)
                return StepResult()

        TimeLimitStep(Sleep(0), 5).execute(Ctx(runtime_ctx=RuntimeContext()))  # the parent's watchdog runs
        pid = os.fork()
        if pid == 0:
            began = time.monotonic()
            try:
                TimeLimitStep(Sleep(30), 0.2).execute(Ctx(runtime_ctx=RuntimeContext()))
                os._exit(3)
            except StepTimeoutError:
                os._exit(0 if time.monotonic() - began < 5 else 4)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
        """
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "0"


class _Recorder:
    def __init__(self) -> None:
        self.fired: list[str] = []
        self.done = threading.Event()

    def expiry(self, name: str, last: bool = False) -> Callable[[], None]:
        def expire() -> None:
            self.fired.append(name)
            if last:
                self.done.set()

        return expire


@pytest.fixture
def fresh_watchdog() -> Iterator[Watchdog]:
    yield Watchdog()


def test_the_watchdog_fires_in_deadline_order_and_never_a_cancelled_entry(fresh_watchdog: Watchdog) -> None:
    recorder = _Recorder()
    now = time.monotonic()
    fresh_watchdog.schedule(now + 0.15, recorder.expiry("late", last=True))
    cancelled = fresh_watchdog.schedule(now + 0.05, recorder.expiry("cancelled"))
    fresh_watchdog.schedule(now + 0.1, recorder.expiry("middle"))
    fresh_watchdog.schedule(now + 0.02, recorder.expiry("first"))  # nearer than all: wakes the thread
    fresh_watchdog.cancel(cancelled)
    assert recorder.done.wait(5)
    assert recorder.fired == ["first", "middle", "late"]


def test_many_cancelled_entries_do_not_pile_up(fresh_watchdog: Watchdog) -> None:
    far = time.monotonic() + 3600
    for _ in range(10_000):
        fresh_watchdog.cancel(fresh_watchdog.schedule(far, lambda: None))
    fresh_watchdog.cancel()  # nothing to cancel: nothing changes
    assert len(fresh_watchdog._heap) < 200  # rebuilt as cancelled entries became the majority


def test_a_signal_still_pending_when_the_step_ends_is_dropped_not_delivered_later() -> None:
    # The step blocks the borrowed signal and outlasts its limit: the watchdog's signal stays
    # pending for the main thread when the step returns. Giving the signal back must drop it,
    # or unblocking it later, with the default action back, would kill the process.
    child = _python(
        """
        import signal, time
        from dataclasses import dataclass
        from steprail import BaseStep, BaseStepContext, RuntimeContext, StepResult, StepTimeoutError, TimeLimitStep
        from steprail import _timeout

        @dataclass
        class Ctx(BaseStepContext):
            pass

        class Masked(BaseStep[Ctx]):
            name = "masked"
            progress_weight = 1.0
            def execute(self, context):
                self.signum = _timeout._main.signum
                signal.pthread_sigmask(signal.SIG_BLOCK, {self.signum})
                until = time.monotonic() + 5
                while self.signum not in signal.sigpending() and time.monotonic() < until:
                    time.sleep(0.01)
                return StepResult()

        step = Masked()
        try:
            TimeLimitStep(step, 0.05).execute(Ctx(runtime_ctx=RuntimeContext()))
        except StepTimeoutError:
            pass
        assert step.signum and step.signum not in signal.sigpending()
        assert signal.getsignal(step.signum) == signal.SIG_DFL
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {step.signum})
        print("alive")
        """
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "alive"


def test_an_expiry_noticed_inside_steprails_bookkeeping_is_raised_just_after() -> None:
    from steprail import _timeout

    limit = _timeout._Limit(60, lambda elapsed: StepTimeoutError("outer"))
    limit.expired = True
    _timeout._main.active.append(limit)
    try:
        _timeout._main.critical = True
        _timeout._on_expiry(_CANDIDATES[0], None)  # the handler, mid-bookkeeping: only a note
        assert _timeout._main.deferred
        with pytest.raises(StepTimeoutError, match="outer"):
            _timeout._after_critical()
        assert limit.fired
        assert (_timeout._main.deferred, _timeout._main.critical) == (False, False)
    finally:
        _timeout._main.active.remove(limit)


def test_an_entry_that_expires_after_the_signal_was_given_back_sends_nothing() -> None:
    # An entry left scheduled (its end cut short) whose step still reads as running: once the
    # signal is given back (its default action ends the process), its expiry must not send it.
    child = _python(
        """
        import signal, threading, time
        from steprail import StepTimeoutError, _timeout

        limit = _timeout._Limit(0.01, lambda elapsed: StepTimeoutError("stale"))
        limit.target, limit.signum = threading.get_ident(), _timeout._CANDIDATES[0]
        assert _timeout._main.signum == 0  # no limited step runs: nothing is borrowed
        limit.expire()
        time.sleep(0.05)
        print("alive", limit.signum in signal.sigpending())
        """
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "alive False"


def test_a_keyboard_interrupt_in_a_limited_step_leaves_nothing_behind() -> None:
    def interrupted() -> None:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(30)

    with pytest.raises(KeyboardInterrupt):
        TimeLimitStep(Run("outer", lambda: TimeLimitStep(Run("inner", interrupted), 20).execute(
            Ctx(runtime_ctx=RuntimeContext()))), 30).execute(Ctx(runtime_ctx=RuntimeContext()))
    from steprail import _timeout

    assert _timeout._main.active == [] and _timeout._main.signum == 0
    assert all(signal.getsignal(signum) == signal.SIG_DFL for signum in _CANDIDATES)
