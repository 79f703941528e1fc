"""Real public datasets (tests/data/real, nobody here wrote them) through every conversion path.

What is compared comes from each fixture's ``facts.json`` (computed with pycocotools and PyYAML,
not with steprail) or from the original files read by a real consumer (pycocotools, supervision),
never from our own readers alone.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import supervision as sv
import yaml
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from steprail.datasets import (
    AuditReason,
    ConversionResult,
    coco_to_dmv2,
    dmv2_to_coco,
    dmv2_to_yolo,
    read_audit,
    yolo_to_dmv2,
)

REAL = Path(__file__).resolve().parents[1] / "data" / "real"


def _facts(name: str) -> dict[str, Any]:
    facts: dict[str, Any] = json.loads((REAL / name / "facts.json").read_text(encoding="utf-8"))
    return facts


def _quiet_coco(path: Path) -> COCO:
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(path))


def _items(dm: Path) -> list[dict[str, Any]]:
    return [
        json.loads(p.read_text(encoding="utf-8")) for p in sorted(dm.rglob("json/*.json"))
    ]


def _changes(result: ConversionResult) -> Counter[str]:
    _, entries = read_audit(Path(result.audit_path))
    return Counter(e.reason.value for e in entries if e.action == "changed")


def _bbox_ap(truth: COCO, detections: list[dict[str, Any]], kind: str = "bbox") -> float:
    with contextlib.redirect_stdout(io.StringIO()):
        evaluation = COCOeval(truth, truth.loadRes(detections), kind)
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return float(evaluation.stats[0])


def _as_detections(annotations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keys = ("image_id", "category_id", "bbox")
    return [{**{k: a[k] for k in keys}, "score": 1.0} for a in annotations]


def _as_mask_detections(coco: COCO, annotations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Segmentation results must be RLE for loadRes: made from our polygons by pycocotools.
    return [
        {
            "image_id": a["image_id"],
            "category_id": a["category_id"],
            "segmentation": coco.annToRLE(a),
            "score": 1.0,
        }
        for a in annotations
    ]


# -- COCO 2017 layout ------------------------------------------------------------------------


def test_coco2017_layout_imports_with_its_ids_and_counts(tmp_path: Path) -> None:
    facts = _facts("coco2017_val")
    result = coco_to_dmv2(REAL / "coco2017_val", tmp_path / "dm")
    # val2017 is the valid split; every image and every object of the file is there.
    assert result.splits == ["valid"]
    assert result.audit.items_written == facts["images"] == facts["images_on_disk"]
    assert result.audit.annotations_written == facts["annotations"]
    assert result.audit.items_skipped == result.audit.annotations_skipped == 0
    # Kept: every category (unused ones, id gaps, supercategory) and every image id.
    manifest = json.loads((tmp_path / "dm" / "dataset.json").read_text())
    assert manifest["version"] == "2.1"
    assert manifest["categories"] == facts["categories"]
    items = _items(tmp_path / "dm")
    assert sorted(i["source"]["image_id"] for i in items) == facts["image_ids"]
    assert sorted(i["source"]["file_name"] for i in items) == facts["file_names"]
    # The crowd region keeps its RLE mask and its flag: nothing changed.
    assert result.audit.changes == {}
    crowds = [b for i in items for b in i["images"][0]["bounding_box"] if b.get("crowd")]
    assert len(crowds) == facts["crowd_rle"] and all(b["mask"]["counts"] for b in crowds)
    multi = [p for i in items for p in i["images"][0]["polygon"] if p.get("rings")]
    assert len(multi) == facts["multi_polygon"]


def test_coco2017_through_dmv2_back_to_coco_is_the_same_for_pycocotools(tmp_path: Path) -> None:
    original_path = REAL / "coco2017_val" / "annotations" / "instances_val2017.json"
    coco_to_dmv2(REAL / "coco2017_val", tmp_path / "dm")
    result = dmv2_to_coco(tmp_path / "dm", tmp_path / "coco")
    out_path = tmp_path / "coco" / "annotations" / "instances_valid.json"
    original, ours = _quiet_coco(original_path), _quiet_coco(out_path)
    assert ours.dataset["categories"] == original.dataset["categories"]
    assert sorted((i["id"], i["file_name"]) for i in ours.dataset["images"]) == sorted(
        (i["id"], i["file_name"]) for i in original.dataset["images"]
    )
    for image in ours.dataset["images"]:
        assert (tmp_path / "coco" / "images" / "valid" / image["file_name"]).is_file()
    annotations = ours.loadAnns(ours.getAnnIds())
    # Our output as detections against the original ground truth: a perfect match.
    assert _bbox_ap(original, _as_detections(annotations)) == pytest.approx(1.0)
    # Mask tools accept every annotation we write, and segm evaluation runs on our output.
    assert all(ours.annToMask(a).sum() > 0 for a in annotations)
    # (loadRes adds fields to the detections it is given: each call gets fresh ones.)
    # Masks too: crowd regions keep their RLE, so segm matches the original exactly.
    assert _bbox_ap(original, _as_mask_detections(ours, annotations), "segm") == pytest.approx(1.0)
    assert _bbox_ap(ours, _as_mask_detections(ours, annotations), "segm") == pytest.approx(1.0)
    assert result.audit.annotations_skipped == 0


def test_coco2017_to_yolo_says_what_it_changed(tmp_path: Path) -> None:
    coco_to_dmv2(REAL / "coco2017_val", tmp_path / "dm")
    result = dmv2_to_yolo(tmp_path / "dm", tmp_path / "yolo")
    changes = _changes(result)
    # COCO's ids 1..90 with gaps cannot be YOLO ids; the mapping is in the audit.
    assert changes[AuditReason.CLASS_IDS_RENUMBERED.value] == 1
    assert changes[AuditReason.POLYGON_RINGS_SPLIT.value] == _facts("coco2017_val")["multi_polygon"]
    config = yaml.safe_load((tmp_path / "yolo" / "dataset.yaml").read_text())
    assert "path" not in config  # relative to the yaml: the folder can be moved
    assert config["names"][0] == "person" and len(config["names"]) == 80


# -- a tool's COCO export (labelme) ---------------------------------------------------------


@pytest.mark.parametrize("given", ["folder", "file", "file+root"])
def test_labelme_export_keeps_sub_folder_names_and_ids(tmp_path: Path, given: str) -> None:
    facts = _facts("labelme_coco")
    annotations = REAL / "labelme_coco" / "annotations.json"
    if given == "folder":
        result = coco_to_dmv2(REAL / "labelme_coco", tmp_path / "dm")
    elif given == "file":
        result = coco_to_dmv2(annotations, tmp_path / "dm")
    else:
        result = coco_to_dmv2(annotations, tmp_path / "dm", images_root=REAL / "labelme_coco")
    assert result.audit.items_written == facts["images"]
    assert result.audit.annotations_written == facts["annotations"]
    items = _items(tmp_path / "dm")
    assert sorted(i["source"]["file_name"] for i in items) == facts["file_names"]
    assert sorted(i["source"]["image_id"] for i in items) == facts["image_ids"]
    manifest = json.loads((tmp_path / "dm" / "dataset.json").read_text())
    # Category 0 (_background_), the unused ones and the null supercategory included.
    assert manifest["categories"] == facts["categories"]


def test_labelme_export_back_to_coco_matches_the_original(tmp_path: Path) -> None:
    source = REAL / "labelme_coco" / "annotations.json"
    coco_to_dmv2(source, tmp_path / "dm")
    result = dmv2_to_coco(tmp_path / "dm", tmp_path / "coco")
    ours = _quiet_coco(tmp_path / "coco" / "annotations" / "instances.json")
    original = _quiet_coco(source)
    assert sorted(i["file_name"] for i in ours.dataset["images"]) == _facts("labelme_coco")["file_names"]
    assert (tmp_path / "coco" / "images" / "JPEGImages" / "2011_000003.jpg").is_file()
    annotations = ours.loadAnns(ours.getAnnIds())
    assert len(annotations) == len(original.getAnnIds())
    # pycocotools never matches a ground-truth annotation with id 0 (it marks "unmatched" with
    # 0), and labelme numbers from 0: the original against itself is the ceiling to reach.
    ceiling = _bbox_ap(original, _as_detections(original.loadAnns(original.getAnnIds())))
    assert ceiling < 1.0
    assert _bbox_ap(original, _as_detections(annotations)) == pytest.approx(ceiling)
    # A point 0.4 px past the bottom edge is clipped, and said (not dropped, not silent).
    assert _changes(result)[AuditReason.CLAMPED_TO_IMAGE.value] == 1
    assert result.audit.annotations_skipped == 0


# -- Ultralytics datasets with their published yaml ------------------------------------------


def _label_class_ids(folder: Path) -> dict[str, list[int]]:
    return {
        p.relative_to(folder).as_posix(): sorted(int(line.split()[0]) for line in p.read_text().splitlines() if line.strip())
        for p in sorted(folder.rglob("*.txt"))
    }


@pytest.mark.parametrize("name", ["coco8-seg", "coco128"])
def test_ultralytics_dataset_round_trip_keeps_class_ids(tmp_path: Path, name: str) -> None:
    facts = _facts(name)
    result = yolo_to_dmv2(REAL / name, tmp_path / "dm")  # the folder: its yaml is found
    splits = {k: v for k, v in facts["splits"].items() if v}
    folders = {v["folder"] for v in splits.values()}
    images = sum(v["images"] for v in splits.values()) if len(folders) > 1 else next(iter(splits.values()))["images"]
    rows = sum(v["label_rows"] for v in splits.values()) if len(folders) > 1 else next(iter(splits.values()))["label_rows"]
    assert result.audit.items_written == images
    assert result.audit.annotations_written == rows
    back = dmv2_to_yolo(tmp_path / "dm", tmp_path / "yolo")
    config = yaml.safe_load((tmp_path / "yolo" / "dataset.yaml").read_text())
    assert {str(k): v for k, v in config["names"].items()} == facts["names"]
    original = Counter(c for ids in _label_class_ids(REAL / name / "labels").values() for c in ids)
    ours = Counter(c for ids in _label_class_ids(tmp_path / "yolo" / "labels").values() for c in ids)
    assert ours == original  # person is still 0, not renumbered by name
    assert back.audit.annotations_written == rows
    assert back.audit.changes == {}


def test_ultralytics_output_reads_in_supervision(tmp_path: Path) -> None:
    yolo_to_dmv2(REAL / "coco8-seg" / "coco8-seg.yaml", tmp_path / "dm")
    dmv2_to_yolo(tmp_path / "dm", tmp_path / "yolo")
    for split, key in (("train", "train"), ("valid", "val")):
        ours = sv.DetectionDataset.from_yolo(
            images_directory_path=str(tmp_path / "yolo" / "images" / split),
            annotations_directory_path=str(tmp_path / "yolo" / "labels" / split),
            data_yaml_path=str(tmp_path / "yolo" / "dataset.yaml"),
        )
        original = sv.DetectionDataset.from_yolo(
            images_directory_path=str(REAL / "coco8-seg" / "images" / key),
            annotations_directory_path=str(REAL / "coco8-seg" / "labels" / key),
            data_yaml_path=str(REAL / "coco8-seg" / "coco8-seg.yaml"),
        )
        assert list(ours.classes) == list(original.classes)
        theirs = {Path(p).name: d for p, _, d in original}
        for path, _, detections in ours:
            expected = theirs[Path(path).name]
            assert sorted(np.asarray(detections.class_id).tolist()) == sorted(
                np.asarray(expected.class_id).tolist()
            )
            assert np.allclose(
                np.sort(np.asarray(detections.xyxy), axis=0),
                np.sort(np.asarray(expected.xyxy), axis=0),
                atol=1.0,
            )


def test_ultralytics_pose_keypoints_are_kept_through_every_path(tmp_path: Path) -> None:
    facts = _facts("coco8-pose")
    rows = sum(v["label_rows"] for v in facts["splits"].values() if v)
    result = yolo_to_dmv2(REAL / "coco8-pose", tmp_path / "dm")
    assert result.audit.annotations_written == rows and result.audit.changes == {}
    boxes = [b for i in _items(tmp_path / "dm") for b in i["images"][0]["bounding_box"]]
    assert len(boxes) == rows and all(len(b["keypoints"]) == 17 for b in boxes)
    manifest = json.loads((tmp_path / "dm" / "dataset.json").read_text())
    assert manifest["keypoints"]["names"][:3] == ["nose", "left_eye", "right_eye"]
    # COCO output: pycocotools evaluates keypoints of our output against itself perfectly.
    dmv2_to_coco(tmp_path / "dm", tmp_path / "coco")
    truth = _quiet_coco(tmp_path / "coco" / "annotations" / "instances_valid.json")
    detections = [
        {"image_id": a["image_id"], "category_id": a["category_id"], "keypoints": a["keypoints"],
         "score": 1.0}
        for a in truth.loadAnns(truth.getAnnIds())
    ]  # fmt: skip
    assert _bbox_ap(truth, detections, "keypoints") == pytest.approx(1.0)
    # And back to COCO -> DM v2 -> YOLO: the same pose rows as the published labels.
    coco_to_dmv2(tmp_path / "coco", tmp_path / "dm2")
    back = dmv2_to_yolo(tmp_path / "dm2", tmp_path / "yolo")
    assert back.audit.changes == {}
    config = yaml.safe_load((tmp_path / "yolo" / "dataset.yaml").read_text())
    assert config["kpt_shape"] == [17, 3]
    ours = sorted(
        line for p in (tmp_path / "yolo" / "labels").rglob("*.txt") for line in p.read_text().splitlines()
    )
    original = sorted(
        line.strip()
        for p in (REAL / "coco8-pose" / "labels").rglob("*.txt")
        for line in p.read_text().splitlines()
        if line.strip()
    )
    assert len(ours) == len(original)
    for mine, theirs in zip(ours, original, strict=True):
        assert np.allclose([float(v) for v in mine.split()], [float(v) for v in theirs.split()], atol=2e-6)


# -- the backend imports what users have -----------------------------------------------------


def test_backend_imports_the_real_layouts_with_their_counts(tmp_path: Path) -> None:
    from steprail.datasets import LocalBackend

    with LocalBackend(tmp_path / "store") as backend:
        coco = backend.import_dataset(REAL / "coco2017_val", source_format="coco")
        assert coco.dataset.name == "coco2017_val"
        assert coco.dataset.count == _facts("coco2017_val")["images"]
        assert coco.dataset.splits == {"valid": 3}
        labelme = backend.import_dataset(
            REAL / "labelme_coco" / "annotations.json", source_format="coco"
        )
        assert labelme.dataset.name == "labelme_coco" and labelme.dataset.count == 3
        seg = backend.import_dataset(REAL / "coco8-seg" / "coco8-seg.yaml", source_format="yolo")
        assert seg.dataset.splits == {"train": 4, "valid": 4}
        assert seg.audit.annotations_written == 30
        # What was stored converts back with the source's ids: the manifest kept them.
        out = backend.download_dataset(seg.dataset.id, tmp_path / "seg_dm")
        back = dmv2_to_yolo(Path(out.path), tmp_path / "seg_yolo")
        names = yaml.safe_load((tmp_path / "seg_yolo" / "dataset.yaml").read_text())["names"]
        assert names == {int(k): v for k, v in _facts("coco8-seg")["names"].items()}
        assert back.audit.annotations_written == 30


def test_backend_errors_name_the_users_path_never_the_staging_folder(tmp_path: Path) -> None:
    from steprail.datasets import DatasetInputError, LocalBackend, NoUsableItemsError

    empty = tmp_path / "empty"
    (empty / "annotations").mkdir(parents=True)
    (empty / "annotations" / "instances_val2017.json").write_text(
        json.dumps({"images": [{"id": 1, "file_name": "gone.jpg"}], "categories": []})
    )
    with LocalBackend(tmp_path / "store") as backend:
        for source, error in (
            (empty, NoUsableItemsError),
            (tmp_path / "nothing", DatasetInputError),
        ):
            with pytest.raises(error) as caught:
                backend.import_dataset(source, source_format="coco")
            assert str(source) in str(caught.value)
            assert "staging" not in str(caught.value)
        assert backend.list_datasets() == []


# -- ids: an explicit class map, and ids shared across splits --------------------------------


def test_an_explicit_class_map_fixes_the_ids_and_audits_other_classes(tmp_path: Path) -> None:
    coco_to_dmv2(REAL / "coco2017_val", tmp_path / "dm")
    class_map = {"person": 0, "car": 2}  # a model that knows only these two
    yolo = dmv2_to_yolo(tmp_path / "dm", tmp_path / "yolo", class_map=class_map)
    config = yaml.safe_load((tmp_path / "yolo" / "dataset.yaml").read_text())
    assert config["names"] == {0: "person", 1: "class_1", 2: "car"}
    rows = [
        line.split()[0]
        for p in (tmp_path / "yolo" / "labels").rglob("*.txt")
        for line in p.read_text().splitlines()
    ]
    per_id = _facts("coco2017_val")["annotations_per_category_id"]
    assert rows.count("0") == per_id["1"]  # every person (COCO id 1) is class 0
    _, entries = read_audit(Path(yolo.audit_path))
    unknown = [e for e in entries if e.reason is AuditReason.UNKNOWN_CLASS]
    assert len(unknown) == _facts("coco2017_val")["annotations"] - per_id["1"] - per_id.get("3", 0)
    coco = dmv2_to_coco(tmp_path / "dm", tmp_path / "coco", class_map=class_map)
    written = json.loads((tmp_path / "coco" / "annotations" / "instances_valid.json").read_text())
    assert [(c["id"], c["name"], c["supercategory"]) for c in written["categories"]] == [
        (0, "person", "person"),
        (2, "car", "vehicle"),
    ]
    assert coco.audit.annotations_written == per_id["1"] + per_id.get("3", 0)


def test_source_ids_win_and_new_names_get_new_ids_shared_across_splits(tmp_path: Path) -> None:
    yolo_to_dmv2(REAL / "coco8-seg", tmp_path / "dm")
    # A class the source did not number appears in the valid split only.
    item = next((tmp_path / "dm" / "valid" / "json").glob("*.json"))
    raw = json.loads(item.read_text())
    raw["images"][0]["bounding_box"].append(
        {"id": "new", "classification": "zebra crossing", "data": [1, 1, 5, 5]}
    )
    item.write_text(json.dumps(raw))
    manifest_path = tmp_path / "dm" / "dataset.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["classes"].append("zebra crossing")
    manifest_path.write_text(json.dumps(manifest))
    dmv2_to_coco(tmp_path / "dm", tmp_path / "coco")
    cats = {}
    for split in ("train", "valid"):
        data = json.loads((tmp_path / "coco" / "annotations" / f"instances_{split}.json").read_text())
        cats[split] = {c["name"]: c["id"] for c in data["categories"]}
    assert cats["train"] == cats["valid"]  # one class map for every split
    assert cats["train"]["person"] == 0 and cats["train"]["toothbrush"] == 79
    assert cats["train"]["zebra crossing"] == 80  # the only new id, above the source's


def test_yolo_obb_rows_come_back_unchanged(tmp_path: Path) -> None:
    # The published dota8.yaml (its dataset is not in the fixtures), with rotated boxes of our
    # own in its layout: an OBB row (class and four corners) is a four-point polygon in DM v2,
    # and a four-point polygon is written back as the same OBB row.
    from ._helpers import write_image

    root = tmp_path / "dota8"
    rows = {
        "train/a": "0 0.100000 0.200000 0.400000 0.100000 0.500000 0.400000 0.200000 0.500000\n"
        "14 0.600000 0.600000 0.900000 0.650000 0.850000 0.900000 0.550000 0.850000\n",
        "val/b": "9 0.300000 0.300000 0.700000 0.300000 0.700000 0.700000 0.300000 0.700000\n",
    }
    for stem, text in rows.items():
        write_image(root / "images" / f"{stem}.png", 100, 80)
        label = root / "labels" / f"{stem}.txt"
        label.parent.mkdir(parents=True, exist_ok=True)
        label.write_text(text)
    (root / "dota8.yaml").write_bytes((REAL / "ultralytics_cfg" / "dota8.yaml").read_bytes())
    result = yolo_to_dmv2(root / "dota8.yaml", tmp_path / "dm")
    assert result.splits == ["train", "valid"] and result.audit.changes == {}
    back = dmv2_to_yolo(tmp_path / "dm", tmp_path / "yolo")
    assert back.audit.changes == {}
    assert (tmp_path / "yolo" / "labels" / "train" / "a.txt").read_text() == rows["train/a"]
    assert (tmp_path / "yolo" / "labels" / "valid" / "b.txt").read_text() == rows["val/b"]
    names = yaml.safe_load((tmp_path / "yolo" / "dataset.yaml").read_text())["names"]
    assert names == yaml.safe_load((root / "dota8.yaml").read_text())["names"]


# -- globox reads what we write as it reads the originals ------------------------------------


def _globox_boxes(annotations: Any) -> dict[str, list[tuple[str, float, float, float, float]]]:
    return {
        Path(a.image_id).name: sorted((b.label, *(round(v, 1) for v in b.ltrb)) for b in a.boxes)
        for a in annotations
    }


def test_globox_reads_our_coco_and_yolo_like_the_originals(tmp_path: Path) -> None:
    from globox import AnnotationSet

    coco_to_dmv2(REAL / "coco2017_val", tmp_path / "dm")
    dmv2_to_coco(tmp_path / "dm", tmp_path / "coco")
    original = AnnotationSet.from_coco(REAL / "coco2017_val" / "annotations" / "instances_val2017.json")
    ours = AnnotationSet.from_coco(tmp_path / "coco" / "annotations" / "instances_valid.json")
    assert _globox_boxes(ours) == _globox_boxes(original)

    yolo_to_dmv2(REAL / "coco128", tmp_path / "dm128")
    dmv2_to_yolo(tmp_path / "dm128", tmp_path / "yolo128")
    original = AnnotationSet.from_yolo_v5(
        REAL / "coco128" / "labels" / "train2017", image_folder=REAL / "coco128" / "images" / "train2017"
    )
    ours = AnnotationSet.from_yolo_v5(
        tmp_path / "yolo128" / "labels", image_folder=tmp_path / "yolo128" / "images"
    )
    assert len(ours) == len(original) == _facts("coco128")["splits"]["train"]["images"]
    assert _globox_boxes(ours) == _globox_boxes(original)


def test_yolo_output_can_be_moved_and_read_from_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    yolo_to_dmv2(REAL / "coco8-seg", tmp_path / "dm")
    dmv2_to_yolo(tmp_path / "dm", tmp_path / "first")
    shutil.move(tmp_path / "first", tmp_path / "elsewhere" / "moved")
    config = yaml.safe_load((tmp_path / "elsewhere" / "moved" / "dataset.yaml").read_text())
    assert "path" not in config and config["train"] == "images/train"
    monkeypatch.chdir(tmp_path)  # a working folder that is not the dataset's
    again = yolo_to_dmv2(tmp_path / "elsewhere" / "moved" / "dataset.yaml", tmp_path / "dm2")
    assert again.audit.items_written == 8 and again.audit.annotations_written == 30
