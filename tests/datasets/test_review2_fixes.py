"""Findings of the second hostile review of the datasets on real data (issue 9)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from steprail.datasets import (
    AuditReason,
    coco_to_dmv2,
    dmv2_to_yolo,
    read_audit,
    yolo_to_dmv2,
)

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
