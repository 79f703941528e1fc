"""UploadModelStep undoes its upload: a failure or a cancellation after the model record was
created (in the step, in a later step, or in the run's final progress report) leaves the backend's
catalogue rows and files exactly as they were."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from steprail import BaseStep, RuntimeContext, StepRegistry, StepResult
from steprail.actions import BaseTrainAction, JobCancelled, TrainContext
from steprail.actions.train import BaseTrainParams, TrainModelStep, UploadModelStep
from steprail.datasets import LocalBackend
from steprail.testing import snapshot_sqlite, snapshot_tree


class Params(BaseTrainParams):
    fail_after_upload: bool = False


class FailAfterUpload(BaseStep[TrainContext]):
    @property
    def name(self) -> str:
        return "after_upload"

    @property
    def progress_weight(self) -> float:
        return 0.1

    def execute(self, context: TrainContext) -> StepResult:
        assert context.model is not None  # the upload happened
        raise RuntimeError("evaluation crashed")


class UploadAction(BaseTrainAction[Params]):
    def setup_steps(self, registry: StepRegistry[TrainContext]) -> None:
        registry.register(TrainModelStep(self.write_model, progress_weight=0.5))
        registry.register(UploadModelStep(model_name="trained", progress_weight=0.4))
        if self.params.fail_after_upload:
            registry.register(FailAfterUpload())

    def write_model(self, context: TrainContext) -> Path:
        path = self.work_dir / "model.bin"
        path.write_bytes(b"weights")
        return path


class Raising(RuntimeContext):
    """A runtime whose overall 100% report (or a chosen event) raises ``error``."""

    def __init__(self, error: BaseException, *, on_event: str | None = None) -> None:
        super().__init__()
        self.error = error
        self.on_event = on_event

    def set_progress(self, current: int, total: int, step: str | None = None) -> None:
        super().set_progress(current, total, step)
        if self.on_event is None and step is None and current == total:
            raise self.error

    def log(self, event: str, data: dict[str, Any], file: str | None = None) -> None:
        super().log(event, data, file)
        if event == self.on_event:
            raise self.error


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[LocalBackend]:
    with LocalBackend(tmp_path / "backend") as opened:
        yield opened


def _state(backend: LocalBackend) -> tuple[object, object]:
    return (
        snapshot_sqlite(backend.root / "catalog.sqlite3"),
        snapshot_tree(backend.root, ignore=["*-wal", "*-shm"]),
    )


def test_a_successful_upload_is_kept(backend: LocalBackend, tmp_path: Path) -> None:
    outcome = UploadAction({"dataset": 1}, client=backend, work_dir=tmp_path / "work").run()
    assert outcome.ok
    (record,) = backend.list_models()
    assert record.name == "trained" and Path(record.file).read_bytes() == b"weights"
    assert outcome.steps[-1].data["model_id"] == record.id


@pytest.mark.parametrize(
    ("runtime", "fail_after_upload", "status"),
    [
        pytest.param(lambda: Raising(RuntimeError("dashboard down")), False, "failed", id="final-report-raises"),
        pytest.param(lambda: Raising(JobCancelled(signal.SIGTERM)), False, "cancelled", id="cancel-at-final-report"),
        pytest.param(lambda: Raising(RuntimeError("log lost"), on_event="model_uploaded"), False, "failed", id="fails-inside-upload"),
        pytest.param(RuntimeContext, True, "failed", id="later-step-fails"),
    ],
)
def test_a_failure_after_the_upload_deletes_the_model(
    backend: LocalBackend,
    tmp_path: Path,
    runtime: Any,
    fail_after_upload: bool,
    status: str,
) -> None:
    weights = tmp_path / "earlier.bin"
    weights.write_bytes(b"an earlier model")
    backend.create_model(weights, name="earlier")  # must survive the rollback
    before = _state(backend)
    action = UploadAction(
        {"dataset": 1, "fail_after_upload": fail_after_upload},
        client=backend,
        runtime=runtime(),
        work_dir=tmp_path / "work",
    )
    outcome = action.run()
    assert outcome.status == status
    assert any(entry.label.startswith("delete model 2") and entry.ok for entry in outcome.rollback)
    assert _state(backend) == before
    assert [m.name for m in backend.list_models()] == ["earlier"]
    assert not (tmp_path / "work" / "model.bin").exists()  # the training step's rollback


def test_a_keyboard_interrupt_at_the_final_report_deletes_the_model(backend: LocalBackend, tmp_path: Path) -> None:
    before = _state(backend)
    action = UploadAction({"dataset": 1}, client=backend, runtime=Raising(KeyboardInterrupt()), work_dir=tmp_path / "w")
    with pytest.raises(KeyboardInterrupt):
        action.run()
    assert _state(backend) == before
    assert backend.list_models() == []


class DeleteItMeanwhile(BaseStep[TrainContext]):
    """Someone deletes the uploaded model, then the run fails."""

    @property
    def name(self) -> str:
        return "meddle"

    @property
    def progress_weight(self) -> float:
        return 0.1

    def execute(self, context: TrainContext) -> StepResult:
        assert context.model is not None
        context.client.delete_model(context.model.id)
        raise RuntimeError("after someone deleted the model")


class MeddlingAction(UploadAction):
    def setup_steps(self, registry: StepRegistry[TrainContext]) -> None:
        super().setup_steps(registry)
        registry.register(DeleteItMeanwhile())


def test_the_plan_shows_the_upload_can_roll_back(backend: LocalBackend) -> None:
    plan = UploadAction({"dataset": 1}, client=backend).plan()
    assert [(p.name, p.can_roll_back) for p in plan] == [("train", True), ("upload_model", True)]


def test_the_undo_is_idempotent(backend: LocalBackend, tmp_path: Path) -> None:
    before = _state(backend)
    outcome = MeddlingAction({"dataset": 1}, client=backend, work_dir=tmp_path / "work").run()
    assert outcome.status == "failed" and outcome.error == "Step 'meddle' failed: RuntimeError: after someone deleted the model"
    assert [e.ok for e in outcome.rollback if e.label.startswith("delete model")] == [True]
    assert _state(backend) == before
