"""BaseAction and BaseTrainAction: params first, lifecycle recorded, steps or execute(), rollback,
cancellation."""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from steprail import BaseStep, RuntimeContext, StepFailedError, StepRegistry, StepResult
from steprail.actions import (
    BaseAction,
    BaseTrainAction,
    InvalidParamsError,
    JobCancelled,
    TrainContext,
    mermaid,
)
from steprail.actions._params import validate_params
from steprail.actions.train import BaseTrainParams, TrainModelStep, UploadModelStep
from steprail.jobs import FanOutRuntime, JobRuntime, JobStore, PlannedStep


class Params(BaseModel):
    name: str
    count: int = Field(ge=1)
    ratio: float = 0.5


class CountingAction(BaseAction[Params]):
    calls = 0

    def execute(self) -> dict[str, Any]:
        type(self).calls += 1
        self.set_progress(1, 2)
        return {"echo": self.params.name * self.params.count}


@pytest.fixture
def store(tmp_path: Path) -> JobStore:
    return JobStore(tmp_path / "jobs.sqlite3")


def test_params_model_and_name_come_from_the_class() -> None:
    assert CountingAction.params_model is Params
    assert CountingAction.action_name == f"{__name__}:CountingAction"


def test_execute_action_success_is_recorded(store: JobStore) -> None:
    runtime = JobRuntime(store)
    outcome = CountingAction({"name": "ab", "count": 2}, runtime=runtime).run()
    assert outcome.ok and outcome.summary == {"echo": "abab"}
    assert [step.name for step in outcome.plan] == ["execute"]
    assert runtime.job_id is not None
    record = store.get(runtime.job_id)
    assert record.status == "success" and record.progress == 100
    assert record.params == {"name": "ab", "count": 2, "ratio": 0.5}  # validated params, defaults included
    assert [(s.name, s.status) for s in record.steps] == [("execute", "success")]


def test_invalid_params_list_every_field_record_failed_and_run_nothing(store: JobStore) -> None:
    CountingAction.calls = 0
    runtime = JobRuntime(store)
    outcome = CountingAction({"count": 0, "ratio": "x", "extra": 1}, runtime=runtime).run()
    assert outcome.status == "failed"
    assert isinstance(outcome.exception, InvalidParamsError)
    problems = dict(outcome.exception.problems)
    assert set(problems) == {"name", "count", "ratio", "extra"}
    assert "Field required" in problems["name"]
    assert "greater than or equal to 1" in problems["count"] and "(got 0)" in problems["count"]
    assert problems["extra"] == "unknown param; known params: name, count, ratio"
    assert "4 problems" in str(outcome.exception)
    assert CountingAction.calls == 0
    assert outcome.plan == [] and outcome.steps == []
    assert runtime.job_id is not None
    record = store.get(runtime.job_id)
    assert record.status == "failed"
    assert record.error is not None and "name: Field required" in record.error
    assert record.params == {"count": 0, "ratio": "x", "extra": 1}  # what was given, kept
    assert record.steps == []
    with pytest.raises(InvalidParamsError):
        outcome.raise_for_status()


def test_params_that_are_not_a_mapping_are_refused() -> None:
    action = CountingAction(runtime=RuntimeContext())
    action._raw = ["not", "a", "mapping"]  # type: ignore[assignment]  # what an untyped caller could pass
    outcome = action.run()
    assert isinstance(outcome.exception, InvalidParamsError)
    assert "expected a mapping" in str(outcome.exception)


def test_a_model_instance_is_validated_again() -> None:
    sneaky = Params.model_construct(name="x", count=-5)
    outcome = CountingAction(sneaky).run()
    assert isinstance(outcome.exception, InvalidParamsError)
    assert "count" in dict(outcome.exception.problems)


def test_a_misspelt_param_is_an_error_with_a_suggestion_and_nothing_runs(store: JobStore) -> None:
    CountingAction.calls = 0
    runtime = JobRuntime(store)
    given = {"name": "ab", "count": 2, "ratoi": 0.9, "cuont": 3}
    outcome = CountingAction(given, runtime=runtime).run()
    assert outcome.status == "failed" and CountingAction.calls == 0
    assert isinstance(outcome.exception, InvalidParamsError)
    assert outcome.exception.problems == [
        ("ratoi", "unknown param; did you mean 'ratio'?"),
        ("cuont", "unknown param; did you mean 'count'?"),
    ]
    assert outcome.plan == [] and outcome.steps == []
    assert runtime.job_id is not None
    record = store.get(runtime.job_id)
    assert record.status == "failed" and record.params == given and record.steps == []
    assert record.error is not None and "ratoi: unknown param; did you mean 'ratio'?" in record.error
    with pytest.raises(InvalidParamsError, match="2 problems"):
        CountingAction.validate_params(given)


class StrictParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: int = Field(default=1, alias="sz")


class OpenParams(BaseModel):
    model_config = ConfigDict(extra="allow")
    size: int = 1


def test_unknown_keys_depend_on_what_the_model_allows() -> None:
    # extra="forbid": listed once (not again as pydantic's "Extra inputs are not permitted").
    with pytest.raises(InvalidParamsError) as caught:
        validate_params(StrictParams, {"sz": "x", "szie": 2}, "a:B")
    assert caught.value.problems == [
        ("szie", "unknown param; did you mean 'size'?"),
        ("sz", "Input should be a valid integer, unable to parse string as an integer (got 'x')"),
    ]
    assert validate_params(StrictParams, {"sz": 3}, "a:B").size == 3  # an alias is a known key
    # extra="allow" (as BaseTrainParams): unknown keys are kept, not refused.
    assert validate_params(OpenParams, {"size": 2, "note": "hi"}, "a:B").model_extra == {"note": "hi"}
    assert TParams.model_validate({"dataset": 1, "anything": 2}).model_extra == {"anything": 2}
    assert StepsAction.validate_params({"dataset": 1, "anything": 2}).model_extra == {"anything": 2}


# -- step-based actions ------------------------------------------------------------------------


class TParams(BaseTrainParams):
    dataset: int = 0
    fail_at: str | None = None


class Note(BaseStep[TrainContext]):
    def __init__(self, name: str, weight: float, trail: list[str]) -> None:
        self._name, self._weight, self.trail = name, weight, trail

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return self._weight

    def execute(self, context: TrainContext) -> StepResult:
        self.trail.append(f"run {self._name}")
        if context.params.get("fail_at") == self._name:
            raise RuntimeError(f"{self._name} broke")
        context.on_rollback(lambda: self.trail.append(f"undo {self._name}"), label=f"undo {self._name}")
        return StepResult(data={"step": self._name})

    def rollback(self, context: TrainContext, result: StepResult) -> None:
        self.trail.append(f"rollback {self._name}")


TRAIL: list[str] = []


class StepsAction(BaseTrainAction[TParams]):
    def setup_steps(self, registry: StepRegistry[TrainContext]) -> None:
        registry.register(Note("a", 0.2, TRAIL))
        registry.register(Note("b", 0.3, TRAIL))
        registry.register(Note("c", 0.5, TRAIL))


class NoStepsAction(BaseTrainAction[TParams]):
    def execute(self) -> dict[str, Any]:
        return {"executed": True}


def test_registered_steps_run_through_the_orchestrator(store: JobStore) -> None:
    TRAIL.clear()
    runtime = FanOutRuntime(JobRuntime(store), RuntimeContext())
    outcome = StepsAction({}, runtime=runtime).run()
    assert outcome.ok, outcome.error
    assert TRAIL == ["run a", "run b", "run c"]
    assert outcome.summary["steps_executed"] == 3
    assert [(p.name, p.share) for p in outcome.plan] == [("a", 0.2), ("b", 0.3), ("c", 0.5)]
    assert [p.current for p in runtime.progress if p.step is None] == [20, 50, 100]
    record = store.list_jobs()[0]
    assert record.status == "success" and record.progress == 100
    assert isinstance(outcome.context, TrainContext)


def test_no_registered_steps_calls_execute() -> None:
    outcome = NoStepsAction({}).run()
    assert outcome.ok and outcome.summary == {"executed": True}
    assert outcome.context is None


def test_a_failing_step_rolls_back_and_records_failed(store: JobStore) -> None:
    TRAIL.clear()
    runtime = JobRuntime(store)
    outcome = StepsAction({"fail_at": "c"}, runtime=runtime).run()
    assert outcome.status == "failed"
    assert isinstance(outcome.exception, StepFailedError)
    assert outcome.error == "Step 'c' failed: RuntimeError: c broke"
    assert TRAIL == ["run a", "run b", "run c", "rollback b", "undo b", "rollback a", "undo a"]
    assert [(e.step, e.kind) for e in outcome.rollback] == [("b", "rollback"), ("b", "undo"), ("a", "rollback"), ("a", "undo")]
    assert runtime.job_id is not None
    record = store.get(runtime.job_id)
    assert record.status == "failed" and record.error == "Step 'c' failed: RuntimeError: c broke"
    assert [(s.name, s.status, s.rolled_back) for s in record.steps] == [
        ("a", "success", True),
        ("b", "success", True),
        ("c", "failed", False),
    ]
    assert len(record.rollback) == 4
    assert record.progress == 50


def test_keyboard_interrupt_rolls_back_records_cancelled_and_propagates(store: JobStore) -> None:
    TRAIL.clear()

    class Interrupting(Note):
        def execute(self, context: TrainContext) -> StepResult:
            raise KeyboardInterrupt

    class InterruptedAction(BaseTrainAction[TParams]):
        def setup_steps(self, registry: StepRegistry[TrainContext]) -> None:
            registry.register(Note("a", 0.5, TRAIL))
            registry.register(Interrupting("b", 0.5, TRAIL))

    runtime = JobRuntime(store)
    with pytest.raises(KeyboardInterrupt):
        InterruptedAction({}, runtime=runtime).run()
    assert TRAIL == ["run a", "rollback a", "undo a"]
    assert runtime.job_id is not None
    record = store.get(runtime.job_id)
    assert record.status == "cancelled"
    assert [(s.name, s.status) for s in record.steps] == [("a", "success"), ("b", "cancelled")]
    assert record.steps[0].rolled_back


class SelfSignal(Note):
    """Sends SIGTERM to its own process, as `kill` from outside would."""

    def execute(self, context: TrainContext) -> StepResult:
        self.trail.append(f"run {self._name}")
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):  # the handler raises at the next bytecode boundary
            pass
        self.trail.append("not reached")
        return StepResult()


class SignalledAction(BaseTrainAction[TParams]):
    def setup_steps(self, registry: StepRegistry[TrainContext]) -> None:
        registry.register(Note("a", 0.5, TRAIL))
        registry.register(SelfSignal("b", 0.5, TRAIL))


def test_sigterm_cancels_rolls_back_and_records_cancelled(store: JobStore) -> None:
    TRAIL.clear()
    before = signal.getsignal(signal.SIGTERM)
    runtime = JobRuntime(store)
    outcome = SignalledAction({}, runtime=runtime, handle_signals=True).run()
    assert outcome.status == "cancelled"
    assert isinstance(outcome.exception, JobCancelled)
    assert outcome.error == "cancelled by SIGTERM"
    assert TRAIL == ["run a", "run b", "rollback a", "undo a"]
    assert signal.getsignal(signal.SIGTERM) is before  # handlers restored
    assert runtime.job_id is not None
    record = store.get(runtime.job_id)
    assert record.status == "cancelled"
    assert [(s.name, s.status) for s in record.steps] == [("a", "success"), ("b", "cancelled")]
    assert [(e.step, e.kind) for e in record.rollback] == [("a", "rollback"), ("a", "undo")]


def test_a_second_signal_stops_rollback_at_once(store: JobStore) -> None:
    TRAIL.clear()

    class SignalAgainOnRollback(Note):
        def rollback(self, context: TrainContext, result: StepResult) -> None:
            self.trail.append(f"rollback {self._name} starts")
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):
                pass
            self.trail.append("rollback finished")  # not reached

    class Twice(BaseTrainAction[TParams]):
        def setup_steps(self, registry: StepRegistry[TrainContext]) -> None:
            registry.register(Note("a", 0.3, TRAIL))
            registry.register(SignalAgainOnRollback("b", 0.3, TRAIL))
            registry.register(SelfSignal("c", 0.4, TRAIL))

    runtime = JobRuntime(store)
    outcome = Twice({}, runtime=runtime, handle_signals=True).run()
    assert outcome.status == "cancelled"
    assert isinstance(outcome.exception, KeyboardInterrupt)
    assert "second SIGINT" in (outcome.error or "")
    # b's rollback was cut short; a was never rolled back.
    assert TRAIL == ["run a", "run b", "run c", "rollback b starts"]
    assert runtime.job_id is not None
    assert store.get(runtime.job_id).status == "cancelled"


def test_a_swallowed_cancellation_still_stops_before_the_next_step_and_rolls_it_back(store: JobStore) -> None:
    TRAIL.clear()

    class Swallower(Note):
        def execute(self, context: TrainContext) -> StepResult:
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                for _ in range(1000):
                    pass
            except Exception:  # noqa: BLE001 - the careless user code this test is about
                self.trail.append("swallowed")
            return StepResult()

    class Careless(BaseTrainAction[TParams]):
        def setup_steps(self, registry: StepRegistry[TrainContext]) -> None:
            registry.register(Note("a", 0.3, TRAIL))
            registry.register(Swallower("b", 0.3, TRAIL))
            registry.register(Note("c", 0.4, TRAIL))

    outcome = Careless({}, runtime=JobRuntime(store), handle_signals=True).run()
    assert outcome.status == "cancelled"
    assert TRAIL == ["run a", "swallowed", "rollback b", "rollback a", "undo a"]
    # Delivered again at the next safe point: the progress report right after the step.
    assert [s.status for s in outcome.steps] == ["success", "success"]
    assert outcome.error == "cancelled by SIGTERM"


def test_a_signal_during_a_runtime_hook_is_held_and_delivered_at_the_next_safe_point(store: JobStore) -> None:
    TRAIL.clear()

    class SignalInHook(JobRuntime):
        def step_started(self, step: PlannedStep) -> None:
            super().step_started(step)
            if step.name == "b":
                os.kill(os.getpid(), signal.SIGTERM)
                for _ in range(1000):
                    pass
                TRAIL.append("hook finished")  # the record was not cut short

    runtime = SignalInHook(store)
    outcome = StepsAction({}, runtime=runtime, handle_signals=True).run()
    assert outcome.status == "cancelled"
    assert TRAIL == ["run a", "hook finished", "rollback a", "undo a"]
    assert runtime.job_id is not None
    record = store.get(runtime.job_id)
    assert [(s.name, s.status) for s in record.steps] == [("a", "success"), ("b", "cancelled"), ("c", "pending")]


def test_a_signal_while_the_job_is_created_cancels_before_any_step(store: JobStore) -> None:
    TRAIL.clear()

    class SignalOnCreate(JobRuntime):
        def job_created(self, action: str, params: Mapping[str, Any]) -> None:
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):
                pass
            super().job_created(action, params)  # still runs: the signal is held

    runtime = SignalOnCreate(store)
    outcome = StepsAction({}, runtime=runtime, handle_signals=True).run()
    assert outcome.status == "cancelled" and outcome.error == "cancelled by SIGTERM"
    assert TRAIL == [] and outcome.steps == []
    assert runtime.job_id is not None
    assert store.get(runtime.job_id).status == "cancelled"


def test_without_handle_signals_no_handler_is_installed() -> None:
    seen: list[object] = []

    class Peek(BaseAction[Params]):
        def execute(self) -> dict[str, Any]:
            seen.append(signal.getsignal(signal.SIGTERM))
            return {}

    before = signal.getsignal(signal.SIGTERM)
    assert Peek({"name": "x", "count": 1}).run().ok
    assert seen == [before]


# -- typing and defaults of BaseTrainAction ----------------------------------------------------


@dataclass
class MyTrainContext(TrainContext):
    augmentation_config: dict[str, Any] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)


class UsesMyContext(BaseStep[MyTrainContext]):
    @property
    def name(self) -> str:
        return "custom"

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: MyTrainContext) -> StepResult:
        context.seen = [*context.seen, type(context).__name__]
        return StepResult()


class MyContextAction(BaseTrainAction[TParams, MyTrainContext]):
    def setup_steps(self, registry: StepRegistry[MyTrainContext]) -> None:
        registry.register(UsesMyContext())


def test_a_custom_context_type_is_built_and_used() -> None:
    assert MyContextAction.context_class is MyTrainContext
    action = MyContextAction({})
    context: MyTrainContext = action.create_context()
    assert isinstance(context, MyTrainContext)
    outcome = action.run()
    assert outcome.ok
    assert isinstance(outcome.context, MyTrainContext) and outcome.context.seen == ["MyTrainContext"]


class YoloAction(BaseTrainAction[TParams]):
    target_format = "yolo"


def test_target_format_registers_the_default_workflow() -> None:
    plan = YoloAction({}).plan()
    assert [(p.name, p.kind) for p in plan] == [
        ("export_dataset", "ExportDatasetStep"),
        ("convert_to_yolo", "ConvertDatasetStep"),
        ("train", "TrainModelStep"),
        ("upload_model", "UploadModelStep"),
    ]
    assert sum(p.share for p in plan) == pytest.approx(1.0)
    # The dataset steps undo through context.on_rollback; the upload has nothing to undo.
    assert [p.can_roll_back for p in plan] == [True, True, True, True]  # the upload deletes its model


def test_plan_without_valid_params_uses_defaults_and_runs_nothing() -> None:
    TRAIL.clear()
    plan = StepsAction({"fail_at": 3}).plan()
    assert [p.name for p in plan] == ["a", "b", "c"]
    assert TRAIL == []


def test_can_roll_back_sees_overrides_undo_registration_wrappers_and_declarations() -> None:
    from steprail import LoggingStep

    from steprail.actions import can_roll_back

    class Plain(BaseStep[TrainContext]):
        name = "plain"
        progress_weight = 1.0

        def execute(self, context: TrainContext) -> StepResult:
            return StepResult()

    class Declares(Plain):
        can_roll_back = True

    assert not can_roll_back(Plain())
    assert can_roll_back(Note("n", 1.0, []))  # overrides rollback
    assert can_roll_back(LoggingStep(Note("n", 1.0, [])))
    assert not can_roll_back(LoggingStep(Plain()))
    assert can_roll_back(Declares())
    assert not can_roll_back("not a step")


def test_mermaid_lists_steps_in_order_with_rollback_path() -> None:
    text = mermaid(StepsAction({}).plan(), title="demo")
    assert text.startswith("---\ntitle: demo\n---\nflowchart TD")
    assert 'start --> s0' in text and "s0 --> s1" in text and "s2 --> done" in text
    assert 's0["a<br/>20% ↺"]' in text
    assert "failed -. rollback .-> s2" in text and "s1 -. rollback .-> s0" in text


def test_train_model_step_requires_a_file_and_rolls_back(tmp_path: Path) -> None:
    model = tmp_path / "m.json"

    def train(context: TrainContext) -> Path:
        model.write_text("{}")
        return model

    step = TrainModelStep[TrainContext](train)
    context = TrainContext(runtime_ctx=RuntimeContext())
    result = step.execute(context)
    recorded = context.model_path  # a local, so mypy's narrowing does not outlive the rollback
    assert recorded == str(model)
    step.rollback(context, result)
    assert not model.exists() and context.model_path is None
    with pytest.raises(FileNotFoundError, match="not a file"):
        TrainModelStep[TrainContext](lambda c: tmp_path / "missing").execute(context)


def test_upload_model_step_explains_what_is_missing(tmp_path: Path) -> None:
    from steprail.datasets import LocalBackend

    with LocalBackend(tmp_path / "backend") as backend:
        context = TrainContext(runtime_ctx=RuntimeContext(), client=backend)
        with pytest.raises(ValueError, match="run a training step before it"):
            UploadModelStep[TrainContext]().execute(context)
        context.model_path = str(tmp_path / "missing.pt")
        with pytest.raises(FileNotFoundError, match="missing.pt"):
            UploadModelStep[TrainContext]().execute(context)
        assert backend.list_models() == []


def test_train_not_implemented_fails_the_train_step_with_a_clear_error(tmp_path: Path) -> None:
    from steprail.datasets import LocalBackend, make_sample_dataset

    sample = make_sample_dataset(tmp_path / "sample", items=4)
    with LocalBackend(tmp_path / "backend") as backend:
        dataset = backend.import_dataset(sample.path).dataset.id
        outcome = YoloAction({"dataset": dataset}, client=backend, work_dir=tmp_path / "work").run()
    assert outcome.status == "failed"
    assert "does not implement train(context)" in (outcome.error or "")
    assert [s.status for s in outcome.steps] == ["success", "success", "failed"]
    # Export and conversion were undone: the work folder holds nothing they made.
    assert not (tmp_path / "work" / "dataset").exists()
    assert not (tmp_path / "work" / "dataset_yolo").exists()
