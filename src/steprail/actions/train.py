"""Training actions: :class:`BaseTrainAction`, its context :class:`TrainContext` and
:class:`BaseTrainParams`.

A training action builds its workflow in :meth:`BaseTrainAction.setup_steps`. When that registers
any step, the steps run through the orchestrator; when it registers none, :meth:`~BaseAction.execute`
runs instead. With :attr:`BaseTrainAction.target_format` set and ``setup_steps`` left alone, the
workflow is: export the dataset, convert it, train (your :meth:`BaseTrainAction.train`), upload
the model.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, cast

from pydantic import BaseModel, ConfigDict
from typing_extensions import TypeVar

from .._flow import FLOW_ATTRIBUTE, StepFlow, declared_names
from .._orchestrator import FailurePolicy
from .._registry import StepRegistry
from .._result import StepResult
from .._runtime import RuntimeContext
from .._step import INSTANCE_FLOW
from ..datasets import (
    Backend,
    ConvertDatasetStep,
    DatasetContext,
    DatasetFormat,
    ExportDatasetStep,
    ModelRecord,
)
from ..datasets._steps import ConfiguredStep
from ._base import BaseAction, Workflow

__all__ = ["BaseTrainAction", "BaseTrainParams", "TrainContext", "TrainModelStep", "UploadModelStep"]


class BaseTrainParams(BaseModel):
    """Params every training action takes; subclass it to add your own (extra keys are kept).

    Attributes:
        dataset: The backend's id of the dataset to train on.
        splits: Only these splits of a categorized dataset (all by default).
        checkpoint: A model to start from (an id or a path), if any.
    """

    model_config = ConfigDict(extra="allow")

    dataset: int
    splits: list[str] | None = None
    checkpoint: int | str | None = None


@dataclass
class TrainContext(DatasetContext):
    """The state a training workflow's steps share.

    Besides ``params``, ``dataset`` and ``client`` (from :class:`~steprail.datasets.DatasetContext`):

    Attributes:
        model_path: The trained model's file, once a training step wrote it.
        model: The backend's record of the uploaded model.
    """

    model_path: str | None = None
    model: ModelRecord | None = None


P = TypeVar("P", bound=BaseTrainParams)
C = TypeVar("C", bound=TrainContext, default=TrainContext)

type TrainFunction[Ctx] = Callable[[Ctx], str | os.PathLike[str]]


class TrainModelStep[Ctx: TrainContext](ConfiguredStep[Ctx], provides=("model_path",)):
    """Runs a training function that writes a model file and returns its path.

    Named ``'train'`` unless given another name. Sets ``context.model_path``. Rollback deletes
    that file if it is still there.

    Declared data flow: provides ``model_path``, and requires the fields given as ``requires=``
    (what the training function reads: ``BaseTrainAction``'s default workflow passes
    ``("dataset",)``). A subclass may declare more with the class keywords; the instance's
    ``requires=`` is added to them.

    Args:
        train: The training function: reads the context, writes the model file, returns its path.
        name: The step's name.
        progress_weight: Its share of progress.
        requires: The context fields the training function reads (checked against the
            workflow's context when the run's plan is checked).
    """

    def __init__(
        self,
        train: TrainFunction[Ctx],
        *,
        name: str = "train",
        progress_weight: float = 0.6,
        requires: tuple[str, ...] = (),
    ) -> None:
        super().__init__(name=name, progress_weight=progress_weight)
        self._train = train
        owner = f"TrainModelStep {name!r}"
        declared = type(self)._class_flow
        extra = tuple(field for field in declared_names(owner, "requires", requires) if field not in declared.requires)
        self._flow = StepFlow((*declared.requires, *extra), declared.provides, declared.reads)

    # The class's own declaration (the keywords above, or a subclass's); each instance adds its
    # ``requires=`` to it, so the plan check asks the instance (INSTANCE_FLOW).
    _class_flow: ClassVar[StepFlow] = StepFlow()

    def __init_subclass__(
        cls,
        *,
        requires: tuple[str, ...] | None = None,
        provides: tuple[str, ...] | None = None,
        reads: tuple[str, ...] | None = None,
        **kwargs: object,
    ) -> None:
        """Keep a subclass's own class keywords as its class flow; instances still declare."""
        super().__init_subclass__(requires=requires, provides=provides, reads=reads, **kwargs)
        _move_class_flow(cls)

    def declared_flow(self) -> StepFlow:
        """The class's declaration plus the instance's ``requires=``."""
        return self._flow

    def execute(self, context: Ctx) -> StepResult:
        """Train; fail if the function returns a path that is not a file."""
        path = Path(os.fspath(self._train(context)))
        if not path.is_file():
            raise FileNotFoundError(f"the training function returned {str(path)!r}, which is not a file")
        context.model_path = str(path)
        return StepResult(data={"model_path": str(path)}, rollback_data={"model_path": str(path)})

    def rollback(self, context: Ctx, result: StepResult) -> None:
        """Delete the model file (idempotent)."""
        model_path = result.rollback_data.get("model_path")
        if model_path:
            Path(str(model_path)).unlink(missing_ok=True)
        context.model_path = None


def _move_class_flow(cls: type[TrainModelStep[Any]]) -> None:
    flow = getattr(cls, FLOW_ATTRIBUTE)
    if flow is not INSTANCE_FLOW:
        cls._class_flow = flow
        setattr(cls, FLOW_ATTRIBUTE, INSTANCE_FLOW)


_move_class_flow(TrainModelStep)


class UploadModelStep[Ctx: TrainContext](ConfiguredStep[Ctx], requires=("model_path",), provides=("model",)):
    """Creates a model record in ``context.client`` from ``context.model_path``.

    Named ``'upload_model'`` unless given another name. Declared data flow: requires
    ``model_path``, provides ``model``. Sets ``context.model``; the result data
    holds ``model_id`` and the stored ``file``. As soon as the record exists the step registers
    its deletion with ``context.on_rollback``, so a failure or a cancellation after the upload
    (later in this step, in a later step, or in the run's final progress report) deletes the
    record and its stored file again and leaves the backend as it was.

    Args:
        model_name: The record's name (the file's stem by default).
        metadata: Builds the record's metadata from the context (dataset id and the params by
            default).
    """

    def __init__(
        self,
        *,
        model_name: str | None = None,
        metadata: Callable[[Ctx], Mapping[str, Any]] | None = None,
        name: str = "upload_model",
        progress_weight: float = 0.1,
    ) -> None:
        super().__init__(name=name, progress_weight=progress_weight)
        self._model_name = model_name
        self._metadata = metadata

    def execute(self, context: Ctx) -> StepResult:
        """Upload the model file with its metadata."""
        if context.model_path is None:
            raise ValueError("UploadModelStep needs context.model_path: run a training step before it")
        context.set_progress(0, 1)
        metadata = (
            dict(self._metadata(context))
            if self._metadata is not None
            else {"dataset": context.params.get("dataset"), "params": context.params}
        )
        client = context.client  # the backend the record is in, even if the context changes
        record = client.create_model(context.model_path, metadata, name=self._model_name)
        context.on_rollback(_DeleteModel(client, record.id), label=f"delete model {record.id}")
        context.model = record
        context.set_progress(1, 1)
        context.log("model_uploaded", {"model_id": record.id, "file": record.file})
        return StepResult(data={"model_id": record.id, "file": record.file}, rollback_data={"model_id": record.id})


class _DeleteModel:
    """Undo for an upload: delete the model record and its file (idempotent)."""

    def __init__(self, client: Backend, model_id: int) -> None:
        self.client = client
        self.model_id = model_id

    def __call__(self) -> None:
        self.client.delete_model(self.model_id)

    def __repr__(self) -> str:
        return f"delete model {self.model_id}"


class BaseTrainAction(BaseAction[P], Generic[P, C]):
    """A training action: ``class MyTrainAction(BaseTrainAction[MyTrainParams])``.

    With a context of your own, name it as the second type argument:
    ``BaseTrainAction[MyTrainParams, MyTrainContext]``; then :meth:`setup_steps` receives a
    ``StepRegistry[MyTrainContext]`` and :meth:`create_context` builds a ``MyTrainContext``.

    Args:
        params: The raw params or a ``P``; validated before anything runs.
        runtime: Where the job's events go (an in-memory ``RuntimeContext()`` by default).
        client: The backend datasets come from and models go to; by default the context's
            own, a lazy :class:`~steprail.datasets.LocalBackend` at
            :func:`~steprail.datasets.default_backend_root`.
        work_dir: Where the run writes (exported data, converted data, the model); a new
            temporary folder by default.
        handle_signals: See :class:`~steprail.actions.BaseAction`.
        on_failure: See :class:`~steprail.actions.BaseAction`.
        checkpoints: See :class:`~steprail.actions.BaseAction`.

    Attributes:
        target_format: Set it (``'yolo'``, ``'coco'`` or ``'voc'``) to get the default workflow.
        context_class: The context type (found from the second type argument).
    """

    target_format: ClassVar[DatasetFormat | None] = None
    context_class: ClassVar[type[TrainContext]] = TrainContext

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):
            args: tuple[object, ...] = getattr(base, "__args__", ())
            context_type = args[1] if len(args) == 2 else None
            if isinstance(context_type, type) and issubclass(context_type, TrainContext):
                cls.context_class = context_type

    def __init__(
        self,
        params: P | Mapping[str, Any] | None = None,
        *,
        runtime: RuntimeContext | None = None,
        client: Backend | None = None,
        work_dir: str | os.PathLike[str] | None = None,
        handle_signals: bool = False,
        on_failure: FailurePolicy | None = None,
        checkpoints: bool | None = None,
    ) -> None:
        super().__init__(
            params, runtime=runtime, handle_signals=handle_signals, on_failure=on_failure, checkpoints=checkpoints
        )
        self.client = client
        self._work_dir = Path(os.fspath(work_dir)).absolute() if work_dir is not None else None

    @property
    def work_dir(self) -> Path:
        """The run's folder (made on first use; a new temporary folder unless one was given)."""
        if self._work_dir is None:
            self._work_dir = Path(tempfile.mkdtemp(prefix="steprail-train-"))
        self._work_dir.mkdir(parents=True, exist_ok=True)
        return self._work_dir

    @work_dir.setter
    def work_dir(self, folder: str | os.PathLike[str]) -> None:
        self._work_dir = Path(os.fspath(folder)).absolute()

    def create_context(self) -> C:
        """A new context of :attr:`context_class` with the params, the client and the runtime.

        When a work folder was given and the params name no ``output_dir``, the export goes to
        ``work_dir/dataset`` (and the conversion beside it); otherwise to a temporary folder.
        """
        params = self.params.model_dump(mode="json", warnings=False)  # plan() may hold unvalidated defaults
        if self._work_dir is not None:
            params.setdefault("output_dir", str(self._work_dir / "dataset"))
        if self.client is None:  # the context's default: a lazy local backend
            return cast(C, self.context_class(runtime_ctx=self.runtime, params=params))
        return cast(C, self.context_class(runtime_ctx=self.runtime, params=params, client=self.client))

    def setup_steps(self, registry: StepRegistry[C]) -> None:
        """Register the workflow's steps. The default, when :attr:`target_format` is set:
        ``export_dataset``, ``convert_to_<format>``, ``train`` (calls :meth:`train`) and
        ``upload_model``. Register nothing to have :meth:`execute` run instead."""
        if self.target_format is None:
            return
        registry.register(ExportDatasetStep(progress_weight=0.1))
        registry.register(ConvertDatasetStep(target_format=self.target_format, progress_weight=0.1))
        # train()'s documented contract is to read context.dataset: the step declares it.
        registry.register(TrainModelStep(self.train, progress_weight=0.7, requires=("dataset",)))
        registry.register(UploadModelStep(progress_weight=0.1))

    def train(self, context: C) -> str | os.PathLike[str]:
        """Your training code for the default workflow: read ``context.dataset``, report progress
        and metrics through the context, write the model file and return its path."""
        raise NotImplementedError(
            f"{type(self).__name__} sets target_format but does not implement train(context)"
        )

    def build_workflow(self) -> Workflow[Any] | None:
        """Call :meth:`setup_steps`; ``None`` (run :meth:`execute`) when it registered nothing."""
        registry = StepRegistry[C]()
        self.setup_steps(registry)
        if len(registry) == 0:
            return None
        return Workflow(registry, self.create_context())
