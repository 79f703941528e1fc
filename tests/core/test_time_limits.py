"""Per-step time limits (issue 14, slice D)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

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


@dataclass
class Log(BaseStepContext):
    events: list[str] = field(default_factory=list)


class Sleeps(BaseStep[Log]):
    def __init__(self, name: str, seconds: float, swallow: bool = False) -> None:
        self._name, self.seconds, self.swallow = name, seconds, swallow

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: Log) -> StepResult:
        context.on_rollback(lambda: context.events.append(f"undo {self._name}"), label="undo")
        try:
            time.sleep(self.seconds)
        except Exception:
            if not self.swallow:
                raise
            context.events.append("swallowed")
        context.events.append(f"{self._name} done")
        return StepResult()

    def rollback(self, context: Log, result: StepResult) -> None:
        context.events.append(f"rollback {self._name}")


def _run(registry: StepRegistry[Log], **limits: float) -> Log:
    context = Log(runtime_ctx=RuntimeContext())
    Orchestrator(registry, context, lambda c, t: None, time_limits=limits).execute()
    return context


def _registry(*steps: BaseStep[Log]) -> StepRegistry[Log]:
    registry = StepRegistry[Log]()
    for step in steps:
        registry.register(step)
    return registry


def test_a_step_past_its_limit_is_interrupted_and_rolled_back() -> None:
    registry = _registry(Sleeps("first", 0), Sleeps("slow", 30))
    context = Log(runtime_ctx=RuntimeContext())
    began = time.monotonic()
    with pytest.raises(StepFailedError, match=r"Step 'slow' failed: StepTimeoutError: step 'slow' exceeded its time limit of 0.2s") as caught:
        Orchestrator(registry, context, lambda c, t: None, time_limits={"slow": 0.2}).execute()
    assert time.monotonic() - began < 5  # interrupted mid-sleep, not after 30 s
    assert isinstance(caught.value.__cause__, StepTimeoutError)
    assert context.events == ["first done", "undo slow", "rollback first", "undo first"]


def test_a_step_within_its_limit_is_untouched_and_the_timer_is_cleared() -> None:
    context = _run(_registry(Sleeps("quick", 0.01)), quick=5)
    assert context.events == ["quick done"]
    time.sleep(0.05)  # no alarm is left behind


def test_a_step_that_swallows_the_error_still_fails() -> None:
    step = TimeLimitStep(Sleeps("stubborn", 30, swallow=True), 0.2)
    with pytest.raises(StepFailedError, match="exceeded its time limit of 0.2s"):
        _run(_registry(step))


def test_outside_the_main_thread_an_overrun_fails_when_the_step_returns() -> None:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            _run(_registry(Sleeps("late", 0.3)), late=0.1)
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert len(errors) == 1 and "exceeded its time limit of 0.1s (ran 0.3" in str(errors[0])


def test_a_timeout_can_be_retried() -> None:
    class SlowOnce(Sleeps):
        def execute(self, context: Log) -> StepResult:
            self.seconds, seconds = 0, self.seconds
            time.sleep(seconds)
            context.events.append("done")
            return StepResult()

    registry = _registry(SlowOnce("once", 30))
    context = Log(runtime_ctx=RuntimeContext())
    retry = RetryPolicy(on=TimeoutError, attempts=2, wait_initial=0, wait_jitter=0)
    Orchestrator(registry, context, lambda c, t: None, time_limits={"once": 0.2}, retries={"once": retry}).execute()
    assert context.events == ["done"]


@pytest.mark.parametrize("seconds", [0, -1, float("inf"), float("nan")])
def test_a_limit_out_of_range_is_refused_by_name(seconds: float) -> None:
    with pytest.raises(ValueError, match=r"time_limits\['slow'\]: a step's time limit must be a finite number of seconds > 0"):
        Orchestrator(_registry(Sleeps("slow", 0)), Log(runtime_ctx=RuntimeContext()), lambda c, t: None, time_limits={"slow": seconds})
    with pytest.raises(ValueError, match="must be a finite number of seconds > 0"):
        TimeLimitStep(Sleeps("slow", 0), seconds)


def test_limits_and_retries_for_unknown_steps_are_refused() -> None:
    orchestrator = Orchestrator(
        _registry(Sleeps("slow", 0)), Log(runtime_ctx=RuntimeContext()), lambda c, t: None, time_limits={"slwo": 1}
    )
    with pytest.raises(ValueError, match="name steps this registry does not have: slwo"):
        orchestrator.execute()
