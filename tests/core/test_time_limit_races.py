"""Time limits under races and nesting (review of issue 14, hardened by the watchdog): an expiry
during a limit's teardown is that step's timeout or nothing, never raised later and never left
pending; the program's SIGALRM handler and timer are not touched; a nested limit never outlives
the outer one. They run in this process with other threads about (no fresh single-threaded
process is needed any more)."""

from __future__ import annotations

import contextlib
import random
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


@dataclass
class Ctx(BaseStepContext):
    pass


class Run(BaseStep[Ctx]):
    def __init__(self, name: str, work: Callable[[Ctx], None]) -> None:
        self._name, self.work = name, work

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: Ctx) -> StepResult:
        self.work(context)
        return StepResult()


def _program_handler(signum: int, frame: FrameType | None) -> None:
    raise AssertionError("the program's own SIGALRM handler ran during a time limit")


@pytest.fixture
def program_handler() -> Iterator[None]:
    before = signal.signal(signal.SIGALRM, _program_handler)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)


@pytest.fixture
def busy_threads() -> Iterator[None]:
    """The process is multi-threaded while the test runs, as in a Ray worker: a thread that
    computes, one that sleeps in short naps and one blocked in socket reads, none of which blocks
    any signal."""
    stop = threading.Event()
    left, right = socket.socketpair()

    def compute() -> None:
        while not stop.is_set():
            sum(range(1000))

    def nap() -> None:
        while not stop.is_set():
            time.sleep(0.0005)

    def read() -> None:
        right.settimeout(0.01)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                right.recv(1)

    threads = [threading.Thread(target=work, daemon=True) for work in (compute, nap, read)]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        left.close()
        right.close()


def _assert_nothing_left(runs: int) -> None:
    """Between limited steps: the program's SIGALRM handler and timer as they were, every signal
    steprail may borrow back to its default, none blocked or pending for the main thread."""
    assert signal.getsignal(signal.SIGALRM) is _program_handler, f"SIGALRM handler changed after {runs} runs"
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert all(signal.getsignal(signum) == signal.SIG_DFL for signum in _CANDIDATES), f"signal left borrowed after {runs} runs"
    assert not signal.pthread_sigmask(signal.SIG_BLOCK, ()) & {signal.SIGALRM, *_CANDIDATES}
    assert not signal.sigpending() & set(_CANDIDATES), f"a signal left pending after {runs} runs"


def _unrelated_code() -> None:
    """Code outside any limit, where a late expiry must never raise."""
    _spin(0.0003)(Ctx(runtime_ctx=RuntimeContext()))


def _spin(seconds: float) -> Callable[[Ctx], None]:
    def spin(context: Ctx) -> None:
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            pass

    return spin


def test_an_expiry_during_teardown_is_the_steps_timeout_or_nothing(program_handler: None, busy_threads: None) -> None:
    # Steps that end just around their limit, so the expiry often arrives as the step returns,
    # in a process with other threads that do not block any signal.
    rng = random.Random(0)
    context = Ctx(runtime_ctx=RuntimeContext())
    stop = time.monotonic() + 2.0
    runs = timeouts = 0
    while time.monotonic() < stop or runs < 200:
        limit = 0.0003
        step = TimeLimitStep(Run("r", _spin(limit * rng.uniform(0.8, 1.2))), limit)
        try:
            step.execute(context)
        except StepTimeoutError as error:
            assert "step 'r' exceeded its time limit" in str(error)
            timeouts += 1
        runs += 1
        _assert_nothing_left(runs)
        _unrelated_code()
    assert 0 < timeouts < runs  # both outcomes happened: the race was run


def test_nested_limits_under_races_restore_everything(program_handler: None, busy_threads: None) -> None:
    rng = random.Random(1)
    context = Ctx(runtime_ctx=RuntimeContext())
    stop = time.monotonic() + 1.0
    runs = 0
    while time.monotonic() < stop or runs < 100:
        outer, inner = 0.0004 * rng.uniform(0.8, 1.2), 0.0004 * rng.uniform(0.8, 1.2)
        inner_step = TimeLimitStep(Run("inner", _spin(0.0004)), inner)

        def run_inner(c: Ctx, inner_step: TimeLimitStep[Ctx] = inner_step) -> None:
            inner_step.execute(c)

        step = TimeLimitStep(Run("outer", run_inner), outer)
        try:
            step.execute(context)
        except StepTimeoutError:
            pass
        runs += 1
        _assert_nothing_left(runs)
        _unrelated_code()


def _nested(outer: float, inner: float, sleep: float) -> tuple[float, str]:
    def run_inner(context: Ctx) -> None:
        registry = StepRegistry[Ctx]()
        registry.register(TimeLimitStep(Run("inner", lambda c: time.sleep(sleep)), inner))
        Orchestrator(registry, context, lambda c, t: None).execute()

    registry = StepRegistry[Ctx]()
    registry.register(TimeLimitStep(Run("outer", run_inner), outer))
    began = time.monotonic()
    with pytest.raises(StepFailedError) as caught:
        Orchestrator(registry, Ctx(runtime_ctx=RuntimeContext()), lambda c, t: None).execute()
    return time.monotonic() - began, str(caught.value)


def test_an_outer_limit_stops_a_nested_step_with_a_longer_limit() -> None:
    elapsed, message = _nested(outer=0.3, inner=5.0, sleep=10.0)
    assert elapsed < 1.0  # not the inner 5 s
    assert "step 'outer' exceeded its time limit of 0.3s" in message


def test_an_inner_limit_shorter_than_the_outer_one_names_the_inner_step() -> None:
    elapsed, message = _nested(outer=5.0, inner=0.2, sleep=10.0)
    assert elapsed < 1.0
    assert "step 'inner' exceeded its time limit of 0.2s" in message


def test_the_outer_limit_keeps_its_remaining_time_after_an_inner_step(program_handler: None) -> None:
    def two_inner(context: Ctx) -> None:
        TimeLimitStep(Run("quick", lambda c: time.sleep(0.05)), 5.0).execute(context)
        time.sleep(10)  # the outer limit (0.4 s) must still stop this

    began = time.monotonic()
    with pytest.raises(StepTimeoutError, match="step 'outer'"):
        TimeLimitStep(Run("outer", two_inner), 0.4).execute(Ctx(runtime_ctx=RuntimeContext()))
    assert time.monotonic() - began < 1.0
    assert signal.getsignal(signal.SIGALRM) is _program_handler


@settings(max_examples=80, deadline=None)
@given(
    limits=st.lists(st.floats(min_value=0.001, max_value=0.01), min_size=1, max_size=3),
    work=st.floats(min_value=0.0, max_value=0.012),
    sleeps=st.booleans(),
)
def test_nested_limits_property(limits: list[float], work: float, sleeps: bool) -> None:
    """Any nesting of limits around a sleeping or computing step: the run either succeeds with
    every level inside its limit, or fails naming a level whose limit had passed; either way
    nothing is left behind."""
    names = [f"level{depth}" for depth in range(len(limits))]
    started: dict[str, float] = {}
    ran: dict[str, float] = {}

    def leaf(context: Ctx) -> None:
        if sleeps:
            time.sleep(work)
        else:
            _spin(work)(context)

    def level(depth: int) -> TimeLimitStep[Ctx]:
        inner = leaf if depth == len(limits) - 1 else None

        def body(context: Ctx) -> None:
            began = time.monotonic()
            if inner is not None:
                inner(context)
            else:
                started[names[depth + 1]] = time.monotonic()
                level(depth + 1).execute(context)
            ran[names[depth]] = time.monotonic() - began

        return TimeLimitStep(Run(names[depth], body), limits[depth])

    before_alarm = signal.getsignal(signal.SIGALRM)
    started[names[0]] = time.monotonic()
    try:
        level(0).execute(Ctx(runtime_ctx=RuntimeContext()))
    except StepTimeoutError as error:
        caught = time.monotonic()
        named = [name for name in names if f"step {name!r} exceeded" in str(error)]
        assert len(named) == 1
        assert caught - started[named[0]] >= limits[names.index(named[0])]
    else:
        assert all(ran[name] <= limit for name, limit in zip(names, limits, strict=True))
    assert signal.getsignal(signal.SIGALRM) is before_alarm
    assert all(signal.getsignal(signum) == signal.SIG_DFL for signum in _CANDIDATES)
    assert not signal.sigpending() & set(_CANDIDATES)
    _unrelated_code()
