"""Declared data flow in actions: the run keeps the registry's inputs, a wrong order fails the
job before any step runs, and the training action's default workflow passes the check."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from steprail import BaseStep, BaseStepContext, RuntimeContext, StepRegistry, StepResult
from steprail._flow import FlowError, StepFlow, check_flow
from steprail.actions import BaseAction, Workflow
from steprail.actions.anchors import AnchorBoxTrainAction
from steprail.actions.train import BaseTrainAction, BaseTrainParams, TrainContext, TrainModelStep
from steprail.datasets import ExportDatasetStep, LocalBackend, make_sample_dataset
from steprail.jobs import JobRuntime, JobStore
from steprail.testing import assert_flow_respected


class NotesContext(BaseStepContext):
    topic: str = ""
    notes: str | None = None


class NotesParams(BaseModel):
    topic: str = "flow"


class Write(BaseStep[NotesContext], requires=("topic",), provides=("notes",)):
    @property
    def name(self) -> str:
        return "write"

    @property
    def progress_weight(self) -> float:
        return 0.5

    def execute(self, context: NotesContext) -> StepResult:
        context.notes = f"notes on {context.topic}"
        return StepResult()


class Read(BaseStep[NotesContext], requires=("notes",)):
    ran: list[str] = []

    @property
    def name(self) -> str:
        return "read"

    @property
    def progress_weight(self) -> float:
        return 0.5

    def execute(self, context: NotesContext) -> StepResult:
        Read.ran.append(context.notes or "")
        return StepResult()


class Notes(BaseAction[NotesParams]):
    order: tuple[str, ...] = ("write", "read")

    def build_workflow(self) -> Workflow[NotesContext]:
        registry = StepRegistry[NotesContext](inputs=("topic",))
        for name in self.order:
            registry.register(Write() if name == "write" else Read())
        return Workflow(registry, NotesContext(runtime_ctx=RuntimeContext(), topic=self.params.topic))


class BackwardsNotes(Notes):
    order = ("read", "write")


def test_an_action_run_keeps_the_registry_inputs(tmp_path: Path) -> None:
    Read.ran.clear()
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        outcome = Notes({}, runtime=JobRuntime(store)).run()
    assert outcome.status == "success", outcome.error
    assert Read.ran == ["notes on flow"]


def test_a_wrong_order_fails_the_job_before_any_step_runs(tmp_path: Path) -> None:
    Read.ran.clear()
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        outcome = BackwardsNotes({}, runtime=JobRuntime(store)).run()
        record = store.get(store.list_jobs()[0].id)
    assert outcome.status == record.status == "failed"
    assert outcome.error is not None and "step 'read' requires field 'notes'" in outcome.error
    assert "provided by 'write'" in outcome.error
    assert Read.ran == [] and outcome.rollback == []
    assert all(step.status not in ("succeeded", "failed") for step in record.steps)


class Trains(BaseTrainAction[BaseTrainParams]):
    target_format = "yolo"

    def train(self, context: TrainContext) -> str:
        return "model.pt"


def test_the_training_action_default_workflow_passes_the_flow_check() -> None:
    workflow = Trains({"dataset": 1}).build_workflow()
    assert workflow is not None
    steps = workflow.registry.get_steps()
    assert all(step.declared_flow() is not None for step in steps)  # every built-in declares
    check_flow(steps, type(workflow.context), workflow.registry.inputs)


def test_the_default_training_workflow_respects_its_declarations_in_strict_mode(tmp_path: Path) -> None:
    # train()'s contract is to read context.dataset: the default workflow's train step declares
    # it, so strict mode (which fails a step reading an undeclared field) lets the real run pass.
    sample = make_sample_dataset(tmp_path / "sample", items=15, seed=2)
    with LocalBackend(tmp_path / "backend") as backend:
        dataset = backend.import_dataset(sample.path).dataset.id
        params = {"dataset": dataset, "clusters": 3, "iterations": 8}
        workflow = AnchorBoxTrainAction(params, client=backend, work_dir=tmp_path / "work").build_workflow()
        assert workflow is not None
        train = next(step for step in workflow.registry.get_steps() if step.name == "train")
        assert train.declared_flow() == StepFlow(("dataset",), ("model_path",))
        uses = assert_flow_respected(workflow.registry, workflow.context)
    assert "dataset" in uses["train"].reads
    assert workflow.context.model is not None


def test_a_train_step_declared_per_instance_is_checked_like_a_class() -> None:
    early: list[BaseStep[TrainContext]] = [TrainModelStep[TrainContext](_train, requires=("dataset",)), ExportDatasetStep()]
    with pytest.raises(FlowError, match="step 'train' requires field 'dataset'.*provided by 'export_dataset'"):
        check_flow(early, TrainContext)
    with pytest.raises(FlowError, match="did you mean 'dataset'"):
        check_flow([TrainModelStep[TrainContext](_train, requires=("datset",))], TrainContext)
    with pytest.raises(TypeError, match=r"requires= takes a tuple of field names.*\(write requires=\(\"dataset\",\)\)"):
        TrainModelStep[TrainContext](_train, requires="dataset")  # type: ignore[arg-type]  # refused at run time too


class _Declares(TrainModelStep[TrainContext], requires=("params",)):
    """A subclass declaring with class keywords: the instance's requires= adds to them."""


def test_a_train_step_subclass_keeps_its_class_keywords_and_adds_the_instances() -> None:
    assert _Declares(_train).declared_flow() == StepFlow(("params",), ())
    assert _Declares(_train, requires=("dataset",)).declared_flow() == StepFlow(("params", "dataset"), ())
    assert TrainModelStep[TrainContext](_train).declared_flow() == StepFlow((), ("model_path",))


def _train(context: TrainContext) -> str:
    return "model.pt"
