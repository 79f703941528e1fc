"""Sharded conversion in process: any split into shards merges to the single-process output,
byte for byte, on the real fixtures and on generated datasets; progress only grows and ends at
100 %; a failing, cancelled or inconsistent shard leaves nothing behind and names itself."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from io import BytesIO
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import steprail.datasets._shards as shards_module
from steprail._extras import MissingExtraError
from steprail import BaseStep, Orchestrator, RuntimeContext, StepFailedError, StepRegistry, StepResult
from steprail.datasets import (
    ConvertDatasetStep,
    DatasetContext,
    DatasetInputError,
    InProcessShards,
    OutputExistsError,
    RayShards,
    ShardFailedError,
    AuditLog,
    DMv2Keypoints,
    ShardReport,
    ShardRun,
    ShardSpec,
    convert_in_shards,
    convert_shard,
    make_sample_dataset,
    read_audit,
)

from steprail.datasets._source import CheckedItem
from steprail.datasets._yolo import PreparedYoloItem, prepare_yolo_item

from ._helpers import tree
from ._shard_helpers import REAL_SOURCES, WRITERS, file_bytes, import_real, leftovers


@pytest.fixture(scope="module")
def real_dm(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("real_dm")
    return {name: import_real(name, folder) for name in REAL_SOURCES}


def _items(source: Path) -> int:
    return sum(1 for _ in source.rglob("json/*.json"))


@pytest.mark.parametrize("target", sorted(WRITERS))
@pytest.mark.parametrize("name", sorted(REAL_SOURCES))
def test_real_fixtures_sharded_are_byte_identical(
    real_dm: dict[str, Path], name: str, target: str, tmp_path: Path
) -> None:
    source = real_dm[name]
    expected = file_bytes(Path(WRITERS[target](source, tmp_path / "single").path))
    count = _items(source)
    for shards in (1, 2, 3, count + 3):  # the last: more shards than items
        output = tmp_path / f"sharded_{shards}"
        result = convert_in_shards(source, output, "yolo" if target == "yolo" else "coco", shards=shards)
        assert file_bytes(output) == expected, f"{name} -> {target} in {shards} shards"
        assert result.path == str(output)
    assert leftovers(tmp_path) == []


# A generated item: (split, kind, identity file name, source image id, boxes).
_KINDS = ("ok", "ok", "ok", "malformed", "missing_image", "unlisted", "unknown_class")
_Item = tuple[str | None, str, str | None, int | None, list[tuple[str, int, int, int, int]]]


def _png(width: int, height: int) -> bytes:
    buffer = BytesIO()
    Image.new("RGB", (width, height), (90, 90, 90)).save(buffer, format="PNG")
    return buffer.getvalue()


_PNG = _png(16, 12)


def _box() -> st.SearchStrategy[tuple[str, int, int, int, int]]:
    # Some boxes reach past the 16x12 image (skipped or clipped, audited).
    return st.tuples(
        st.sampled_from(("car", "person", "tree")),
        st.integers(0, 14), st.integers(0, 10), st.integers(1, 8), st.integers(1, 8),
    )  # fmt: skip


def _item(categorized: bool) -> st.SearchStrategy[_Item]:
    return st.tuples(
        st.sampled_from(("train", "valid", "test")) if categorized else st.none(),
        st.sampled_from(_KINDS),
        # Few names and ids: items collide (renamed ~2, ids renumbered), across shard bounds too.
        st.one_of(st.none(), st.sampled_from(("a.png", "b.png", "sub/a.png"))),
        st.one_of(st.none(), st.integers(1, 4)),
        st.lists(_box(), max_size=3),
    )


def _write(root: Path, items: list[_Item]) -> None:
    for index, (split, kind, file_name, image_id, boxes) in enumerate(items):
        folder = root if split is None else root / split
        (folder / "json").mkdir(parents=True, exist_ok=True)
        (folder / "original_files").mkdir(parents=True, exist_ok=True)
        stem = f"item{index:03d}"
        if kind != "missing_image":
            (folder / "original_files" / f"{stem}.png").write_bytes(_PNG)
        if kind == "unlisted":
            continue
        if kind == "malformed":
            (folder / "json" / f"{stem}.json").write_text("{")
            continue
        body: dict[str, object] = {
            "images": [
                {
                    "bounding_box": [
                        {
                            "id": f"b{n}",
                            "classification": "zebra" if kind == "unknown_class" else name,
                            "data": [x, y, w, h],
                        }
                        for n, (name, x, y, w, h) in enumerate(boxes)
                    ]
                }
            ]
        }
        if file_name is not None or image_id is not None:
            body["source"] = {"file_name": file_name, "image_id": image_id}
        (folder / "json" / f"{stem}.json").write_text(json.dumps(body))
    (root / "dataset.json").write_text(
        json.dumps({"format": "dm_v2", "version": "2.0", "classes": ["car", "person", "tree"]})
    )


@st.composite
def _datasets(draw: st.DrawFn) -> list[_Item]:
    categorized = draw(st.booleans())
    items = draw(st.lists(_item(categorized), min_size=1, max_size=10))
    # At least one usable item, so both runs write an output rather than both refusing.
    return [items[0][:1] + ("ok",) + items[0][2:4] + ([("car", 1, 1, 2, 2)],), *items[1:]]


@settings(max_examples=25, deadline=None)
@given(items=_datasets(), target=st.sampled_from(("yolo", "coco")), data=st.data())
def test_any_shard_count_merges_to_the_single_process_output(
    items: list[_Item], target: str, data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source = root / "dm"
        _write(source, items)
        before = tree(source)
        expected = file_bytes(Path(WRITERS[target](source, root / "single").path))
        shards = data.draw(st.integers(1, len(items) + 2), label="shards")
        seen: list[tuple[int, int]] = []
        output = root / "sharded"
        convert_in_shards(
            source, output, "yolo" if target == "yolo" else "coco", shards=shards,
            progress=lambda done, total: seen.append((done, total)),
        )  # fmt: skip
        assert file_bytes(output) == expected
        assert [done for done, _ in seen] == sorted(done for done, _ in seen)
        assert seen[-1][0] == seen[-1][1]
        assert tree(source) == before
        assert leftovers(root) == []


def test_a_categorized_sample_in_many_shard_counts(tmp_path: Path) -> None:
    source = Path(make_sample_dataset(tmp_path / "dm", items=23, seed=5).path)
    for target in ("yolo", "coco"):
        expected = file_bytes(Path(WRITERS[target](source, tmp_path / f"single_{target}").path))
        for shards in (1, 2, 3, 5, 40):
            output = tmp_path / f"{target}_{shards}"
            convert_in_shards(source, output, "yolo" if target == "yolo" else "coco", shards=shards)
            assert file_bytes(output) == expected, (target, shards)


def test_progress_grows_to_twice_the_item_count(tmp_path: Path) -> None:
    source = Path(make_sample_dataset(tmp_path / "dm", items=30, categorized=False).path)
    seen: list[tuple[int, int]] = []
    reports: list[ShardReport] = []

    class Recording(InProcessShards):
        def start(
            self, specs: Sequence[ShardSpec], on_done: Callable[[ShardReport], None]
        ) -> ShardRun:
            def note(report: ShardReport) -> None:
                reports.append(report)
                on_done(report)

            return super().start(specs, note)

    convert_in_shards(
        source, tmp_path / "out", "coco", shards=4, executor=Recording(),
        progress=lambda done, total: seen.append((done, total)),
    )  # fmt: skip
    assert {total for _, total in seen} == {60}  # every item checked once and merged once
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert seen[-1] == (60, 60)
    assert sorted(r.index for r in reports) == [0, 1, 2, 3]
    assert sum(r.items for r in reports) == 30


def _failing_at(stem: str) -> Callable[
    [CheckedItem, Mapping[str, int], DMv2Keypoints | None, AuditLog], PreparedYoloItem
]:
    original = prepare_yolo_item

    def prepare(
        item: CheckedItem,
        class_ids: Mapping[str, int],
        pose: DMv2Keypoints | None,
        audit: AuditLog,
    ) -> PreparedYoloItem:
        if item.stem == stem:
            raise OSError(f"disk error reading {stem}")
        return original(item, class_ids, pose, audit)

    return prepare


def test_a_failing_shard_names_itself_and_its_item_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = Path(make_sample_dataset(tmp_path / "dm", items=9, categorized=False).path)
    before = tree(tmp_path)
    monkeypatch.setattr(shards_module, "prepare_yolo_item", _failing_at("item_000005"))
    with pytest.raises(ShardFailedError, match=r"shard 2 of 3 \(.*\) failed at item item_000005.json: OSError: disk error"):
        convert_in_shards(source, tmp_path / "out", "yolo", shards=3)
    assert tree(tmp_path) == before  # no output, no staging, the source untouched


def test_a_cancelled_run_leaves_nothing(tmp_path: Path) -> None:
    source = Path(make_sample_dataset(tmp_path / "dm", items=12, categorized=False).path)
    before = tree(tmp_path)

    def interrupt_half_way(done: int, total: int) -> None:
        if done > total // 2:
            raise KeyboardInterrupt  # what Ctrl-C raises on the driver

    with pytest.raises(KeyboardInterrupt):
        convert_in_shards(
            source, tmp_path / "new" / "out", "coco", shards=3, progress=interrupt_half_way
        )
    assert tree(tmp_path) == before  # the parent made for the output is gone too


def test_a_worker_that_lists_other_items_is_refused(tmp_path: Path) -> None:
    source = Path(make_sample_dataset(tmp_path / "dm", items=10, categorized=False).path)

    def remove_an_item_then_convert(spec: ShardSpec) -> ShardReport:
        if spec.index == 0:  # the dataset changes after the driver listed it
            (source / "json" / spec.ranges[0].first).unlink()
        return convert_shard(spec)

    with pytest.raises(ShardFailedError, match="shard 1 of 3 .*lists .* otherwise than the driver"):
        convert_in_shards(
            source, tmp_path / "out", "yolo", shards=3,
            executor=InProcessShards(task=remove_an_item_then_convert),
        )  # fmt: skip
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


def test_items_with_several_images_are_refused_rather_than_risk_other_output(
    tmp_path: Path,
) -> None:
    source = Path(make_sample_dataset(tmp_path / "dm", items=4, categorized=False).path)
    png = source / "original_files" / "item_000002.png"
    shutil.copy(png, png.with_suffix(".jpg"))  # which one is used depends on the item before
    with pytest.raises(DatasetInputError, match="several images"):
        convert_in_shards(source, tmp_path / "out", "coco", shards=2)
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


def test_bad_arguments_and_a_busy_output_are_refused_before_any_work(tmp_path: Path) -> None:
    source = Path(make_sample_dataset(tmp_path / "dm", items=3, categorized=False).path)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "mine.txt").write_text("keep")
    with pytest.raises(OutputExistsError, match="not empty"):
        convert_in_shards(source, busy, "yolo", shards=2)
    assert (busy / "mine.txt").read_text() == "keep" and leftovers(tmp_path) == []
    with pytest.raises(ValueError, match="at least one shard"):
        convert_in_shards(source, tmp_path / "out", "yolo", shards=0)
    with pytest.raises(ValueError, match="cannot shard 'dm_v2' to 'voc'"):
        ConvertDatasetStep(target_format="voc", shards=2)
    with pytest.raises(ValueError, match="cannot shard 'coco' to 'dm_v2'"):
        ConvertDatasetStep(target_format="dm_v2", source_format="coco", shards=2)


class _Boom(BaseStep[DatasetContext]):
    @property
    def name(self) -> str:
        return "boom"

    @property
    def progress_weight(self) -> float:
        return 0.1

    def execute(self, context: DatasetContext) -> StepResult:
        raise RuntimeError("later step failed")


def _run(context: DatasetContext, *steps: BaseStep[DatasetContext]) -> list[float]:
    registry = StepRegistry[DatasetContext](inputs=("dataset",))
    for step in steps:
        registry.register(step)
    seen: list[float] = []
    Orchestrator(registry, context, lambda current, total: seen.append(current / total)).execute()
    return seen


def test_the_step_sharded_writes_the_same_and_reports_progress(tmp_path: Path) -> None:
    source = make_sample_dataset(tmp_path / "dm", items=20, seed=3)
    contexts = []
    for label, step in (
        ("single", ConvertDatasetStep(target_format="yolo")),
        ("sharded", ConvertDatasetStep(target_format="yolo", shards=3)),
    ):
        context = DatasetContext(
            runtime_ctx=RuntimeContext(), params={"convert_output_dir": str(tmp_path / label)}
        )
        context.dataset = {"path": source.path, "format": "dm_v2"}
        seen = _run(context, step)
        assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0)
        contexts.append((context, len(seen)))
    assert file_bytes(tmp_path / "sharded") == file_bytes(tmp_path / "single")
    (single, _), (sharded, updates) = contexts
    assert sharded.step_results[0].data == {
        **single.step_results[0].data,
        "path": str(tmp_path / "sharded"),
        "config_path": str(tmp_path / "sharded" / "dataset.yaml"),
        "audit_path": str(tmp_path / "sharded" / "audit.json"),
    }
    assert updates > 3  # progress moved during the step, not only at its end
    summary, _ = read_audit(tmp_path / "sharded" / "audit.json")
    assert summary.items_written == 20


def test_the_sharded_step_is_rolled_back_with_everything_it_made(tmp_path: Path) -> None:
    source = make_sample_dataset(tmp_path / "dm", items=8, seed=1)
    before = tree(tmp_path)
    context = DatasetContext(
        runtime_ctx=RuntimeContext(),
        params={"convert_output_dir": str(tmp_path / "made" / "for" / "it")},
    )
    context.dataset = {"path": source.path, "format": "dm_v2"}
    with pytest.raises(StepFailedError, match="later step failed"):
        _run(context, ConvertDatasetStep(target_format="coco", shards=3), _Boom())
    assert tree(tmp_path) == before



def test_ray_shards_without_the_ray_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # how Python marks a module not importable
    with pytest.raises(MissingExtraError, match=r"RayShards needs the \[ray\] extra \(missing: ray\)"):
        RayShards().start([], lambda report: None)
    with pytest.raises(ValueError, match="num_cpus=0"):
        RayShards(num_cpus=0)
