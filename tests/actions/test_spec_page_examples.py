"""The spec page's training examples, as printed, run on steprail and are clean under the
project's strict mypy (this module is in its ``files``).

Between the two ``# ---- page`` markers below stands the page's "Example: Multi-Step Training"
with only its import lines mapped to steprail. Its ``TrainModelStep`` names ``/tmp/model.pt``
without writing it (the page leaves "your own training logic" out), so the tests write that file
first, under a lock, and put back whatever was there.

Further down, the page's ``setup_steps`` from "Using Steps in Actions" (with the dataset steps)
and from "BaseTrainAction Integration" stand verbatim inside classes of ours; the steps they name
that the page does not define (``MyAugmentationStep``, ``MyTrainStep``, ``PreprocessStep``) are
ours. The page's "Custom Context" does not pass ``--strict`` (bare ``dict`` and ``list``): it is
kept as text, run here, and type-checked by ``test_typing.py``, which expects exactly those two
errors.
"""

# ---- page: "Example: Multi-Step Training" (imports mapped to steprail) ----
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from steprail.actions import BaseTrainAction
from steprail.actions.train import BaseTrainParams, TrainContext
from steprail import BaseStep, StepRegistry, StepResult, LoggingStep


class MyTrainParams(BaseTrainParams):
    """Training parameters."""
    dataset: int
    epochs: int = 100
    batch_size: int = 32


# Step definitions
class LoadDatasetStep(BaseStep[TrainContext]):
    @property
    def name(self) -> str:
        return 'load_dataset'

    @property
    def progress_weight(self) -> float:
        return 0.1

    def execute(self, context: TrainContext) -> StepResult:
        dataset = context.params.get('dataset')
        context.log('dataset_load_start', {'dataset': dataset})

        # Load dataset
        context.dataset = context.client.get_data_collection(dataset)

        context.log('dataset_load_complete', {'count': len(context.dataset)})
        return StepResult(success=True, data={'dataset_size': len(context.dataset)})


class TrainModelStep(BaseStep[TrainContext]):
    @property
    def name(self) -> str:
        return 'train'

    @property
    def progress_weight(self) -> float:
        return 0.7

    def execute(self, context: TrainContext) -> StepResult:
        epochs = context.params.get('epochs', 100)

        for epoch in range(epochs):
            # Train one epoch (implement your own training logic)
            loss = 1.0 / (epoch + 1)  # Example: decreasing loss
            context.set_progress(epoch + 1, epochs)
            context.set_metrics({'loss': loss, 'epoch': epoch})

        context.model_path = '/tmp/model.pt'
        return StepResult(
            success=True,
            data={'final_loss': loss},
            rollback_data={'model_path': context.model_path},
        )

    def rollback(self, context: TrainContext, result: StepResult) -> None:
        # Clean up temporary files created during training
        model_path = result.rollback_data.get('model_path')
        if model_path:
            Path(model_path).unlink(missing_ok=True)


class UploadModelStep(BaseStep[TrainContext]):
    @property
    def name(self) -> str:
        return 'upload_model'

    @property
    def progress_weight(self) -> float:
        return 0.2

    def execute(self, context: TrainContext) -> StepResult:
        context.set_progress(0, 100)

        model = context.client.create_model({
            'file': context.model_path,
            'name': 'trained-model',
        })
        context.model = model

        context.set_progress(100, 100)
        return StepResult(success=True, data={'model_id': model['id']})


# Action definition
class MyTrainAction(BaseTrainAction[MyTrainParams]):
    """Step-based training action."""

    def setup_steps(self, registry: StepRegistry[TrainContext]) -> None:
        # Wrap all steps with logging
        registry.register(LoggingStep(LoadDatasetStep()))
        registry.register(LoggingStep(TrainModelStep()))
        registry.register(LoggingStep(UploadModelStep()))
# ---- end of page ----

import fcntl  # noqa: E402 - the page's code comes first, as printed
import tempfile  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402
from pydantic import ValidationError  # noqa: E402

from steprail import RuntimeContext  # noqa: E402
from steprail.datasets import (  # noqa: E402 - the page imports these from its steps module
    ConvertDatasetStep,
    ExportDatasetStep,
    LocalBackend,
    make_sample_dataset,
)

PAGE_MODEL_PATH = Path("/tmp/model.pt")  # what the page's TrainModelStep sets as model_path

# The page's "Custom Context", verbatim but for the import (run below, type-checked in
# test_typing.py): `dict` and `list` without type arguments are errors under --strict.
PAGE_CUSTOM_CONTEXT = """\
from dataclasses import dataclass, field
from steprail.actions.train import TrainContext


@dataclass
class MyTrainContext(TrainContext):
    \"\"\"Extended training context.\"\"\"
    augmentation_config: dict = field(default_factory=dict)
    validation_results: list = field(default_factory=list)
"""


@pytest.fixture
def page_model_file() -> Iterator[bytes]:
    """Write /tmp/model.pt for the page's upload; one test at a time (pytest-xdist runs several
    processes), and whatever was there before is put back."""
    with (Path(tempfile.gettempdir()) / "steprail-page-model.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        saved = PAGE_MODEL_PATH.read_bytes() if PAGE_MODEL_PATH.is_file() else None
        content = f"weights {uuid.uuid4().hex}".encode()
        PAGE_MODEL_PATH.write_bytes(content)
        try:
            yield content
        finally:
            if saved is None:
                PAGE_MODEL_PATH.unlink(missing_ok=True)
            else:
                PAGE_MODEL_PATH.write_bytes(saved)
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[LocalBackend]:
    with LocalBackend(tmp_path / "backend") as opened:
        yield opened


@pytest.fixture
def dataset_id(backend: LocalBackend, tmp_path: Path) -> int:
    sample = make_sample_dataset(tmp_path / "sample", items=5, seed=7)
    return backend.import_dataset(sample.path, name="shapes").dataset.id


def test_multi_step_training_runs_end_to_end(
    backend: LocalBackend, dataset_id: int, page_model_file: bytes
) -> None:
    runtime = RuntimeContext()
    outcome = MyTrainAction({"dataset": dataset_id, "epochs": 4}, runtime=runtime, client=backend).run()
    assert outcome.status == "success", outcome.error
    assert [(s.name, s.status) for s in outcome.steps] == [
        ("logged_load_dataset", "success"),
        ("logged_train", "success"),
        ("logged_upload_model", "success"),
    ]

    collection = backend.get_data_collection(dataset_id)
    assert collection["count"] == 5 and collection["name"] == "shapes"
    events = [(entry.event, entry.data) for entry in runtime.logs if entry.event != "step_end"]
    assert events == [
        ("step_start", {"step": "load_dataset"}),
        ("dataset_load_start", {"dataset": dataset_id}),
        # The page logs len() of the collection: the number of its keys, not of items.
        ("dataset_load_complete", {"count": len(collection)}),
        ("step_start", {"step": "train"}),
        ("step_start", {"step": "upload_model"}),
    ]
    ends = runtime.events("step_end")
    assert [(e["step"], e["success"], e["skipped"]) for e in ends] == [
        ("load_dataset", True, False),
        ("train", True, False),
        ("upload_model", True, False),
    ]
    assert all(isinstance(e["elapsed"], float) and e["elapsed"] >= 0 for e in ends)
    assert [m.value for m in runtime.metrics] == [{"loss": 1.0 / (e + 1), "epoch": e} for e in range(4)]
    overall = [(p.current, p.total) for p in runtime.progress if p.step is None]
    assert overall[-1] == (100, 100) and [c for c, _ in overall] == sorted({c for c, _ in overall})

    (record,) = backend.list_models()
    assert record["id"] == 1 and record.name == "trained-model"
    assert record.metadata == {"name": "trained-model"}
    assert Path(record.file).read_bytes() == page_model_file
    context = outcome.context
    assert isinstance(context, TrainContext)
    assert context.model == record and context.model_path == "/tmp/model.pt"
    assert context.dataset == collection
    assert [r.data for r in context.step_results] == [
        {"dataset_size": len(collection)},
        {"final_loss": 0.25},
        {"model_id": 1},
    ]


def test_multi_step_training_with_an_unknown_dataset_fails_clearly(
    backend: LocalBackend, tmp_path: Path
) -> None:
    runtime = RuntimeContext()
    outcome = MyTrainAction({"dataset": 99}, runtime=runtime, client=backend).run()
    assert outcome.status == "failed"
    assert outcome.error == f"Step 'logged_load_dataset' failed: DatasetNotFoundError: dataset 99 not found in the backend at {backend.root}"
    assert runtime.events("step_end")[0]["success"] is False
    assert backend.list_models() == []


def test_the_page_upload_refuses_a_missing_model_file_and_stores_nothing(
    backend: LocalBackend, tmp_path: Path
) -> None:
    context = TrainContext(runtime_ctx=RuntimeContext(), client=backend)
    with pytest.raises(ValueError, match=r"needs 'file'.*\(got None"):
        UploadModelStep().execute(context)  # no training step ran: model_path is None
    context.model_path = str(tmp_path / "nowhere.pt")
    with pytest.raises(FileNotFoundError, match="nowhere.pt"):
        UploadModelStep().execute(context)
    assert backend.list_models() == [] and context.model is None


# "Using Steps in Actions": the page's setup_steps with the built-in dataset steps, verbatim in
# a class of ours; the two custom steps it names are ours.


class MyAugmentationStep(BaseStep[TrainContext]):
    """Counts the YOLO label files the conversion wrote."""

    @property
    def name(self) -> str:
        return "augment"

    @property
    def progress_weight(self) -> float:
        return 0.1

    def execute(self, context: TrainContext) -> StepResult:
        labels = sorted(Path(context.dataset["path"]).glob("labels/*/*.txt"))
        return StepResult(data={"label_files": len(labels)})


class MyTrainStep(BaseStep[TrainContext]):
    """Writes a model file beside the converted dataset (or fails when asked to)."""

    @property
    def name(self) -> str:
        return "my_train"

    @property
    def progress_weight(self) -> float:
        return 0.5

    def execute(self, context: TrainContext) -> StepResult:
        if context.params.get("fail_training"):
            raise RuntimeError("out of memory")
        model = Path(context.dataset["path"]).with_name("model.txt")
        model.write_text("trained")
        context.model_path = str(model)
        return StepResult(data={"config": context.dataset["config_path"]})


class DatasetStepsParams(BaseTrainParams):
    fail_training: bool = False


class DatasetStepsAction(BaseTrainAction[DatasetStepsParams]):
    def setup_steps(self, registry: StepRegistry[TrainContext]) -> None:
        # Use SDK steps for data handling
        registry.register(ExportDatasetStep())
        registry.register(ConvertDatasetStep(target_format='yolo'))

        # Add custom preprocessing
        registry.register(MyAugmentationStep())

        # Custom training step
        registry.register(MyTrainStep())


def test_dataset_steps_in_setup_steps_export_and_convert(
    backend: LocalBackend, dataset_id: int, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    outcome = DatasetStepsAction({"dataset": dataset_id}, client=backend, work_dir=work).run()
    assert outcome.status == "success", outcome.error
    assert [s.name for s in outcome.steps] == ["export_dataset", "convert_to_yolo", "augment", "my_train"]
    context = outcome.context
    assert isinstance(context, TrainContext)
    assert context.dataset["format"] == "yolo" and context.dataset["path"] == str(work / "dataset_yolo")
    assert Path(context.dataset["config_path"]).is_file()
    assert context.dataset["source_path"] == str(work / "dataset")
    assert outcome.steps[2].data == {"label_files": 5}
    assert context.model_path == str(work / "model.txt")


def test_dataset_steps_are_rolled_back_when_training_fails(
    backend: LocalBackend, dataset_id: int, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    outcome = DatasetStepsAction({"dataset": dataset_id, "fail_training": True}, client=backend, work_dir=work).run()
    assert outcome.status == "failed" and outcome.error == "Step 'my_train' failed: RuntimeError: out of memory"
    assert [(e.step, e.ok) for e in outcome.rollback if e.kind == "undo"] == [
        ("convert_to_yolo", True),
        ("export_dataset", True),
    ]
    assert not (work / "dataset").exists() and not (work / "dataset_yolo").exists()


# "BaseTrainAction Integration": the page's setup_steps, verbatim in a class of ours (the page
# calls it MyTrainAction too); PreprocessStep is ours, the other steps are the page's above.


class PreprocessStep(BaseStep[TrainContext]):
    @property
    def name(self) -> str:
        return "preprocess"

    @property
    def progress_weight(self) -> float:
        return 0.1

    def execute(self, context: TrainContext) -> StepResult:
        return StepResult(data={"items": context.dataset["count"]})


class IntegrationTrainAction(BaseTrainAction[MyTrainParams]):
    """Step-based training action."""

    def setup_steps(self, registry: StepRegistry[TrainContext]) -> None:
        """Register workflow steps."""
        registry.register(LoadDatasetStep())
        registry.register(PreprocessStep())
        registry.register(TrainModelStep())
        registry.register(UploadModelStep())

    # Don't implement execute() - step-based execution is automatic when steps are registered


def test_integration_example_runs_its_steps_instead_of_execute(
    backend: LocalBackend, dataset_id: int, page_model_file: bytes
) -> None:
    outcome = IntegrationTrainAction({"dataset": dataset_id, "epochs": 2}, client=backend).run()
    assert outcome.status == "success", outcome.error
    assert [s.name for s in outcome.steps] == ["load_dataset", "preprocess", "train", "upload_model"]
    assert outcome.steps[1].data == {"items": 5}
    assert Path(backend.get_model(1).file).read_bytes() == page_model_file


def test_the_page_custom_context_runs_and_validates() -> None:
    namespace: dict[str, Any] = {"__name__": "page_custom_context"}
    exec(PAGE_CUSTOM_CONTEXT, namespace)  # noqa: S102 - the page's own text, fixed above
    context_class = namespace["MyTrainContext"]
    assert TrainContext in context_class.__mro__
    context = context_class(runtime_ctx=RuntimeContext())
    assert (context.augmentation_config, context.validation_results) == ({}, [])
    context.validation_results = [0.5]
    with pytest.raises(ValidationError, match="augmentation_config"):
        context.augmentation_config = ["not", "a", "dict"]
    assert context.augmentation_config == {}

