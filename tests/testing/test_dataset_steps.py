"""Every fault point of the built-in dataset steps (export + convert) restores the file system."""

from __future__ import annotations

from pathlib import Path

import pytest

from steprail import LoggingStep, RuntimeContext, StepRegistry, StepResult, TimingStep, ValidationStep
from steprail.datasets import (
    ConvertDatasetStep,
    DatasetContext,
    DatasetFormat,
    ExportDatasetStep,
    LocalBackend,
    make_sample_dataset,
)
from steprail.testing import (
    FaultKind,
    FaultPlan,
    RollbackLeak,
    assert_rollback_restores,
    snapshot_sqlite,
    snapshot_tree,
)


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> LocalBackend:
    root = tmp_path_factory.mktemp("datasets")
    backend = LocalBackend(root / "backend")
    sample = make_sample_dataset(root / "sample", items=6, seed=3)
    backend.import_dataset(sample.path, name="demo")
    return backend


def _has_items(context: DatasetContext) -> tuple[bool, str | None]:
    count = (context.dataset or {}).get("count", 0)
    return count > 0, None if count > 0 else "the export is empty"


def export_and_convert(target: DatasetFormat = "yolo") -> StepRegistry[DatasetContext]:
    registry: StepRegistry[DatasetContext] = StepRegistry()
    registry.register(LoggingStep(ExportDatasetStep()))
    registry.register(ValidationStep(_has_items, name="has_items"))
    registry.register(TimingStep(ConvertDatasetStep(target_format=target)))
    return registry


def _snapshot(work: Path, backend: LocalBackend | None = None) -> dict[str, object]:
    """The work folder and, if given, the backend: its files and its catalog's rows. SQLite's
    own files change on reads, so the catalog is compared by its content."""
    state: dict[str, object] = {"work": snapshot_tree(work)}
    if backend is not None:
        state["backend files"] = snapshot_tree(backend.root, ignore=["catalog.sqlite3*"])
        state["catalog"] = snapshot_sqlite(backend.root / "catalog.sqlite3")
    return state


@pytest.mark.parametrize("kind", ["raise", "interrupt"])
@pytest.mark.parametrize("target", ["yolo", "coco"])
def test_every_fault_point_of_export_and_convert_restores_the_file_system(
    tmp_path: Path, backend: LocalBackend, kind: FaultKind, target: DatasetFormat
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("not ours")
    # The export goes to a folder whose parents do not exist yet: rollback must remove those too.
    params = {"dataset": "demo", "output_dir": str(work / "runs" / "1" / "export")}

    explored = assert_rollback_restores(
        lambda: export_and_convert(target),
        lambda: DatasetContext(runtime_ctx=RuntimeContext(), params=dict(params), client=backend),
        lambda: _snapshot(work, backend),
        after_side_effects=True,
        kind=kind,
    )

    names = ["logged_export_dataset", "has_items", f"timed_convert_to_{target}"]
    assert explored == [FaultPlan(name, point, kind) for name in names for point in ("before", "after")]
    assert snapshot_tree(work) == {".": "dir", "notes.txt": snapshot_tree(work)["notes.txt"]}


def test_an_existing_empty_output_folder_is_kept_and_left_empty(tmp_path: Path, backend: LocalBackend) -> None:
    out = tmp_path / "export"
    out.mkdir()
    assert_rollback_restores(
        export_and_convert,
        lambda: DatasetContext(runtime_ctx=RuntimeContext(), params={"dataset": "demo", "output_dir": str(out)}, client=backend),
        lambda: _snapshot(tmp_path, backend),
        after_side_effects=True,
    )
    assert out.is_dir() and not any(out.iterdir())


def test_the_check_would_catch_a_convert_step_that_leaves_a_file(tmp_path: Path, backend: LocalBackend) -> None:
    class LeavesALog(ConvertDatasetStep):
        """Deliberately broken: writes a log beside its output that nothing removes."""

        def execute(self, context: DatasetContext) -> StepResult:
            result = super().execute(context)
            Path(result.data["path"]).with_suffix(".log").write_text("converted")
            return result

    def build() -> StepRegistry[DatasetContext]:
        registry: StepRegistry[DatasetContext] = StepRegistry()
        registry.register(ExportDatasetStep())
        registry.register(LeavesALog())
        registry.register(ValidationStep(_has_items, name="last"))
        return registry

    work = tmp_path / "work"
    params = {"dataset": "demo", "output_dir": str(work / "export")}
    with pytest.raises(RollbackLeak) as caught:
        assert_rollback_restores(
            build,
            lambda: DatasetContext(runtime_ctx=RuntimeContext(), params=dict(params), client=backend),
            lambda: _snapshot(work),
        )
    assert caught.value.step == "convert_to_yolo"
    assert caught.value.plan == FaultPlan("last")
    assert caught.value.difference.startswith("added (1):\n  'work' / 'export_yolo.log': 'sha256:")
