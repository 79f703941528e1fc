"""Time limits under races and nesting (review of issue 14): an alarm during a limit's teardown
never leaves its handler installed, and a nested limit never outlives the outer one."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
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


def _threads() -> int:
    """The process's threads, including those made without ``threading`` (execnet's)."""
    tasks = "/proc/self/task"
    return len(os.listdir(tasks)) if os.path.isdir(tasks) else threading.active_count()


def _alone_or_delegated(test: str) -> bool:
    """Whether ``test`` must run here. A process-wide SIGALRM can be taken by any thread that
    does not block it (the guarantee these tests check is documented for the main thread of a
    process whose other threads block SIGALRM or do not exist), so with other threads about
    (pytest-xdist's) the test runs again in a fresh single-threaded pytest, whose result is
    asserted here."""
    if _threads() == 1 or os.environ.get("STEPRAIL_RACE_CHILD"):
        return True
    child = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider", f"{__file__}::{test}"],
        env={**os.environ, "STEPRAIL_RACE_CHILD": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == 0, child.stdout + child.stderr
    return False


def _spin(seconds: float) -> Callable[[Ctx], None]:
    def spin(context: Ctx) -> None:
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            pass

    return spin


def test_an_alarm_during_teardown_never_leaves_the_limit_installed(program_handler: None) -> None:
    if not _alone_or_delegated("test_an_alarm_during_teardown_never_leaves_the_limit_installed"):
        return
    # Steps that end just around their limit, so the alarm often arrives as the step returns.
    rng = random.Random(0)
    context = Ctx(runtime_ctx=RuntimeContext())
    stop = time.monotonic() + 2.0
    runs = 0
    while time.monotonic() < stop:
        limit = 0.0003
        step = TimeLimitStep(Run("r", _spin(limit * rng.uniform(0.8, 1.2))), limit)
        try:
            step.execute(context)
        except StepTimeoutError:
            pass
        runs += 1
        assert signal.getsignal(signal.SIGALRM) is _program_handler, f"handler leaked after {runs} runs"
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        assert not signal.pthread_sigmask(signal.SIG_BLOCK, ()) & {signal.SIGALRM}
    assert runs > 100  # enough to matter, even on a busy shared machine


def test_nested_limits_under_races_restore_everything(program_handler: None) -> None:
    if not _alone_or_delegated("test_nested_limits_under_races_restore_everything"):
        return
    rng = random.Random(1)
    context = Ctx(runtime_ctx=RuntimeContext())
    stop = time.monotonic() + 1.0
    while time.monotonic() < stop:
        outer, inner = 0.0004 * rng.uniform(0.8, 1.2), 0.0004 * rng.uniform(0.8, 1.2)
        inner_step = TimeLimitStep(Run("inner", _spin(0.0004)), inner)

        def run_inner(c: Ctx, inner_step: TimeLimitStep[Ctx] = inner_step) -> None:
            inner_step.execute(c)

        step = TimeLimitStep(Run("outer", run_inner), outer)
        try:
            step.execute(context)
        except StepTimeoutError:
            pass
        assert signal.getsignal(signal.SIGALRM) is _program_handler
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


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
