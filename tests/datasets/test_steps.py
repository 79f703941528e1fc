"""ExportDatasetStep and ConvertDatasetStep inside real workflows, their errors and rollback."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import ValidationError

from steprail import BaseStep, FlowError, Orchestrator, RuntimeContext, StepFailedError, StepRegistry, StepResult
from steprail.datasets import (
    ConvertDatasetStep,
    DatasetContext,
    DatasetFormat,
    ExportDatasetStep,
    LocalBackend,
    make_sample_dataset,
    read_audit,
)

from steprail._flow import check_flow

from ._helpers import tree


@pytest.fixture
def backend(tmp_path: Path) -> LocalBackend:
    backend = LocalBackend(tmp_path / "backend")
    sample = make_sample_dataset(tmp_path / "sample", items=8, seed=2)
    backend.import_dataset(sample.path, name="demo")
    return backend


def _context(backend: LocalBackend | None, **params: object) -> DatasetContext:
    if backend is None:  # the context's default client
        return DatasetContext(runtime_ctx=RuntimeContext(), params=dict(params))
    return DatasetContext(runtime_ctx=RuntimeContext(), params=dict(params), client=backend)


def _run(context: DatasetContext, *steps: BaseStep[DatasetContext], inputs: tuple[str, ...] = ("dataset",)) -> None:
    # Most tests fill context.dataset themselves: they declare it an input of the workflow.
    registry = StepRegistry[DatasetContext](inputs=inputs)
    for step in steps:
        registry.register(step)
    Orchestrator(registry, context, lambda current, total: None).execute()


class Boom(BaseStep[DatasetContext]):
    @property
    def name(self) -> str:
        return "boom"

    @property
    def progress_weight(self) -> float:
        return 0.1

    def execute(self, context: DatasetContext) -> StepResult:
        raise RuntimeError("later step failed")


def test_export_then_convert_to_yolo_and_coco(backend: LocalBackend, tmp_path: Path) -> None:
    out = tmp_path / "work" / "export"
    context = _context(backend, dataset="demo", output_dir=str(out))
    _run(context, ExportDatasetStep(), ConvertDatasetStep(target_format="yolo"))
    assert context.dataset["format"] == "yolo"
    assert context.dataset["path"] == str(tmp_path / "work" / "export_yolo")
    assert context.dataset["config_path"] == str(tmp_path / "work" / "export_yolo" / "dataset.yaml")
    assert context.dataset["is_categorized"] is True
    assert context.dataset["source_path"] == str(out)
    export_result, convert_result = context.step_results
    assert export_result.data == {"path": str(out), "count": 8}
    assert convert_result.data["path"] == context.dataset["path"]
    assert convert_result.data["config_path"] == context.dataset["config_path"]
    assert convert_result.data["items_written"] == 8 and convert_result.data["items_skipped"] == 0

    coco = _context(backend, dataset=1, output_dir=str(tmp_path / "c" / "export"))
    _run(coco, ExportDatasetStep(), ConvertDatasetStep(target_format="coco"))
    assert coco.dataset["format"] == "coco"
    assert Path(coco.dataset["config_path"], "instances_train.json").is_file()


def test_export_sets_context_dataset(backend: LocalBackend, tmp_path: Path) -> None:
    context = _context(backend, dataset="demo", splits=["train"], output_dir=str(tmp_path / "e"))
    _run(context, ExportDatasetStep())
    assert {k: context.dataset[k] for k in ("path", "format", "is_categorized", "count")} == {
        "path": str(tmp_path / "e"),
        "format": "dm_v2",
        "is_categorized": True,
        "count": 6,
    }
    assert context.params == {"dataset": "demo", "splits": ["train"], "output_dir": str(tmp_path / "e")}


def test_export_to_a_temporary_folder_by_default(backend: LocalBackend) -> None:
    context = _context(backend, dataset="demo")
    _run(context, ExportDatasetStep())
    path = Path(context.dataset["path"])
    try:
        assert path.name.startswith("steprail-export-") and (path / "train" / "json").is_dir()
    finally:
        import shutil

        shutil.rmtree(path)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "Step 'export_dataset' failed: ValueError: ExportDatasetStep needs params['dataset']"),
        ({"dataset": "nope"}, "dataset 'nope' not found"),
        ({"dataset": 99}, "dataset 99 not found"),
        ({"dataset": 1.5}, "must be a dataset id or name, got float"),
        ({"dataset": "demo", "splits": "train"}, "must be a list of split names"),
        ({"dataset": "demo", "splits": ["nope"]}, "no split(s) ['nope']"),
    ],
)
def test_export_errors_name_the_problem(
    backend: LocalBackend, tmp_path: Path, params: dict[str, object], message: str
) -> None:
    context = _context(backend, output_dir=str(tmp_path / "out" / "x"), **params)
    before = tree(tmp_path)
    with pytest.raises(StepFailedError) as info:
        _run(context, ExportDatasetStep())
    assert message in str(info.value)
    assert tree(tmp_path) == before
    assert context.dataset == {}


def test_the_default_client_is_a_local_backend_opened_on_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STEPRAIL_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    context = _context(None, dataset=1)
    client = context.client
    assert isinstance(client, LocalBackend)
    opened_at_first = client.opened  # a local: mypy would narrow the property for the test's rest
    assert not opened_at_first
    assert client.root == tmp_path / ".steprail" / "backend"
    assert context.dataset == {}
    assert list(tmp_path.iterdir()) == []  # making a context creates nothing

    with pytest.raises(StepFailedError, match=r"dataset 1 not found in the backend at .*\.steprail"):
        _run(context, ExportDatasetStep())
    assert client.opened and (tmp_path / ".steprail" / "backend" / "catalog.sqlite3").is_file()
    client.close()


def test_the_default_client_follows_steprail_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEPRAIL_HOME", str(tmp_path / "home"))
    sample = make_sample_dataset(tmp_path / "sample", items=3, seed=5)
    with LocalBackend(tmp_path / "home" / "backend") as seeded:
        seeded.import_dataset(sample.path, name="seeded")
    context = _context(None, dataset="seeded", output_dir=str(tmp_path / "out"))
    _run(context, ExportDatasetStep())
    assert context.dataset["count"] == 3
    assert isinstance(context.client, LocalBackend)
    context.client.close()


def test_client_must_be_a_backend() -> None:
    with pytest.raises(ValidationError, match="client"):
        DatasetContext(runtime_ctx=RuntimeContext(), client="not a backend")  # type: ignore[arg-type]  # the point of the test


def test_convert_without_export_is_refused_before_it_runs(tmp_path: Path) -> None:
    # The declared flow (requires "dataset") catches it before any step runs...
    context = _context(None)
    with pytest.raises(FlowError, match="step 'convert_to_yolo' requires field 'dataset'") as caught:
        _run(context, ConvertDatasetStep(), inputs=())
    assert caught.value.providers == () and context.step_results == []
    # ...and when the caller declares dataset an input but leaves it empty, the step says so.
    with pytest.raises(StepFailedError, match="run ExportDatasetStep"):
        _run(context, ConvertDatasetStep())


def test_the_built_in_steps_pass_the_flow_check_in_export_then_convert_order() -> None:
    steps: list[BaseStep[DatasetContext]] = [ExportDatasetStep(), ConvertDatasetStep()]
    check_flow(steps, DatasetContext)
    with pytest.raises(FlowError, match="provided by 'export_dataset': register it before"):
        check_flow(steps[::-1], DatasetContext)


def test_convert_refuses_unsupported_pairs() -> None:
    with pytest.raises(ValueError, match="cannot convert 'yolo' to 'coco'"):
        ConvertDatasetStep(target_format="coco", source_format="yolo")
    with pytest.raises(ValueError, match="cannot convert 'dm_v2' to 'pascal'"):
        ConvertDatasetStep(target_format="pascal")  # type: ignore[arg-type]  # refused at run time too
    assert ConvertDatasetStep(target_format="coco").name == "convert_to_coco"
    assert ConvertDatasetStep(target_format="voc").name == "convert_to_voc"


def test_convert_refuses_a_dataset_in_another_format(tmp_path: Path) -> None:
    context = _context(None)
    context.dataset = {"path": str(tmp_path), "format": "yolo"}
    with pytest.raises(StepFailedError, match="in 'yolo'"):
        _run(context, ConvertDatasetStep(target_format="coco"))


def test_convert_result_carries_audit_counts(tmp_path: Path) -> None:
    sample = make_sample_dataset(tmp_path / "s", items=3, categorized=False)
    (Path(sample.path) / "json" / "bad.json").write_text("{")
    context = _context(None)
    context.dataset = {"path": sample.path, "format": "dm_v2"}
    _run(context, ConvertDatasetStep(target_format="coco"))
    data = context.step_results[0].data
    assert data["items_skipped"] == 1 and data["skipped_by_reason"] == {"malformed_json": 1}
    summary, entries = read_audit(Path(data["audit_path"]))
    assert summary.items_skipped == 1 and entries[0].item == "bad"


@pytest.mark.parametrize("target", ["yolo", "coco"])
def test_rollback_after_a_later_failure_restores_the_tree(
    backend: LocalBackend, tmp_path: Path, target: DatasetFormat
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "keep.txt").write_text("user file")
    before = tree(tmp_path)
    context = _context(backend, dataset="demo", output_dir=str(work / "nested" / "export"))
    with pytest.raises(StepFailedError, match="later step failed") as info:
        _run(context, ExportDatasetStep(), ConvertDatasetStep(target_format=target), Boom())
    assert tree(tmp_path) == before
    assert info.value.rollback_report is not None
    assert not context.errors[1:]  # only the failure itself, no rollback error


def test_failed_convert_removes_its_partial_output(backend: LocalBackend, tmp_path: Path) -> None:
    sample = make_sample_dataset(tmp_path / "s", items=2, categorized=False)
    for path in (Path(sample.path) / "json").iterdir():
        path.write_text("{")
    before = tree(tmp_path)
    context = _context(None)
    context.dataset = {"path": sample.path, "format": "dm_v2"}
    with pytest.raises(StepFailedError, match="no usable item"):
        _run(context, ConvertDatasetStep(target_format="yolo"))
    assert tree(tmp_path) == before


def test_existing_empty_output_dir_is_kept_on_rollback(backend: LocalBackend, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    before = tree(tmp_path)
    context = _context(backend, dataset="demo", output_dir=str(tmp_path / "empty"))
    with pytest.raises(StepFailedError):
        _run(context, ExportDatasetStep(), Boom())
    assert tree(tmp_path) == before


def test_busy_output_dir_is_refused_untouched(backend: LocalBackend, tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "mine.txt").write_text("x")
    before = tree(tmp_path)
    with pytest.raises(StepFailedError, match="not empty"):
        _run(_context(backend, dataset="demo", output_dir=str(tmp_path / "busy")), ExportDatasetStep())
    assert tree(tmp_path) == before


@dataclass
class TrainLikeContext(DatasetContext):
    epochs: int = 1


def test_steps_register_into_a_subclass_context_registry(backend: LocalBackend, tmp_path: Path) -> None:
    registry = StepRegistry[TrainLikeContext]()
    registry.register(ExportDatasetStep())
    registry.register(ConvertDatasetStep(target_format="yolo"))
    context = TrainLikeContext(
        runtime_ctx=RuntimeContext(),
        params={"dataset": "demo", "output_dir": str(tmp_path / "e")},
        client=backend,
    )
    Orchestrator(registry, context, lambda c, t: None).execute()
    assert context.dataset["format"] == "yolo"


def test_convert_takes_a_class_map_and_a_yaml_file_source(backend: LocalBackend, tmp_path: Path) -> None:
    import yaml

    context = _context(
        backend,
        dataset="demo",
        output_dir=str(tmp_path / "e"),
        class_map={"tree": 0, "person": 1, "car": 2},
    )
    _run(context, ExportDatasetStep(), ConvertDatasetStep(target_format="yolo"))
    config = yaml.safe_load(Path(context.dataset["config_path"]).read_text())
    assert config["names"] == {0: "tree", 1: "person", 2: "car"}
    # The sample mixes boxes and polygons: said once; the ids were written as given.
    assert context.step_results[1].data["changed_by_reason"] == {"mixed_boxes_and_polygons": 1}
    # A YOLO source given as its yaml file converts back to DM v2.
    back = _context(None, convert_output_dir=str(tmp_path / "back"))
    back.dataset = {"path": context.dataset["config_path"], "format": "yolo"}
    _run(back, ConvertDatasetStep(target_format="dm_v2", source_format="yolo"))
    assert back.dataset["format"] == "dm_v2" and back.dataset["count"] == 8
    with pytest.raises(StepFailedError, match="class_map"):
        bad = _context(backend, dataset="demo", output_dir=str(tmp_path / "f"), class_map=["car"])
        _run(bad, ExportDatasetStep(), ConvertDatasetStep(target_format="yolo"))
