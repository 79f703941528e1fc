"""LoggingStep, TimingStep and ValidationStep."""

from __future__ import annotations

import pytest

from steprail import LoggingStep, Orchestrator, StepFailedError, StepRegistry, StepResult, TimingStep, ValidationStep

from ._steps import ItemsContext, Scripted, failing, new_context, raising


def run(*steps: Scripted | LoggingStep[ItemsContext] | TimingStep[ItemsContext] | ValidationStep[ItemsContext]) -> ItemsContext:
    registry = StepRegistry[ItemsContext]()
    for step in steps:
        registry.register(step)
    context = new_context()
    Orchestrator(registry, context, lambda c, t: None).execute()
    return context


def test_logging_step_prefixes_the_name_and_delegates_the_weight() -> None:
    inner = Scripted("process", 0.4)
    step = LoggingStep(inner)
    assert step.name == "logged_process"
    assert step.progress_weight == 0.4
    assert step.wrapped is inner


def test_logging_step_logs_start_and_end_with_elapsed_seconds() -> None:
    context = run(LoggingStep(Scripted("process")))
    events = [(entry.event, entry.data) for entry in context.runtime_ctx.logs]
    assert events[0] == ("step_start", {"step": "process"})
    name, end = events[1]
    assert name == "step_end"
    assert isinstance(end["elapsed"], float) and end["elapsed"] >= 0.0
    assert {key: end[key] for key in ("step", "success", "skipped")} == {
        "step": "process",
        "success": True,
        "skipped": False,
    }
    assert len(events) == 2


def test_logging_step_logs_a_skipped_step() -> None:
    context = run(LoggingStep(Scripted("cache", skip=True)))
    assert context.runtime_ctx.events("step_end") == [
        {"step": "cache", "elapsed": 0.0, "success": True, "skipped": True}
    ]
    assert context.journal == []


def test_logging_step_logs_failure_and_rollback() -> None:
    registry = StepRegistry[ItemsContext]()
    registry.register(LoggingStep(Scripted("a")))
    registry.register(LoggingStep(Scripted("b", action=raising(ValueError("bad")))))
    context = new_context()
    with pytest.raises(StepFailedError, match="Step 'logged_b' failed: ValueError: bad"):
        Orchestrator(registry, context, lambda c, t: None).execute()
    runtime = context.runtime_ctx
    assert [end["success"] for end in runtime.events("step_end")] == [True, False]
    assert runtime.events("step_rollback") == [{"step": "a"}]
    assert context.journal[-1] == "rollback a"


def test_logging_step_reports_a_failed_result_as_unsuccessful() -> None:
    registry = StepRegistry[ItemsContext]()
    registry.register(LoggingStep(Scripted("a", action=failing("nope"))))
    context = new_context()
    with pytest.raises(StepFailedError):
        Orchestrator(registry, context, lambda c, t: None).execute()
    assert context.runtime_ctx.events("step_end")[0]["success"] is False


def test_timing_step_adds_duration_to_the_result() -> None:
    step = TimingStep(Scripted("process", 0.2))
    assert step.name == "timed_process"
    assert step.progress_weight == 0.2
    context = run(step)
    data = context.step_results[-1].data
    assert data["name"] == "process"
    assert isinstance(data["duration_seconds"], float) and data["duration_seconds"] >= 0.0


def test_wrappers_compose_and_delegate_rollback_and_skip() -> None:
    step = LoggingStep(TimingStep(Scripted("work")))
    assert step.name == "logged_timed_work"
    registry = StepRegistry[ItemsContext]()
    registry.register(step)
    registry.register(TimingStep(Scripted("skipme", skip=True)))
    registry.register(Scripted("fail", action=failing("x")))
    context = new_context()
    with pytest.raises(StepFailedError):
        Orchestrator(registry, context, lambda c, t: None).execute()
    assert context.journal == ["execute work", "execute fail", "rollback work"]


def test_wrappers_refuse_a_non_step() -> None:
    with pytest.raises(TypeError, match="LoggingStep wraps a BaseStep, got int"):
        LoggingStep(3)  # type: ignore[arg-type]  # the runtime check under test


def check_items(context: ItemsContext) -> tuple[bool, str | None]:
    if not context.items:
        return False, "No data loaded"
    return True, None


def test_validation_step_defaults() -> None:
    step = ValidationStep(check_items)
    assert (step.name, step.progress_weight) == ("validate", 0.05)


def test_validation_step_passes_and_fails_with_the_validators_message() -> None:
    def load(context: ItemsContext) -> StepResult:
        context.items = ["item1"]
        return StepResult()

    run(Scripted("load", action=load), ValidationStep(check_items, name="validate_data", progress_weight=0.05))
    registry = StepRegistry[ItemsContext]()
    registry.register(Scripted("noop"))
    registry.register(ValidationStep(check_items, name="validate_data"))
    context = new_context()
    with pytest.raises(StepFailedError, match="Step 'validate_data' failed: No data loaded"):
        Orchestrator(registry, context, lambda c, t: None).execute()
    assert context.journal == ["execute noop", "rollback noop"]


def test_validation_step_without_a_message_names_itself() -> None:
    step: ValidationStep[ItemsContext] = ValidationStep(lambda context: (False, None), name="check")
    assert step.execute(new_context()).error == "validation 'check' failed"


@pytest.mark.parametrize("weight", [1.2, -0.5, float("nan")])
def test_validation_step_refuses_a_bad_weight(weight: float) -> None:
    with pytest.raises(ValueError, match="step 'v': progress_weight"):
        ValidationStep(check_items, name="v", progress_weight=weight)


def test_validation_step_refuses_a_non_callable_and_an_empty_name() -> None:
    with pytest.raises(TypeError, match="validator must be callable"):
        ValidationStep("nope", name="v")  # type: ignore[arg-type]  # the runtime check under test
    with pytest.raises(TypeError, match="non-empty string"):
        ValidationStep(check_items, name="")
