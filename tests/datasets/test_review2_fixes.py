"""Findings of the second hostile review of the datasets on real data (issue 9)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steprail import Orchestrator, RuntimeContext, StepRegistry
from steprail.datasets import (
    AuditReason,
    AuditSummary,
    BackendError,
    LocalBackend,
    NoUsableItemsError,
    OutputExistsError,
    make_sample_dataset,
    ConversionResult,
    ConvertDatasetStep,
    DatasetContext,
    DatasetFormat,
    DatasetInputError,
    coco_to_dmv2,
    dmv2_to_coco,
    dmv2_to_yolo,
    read_audit,
    voc_to_dmv2,
    yolo_to_dmv2,
)

from steprail.datasets._steps import _default_output

from ._helpers import write_image


def _ultralytics_label(image: Path) -> Path:
    # Ultralytics' img2label_paths, restated: the LAST "/images/" of the absolute image path
    # becomes "/labels/", and the extension ".txt".
    text = str(image.absolute())
    head, found, tail = text.rpartition(f"{os.sep}images{os.sep}")
    assert found, text
    return Path(os.path.splitext(f"{head}{os.sep}labels{os.sep}{tail}")[0] + ".txt")


def _coco_with_names(root: Path, names: list[str]) -> Path:
    # One 40x30 image per file_name, each with one box of category 0.
    images, annotations = [], []
    for index, name in enumerate(names):
        write_image(root / name, 40, 30)
        images.append({"id": index, "file_name": name, "width": 40, "height": 30})
        annotations.append(
            {"id": index, "image_id": index, "category_id": 0, "bbox": [4, 4, 10, 8],
             "area": 80, "iscrowd": 0, "segmentation": []}
        )  # fmt: skip
    path = root / "result.json"
    path.write_text(
        json.dumps(
            {"images": images, "annotations": annotations,
             "categories": [{"id": 0, "name": "cat"}]}
        )  # fmt: skip
    )
    return path


_SEGMENT = st.sampled_from(["images", "labels", "a", "images2"])


@settings(max_examples=12, deadline=None)
@given(
    paths=st.lists(
        st.lists(_SEGMENT, min_size=0, max_size=3), min_size=1, max_size=3, unique_by=tuple
    )
)
def test_yolo_output_labels_sit_where_ultralytics_looks(paths: list[list[str]]) -> None:
    # Finding 1: an identity with a folder named `images` (Label Studio's `images/a.jpg`) had
    # its label under labels/images/, where Ultralytics never looks: every image trained as
    # background, and our own importer read it back without a word.
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        names = ["/".join([*segments, f"p{i}.jpg"]) for i, segments in enumerate(paths)]
        source = _coco_with_names(tmp / "coco", names)
        coco_to_dmv2(source, tmp / "dm")
        result = dmv2_to_yolo(tmp / "dm", tmp / "yolo")
        images = sorted(p for p in (tmp / "yolo" / "images").rglob("*.jpg"))
        assert len(images) == len(names)
        for image in images:
            label = _ultralytics_label(image)
            assert label.is_file(), f"{image}: no label at {label}"
            assert label.read_text().count("\n") == 1
        _, entries = read_audit(Path(result.audit_path))
        moved = {e.item for e in entries if e.reason == AuditReason.LABEL_IN_IMAGES_FOLDER}
        assert len(moved) == sum("images" in segments for segments in paths)
        back = yolo_to_dmv2(Path(result.config_path), tmp / "back")
        assert back.audit.annotations_written == len(names)
        assert back.audit.items_skipped == 0 and back.audit.reasons == {}


def test_yolo_label_studio_names_train_with_labels(tmp_path: Path) -> None:
    source = _coco_with_names(tmp_path / "ls", ["images/a.jpg", "camA/images/0001.jpg"])
    coco_to_dmv2(source, tmp_path / "dm")
    result = dmv2_to_yolo(tmp_path / "dm", tmp_path / "yolo")
    yolo = tmp_path / "yolo"
    assert (yolo / "images" / "labels" / "a.txt").is_file()
    assert (yolo / "images" / "camA" / "labels" / "0001.txt").is_file()
    assert result.audit.changes == {"label_in_images_folder": 2}
    back = yolo_to_dmv2(yolo, tmp_path / "back")
    assert back.audit.annotations_written == 2


def test_yolo_import_reports_nested_label_files_without_image(tmp_path: Path) -> None:
    # Finding 3: label files in sub-folders of the labels tree with no image were lost silently.
    root = tmp_path / "y"
    write_image(root / "images" / "train" / "a.jpg", 40, 30)
    for label in ["a.txt", "orphan.txt", "sub/y.txt", "images/x.txt"]:
        (root / "labels" / "train" / label).parent.mkdir(parents=True, exist_ok=True)
        (root / "labels" / "train" / label).write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "d.yaml").write_text("train: images/train\nval: images/train\nnames: [a]\n")
    result = yolo_to_dmv2(root / "d.yaml", tmp_path / "dm")
    _, entries = read_audit(Path(result.audit_path))
    assert sorted((e.item, e.reason) for e in entries) == [
        ("images/x.txt", AuditReason.MISSING_IMAGE),
        ("orphan.txt", AuditReason.MISSING_IMAGE),
        ("sub/y.txt", AuditReason.MISSING_IMAGE),
    ]
    assert (result.audit.items_total, result.audit.items_skipped) == (4, 3)


def _within(seconds: float, fifo: Path, run: Callable[[], object]) -> object:
    # Run ``run`` in a thread; a reader blocked on ``fifo`` is released (a writer opens and
    # closes it) so that a failing test ends instead of hanging the suite.
    outcome: list[object] = []

    def target() -> None:
        try:
            outcome.append(run())
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(5)
        raise AssertionError(f"blocked on the FIFO {fifo}")
    return outcome[0]


def _yolo_tree(root: Path) -> None:
    for name in ["a", "c"]:
        write_image(root / "images" / "train" / f"{name}.jpg", 40, 30)
    (root / "labels" / "train").mkdir(parents=True)
    (root / "labels" / "train" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "d.yaml").write_text("train: images/train\nval: images/train\nnames: [a]\n")


def test_yolo_label_fifo_is_audited_not_read(tmp_path: Path) -> None:
    # Finding 2: a FIFO label file blocked the import forever.
    root = tmp_path / "y"
    _yolo_tree(root)
    os.mkfifo(root / "labels" / "train" / "c.txt")
    result = _within(10, root / "labels" / "train" / "c.txt",
                     lambda: yolo_to_dmv2(root / "d.yaml", tmp_path / "dm"))  # fmt: skip
    assert isinstance(result, ConversionResult), result
    _, entries = read_audit(Path(result.audit_path))
    assert [(e.item, e.reason) for e in entries] == [("c.jpg", AuditReason.LABEL_UNREADABLE)]
    assert "FIFO" in entries[0].message
    assert result.audit.items_written == 2 and result.audit.annotations_written == 1


def _coco_folder(root: Path) -> None:
    write_image(root / "val2017" / "a.jpg", 40, 30)
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "instances_val2017.json").write_text(
        json.dumps({"images": [{"id": 1, "file_name": "a.jpg", "width": 40, "height": 30}],
                    "annotations": [], "categories": [{"id": 1, "name": "a"}]})
    )  # fmt: skip


@pytest.mark.parametrize("given", ["folder", "file"])
def test_coco_annotations_fifo_is_refused(tmp_path: Path, given: str) -> None:
    root = tmp_path / "coco"
    _coco_folder(root)
    fifo = root / "annotations" / "instances_train2017.json"
    os.mkfifo(fifo)
    source = root if given == "folder" else fifo
    result = _within(10, fifo, lambda: coco_to_dmv2(source, tmp_path / "dm"))
    assert isinstance(result, DatasetInputError), result
    assert str(fifo) in str(result) and "FIFO" in str(result)
    assert not (tmp_path / "dm").exists()


def test_dmv2_manifest_fifo_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "coco"
    _coco_folder(root)
    coco_to_dmv2(root, tmp_path / "dm")
    manifest = tmp_path / "dm" / "dataset.json"
    manifest.unlink()
    os.mkfifo(manifest)
    result = _within(10, manifest, lambda: dmv2_to_coco(tmp_path / "dm", tmp_path / "out"))
    assert isinstance(result, DatasetInputError) and "FIFO" in str(result), result
    assert not (tmp_path / "out").exists()


def test_dmv2_image_fifo_is_an_unreadable_image(tmp_path: Path) -> None:
    # The image reader opens without a stat first: it must not wait on a FIFO either.
    root = tmp_path / "coco"
    _coco_folder(root)
    write_image(root / "val2017" / "b.jpg", 40, 30)
    data = json.loads((root / "annotations" / "instances_val2017.json").read_text())
    data["images"].append({"id": 2, "file_name": "b.jpg", "width": 40, "height": 30})
    (root / "annotations" / "instances_val2017.json").write_text(json.dumps(data))
    coco_to_dmv2(root, tmp_path / "dm")
    (fifo,) = (tmp_path / "dm").rglob("original_files/b.jpg")
    fifo.unlink()
    os.mkfifo(fifo)
    result = _within(10, fifo, lambda: dmv2_to_coco(tmp_path / "dm", tmp_path / "out"))
    assert isinstance(result, ConversionResult), result
    assert result.audit.items_written == 1 and result.audit.items_skipped == 1


def _roboflow_coco(root: Path) -> None:
    # Roboflow's COCO export: one folder per split, each numbering its ids from 0.
    for split in ["train", "valid", "test"]:
        write_image(root / split / f"img_{split}.jpg", 40, 30)
        (root / split / "_annotations.coco.json").write_text(
            json.dumps(
                {"images": [{"id": 0, "file_name": f"img_{split}.jpg", "width": 40, "height": 30}],
                 "annotations": [{"id": 0, "image_id": 0, "category_id": 1, "bbox": [2, 2, 9, 9],
                                  "area": 81, "iscrowd": 0, "segmentation": []}],
                 "categories": [{"id": 0, "name": "cells", "supercategory": "none"},
                                {"id": 1, "name": "RBC", "supercategory": "cells"}]}
            )
        )  # fmt: skip


def test_coco_ids_kept_per_split_file(tmp_path: Path) -> None:
    # Finding 4: COCO ids are unique within one file; a Roboflow export's valid/test ids were
    # renumbered because train had used them.
    _roboflow_coco(tmp_path / "rf")
    coco_to_dmv2(tmp_path / "rf", tmp_path / "dm")
    result = dmv2_to_coco(tmp_path / "dm", tmp_path / "out")
    assert result.audit.reasons == {} and set(result.audit.changes) == {"box_as_rectangle"}
    for split in ["train", "valid", "test"]:
        data = json.loads((tmp_path / "out" / "annotations" / f"instances_{split}.json").read_text())
        assert [image["id"] for image in data["images"]] == [0]
        assert [(a["id"], a["image_id"]) for a in data["annotations"]] == [(0, 0)]


def test_coco_new_ids_stay_unique_across_split_files(tmp_path: Path) -> None:
    # Items without a source id (from YOLO) get new ids that go on from one file to the next.
    root = tmp_path / "y"
    for split in ["train", "val"]:
        write_image(root / "images" / split / f"{split}.jpg", 40, 30)
        (root / "labels" / split).mkdir(parents=True)
        (root / "labels" / split / f"{split}.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "d.yaml").write_text("train: images/train\nval: images/val\nnames: [a]\n")
    yolo_to_dmv2(root / "d.yaml", tmp_path / "dm")
    dmv2_to_coco(tmp_path / "dm", tmp_path / "out")
    ids = []
    for split in ["train", "valid"]:
        data = json.loads((tmp_path / "out" / "annotations" / f"instances_{split}.json").read_text())
        ids += [(image["id"], a["id"]) for image, a in zip(data["images"], data["annotations"])]
    assert len({i for i, _ in ids}) == 2 and len({a for _, a in ids}) == 2


def _convert_step_run(source: Path, source_format: DatasetFormat) -> DatasetContext:
    context = DatasetContext(runtime_ctx=RuntimeContext(), params={})
    context.dataset = {"path": str(source), "format": source_format}
    registry = StepRegistry[DatasetContext](inputs=("dataset",))  # set above, as a caller would
    registry.register(ConvertDatasetStep(target_format="dm_v2", source_format=source_format))
    Orchestrator(registry, context, lambda current, total: None).execute()
    return context


def test_convert_step_default_output_for_a_coco_file(tmp_path: Path) -> None:
    # Finding 5: the default output went beside the file, inside the dataset: always refused.
    source = _coco_with_names(tmp_path / "ls", ["images/a.jpg"])
    context = _convert_step_run(source, "coco")
    assert Path(str(context.dataset["path"])) == tmp_path / "ls_result_dm_v2"
    assert context.dataset["count"] == 1


def test_convert_step_default_output_for_a_coco_file_in_annotations(tmp_path: Path) -> None:
    # The dataset is the folder above annotations/: the output goes beside it, not inside it.
    _coco_folder(tmp_path / "coco")
    source = tmp_path / "coco" / "annotations" / "instances_val2017.json"
    assert _default_output(source, "dm_v2") == tmp_path / "coco_instances_val2017_dm_v2"


def test_convert_step_default_output_for_a_yolo_yaml(tmp_path: Path) -> None:
    _yolo_tree(tmp_path / "y")
    context = _convert_step_run(tmp_path / "y" / "d.yaml", "yolo")
    assert Path(str(context.dataset["path"])) == tmp_path / "y_d_dm_v2"
    assert context.dataset["count"] == 2


def test_coco_dropped_ring_is_a_change_and_counts_add_up(tmp_path: Path) -> None:
    # Finding 6: a dropped ring was audited as a skipped annotation although the object was
    # written (8 written + 6 skipped for 12), and the stored bbox/area replaced without a word.
    ring = [1, 1, 50, 5, 9, 100]
    segmentations = [[ring, [1, 1]], [ring, []], [[1, 1, 5, 5]], [[1, 1], [2, 2]], [ring]]
    root = tmp_path / "coco"
    write_image(root / "x.jpg", 64, 128)
    (root / "ann.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "x.jpg", "width": 64, "height": 128}],
        "annotations": [
            {"id": i, "image_id": 1, "category_id": 1, "segmentation": seg,
             "bbox": [1, 1, 8, 4], "area": 1, "iscrowd": 0}
            for i, seg in enumerate(segmentations, start=1)
        ],
        "categories": [{"id": 1, "name": "a"}],
    }))  # fmt: skip
    result = coco_to_dmv2(root / "ann.json", tmp_path / "dm")
    summary = result.audit
    assert (summary.annotations_written, summary.annotations_skipped) == (3, 2)
    assert summary.reasons == {"polygon_too_few_points": 2}
    assert summary.changes == {"polygon_ring_dropped": 2, "bbox_recomputed": 2}
    _, entries = read_audit(Path(result.audit_path))
    assert sorted((e.annotation, e.reason) for e in entries) == [
        ("1", AuditReason.BBOX_RECOMPUTED), ("1", AuditReason.POLYGON_RING_DROPPED),
        ("2", AuditReason.BBOX_RECOMPUTED), ("2", AuditReason.POLYGON_RING_DROPPED),
        ("3", AuditReason.POLYGON_TOO_FEW_POINTS), ("4", AuditReason.POLYGON_TOO_FEW_POINTS),
    ]  # fmt: skip
    (item,) = (tmp_path / "dm" / "json").glob("*.json")
    polygons = {p["id"]: p for p in json.loads(item.read_text())["images"][0]["polygon"]}
    assert polygons["1"].get("bbox") is None and polygons["5"]["bbox"] == [1.0, 1.0, 8.0, 4.0]


def _keypoint_coco(root: Path) -> Path:
    write_image(root / "x.jpg", 64, 48)
    box = {"image_id": 1, "bbox": [10, 10, 20, 20], "area": 400, "iscrowd": 0, "segmentation": []}
    path = root / "ann.json"
    path.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "x.jpg", "width": 64, "height": 48}],
        "annotations": [
            {**box, "id": 1, "category_id": 1, "keypoints": [12, 12, 2, 0, 0, 0, 20, 14, 1],
             "num_keypoints": 2},
            {**box, "id": 2, "category_id": 1, "keypoints": [12, 12, 2], "num_keypoints": 1},
            {**box, "id": 3, "category_id": 1},
            {**box, "id": 4, "category_id": 2},
        ],
        "categories": [
            {"id": 1, "name": "person", "keypoints": ["nose", "leye", "reye"],
             "skeleton": [[1, 2], [1, 3]]},
            {"id": 2, "name": "car"},
        ],
    }))  # fmt: skip
    return path


def test_coco_keypoints_of_the_wrong_count_are_dropped_and_audited(tmp_path: Path) -> None:
    # Finding 7: three keypoints named, one given: kept silently, and COCOeval failed later.
    result = coco_to_dmv2(_keypoint_coco(tmp_path / "kp"), tmp_path / "dm")
    assert result.audit.changes == {"keypoints_dropped": 1}
    _, entries = read_audit(Path(result.audit_path))
    assert [(e.annotation, e.reason) for e in entries] == [("2", AuditReason.KEYPOINTS_DROPPED)]
    (item,) = (tmp_path / "dm" / "json").glob("*.json")
    boxes = {b["id"]: b for b in json.loads(item.read_text())["images"][0]["bounding_box"]}
    assert boxes["2"]["keypoints"] == [] and len(boxes["1"]["keypoints"]) == 3


def test_coco_keypoint_output_is_read_by_cocoeval_keypoints(tmp_path: Path) -> None:
    # Finding 7: objects without keypoints had no num_keypoints: COCOeval raised KeyError.
    import numpy as np
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    coco_to_dmv2(_keypoint_coco(tmp_path / "kp"), tmp_path / "dm")
    dmv2_to_coco(tmp_path / "dm", tmp_path / "out")
    path = tmp_path / "out" / "annotations" / "instances.json"
    data = json.loads(path.read_text())
    by_id = {a["id"]: a for a in data["annotations"]}
    assert by_id[3]["keypoints"] == [0] * 9 and by_id[3]["num_keypoints"] == 0
    assert by_id[4]["num_keypoints"] == 0 and "keypoints" not in by_id[4]
    gt = COCO(str(path))
    dt = gt.loadRes([{**by_id[1], "score": 1.0}])
    evaluation = COCOeval(gt, dt, "keypoints")
    # Sigmas for our three keypoints (the default is COCO person's 17).
    evaluation.params.kpt_oks_sigmas = np.array([0.26, 0.25, 0.25]) / 10  # type: ignore[attr-defined]  # pycocotools' stubs omit params
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)  # the one object found exactly


def _one_image_coco(root: Path, categories: list[dict[str, object]], category_id: int) -> Path:
    write_image(root / "x.jpg", 64, 48)
    path = root / "ann.json"
    path.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "x.jpg", "width": 64, "height": 48}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": category_id,
                         "bbox": [1, 1, 9, 9], "area": 81, "iscrowd": 0}],
        "categories": categories,
    }))  # fmt: skip
    return path


def test_coco_category_names_shared_by_two_ids_are_one_class(tmp_path: Path) -> None:
    # Finding 8: Roboflow's project entry {0: fire} beside its class {1: fire} stopped the import.
    categories: list[dict[str, object]] = [
        {"id": 0, "name": "fire", "supercategory": "none"},
        {"id": 1, "name": "fire", "supercategory": "fire"},
    ]
    result = coco_to_dmv2(_one_image_coco(tmp_path / "rf", categories, 1), tmp_path / "dm")
    assert result.audit.changes == {"category_merged": 1}
    _, entries = read_audit(Path(result.audit_path))
    assert "category id(s) [0]" in entries[0].message and "id 1" in entries[0].message
    manifest = json.loads((tmp_path / "dm" / "dataset.json").read_text())
    assert manifest["categories"] == [{"id": 1, "name": "fire", "supercategory": "fire"}]
    dmv2_to_coco(tmp_path / "dm", tmp_path / "out")
    out = json.loads((tmp_path / "out" / "annotations" / "instances.json").read_text())
    assert [a["category_id"] for a in out["annotations"]] == [1]


def test_coco_category_names_shared_the_used_id_wins(tmp_path: Path) -> None:
    categories: list[dict[str, object]] = [{"id": 3, "name": "a"}, {"id": 7, "name": "a"}]
    result = coco_to_dmv2(_one_image_coco(tmp_path / "c", categories, 3), tmp_path / "dm")
    manifest = json.loads((tmp_path / "dm" / "dataset.json").read_text())
    assert [c["id"] for c in manifest["categories"]] == [3]
    assert result.audit.annotations_written == 1


def test_coco_duplicate_category_id_in_one_file_names_both_entries(tmp_path: Path) -> None:
    # Finding 8: the message spoke of "another annotations file" for a clash within one file.
    categories: list[dict[str, object]] = [{"id": 1, "name": "a"}, {"id": 1, "name": "b"}]
    path = _one_image_coco(tmp_path / "c", categories, 1)
    with pytest.raises(DatasetInputError) as caught:
        coco_to_dmv2(path, tmp_path / "dm")
    message = str(caught.value)
    assert "given twice in this file" in message and "'a'" in message and "'b'" in message
    assert str(path) in message and not (tmp_path / "dm").exists()


_SIGTERM_CHILD = """
import sys, time
from pathlib import Path
import steprail.datasets._yolo as yolo
from steprail.datasets import dmv2_to_yolo

ready = Path(sys.argv[3])
real_link = yolo.link_or_copy

def slow_link(source, target):
    real_link(source, target)
    ready.touch()  # one item is on disk: the output is half written from here
    time.sleep(60)

yolo.link_or_copy = slow_link
dmv2_to_yolo(Path(sys.argv[1]), Path(sys.argv[2]))
"""


def test_sigterm_mid_conversion_removes_the_output(tmp_path: Path) -> None:
    # Finding 9: SIGTERM (timeout, docker stop) left a half-written output and a claim file.
    source = _coco_with_names(tmp_path / "coco", ["a.jpg", "b.jpg"])
    coco_to_dmv2(source, tmp_path / "dm")
    ready, output = tmp_path / "ready", tmp_path / "out" / "yolo"
    child = subprocess.Popen(
        [sys.executable, "-c", _SIGTERM_CHILD, str(tmp_path / "dm"), str(output), str(ready)],
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            assert time.monotonic() < deadline, "the child never wrote an item"
            time.sleep(0.02)
        assert any(output.iterdir())
        child.send_signal(signal.SIGTERM)
        assert child.wait(30) == 128 + signal.SIGTERM
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert not output.exists() and not (tmp_path / "out").exists()


def test_coco_2017_test_split_is_imported_without_annotations(tmp_path: Path) -> None:
    # Finding 10: test2017/ with image_info_test-dev2017.json was dropped without a word.
    root = tmp_path / "coco"
    _coco_folder(root)
    for name in ["t1.jpg", "t2.jpg"]:
        write_image(root / "test2017" / name, 40, 30)
    (root / "annotations" / "image_info_test-dev2017.json").write_text(json.dumps({
        "images": [{"id": 7, "file_name": "t1.jpg", "width": 40, "height": 30}],
        "categories": [{"id": 1, "name": "a"}],
    }))  # fmt: skip
    result = coco_to_dmv2(root, tmp_path / "dm")
    assert sorted(result.splits) == ["test", "valid"]
    item = json.loads((tmp_path / "dm" / "test" / "json" / "t1.json").read_text())
    assert item["source"] == {"file_name": "t1.jpg", "image_id": 7}
    _, entries = read_audit(Path(result.audit_path))
    assert [(e.split, e.item, e.reason) for e in entries] == [
        ("test", "t2.jpg", AuditReason.UNLISTED_IMAGE)
    ]
    assert (result.audit.items_written, result.audit.items_total) == (2, 3)


def test_coco_import_checks_boxes_against_the_image_as_the_output_does(tmp_path: Path) -> None:
    # Finding 11: the import kept a box the COCO output then skipped (box_outside_image).
    root = tmp_path / "c"
    write_image(root / "x.jpg", 640, 480)
    box = {"image_id": 1, "category_id": 1, "area": 100, "iscrowd": 0}
    (root / "ann.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "x.jpg", "width": 640, "height": 480}],
        "annotations": [
            {**box, "id": 1, "bbox": [-5, -5, 10, 10]},  # past the 1% tolerance (4.8 px high)
            {**box, "id": 2, "bbox": [-2, -2, 10, 10]},  # within it: clipped
            {**box, "id": 3, "bbox": [5, 5, 10, 10]},
        ],
        "categories": [{"id": 1, "name": "a"}],
    }))  # fmt: skip
    result = coco_to_dmv2(root / "ann.json", tmp_path / "dm")
    assert result.audit.reasons == {"box_outside_image": 1}
    assert result.audit.changes == {"clamped_to_image": 1}
    assert result.audit.annotations_written == 2
    out = dmv2_to_coco(tmp_path / "dm", tmp_path / "out")
    assert out.audit.reasons == {} and out.audit.annotations_written == 2
    data = json.loads((tmp_path / "out" / "annotations" / "instances.json").read_text())
    assert sorted(a["bbox"] for a in data["annotations"]) == [[0, 0, 8, 8], [5, 5, 10, 10]]


def test_voc_object_with_two_names_or_boxes_is_audited(tmp_path: Path) -> None:
    # Finding 12: an <object> with two <name> and two <bndbox> was read as its first ones, the
    # second class and box dropped without a word.
    root = tmp_path / "voc"
    write_image(root / "JPEGImages" / "a.jpg", 40, 30)
    box = "<bndbox><xmin>{0}</xmin><ymin>{0}</ymin><xmax>20</xmax><ymax>20</ymax></bndbox>"
    objects = [
        f"<object><name>car</name>{box.format(2)}</object>",
        f"<object><name>car</name><name>bus</name>{box.format(3)}{box.format(4)}</object>",
        f"<object><name>car</name>{box.format(5)}{box.format(6)}</object>",
    ]
    (root / "Annotations").mkdir(parents=True)
    (root / "Annotations" / "a.xml").write_text(
        f"<annotation><filename>a.jpg</filename>{''.join(objects)}</annotation>"
    )
    result = voc_to_dmv2(root, tmp_path / "dm")
    assert result.audit.annotations_written == 1
    assert result.audit.reasons == {"invalid_annotation": 2}
    _, entries = read_audit(Path(result.audit_path))
    messages = sorted(e.message for e in entries)
    assert "2 <name> and 2 <bndbox>" in messages[0] and "2 <bndbox>" in messages[1]


@pytest.mark.parametrize("given", ["folder", "file"])
def test_labelme_visualization_folder_is_not_unlisted_images(tmp_path: Path, given: str) -> None:
    # Finding 13: labelme's real COCO export has Visualization/ (renderings) beside JPEGImages/;
    # they were counted as unlisted images (items_total 6 for 3 images).
    source = tmp_path / "labelme_coco"
    shutil.copytree(Path(__file__).parent.parent / "data" / "real" / "labelme_coco", source)
    for image in sorted((source / "JPEGImages").glob("*.jpg")):
        (source / "Visualization").mkdir(exist_ok=True)
        shutil.copy(image, source / "Visualization" / image.name)
    shutil.copy(next((source / "JPEGImages").glob("*.jpg")), source / "JPEGImages" / "spare.jpg")
    result = coco_to_dmv2(source if given == "folder" else source / "annotations.json", tmp_path / "dm")
    _, entries = read_audit(Path(result.audit_path))
    assert [(e.item, e.reason) for e in entries] == [
        ("JPEGImages/spare.jpg", AuditReason.UNLISTED_IMAGE)
    ]
    assert result.audit.items_total == result.audit.items_written + 1 == 4


def test_backend_import_that_loses_a_name_race_says_already_exists(tmp_path: Path) -> None:
    # Finding 14: the loser of two imports of one name got "UNIQUE constraint failed".
    sample = make_sample_dataset(tmp_path / "sample", items=3, seed=1)
    first, second = LocalBackend(tmp_path / "store"), LocalBackend(tmp_path / "store")
    real_stage = LocalBackend._stage_dmv2

    def stage_while_the_other_imports(source: Path, staging: Path) -> AuditSummary:
        second.import_dataset(sample.path, name="demo")  # wins while the first is staging
        return real_stage(first, source, staging)

    first._stage_dmv2 = stage_while_the_other_imports  # type: ignore[method-assign]  # this instance only
    with pytest.raises(BackendError, match="'demo' already exists .another process"):
        first.import_dataset(sample.path, name="demo")
    assert [d.name for d in second.list_datasets()] == ["demo"]
    first.close()
    second.close()


def test_output_that_is_a_file_is_named_as_such(tmp_path: Path) -> None:
    # Finding 15: a file as output was "exists and is not empty".
    _coco_folder(tmp_path / "coco")
    (tmp_path / "out").write_text("mine")
    with pytest.raises(OutputExistsError, match="exists and is not a folder"):
        coco_to_dmv2(tmp_path / "coco", tmp_path / "out")
    assert (tmp_path / "out").read_text() == "mine"


def test_coco_fifo_image_is_unreadable_not_missing(tmp_path: Path) -> None:
    root = tmp_path / "coco"
    _coco_folder(root)
    data = json.loads((root / "annotations" / "instances_val2017.json").read_text())
    data["images"].append({"id": 2, "file_name": "f.jpg", "width": 40, "height": 30})
    (root / "annotations" / "instances_val2017.json").write_text(json.dumps(data))
    os.mkfifo(root / "val2017" / "f.jpg")
    result = coco_to_dmv2(root, tmp_path / "dm")
    _, entries = read_audit(Path(result.audit_path))
    assert [(e.item, e.reason) for e in entries] == [("f.jpg", AuditReason.UNREADABLE_IMAGE)]
    assert "FIFO" in entries[0].message


def test_yolo_nothing_usable_gives_the_reasons(tmp_path: Path) -> None:
    root = tmp_path / "y"
    (root / "images" / "train").mkdir(parents=True)
    (root / "images" / "train" / "a.jpg").write_bytes(b"not an image")
    (root / "d.yaml").write_text("train: images/train\nval: images/train\nnames: [a]\n")
    with pytest.raises(NoUsableItemsError, match=r"1 image\(s\), all skipped .*unreadable_image"):
        yolo_to_dmv2(root / "d.yaml", tmp_path / "dm")


def test_yolo_yaml_boolean_names_and_nc_mismatch_follow_ultralytics(tmp_path: Path) -> None:
    # Finding 16: `names: [on, off]` (YAML booleans) stopped the import, while Ultralytics
    # names the classes str() of them; `nc` disagreeing with `names` was accepted silently,
    # while Ultralytics refuses the yaml.
    root = tmp_path / "y"
    _yolo_tree(root)
    (root / "d.yaml").write_text("train: images/train\nval: images/train\nnames: [on, off]\n")
    result = yolo_to_dmv2(root / "d.yaml", tmp_path / "dm")
    assert result.classes == ["False", "True"]
    (root / "d.yaml").write_text("train: images/train\nval: images/train\nnc: 5\nnames: [a, b]\n")
    with pytest.raises(DatasetInputError, match="'names' has 2 name.s. but 'nc' is 5"):
        yolo_to_dmv2(root / "d.yaml", tmp_path / "dm2")


def test_coco_file_name_in_another_unicode_form_or_with_backslashes(tmp_path: Path) -> None:
    # Finding 17: an NFC file_name for an NFD file on disk was both missing_image and
    # unlisted_image; `sub\\x.jpg` became `sub/x.jpg` without an entry.
    root = tmp_path / "c"
    nfc, nfd = "caf\u00e9.jpg", "cafe\u0301.jpg"
    write_image(root / nfd, 40, 30)
    write_image(root / "sub" / "x.jpg", 40, 30)
    (root / "ann.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": nfc, "width": 40, "height": 30},
                   {"id": 2, "file_name": "sub\\x.jpg", "width": 40, "height": 30}],
        "annotations": [], "categories": [{"id": 1, "name": "a"}],
    }))  # fmt: skip
    result = coco_to_dmv2(root / "ann.json", tmp_path / "dm")
    assert result.audit.items_written == 2 and result.audit.reasons == {}
    _, entries = read_audit(Path(result.audit_path))
    assert sorted((e.item, e.reason) for e in entries) == [
        (nfd, AuditReason.SOURCE_DISAGREES), ("sub/x.jpg", AuditReason.SOURCE_DISAGREES)
    ]
