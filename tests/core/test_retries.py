"""Per-step retry policies (issue 14, slice C)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from steprail import (
    BaseStep,
    BaseStepContext,
    Orchestrator,
    RetryPolicy,
    RuntimeContext,
    StepFailedError,
    StepRegistry,
    StepResult,
)
from steprail.actions import JobCancelled

NOW = RetryPolicy(attempts=3, wait_initial=0, wait_max=0, wait_jitter=0)


@dataclass
class Log(BaseStepContext):
    events: list[str] = field(default_factory=list)


class Flaky(BaseStep[Log]):
    """Raises ``error`` on its first ``failures`` attempts; each attempt registers an undo."""

    def __init__(self, name: str, failures: int, error: type[Exception] = OSError, policy: RetryPolicy | None = None) -> None:
        self._name, self.failures, self.error = name, failures, error
        self.retry_policy = policy
        self.calls = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: Log) -> StepResult:
        self.calls += 1
        attempt = self.calls
        context.events.append(f"{self._name} attempt {attempt}")
        context.on_rollback(lambda: context.events.append(f"undo {self._name} attempt {attempt}"), label=f"a{attempt}")
        context.set_progress(attempt, 4)
        if attempt <= self.failures:
            raise self.error(f"{self._name} failure {attempt}")
        return StepResult(data={"attempts": attempt})


def _run(*steps: Flaky, retries: dict[str, RetryPolicy] | None = None) -> tuple[Log, list[tuple[str, int, str, float]], list[int]]:
    registry = StepRegistry[Log]()
    for step in steps:
        registry.register(step)
    context = Log(runtime_ctx=RuntimeContext())
    heard: list[tuple[str, int, str, float]] = []
    progress: list[int] = []
    orchestrator = Orchestrator(registry, context, lambda current, total: progress.append(current), retries=retries)
    try:
        orchestrator.execute(retry_listener=lambda name, n, error, wait: heard.append((name, n, str(error), wait)))
    finally:
        pass
    return context, heard, progress


def test_a_step_is_retried_with_its_undo_actions_run_between_attempts() -> None:
    step = Flaky("upload", failures=2)
    context, heard, _ = _run(step, retries={"upload": NOW})
    assert context.events == [
        "upload attempt 1", "undo upload attempt 1", "upload attempt 2", "undo upload attempt 2", "upload attempt 3",
    ]  # fmt: skip
    assert heard == [("upload", 1, "upload failure 1", 0.0), ("upload", 2, "upload failure 2", 0.0)]
    assert [r.data for r in context.step_results] == [{"attempts": 3}]  # one result per step, not per attempt


def test_the_last_attempt_fails_the_step_and_is_rolled_back_like_any_failure() -> None:
    first, flaky = Flaky("export", failures=0), Flaky("upload", failures=5, policy=NOW)
    with pytest.raises(StepFailedError, match="Step 'upload' failed: OSError: upload failure 3") as caught:
        _run(first, flaky)
    assert flaky.calls == 3
    assert caught.value.rollback_report.rolled_back_steps == ["export"]


def test_other_exceptions_and_cancellations_are_not_retried() -> None:
    wrong = Flaky("upload", failures=1, error=KeyError, policy=RetryPolicy(on=OSError, attempts=3, wait_initial=0, wait_jitter=0))
    with pytest.raises(StepFailedError):
        _run(wrong)
    assert wrong.calls == 1

    class Cancelled(JobCancelled):
        def __init__(self, text: str) -> None:
            super().__init__(15)

    cancelled = Flaky("upload", failures=1, error=Cancelled, policy=NOW)
    with pytest.raises(StepFailedError, match="cancelled by SIGTERM"):
        _run(cancelled)
    assert cancelled.calls == 1


def test_the_time_budget_stops_retries_whose_wait_would_overrun_it() -> None:
    slow = RetryPolicy(attempts=5, wait_initial=30, wait_jitter=0, timeout=1)
    step = Flaky("upload", failures=1, policy=slow)
    with pytest.raises(StepFailedError):
        _run(step)
    assert step.calls == 1  # a second attempt would start 30 s later, past the 1 s budget


def test_the_runs_policy_wins_over_the_steps_own() -> None:
    step = Flaky("upload", failures=1, policy=RetryPolicy(attempts=1))
    context, _, _ = _run(step, retries={"upload": NOW})
    assert step.calls == 2


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"attempts": 0}, r"RetryPolicy.attempts must be an int >= 1, got 0"),
        ({"attempts": -2}, r"RetryPolicy.attempts must be an int >= 1, got -2"),
        ({"wait_initial": -1.0}, r"RetryPolicy.wait_initial must be a finite number of seconds >= 0, got -1.0"),
        ({"timeout": 0}, r"RetryPolicy.timeout must be a finite number of seconds > 0, or None for no limit, got 0"),
        ({"timeout": math.inf}, r"RetryPolicy.timeout must be a finite number of seconds > 0, or None for no limit, got inf"),
        ({"on": KeyboardInterrupt}, r"RetryPolicy.on must be Exception types"),
    ],
)
def test_a_policy_out_of_range_is_refused_by_name(arguments: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**arguments)  # type: ignore[arg-type]  # the run-time checks under test


def test_the_orchestrator_refuses_a_policy_that_is_not_one() -> None:
    with pytest.raises(TypeError, match=r"retries\['upload'\] must be a RetryPolicy, got int"):
        Orchestrator(StepRegistry[Log](), Log(runtime_ctx=RuntimeContext()), lambda c, t: None, retries={"upload": 3})  # type: ignore[dict-item]  # the check under test


@given(failures=st.integers(0, 5), attempts=st.integers(1, 4))
def test_attempts_stay_within_the_limit_undo_runs_between_them_and_progress_never_goes_back(
    failures: int, attempts: int
) -> None:
    policy = RetryPolicy(attempts=attempts, wait_initial=0, wait_max=0, wait_jitter=0)
    step = Flaky("upload", failures=failures)
    registry = StepRegistry[Log]()
    registry.register(Flaky("before", failures=0))
    registry.register(step)
    context = Log(runtime_ctx=RuntimeContext())
    progress: list[int] = []
    orchestrator = Orchestrator(registry, context, lambda current, total: progress.append(current), retries={"upload": policy})
    succeeded = True
    try:
        orchestrator.execute()
    except StepFailedError:
        succeeded = False
    assert step.calls == min(failures + 1, attempts) <= attempts
    assert succeeded == (failures < attempts)
    events = [e for e in context.events if "upload" in e]
    # Each failed attempt's undo ran right after it, before the next attempt (or the rollback).
    for number in range(1, step.calls + 1):
        index = events.index(f"upload attempt {number}")
        if number < step.calls or not succeeded:
            assert events[index + 1] == f"undo upload attempt {number}"
    assert progress == sorted(set(progress)) and all(0 < p <= 100 for p in progress)
    assert (progress[-1] == 100) == succeeded
