"""Our output read by real consumers: pycocotools and supervision, not by our own readers."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest
import supervision as sv
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from steprail.datasets import dmv2_to_coco, dmv2_to_yolo, make_sample_dataset

from ._helpers import close_boxes, read_dmv2

Expected = list[tuple[str, float, float, float, float]]


def _expected(root: Path, split: str) -> dict[str, Expected]:
    """Per image file name: (class, x0, y0, x1, y1) for boxes and for polygons' bounding boxes."""
    out: dict[str, Expected] = {}
    for (item_split, stem), (boxes, polygons) in read_dmv2(root).items():
        if item_split != split:
            continue
        rows: Expected = [(name, x, y, x + w, y + h) for name, x, y, w, h in boxes]
        for name, points in polygons:
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            rows.append((name, min(xs), min(ys), max(xs), max(ys)))
        out[f"{stem}.png"] = sorted(rows)
    return out


def _sample(tmp_path: Path, seed: int) -> Path:
    sample = make_sample_dataset(
        tmp_path / "dm", items=9, seed=seed, boxes_per_item=3, polygons_per_item=2
    )
    return Path(sample.path)


@pytest.mark.parametrize("seed", [0, 1])
def test_pycocotools_ground_truth_against_itself_is_ap_1(tmp_path: Path, seed: int) -> None:
    source = _sample(tmp_path, seed)
    result = dmv2_to_coco(source, tmp_path / "coco")
    for split in result.splits:
        path = tmp_path / "coco" / "annotations" / f"instances_{split}.json"
        with contextlib.redirect_stdout(io.StringIO()):
            truth = COCO(str(path))
        annotations = truth.loadAnns(truth.getAnnIds())
        assert len(annotations) == sum(len(v) for v in _expected(source, split).values())
        detections = [
            {"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0}
            for a in annotations
        ]
        with contextlib.redirect_stdout(io.StringIO()):
            evaluation = COCOeval(truth, truth.loadRes(detections), "bbox")
            evaluation.evaluate()
            evaluation.accumulate()
            evaluation.summarize()
        assert evaluation.stats[0] == pytest.approx(1.0), split
        assert evaluation.stats[1] == pytest.approx(1.0), split
        # Polygons are real polygons to pycocotools: their masks are not empty.
        polygons = [a for a in annotations if a["segmentation"]]
        assert polygons
        assert all(truth.annToMask(a).sum() > 0 for a in polygons)
        assert [c["name"] for c in truth.loadCats(truth.getCatIds())] == result.classes


def _check_detections(
    dataset: sv.DetectionDataset, expected: dict[str, Expected], classes: list[str]
) -> None:
    assert list(dataset.classes) == classes
    seen = set()
    for image_path, _, detections in dataset:
        name = Path(image_path).name
        seen.add(name)
        got = sorted(
            (
                dataset.classes[int(class_id)],
                float(x0),
                float(y0),
                float(x1),
                float(y1),
            )
            for (x0, y0, x1, y1), class_id in zip(
                np.asarray(detections.xyxy), np.asarray(detections.class_id), strict=True
            )
        )
        # Matched with a tolerance, not by sorting: float32 noise can reorder near-ties.
        assert close_boxes(got, expected[name], tol=0.01), (name, got, expected[name])
    assert seen == set(expected)


@pytest.mark.parametrize("seed", [0, 3])
def test_supervision_reads_yolo_with_the_same_boxes_and_names(tmp_path: Path, seed: int) -> None:
    source = _sample(tmp_path, seed)
    result = dmv2_to_yolo(source, tmp_path / "yolo")
    out = tmp_path / "yolo"
    for split in result.splits:
        dataset = sv.DetectionDataset.from_yolo(
            images_directory_path=str(out / "images" / split),
            annotations_directory_path=str(out / "labels" / split),
            data_yaml_path=str(out / "dataset.yaml"),
        )
        _check_detections(dataset, _expected(source, split), result.classes)


@pytest.mark.parametrize("seed", [0, 3])
def test_supervision_reads_coco_with_the_same_boxes_and_names(tmp_path: Path, seed: int) -> None:
    source = _sample(tmp_path, seed)
    result = dmv2_to_coco(source, tmp_path / "coco")
    out = tmp_path / "coco"
    for split in result.splits:
        dataset = sv.DetectionDataset.from_coco(
            images_directory_path=str(out / "images" / split),
            annotations_path=str(out / "annotations" / f"instances_{split}.json"),
        )
        _check_detections(dataset, _expected(source, split), result.classes)


def test_supervision_reads_quoted_class_names_from_dataset_yaml(tmp_path: Path) -> None:
    # dataset.yaml is written by hand (JSON-quoted strings); a real YAML parser must agree.
    names = ["a: b", 'say "hi"', "Ünï", "- x", "0"]
    sample = make_sample_dataset(tmp_path / "dm", items=3, classes=names)
    result = dmv2_to_yolo(Path(sample.path), tmp_path / "yolo")
    out = tmp_path / "yolo"
    dataset = sv.DetectionDataset.from_yolo(
        images_directory_path=str(out / "images" / "train"),
        annotations_directory_path=str(out / "labels" / "train"),
        data_yaml_path=result.config_path,
    )
    assert list(dataset.classes) == sorted(names)
    _check_detections(dataset, _expected(Path(sample.path), "train"), result.classes)
