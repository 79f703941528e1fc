"""The page's multi-step training example, on the embedded local backend, recorded as a job.

Run it: ``python examples/multi_step_training.py`` (everything goes to a temporary folder), or
through the command line against your own backend::

    steprail run examples/multi_step_training.py:MyTrainAction -p dataset=1 -p epochs=5

It shows a custom params model, a custom context (``MyTrainContext``) typed end to end, steps
wrapped in ``LoggingStep``, per-step progress and metrics, rollback of the model file and of the
model record, and the job record the run leaves behind. ``context.client`` is the backend the
action was given (without one, a local backend under ``STEPRAIL_HOME`` or ``./.steprail``).
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from steprail import BaseStep, LoggingStep, StepRegistry, StepResult
from steprail.actions import BaseTrainAction
from steprail.actions.train import BaseTrainParams, TrainContext
from steprail.datasets import LocalBackend, make_sample_dataset
from steprail.jobs import ConsoleRuntime, FanOutRuntime, JobRecord, JobRuntime, JobStore


class MyTrainParams(BaseTrainParams):
    """Training parameters."""

    dataset: int
    epochs: int = 10
    batch_size: int = 32


@dataclass
class MyTrainContext(TrainContext):
    """Extended training context."""

    augmentation_config: dict[str, Any] = field(default_factory=dict)
    validation_results: list[float] = field(default_factory=list)


class LoadDatasetStep(BaseStep[TrainContext]):
    """Downloads the dataset named by ``params['dataset']`` (works on any TrainContext)."""

    @property
    def name(self) -> str:
        return "load_dataset"

    @property
    def progress_weight(self) -> float:
        return 0.1

    def execute(self, context: TrainContext) -> StepResult:
        dataset = context.params.get("dataset")
        if not isinstance(dataset, int):
            raise ValueError("load_dataset needs params['dataset'], a dataset id")
        context.log("dataset_load_start", {"dataset": dataset})
        folder = Path(tempfile.mkdtemp(prefix="steprail-load-")) / "data"
        context.on_rollback(lambda: _remove_tree(folder.parent), label=f"remove {folder.parent}")
        download = context.client.download_dataset(dataset, folder)
        context.dataset = download.model_dump()
        context.log("dataset_load_complete", {"count": download.count})
        return StepResult(success=True, data={"dataset_size": download.count})


class TrainModelStep(BaseStep[MyTrainContext]):
    """Trains for ``epochs`` and writes a model file (needs the custom context)."""

    @property
    def name(self) -> str:
        return "train"

    @property
    def progress_weight(self) -> float:
        return 0.7

    def execute(self, context: MyTrainContext) -> StepResult:
        epochs = int(context.params.get("epochs", 10))
        loss = 1.0
        for epoch in range(epochs):
            loss = 1.0 / (epoch + 1)  # stands in for real training
            context.validation_results = [*context.validation_results, loss]
            context.set_progress(epoch + 1, epochs)
            context.set_metrics({"loss": loss, "epoch": epoch})
        model_path = Path(tempfile.mkdtemp(prefix="steprail-model-")) / "model.json"
        model_path.write_text(json.dumps({"final_loss": loss, "epochs": epochs}))
        context.model_path = str(model_path)
        return StepResult(success=True, data={"final_loss": loss}, rollback_data={"model_path": context.model_path})

    def rollback(self, context: MyTrainContext, result: StepResult) -> None:
        model_path = result.rollback_data.get("model_path")
        if model_path:
            Path(str(model_path)).unlink(missing_ok=True)


class UploadModelStep(BaseStep[TrainContext]):
    """Creates the model record in the backend."""

    @property
    def name(self) -> str:
        return "upload_model"

    @property
    def progress_weight(self) -> float:
        return 0.2

    def execute(self, context: TrainContext) -> StepResult:
        context.set_progress(0, 100)
        # The page's single-mapping form; a missing model_path (None) is refused by the backend.
        client = context.client
        model = client.create_model(
            {"file": context.model_path, "name": "trained-model", "dataset": context.params.get("dataset")}
        )
        context.on_rollback(lambda: client.delete_model(model.id), label=f"delete model {model.id}")
        context.model = model
        context.set_progress(100, 100)
        return StepResult(success=True, data={"model_id": model["id"]})


class MyTrainAction(BaseTrainAction[MyTrainParams, MyTrainContext]):
    """Step-based training action with its own context type."""

    def setup_steps(self, registry: StepRegistry[MyTrainContext]) -> None:
        registry.register(LoggingStep(LoadDatasetStep()))
        registry.register(LoggingStep(TrainModelStep()))
        registry.register(LoggingStep(UploadModelStep()))


def _remove_tree(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def main(home: Path | None = None, epochs: int = 5) -> JobRecord:
    """Make a sample dataset, import it, run the action as a recorded job; return the record."""
    home = home if home is not None else Path(tempfile.mkdtemp(prefix="steprail-example-"))
    sample = make_sample_dataset(home / "sample", items=12, seed=1)
    with LocalBackend(home / "backend") as backend, JobStore(home / "jobs.sqlite3") as store:
        dataset = backend.import_dataset(sample.path, name="example").dataset
        runtime = FanOutRuntime(JobRuntime(store), ConsoleRuntime(plain=True))
        action = MyTrainAction({"dataset": dataset.id, "epochs": epochs}, runtime=runtime, client=backend)
        outcome = action.run()
        outcome.raise_for_status()
        job = store.list_jobs(1)[0]
        record = store.get(job.id)
    print(f"job {record.id}: {record.status}, steps: {[(s.name, s.status) for s in record.steps]}")
    print(f"metrics: {record.metrics}")
    print(f"model record: {record.steps[-1].data}")
    return record


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
