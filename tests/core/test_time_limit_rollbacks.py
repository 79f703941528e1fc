"""A limit that passes while a rollback runs inside its step (a nested run's): the rollback
finishes, the step is stopped right after, and the step's failure is its StepTimeoutError (so a
retry policy on TimeoutError applies). Past its limit, whatever the step raised becomes its
timeout (the original error is its cause)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from steprail import (
    BaseStep,
    BaseStepContext,
    Orchestrator,
    RetryPolicy,
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


class Fn(BaseStep[Ctx]):
    def __init__(
        self, name: str, work: Callable[[], object], undo: Callable[[], None] | None = None, **policy: RetryPolicy
    ) -> None:
        self._name, self.work, self.undo = name, work, undo
        if "retry_policy" in policy:
            self.retry_policy = policy["retry_policy"]

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: Ctx) -> StepResult:
        self.work()
        return StepResult()

    def rollback(self, context: Ctx, result: StepResult) -> None:
        if self.undo is not None:
            self.undo()


def _run(*steps: Fn, limits: dict[str, float] | None = None) -> None:
    registry = StepRegistry[Ctx]()
    for step in steps:
        registry.register(step)
    context = Ctx(runtime_ctx=RuntimeContext())
    Orchestrator(registry, context, lambda done, total: None, time_limits=limits or {}).execute()


def _nested_run_whose_rollback_outlasts_the_limit(log: list[str]) -> Callable[[], None]:
    def slow_rollback() -> None:
        log.append("rollback start")
        time.sleep(0.6)
        log.append("rollback finished")

    def fail_soon() -> None:
        time.sleep(0.05)
        raise ZeroDivisionError("b failed")

    def outer() -> None:
        try:
            _run(Fn("a", lambda: None, slow_rollback), Fn("b", fail_soon))
        finally:
            log.append("nested run ended")

    return outer


@pytest.mark.skipif(not _CANDIDATES, reason="no signal can be sent to one thread here")
def test_a_limit_passing_during_a_nested_rollback_lets_it_finish_then_fails_with_its_timeout() -> None:
    log: list[str] = []
    began = time.monotonic()
    with pytest.raises(StepFailedError) as caught:
        _run(Fn("outer", _nested_run_whose_rollback_outlasts_the_limit(log)), limits={"outer": 0.3})
    assert log == ["rollback start", "rollback finished", "nested run ended"]
    assert isinstance(caught.value.__cause__, StepTimeoutError)
    assert "step 'outer' exceeded its time limit of 0.3s" in str(caught.value)
    assert time.monotonic() - began < 3


@pytest.mark.skipif(not _CANDIDATES, reason="no signal can be sent to one thread here")
def test_a_step_that_goes_on_after_a_spared_rollback_is_stopped_right_after_it() -> None:
    log: list[str] = []
    began = time.monotonic()
    with pytest.raises(StepFailedError, match="step 'outer' exceeded"):
        swallowing = _nested_run_whose_rollback_outlasts_the_limit(log)

        def outer() -> None:
            try:
                swallowing()
            except StepFailedError:
                log.append("caught")
            time.sleep(10)  # the limit passed long ago: this must be cut short

        _run(Fn("outer", outer), limits={"outer": 0.3})
    # Stopped once the rollback finished: in the nested run's unwinding, or in the sleep after it.
    assert log[:3] == ["rollback start", "rollback finished", "nested run ended"]
    assert time.monotonic() - began < 3


def test_a_timeout_hidden_by_a_nested_failure_is_retried_by_a_policy_on_timeout_error() -> None:
    attempts: list[float] = []
    log: list[str] = []

    def outer() -> None:
        attempts.append(time.monotonic())
        _nested_run_whose_rollback_outlasts_the_limit(log)()

    policy = RetryPolicy(on=TimeoutError, attempts=2, wait_initial=0, wait_jitter=0)
    with pytest.raises(StepFailedError, match="step 'outer' exceeded"):
        _run(Fn("outer", outer, retry_policy=policy), limits={"outer": 0.3})
    assert len(attempts) == 2
    assert log.count("rollback finished") == 2


def _in_a_thread(step: TimeLimitStep[Ctx]) -> BaseException | None:
    caught: list[BaseException] = []

    def run() -> None:
        try:
            step.execute(Ctx(runtime_ctx=RuntimeContext()))
        except BaseException as error:  # noqa: BLE001 - handed to the test
            caught.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    return caught[0] if caught else None


def test_an_error_raised_past_the_limit_becomes_the_steps_timeout_with_the_error_as_cause() -> None:
    def late() -> None:
        time.sleep(0.1)
        raise ValueError("met when already late")

    error = _in_a_thread(TimeLimitStep(Fn("late", late), 0.02))  # no signal in a thread: it runs on
    assert isinstance(error, StepTimeoutError)
    assert "step 'late' exceeded its time limit of 0.02s" in str(error)
    assert isinstance(error.__cause__, ValueError)


def test_an_error_raised_within_the_limit_is_left_as_it_is() -> None:
    def early() -> None:
        raise ValueError("on time")

    error = _in_a_thread(TimeLimitStep(Fn("early", early), 30))
    assert isinstance(error, ValueError) and str(error) == "on time"


@pytest.mark.skipif(not _CANDIDATES, reason="no signal can be sent to one thread here")
def test_a_limited_step_run_by_a_spared_rollback_is_still_stopped_by_its_own_limit() -> None:
    log: list[str] = []

    def rollback_running_a_limited_step() -> None:
        log.append("rollback start")
        try:
            TimeLimitStep(Fn("undo", lambda: time.sleep(10)), 0.3).execute(Ctx(runtime_ctx=RuntimeContext()))
        except StepTimeoutError as error:
            log.append(str(error).split(" (")[0])
        log.append("rollback finished")

    def outer() -> None:
        _run(Fn("a", lambda: None, rollback_running_a_limited_step), Fn("b", lambda: 1 / 0))

    began = time.monotonic()
    with pytest.raises(StepFailedError, match="step 'outer' exceeded"):
        _run(Fn("outer", outer), limits={"outer": 0.1})
    assert log == ["rollback start", "step 'undo' exceeded its time limit of 0.3s", "rollback finished"]
    assert time.monotonic() - began < 3
