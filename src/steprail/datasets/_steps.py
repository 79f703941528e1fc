"""The built-in dataset steps: :class:`ExportDatasetStep` and :class:`ConvertDatasetStep`.

Both run on a :class:`DatasetContext` (or any subclass of it, such as the training action's
context). Each registers the removal of its output folder with ``context.on_rollback`` as soon as
it has made it, so a failure inside the step, or in a later step, removes exactly what the step
created and nothing else.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from steprail._checkpoint import NOT_CHECKPOINTED
from steprail._context import BaseStepContext
from steprail._result import StepResult
from steprail._step import BaseStep

from ._backend import Backend
from ._coco import coco_to_dmv2, dmv2_to_coco
from ._convert import ConversionResult, DatasetFormat, OutputExistsError
from ._local import LocalBackend
from ._shards import ShardExecutor, ShardTarget, convert_in_shards
from ._voc import dmv2_to_voc, voc_to_dmv2
from ._yolo import dmv2_to_yolo, yolo_to_dmv2

__all__ = [
    "ConfiguredStep",
    "ConvertDatasetStep",
    "DatasetContext",
    "ExportDatasetStep",
]

type _Converter = Callable[[Path, Path, Mapping[str, int] | None], ConversionResult]

_CONVERTERS: Final[dict[tuple[str, str], _Converter]] = {
    ("dm_v2", "yolo"): lambda s, o, m: dmv2_to_yolo(s, o, class_map=m),
    ("dm_v2", "coco"): lambda s, o, m: dmv2_to_coco(s, o, class_map=m),
    ("dm_v2", "voc"): lambda s, o, m: dmv2_to_voc(s, o, class_map=m),
    ("yolo", "dm_v2"): lambda s, o, m: yolo_to_dmv2(s, o),
    ("coco", "dm_v2"): lambda s, o, m: coco_to_dmv2(s, o),
    # VOC names classes without ids: a class map is how ids get into the manifest.
    ("voc", "dm_v2"): lambda s, o, m: voc_to_dmv2(s, o, class_map=m),
}


def _class_map(value: object) -> Mapping[str, int] | None:
    # params['class_map']: class name -> id, to write the ids a pretrained model expects.
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
        for k, v in value.items()
    ):
        raise TypeError(f"params['class_map'] must map class names to int ids, got {value!r}")
    return {str(k): int(v) for k, v in value.items()}


def _default_client() -> Backend:
    # Lazy: making a context must not create the backend's folder or open its catalogue.
    return LocalBackend(lazy=True)


@dataclass
class DatasetContext(BaseStepContext):
    """A context for dataset workflows.

    Attributes:
        params: The run's parameters; the steps read ``dataset``, ``splits``, ``output_dir`` and
            ``convert_output_dir`` from it and never change it.
        dataset: What the last dataset step produced (``path``, ``format``, ...), or what a step
            of yours put there (e.g. ``client.get_data_collection(id)``); empty until then.
        client: The backend datasets come from and models go to. By default a lazy
            :class:`~steprail.datasets.LocalBackend` at
            :func:`~steprail.datasets.default_backend_root`, which makes its folder only when a
            step first uses it.
    """

    params: dict[str, Any] = field(default_factory=dict)
    dataset: dict[str, Any] = field(default_factory=dict)
    # A connection: never saved in a checkpoint; a resumed run gets the action's client.
    client: Backend = field(default_factory=_default_client, metadata=NOT_CHECKPOINTED)


class ConfiguredStep[C: BaseStepContext](BaseStep[C]):
    """A step whose name and progress weight are chosen when it is made.

    The built-in steps derive from it, so a workflow can register two of a kind under other
    names, or weigh them to fit its own steps.
    """

    def __init__(self, *, name: str, progress_weight: float) -> None:
        self._name = name
        self._weight = progress_weight

    @property
    def name(self) -> str:
        """The name given at construction (each built-in step has its own default)."""
        return self._name

    @property
    def progress_weight(self) -> float:
        """The step's share of the run's progress, as given at construction."""
        return self._weight


class _RemoveCreated:
    """Undo for a folder a step made: remove it, and the parents made for it, if still there."""

    def __init__(self, folder: Path, made_parents: list[Path]) -> None:
        self.folder = folder
        self.made_parents = made_parents

    def __call__(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        for parent in self.made_parents:
            try:
                parent.rmdir()
            except OSError:
                break

    def __repr__(self) -> str:
        return f"remove {self.folder}"


def _claim_folder(folder: Path) -> _RemoveCreated:
    """Check ``folder`` can be created by the step and say how to undo it (does not create)."""
    folder = folder.absolute()
    if folder.exists():
        if not folder.is_dir() or any(folder.iterdir()):
            raise OutputExistsError(f"output folder {str(folder)!r} exists and is not empty")
        # An empty folder that was already there: the undo must leave it, so only its content
        # goes. Removing it and re-making it empty keeps the tree identical for the caller.
        return _RemoveCreatedContent(folder)
    made: list[Path] = []
    parent = folder.parent
    while not parent.exists():
        made.append(parent)
        parent = parent.parent
    return _RemoveCreated(folder, made)


class _RemoveCreatedContent(_RemoveCreated):
    def __init__(self, folder: Path) -> None:
        super().__init__(folder, [])

    def __call__(self) -> None:
        if self.folder.is_dir():
            for child in self.folder.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)


class ExportDatasetStep(ConfiguredStep[DatasetContext], provides=("dataset",)):
    """Download a dataset from the backend into a local folder, as DM v2.

    Reads ``dataset`` (required: an id or a name), ``splits`` and ``output_dir`` (optional; a new
    temporary folder by default) from ``context.params``. Sets ``context.dataset`` to ``path``,
    ``format`` (``'dm_v2'``), ``is_categorized`` and ``count``; the result data holds ``path``
    and ``count``. Rollback removes the downloaded folder (and parents made for it).

    Declared data flow: provides ``dataset`` (see docs/data-flow.md).
    """

    def __init__(self, *, name: str = "export_dataset", progress_weight: float = 0.2) -> None:
        """Name and weight can be changed, e.g. to register two exports in one workflow."""
        super().__init__(name=name, progress_weight=progress_weight)

    def execute(self, context: DatasetContext) -> StepResult:
        """Download the dataset named by ``context.params['dataset']``."""
        ref = context.params.get("dataset")
        if ref is None:
            raise ValueError("ExportDatasetStep needs params['dataset'] (a dataset id or name)")
        if isinstance(ref, bool) or not isinstance(ref, int | str):
            raise TypeError(
                f"params['dataset'] must be a dataset id or name, got {type(ref).__name__}"
            )
        splits = context.params.get("splits")
        if splits is not None and (
            isinstance(splits, str) or not all(isinstance(s, str) for s in splits)
        ):
            raise TypeError(f"params['splits'] must be a list of split names, got {splits!r}")
        client = context.client
        record = client.get_dataset(ref)  # fails with the backend's "not found" naming ref
        output_dir = context.params.get("output_dir")
        if output_dir is None:
            target = Path(tempfile.mkdtemp(prefix=f"steprail-export-{record.id}-"))
            undo: _RemoveCreated = _RemoveCreated(target, [])
        else:
            target = Path(str(output_dir)).absolute()
            undo = _claim_folder(target)
        context.on_rollback(undo, label=f"remove exported dataset {target}")
        context.log("dataset_export_start", {"dataset": ref, "path": str(target)})
        download = client.download_dataset(
            ref, target, splits=list(splits) if splits is not None else None
        )
        context.dataset = {
            "path": download.path,
            "format": download.format,
            "is_categorized": download.is_categorized,
            "count": download.count,
            "dataset_id": record.id,
            "splits": download.splits,
        }
        context.set_progress(1, 1)
        context.log("dataset_export_complete", {"path": download.path, "count": download.count})
        return StepResult(
            data={"path": download.path, "count": download.count},
            rollback_data={"path": download.path},
        )


def _default_output(source: Path, target_format: str) -> Path:
    # A folder source: ``<folder>_<target>`` beside it. A file source (a COCO JSON, a YOLO
    # yaml): the file's folder is the dataset (or, for ``annotations/x.json``, its parent), so
    # the output goes beside that folder, named after both: ``<folder>_<file stem>_<target>``
    # (beside the file it would be inside the dataset, which converters refuse).
    if not source.is_file():
        return source.with_name(f"{source.name}_{target_format}")
    folder = source.parent
    if folder.name == "annotations" and folder.parent != folder:
        folder = folder.parent
    return folder.with_name(f"{folder.name}_{source.stem}_{target_format}")


class ConvertDatasetStep(ConfiguredStep[DatasetContext], requires=("dataset",), provides=("dataset",)):
    """Convert the dataset in ``context.dataset`` to another format.

    Supported: ``dm_v2`` to ``yolo``, ``coco`` or ``voc``, and ``yolo``, ``coco`` or ``voc`` to
    ``dm_v2`` (a YOLO or COCO source may then be a folder or the yaml / annotations file
    itself). The output goes to ``params['convert_output_dir']`` or, by default, a new folder
    beside the source named ``<source>_<target>``; for a file source, beside the folder holding
    it (``annotations/``'s parent for a file there), named ``<folder>_<file stem>_<target>``. ``params['class_map']`` (class name -> id),
    when given, fixes the class ids of a YOLO, COCO or VOC output, and gives a VOC source's
    classes their ids (VOC itself has names only). Sets ``context.dataset`` to ``path``, ``config_path``,
    ``format``, ``is_categorized``, ``source_path`` (plus ``classes``, ``count`` and
    ``audit_path``); the result data holds ``path``, ``config_path`` and the audit counts.
    Rollback removes the output folder.

    Declared data flow: requires and provides ``dataset``: an earlier step (an export) must fill
    it, or the registry must declare it an input (``StepRegistry(inputs=("dataset",))``).

    ``shards`` above 1, or a ``shard_executor`` (:class:`~steprail.datasets.RayShards` for a
    Ray cluster), convert ``dm_v2`` to ``yolo`` or ``coco`` in shards with
    :func:`~steprail.datasets.convert_in_shards`: the same output, byte for byte, with the
    step's progress moving as shards finish and items are merged (docs/ray-conversion.md).

    Raises:
        ValueError: at construction, for an unsupported pair of formats, or sharding asked for a
            pair it does not cover.
    """

    def __init__(
        self,
        target_format: DatasetFormat = "yolo",
        source_format: DatasetFormat = "dm_v2",
        *,
        name: str | None = None,
        progress_weight: float = 0.2,
        shards: int = 1,
        shard_executor: ShardExecutor | None = None,
    ) -> None:
        """Pick the conversion; the name defaults to ``convert_to_<target>``. ``shards`` and
        ``shard_executor`` (in-process by default) split a DM v2 to YOLO/COCO conversion."""
        if (source_format, target_format) not in _CONVERTERS:
            pairs = ", ".join(f"{s}->{t}" for s, t in _CONVERTERS)
            raise ValueError(
                f"ConvertDatasetStep cannot convert {source_format!r} to {target_format!r}; "
                f"supported: {pairs}"
            )
        if isinstance(shards, bool) or not isinstance(shards, int):
            raise ValueError(
                f"ConvertDatasetStep(shards={shards!r}): the number of shards must be an int, "
                f"not {type(shards).__name__}"
            )
        if shards < 1:
            raise ValueError(f"ConvertDatasetStep(shards={shards}): need at least one shard")
        sharded = shards > 1 or shard_executor is not None
        if sharded and (source_format != "dm_v2" or target_format not in ("yolo", "coco")):
            raise ValueError(
                f"ConvertDatasetStep cannot shard {source_format!r} to {target_format!r}: "
                "sharded conversion covers dm_v2->yolo and dm_v2->coco"
            )
        super().__init__(
            name=name if name is not None else f"convert_to_{target_format}",
            progress_weight=progress_weight,
        )
        self.target_format = target_format
        self.source_format = source_format
        self.shards = shards
        self.shard_executor = shard_executor

    def execute(self, context: DatasetContext) -> StepResult:
        """Convert ``context.dataset['path']`` into a new folder."""
        dataset = context.dataset
        if not dataset.get("path"):
            raise ValueError(
                "ConvertDatasetStep needs context.dataset['path']: run ExportDatasetStep "
                "(or set context.dataset) before it"
            )
        found_format = dataset.get("format", self.source_format)
        if found_format != self.source_format:
            raise ValueError(
                f"context.dataset is in {found_format!r}, but this step converts from "
                f"{self.source_format!r}"
            )
        source = Path(str(dataset["path"])).absolute()
        if not (source.is_dir() or (self.source_format != "dm_v2" and source.is_file())):
            raise FileNotFoundError(f"dataset folder {str(source)!r} (context.dataset['path'])")
        class_map = _class_map(context.params.get("class_map"))
        output_param = context.params.get("convert_output_dir")
        target = (
            Path(str(output_param)).absolute()
            if output_param is not None
            else _default_output(source, self.target_format)
        )
        undo = _claim_folder(target)
        context.log(
            "dataset_convert_start",
            {"source": str(source), "target": str(target), "format": self.target_format},
        )
        # The converter claims the folder atomically and cleans up after itself if it fails;
        # the undo is registered only once the output is ours, so a run that lost the folder to
        # another can never remove that run's output.
        result = self._convert(context, source, target, class_map)
        context.on_rollback(undo, label=f"remove converted dataset {target}")
        summary = result.audit
        context.dataset = {
            "path": result.path,
            "config_path": result.config_path,
            "format": result.format,
            "is_categorized": result.is_categorized,
            "source_path": result.source_path,
            "classes": result.classes,
            "count": summary.items_written,
            "audit_path": result.audit_path,
        }
        context.set_progress(1, 1)
        context.log("dataset_convert_complete", {"path": result.path, **summary.model_dump()})
        return StepResult(
            data={
                "path": result.path,
                "config_path": result.config_path,
                "audit_path": result.audit_path,
                "items_written": summary.items_written,
                "items_skipped": summary.items_skipped,
                "annotations_written": summary.annotations_written,
                "annotations_skipped": summary.annotations_skipped,
                "skipped_by_reason": summary.reasons,
                "changed_by_reason": summary.changes,
            },
            rollback_data={"path": result.path},
        )

    def _convert(
        self,
        context: DatasetContext,
        source: Path,
        target: Path,
        class_map: Mapping[str, int] | None,
    ) -> ConversionResult:
        if self.shards == 1 and self.shard_executor is None:
            return _CONVERTERS[(self.source_format, self.target_format)](source, target, class_map)
        target_format: ShardTarget = "yolo" if self.target_format == "yolo" else "coco"
        return convert_in_shards(
            source, target, target_format, shards=self.shards, executor=self.shard_executor,
            class_map=class_map, progress=lambda done, total: context.set_progress(done, total),
        )  # fmt: skip
