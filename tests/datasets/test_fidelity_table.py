"""docs/datasets.md's fidelity table, checked row by row against the real public fixtures.

Each row's property is observed on a real dataset (tests/data/real) converted by steprail and
compared with the original files or their ``facts.json`` (computed without steprail): "kept"
when it comes out as it went in, "audited: `reason`" when it changed and the audit has entries
with that reason. A row the test cannot observe, or an observation the table does not list,
fails the test.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import defusedxml.ElementTree as SafeET
import pytest
import yaml

from steprail.datasets import (
    ConversionResult,
    coco_to_dmv2,
    dmv2_to_coco,
    dmv2_to_voc,
    dmv2_to_yolo,
    read_audit,
    voc_to_dmv2,
    yolo_to_dmv2,
)

from .._doc_blocks import ROOT
from ._helpers import ItemSpec, write_dataset

REAL = ROOT / "tests" / "data" / "real"
PAGE = ROOT / "docs" / "datasets.md"


def _table() -> dict[tuple[str, str], str]:
    text = PAGE.read_text(encoding="utf-8")
    block = text.split("<!-- fidelity-table -->", 1)[1].split("<!-- /fidelity-table -->", 1)[0]
    rows: dict[tuple[str, str], str] = {}
    for line in block.strip().splitlines()[2:]:
        conversion, prop, result = (cell.strip() for cell in line.strip().strip("|").split("|"))
        rows[(conversion, prop)] = result
    return rows


def _facts(name: str) -> dict[str, Any]:
    facts: dict[str, Any] = json.loads((REAL / name / "facts.json").read_text(encoding="utf-8"))
    return facts


def _json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@dataclass
class Runs:
    """Every conversion the table talks about, run once on the real fixtures."""

    root: Path
    results: dict[str, ConversionResult]

    def items(self, name: str) -> list[dict[str, Any]]:
        return [_json(p) for p in sorted((self.root / name).rglob("json/*.json"))]

    def changed(self, name: str, reason: str) -> int:
        _, entries = read_audit(Path(self.results[name].audit_path))
        return sum(1 for e in entries if e.action == "changed" and e.reason.value == reason)

    def verdict(self, kept: bool, name: str | None = None, reason: str | None = None) -> str:
        if kept:
            return "kept"
        if name is not None and reason is not None and self.changed(name, reason):
            return f"audited: `{reason}`"
        return "LOST WITHOUT A WORD"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    root = tmp_path_factory.mktemp("fidelity")
    results = {
        "c17_dm": coco_to_dmv2(REAL / "coco2017_val", root / "c17_dm"),
        "lm_dm": coco_to_dmv2(REAL / "labelme_coco" / "annotations.json", root / "lm_dm"),
        "seg_dm": yolo_to_dmv2(REAL / "coco8-seg", root / "seg_dm"),
        "pose_dm": yolo_to_dmv2(REAL / "coco8-pose" / "coco8-pose.yaml", root / "pose_dm"),
        "c128_dm": yolo_to_dmv2(REAL / "coco128", root / "c128_dm"),
    }
    results["c128_coco"] = dmv2_to_coco(root / "c128_dm", root / "c128_coco")
    results["c17_coco"] = dmv2_to_coco(root / "c17_dm", root / "c17_coco")
    results["lm_coco"] = dmv2_to_coco(root / "lm_dm", root / "lm_coco")
    results["c17_yolo"] = dmv2_to_yolo(root / "c17_dm", root / "c17_yolo")
    results["seg_yolo"] = dmv2_to_yolo(root / "seg_dm", root / "seg_yolo")
    results["pose_yolo"] = dmv2_to_yolo(root / "pose_dm", root / "pose_yolo")
    results["pose_coco"] = dmv2_to_coco(root / "pose_dm", root / "pose_coco")
    results["bccd_dm"] = voc_to_dmv2(REAL / "bccd_voc", root / "bccd_dm")
    results["lmv_dm"] = voc_to_dmv2(REAL / "labelme_voc", root / "lmv_dm", one_based=False)
    results["bccd_voc"] = dmv2_to_voc(root / "bccd_dm", root / "bccd_voc")
    results["c17_voc"] = dmv2_to_voc(root / "c17_dm", root / "c17_voc")
    results["lm_voc"] = dmv2_to_voc(root / "lm_dm", root / "lm_voc")
    results["pose_voc"] = dmv2_to_voc(root / "pose_dm", root / "pose_voc")
    return Runs(root, results)


def _original(name: str) -> dict[str, Any]:
    if name == "coco2017_val":
        return _json(REAL / name / "annotations" / "instances_val2017.json")
    return _json(REAL / name / "annotations.json")


def _annotation_keys(data: dict[str, Any]) -> Counter[tuple[object, ...]]:
    return Counter(
        (
            a["image_id"],
            a["category_id"],
            # Exactly, as the table claims (no rounding that would hide float noise).
            *(float(v) for v in a["bbox"]),
            float(a["area"]),
        )
        for a in data["annotations"]
    )


# -- COCO -> DM v2 ---------------------------------------------------------------------------


def _coco_identity(runs: Runs) -> str:
    names = sorted(i["source"]["file_name"] for i in runs.items("lm_dm"))
    return runs.verdict(names == _facts("labelme_coco")["file_names"])


def _coco_image_ids(runs: Runs) -> str:
    ids = sorted(i["source"]["image_id"] for i in runs.items("c17_dm"))
    return runs.verdict(ids == _facts("coco2017_val")["image_ids"])


def _coco_categories(runs: Runs) -> str:
    manifest = _json(runs.root / "c17_dm" / "dataset.json")
    return runs.verdict(manifest["categories"] == _facts("coco2017_val")["categories"])


def _coco_annotation_ids(runs: Runs) -> str:
    ours = sorted(
        a["id"]
        for i in runs.items("c17_dm")
        for kind in ("bounding_box", "polygon")
        for a in i["images"][0][kind]
    )
    original = sorted(str(a["id"]) for a in _original("coco2017_val")["annotations"])
    return runs.verdict(ours == original)


def _coco_multi_polygon_in(runs: Runs) -> str:
    multi = [p for i in runs.items("c17_dm") for p in i["images"][0]["polygon"] if p.get("rings")]
    return runs.verdict(
        len(multi) == _facts("coco2017_val")["multi_polygon"]
        and runs.results["c17_dm"].audit.annotations_written == _facts("coco2017_val")["annotations"]
    )


def _coco_stored_in(runs: Runs) -> str:
    original = {str(a["id"]): a for a in _original("labelme_coco")["annotations"]}
    polygons = [p for i in runs.items("lm_dm") for p in i["images"][0]["polygon"]]
    return runs.verdict(
        bool(polygons)
        and all(
            p["bbox"] == original[p["id"]]["bbox"] and p["area"] == original[p["id"]]["area"]
            for p in polygons
        )
    )


def _crowds(annotations: list[dict[str, Any]]) -> list[tuple[object, ...]]:
    return sorted(
        (a["image_id"], a["category_id"], json.dumps(a["segmentation"], sort_keys=True))
        for a in annotations
        if a.get("iscrowd") == 1
    )


def _coco_crowd(runs: Runs) -> str:
    original = {
        str(a["id"]): a["segmentation"]
        for a in _original("coco2017_val")["annotations"]
        if a["iscrowd"] == 1
    }
    crowds = {
        b["id"]: b.get("mask")
        for i in runs.items("c17_dm")
        for b in i["images"][0]["bounding_box"]
        if b.get("crowd")
    }
    assert len(original) == _facts("coco2017_val")["crowd_rle"]
    return runs.verdict(crowds == original)


def _dm_coco_crowd(runs: Runs) -> str:
    ours = _crowds(_out_coco(runs, "c17_coco")["annotations"])
    return runs.verdict(ours == _crowds(_original("coco2017_val")["annotations"]))


def _dm_yolo_crowd(runs: Runs) -> str:
    return runs.verdict(False, "c17_yolo", "crowd_as_box")


# -- DM v2 -> COCO ---------------------------------------------------------------------------


def _out_coco(runs: Runs, name: str) -> dict[str, Any]:
    folder = runs.root / name / "annotations"
    return _json(next(folder.glob("instances*.json")))


def _dm_coco_identity(runs: Runs) -> str:
    images = _out_coco(runs, "lm_coco")["images"]
    names = sorted(i["file_name"] for i in images)
    on_disk = all((runs.root / "lm_coco" / "images" / n).is_file() for n in names)
    return runs.verdict(names == _facts("labelme_coco")["file_names"] and on_disk)


def _dm_coco_image_ids(runs: Runs) -> str:
    ids = sorted(i["id"] for i in _out_coco(runs, "c17_coco")["images"])
    return runs.verdict(ids == _facts("coco2017_val")["image_ids"])


def _dm_coco_annotation_ids(runs: Runs) -> str:
    ours = sorted(a["id"] for a in _out_coco(runs, "c17_coco")["annotations"])
    original = sorted(a["id"] for a in _original("coco2017_val")["annotations"])
    return runs.verdict(ours == original)


def _dm_coco_categories(runs: Runs) -> str:
    return runs.verdict(
        _out_coco(runs, "c17_coco")["categories"] == _facts("coco2017_val")["categories"]
    )


def _dm_coco_multi_polygon(runs: Runs) -> str:
    multi = [
        a
        for a in _out_coco(runs, "c17_coco")["annotations"]
        if isinstance(a["segmentation"], list) and len(a["segmentation"]) > 1
    ]
    return runs.verdict(len(multi) == _facts("coco2017_val")["multi_polygon"])


def _dm_coco_stored(runs: Runs) -> str:
    ours = _annotation_keys(_out_coco(runs, "c17_coco"))
    # COCO output writes every float as its shortest round-trip text: the values come back.
    verdict = runs.verdict(ours == _annotation_keys(_original("coco2017_val")))
    return verdict + " exactly" if verdict == "kept" else verdict


# A coordinate with all of a float's 17 significant digits, on a 100 x 100 image.
_LONG = 12.345678901234567


def _precision_source(folder: Path) -> None:
    write_dataset(folder, [ItemSpec("p", 100, 100, boxes=[("a", _LONG, 1.0, _LONG, 2.0)])])


def _dm_coco_precision(runs: Runs) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        _precision_source(Path(tmp) / "dm")
        dmv2_to_coco(Path(tmp) / "dm", Path(tmp) / "coco")
        bbox = _json(Path(tmp) / "coco" / "annotations" / "instances.json")["annotations"][0]["bbox"]
    kept = bbox[0] == _LONG and bbox[2] == _LONG
    return "kept exactly" if kept else f"not as documented: {bbox}"


def _dm_yolo_precision(runs: Runs) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        _precision_source(Path(tmp) / "dm")
        dmv2_to_yolo(Path(tmp) / "dm", Path(tmp) / "yolo")
        row = (Path(tmp) / "yolo" / "labels" / "p.txt").read_text().split()
    centre = _LONG / 100 + _LONG / 200
    kept = row[1] == "%.6f" % centre and all(len(v.split(".")[1]) == 6 for v in row[1:])
    return "kept to 6 decimals of the image size (normalised to 0..1)" if kept else str(row)


def _dm_coco_boxes(runs: Runs) -> str:
    boxes = [
        a
        for a in _out_coco(runs, "c128_coco")["annotations"]
        if len(a["segmentation"]) == 1 and len(a["segmentation"][0]) == 8
        and abs(a["segmentation"][0][2] - a["segmentation"][0][0] - a["bbox"][2]) < 1e-6
    ]  # fmt: skip
    # Boxes of a detection dataset (coco128): each gets its rectangle as segmentation.
    assert len(boxes) == _facts("coco128")["splits"]["train"]["label_rows"]
    return runs.verdict(not boxes, "c128_coco", "box_as_rectangle")


def _dm_coco_clipped(runs: Runs) -> str:
    # labelme's annotation 9 has a point 0.38 px below the image.
    max_y = max(
        max(ring[1::2])
        for a in _out_coco(runs, "lm_coco")["annotations"]
        for ring in a["segmentation"]
    )
    heights = max(i["height"] for i in _out_coco(runs, "lm_coco")["images"])
    return runs.verdict(max_y > heights, "lm_coco", "clamped_to_image")


# -- YOLO -> DM v2 and back ------------------------------------------------------------------


def _yolo_identity(runs: Runs) -> str:
    ours = {
        (p.parent.parent.name, _json(p)["source"]["file_name"])
        for p in (runs.root / "seg_dm").rglob("json/*.json")
    }
    original = {
        ({"val": "valid"}.get(p.parent.name, p.parent.name), p.name)
        for p in (REAL / "coco8-seg" / "images").rglob("*.jpg")
    }
    return runs.verdict(ours == original)


def _yolo_class_ids(runs: Runs) -> str:
    manifest = _json(runs.root / "seg_dm" / "dataset.json")
    ids = {str(c["id"]): c["name"] for c in manifest["categories"]}
    return runs.verdict(ids == _facts("coco8-seg")["names"])


def _yolo_polygons(runs: Runs) -> str:
    rows = sum(v["label_row_kinds"].get("polygon", 0) for v in _facts("coco8-seg")["splits"].values() if v)
    polygons = sum(len(i["images"][0]["polygon"]) for i in runs.items("seg_dm"))
    return runs.verdict(polygons == rows)


def _label_rows(folder: Path) -> dict[str, list[list[float]]]:
    return {
        p.name: sorted([float(v) for v in line.split()] for line in p.read_text().splitlines() if line.strip())
        for p in folder.rglob("*.txt")
    }


def _rows_close(a: dict[str, list[list[float]]], b: dict[str, list[list[float]]]) -> bool:
    return a.keys() == b.keys() and all(
        len(a[k]) == len(b[k])
        and all(
            len(r) == len(q) and all(abs(x - y) < 2e-6 for x, y in zip(r, q, strict=True))
            for r, q in zip(a[k], b[k], strict=True)
        )
        for k in a
    )


def _yolo_pose(runs: Runs) -> str:
    original = _label_rows(REAL / "coco8-pose" / "labels")
    ours: dict[str, list[list[float]]] = {}
    for path in (runs.root / "pose_dm").rglob("json/*.json"):
        item = _json(path)
        w, h = item["images"][0]["width"], item["images"][0]["height"]
        rows = [
            [0.0, (b["data"][0] + b["data"][2] / 2) / w, (b["data"][1] + b["data"][3] / 2) / h,
             b["data"][2] / w, b["data"][3] / h,
             *(c for x, y, v in b["keypoints"] for c in (x / w, y / h, float(v)))]
            for b in item["images"][0]["bounding_box"]
        ]  # fmt: skip
        ours[Path(item["source"]["file_name"]).with_suffix(".txt").name] = sorted(rows)
    return runs.verdict(_rows_close(ours, original))


def _yolo_obb(runs: Runs) -> str:
    # No OBB dataset is in the fixtures (dota8's images are not): the published dota8.yaml with
    # four-corner rows written here, read and written back.
    from ._helpers import write_image

    root = runs.root / "dota8"
    row = "3 0.100000 0.200000 0.400000 0.100000 0.500000 0.400000 0.200000 0.500000\n"
    write_image(root / "images" / "train" / "a.png", 100, 80)
    write_image(root / "images" / "val" / "b.png", 100, 80)  # a background image
    (root / "labels" / "train").mkdir(parents=True)
    (root / "labels" / "train" / "a.txt").write_text(row)
    (root / "dota8.yaml").write_bytes((REAL / "ultralytics_cfg" / "dota8.yaml").read_bytes())
    yolo_to_dmv2(root / "dota8.yaml", runs.root / "dota8_dm")
    dmv2_to_yolo(runs.root / "dota8_dm", runs.root / "dota8_yolo")
    back = (runs.root / "dota8_yolo" / "labels" / "train" / "a.txt").read_text()
    return runs.verdict(back == row)


def _dm_yolo_pose(runs: Runs) -> str:
    config = yaml.safe_load((runs.root / "pose_yolo" / "dataset.yaml").read_text())
    published = yaml.safe_load((REAL / "coco8-pose" / "coco8-pose.yaml").read_text())
    same_schema = config["kpt_shape"] == [17, 3] and config["flip_idx"] == published["flip_idx"]
    rows_same = _rows_close(
        _label_rows(runs.root / "pose_yolo" / "labels"), _label_rows(REAL / "coco8-pose" / "labels")
    )
    return runs.verdict(same_schema and rows_same)


def _dm_coco_keypoints(runs: Runs) -> str:
    written = [
        _json(p) for p in (runs.root / "pose_coco" / "annotations").glob("instances_*.json")
    ]
    labelled = sum(a["num_keypoints"] for data in written for a in data["annotations"])
    original = sum(
        1
        for rows in _label_rows(REAL / "coco8-pose" / "labels").values()
        for row in rows
        for v in row[7::3]
        if v > 0
    )
    published = yaml.safe_load((REAL / "coco8-pose" / "coco8-pose.yaml").read_text())
    person = next(c for c in written[0]["categories"] if c["name"] == "person")
    return runs.verdict(labelled == original and person["keypoints"] == published["kpt_names"][0])


def _label_ids(folder: Path) -> Counter[int]:
    return Counter(
        int(line.split()[0])
        for p in folder.rglob("*.txt")
        for line in p.read_text().splitlines()
        if line.strip()
    )


def _dm_yolo_identity(runs: Runs) -> str:
    ours = {p.relative_to(runs.root / "seg_yolo" / "images").as_posix() for p in (runs.root / "seg_yolo" / "images").rglob("*.jpg")}
    original = {
        p.relative_to(REAL / "coco8-seg" / "images").as_posix().replace("val/", "valid/", 1)
        for p in (REAL / "coco8-seg" / "images").rglob("*.jpg")
    }
    return runs.verdict(ours == original)


def _dm_yolo_class_ids(runs: Runs) -> str:
    names = yaml.safe_load((runs.root / "seg_yolo" / "dataset.yaml").read_text())["names"]
    same_names = {str(k): v for k, v in names.items()} == _facts("coco8-seg")["names"]
    same_rows = _label_ids(runs.root / "seg_yolo" / "labels") == _label_ids(REAL / "coco8-seg" / "labels")
    return runs.verdict(same_names and same_rows)


def _dm_yolo_coco_ids(runs: Runs) -> str:
    names = yaml.safe_load((runs.root / "c17_yolo" / "dataset.yaml").read_text())["names"]
    kept = all(names.get(c["id"]) == c["name"] for c in _facts("coco2017_val")["categories"])
    return runs.verdict(kept, "c17_yolo", "class_ids_renumbered")


def _dm_yolo_multi_polygon(runs: Runs) -> str:
    count = runs.changed("c17_yolo", "polygon_rings_split")
    assert count == _facts("coco2017_val")["multi_polygon"]
    return runs.verdict(count == 0, "c17_yolo", "polygon_rings_split")


def _dm_yolo_mixed(runs: Runs) -> str:
    rows = [
        len(line.split())
        for p in (runs.root / "c17_yolo" / "labels").rglob("*.txt")
        for line in p.read_text().splitlines()
    ]
    mixed = 5 in rows and any(n > 5 for n in rows)
    return runs.verdict(not mixed, "c17_yolo", "mixed_boxes_and_polygons")


# -- Pascal VOC ------------------------------------------------------------------------------


def _voc_objects(annotations: Path) -> Counter[tuple[str, tuple[float, ...], str]]:
    """(image, name, corners, pose/truncated/difficult) of every object of a VOC folder."""
    found: Counter[tuple[str, tuple[float, ...], str]] = Counter()
    for path in annotations.glob("*.xml"):
        root = SafeET.parse(path).getroot()
        assert root is not None
        for obj in root.iter("object"):
            corners = tuple(float(obj.findtext(f"bndbox/{k}") or "nan") for k in ("xmin", "ymin", "xmax", "ymax"))
            flags = "/".join((obj.findtext(f) or "").strip() for f in ("pose", "truncated", "difficult"))
            found[(f"{path.stem}:{obj.findtext('name')}", corners, flags)] += 1
    return found


def _voc_identity_in(runs: Runs) -> str:
    names = sorted(i["source"]["file_name"] for i in runs.items("lmv_dm"))
    on_disk = sorted(p.name for p in (REAL / "labelme_voc" / "JPEGImages").iterdir())
    return runs.verdict(names == on_disk)


def _voc_boxes_in(runs: Runs) -> str:
    per_class: Counter[str] = Counter()
    for name in ("bccd_dm", "lmv_dm"):
        for item in runs.items(name):
            per_class.update(b["classification"] for b in item["images"][0]["bounding_box"])
    want = Counter(_facts("bccd_voc")["objects_per_class"]) + Counter(_facts("labelme_voc")["objects_per_class"])
    return runs.verdict(per_class == want)


def _voc_flags_in(runs: Runs) -> str:
    truncated = sum(
        1
        for item in runs.items("bccd_dm")
        for b in item["images"][0]["bounding_box"]
        if {"name": "truncated", "value": 1} in b.get("attrs", [])
    )
    return runs.verdict(truncated == _facts("bccd_voc")["flags_set"]["truncated"])


def _voc_splits_in(runs: Runs) -> str:
    sets = _facts("bccd_voc")["image_sets"]
    got = {
        split: sorted(i["source"]["file_name"].removesuffix(".jpg") for i in runs.items(f"bccd_dm/{split}"))
        for split in ("train", "valid", "test")
    }
    return runs.verdict(got == {"train": sets["train"], "valid": sets["val"], "test": sets["test"]})


def _dm_voc_identity(runs: Runs) -> str:
    # A COCO export's JPEGImages/x.jpg is JPEGImages/x.jpg of the VOC folder.
    ours = sorted(f"JPEGImages/{p.name}" for p in (runs.root / "lm_voc" / "JPEGImages").iterdir())
    return runs.verdict(ours == _facts("labelme_coco")["file_names"])


def _dm_voc_boxes(runs: Runs) -> str:
    original = _voc_objects(REAL / "bccd_voc" / "BCCD" / "Annotations")
    return runs.verdict(_voc_objects(runs.root / "bccd_voc" / "Annotations") == original)


def _dm_voc_splits(runs: Runs) -> str:
    main = runs.root / "bccd_voc" / "ImageSets" / "Main"
    theirs = REAL / "bccd_voc" / "BCCD" / "ImageSets" / "Main"
    same = all(
        sorted((main / f"{n}.txt").read_text().split()) == sorted((theirs / f"{n}.txt").read_text().split())
        for n in ("train", "val", "test", "trainval")
    )
    return runs.verdict(same)


def _changed_with(runs: Runs, name: str, reason: str, words: str) -> bool:
    _, entries = read_audit(Path(runs.results[name].audit_path))
    return any(e.action == "changed" and e.reason.value == reason and words in e.message for e in entries)


def _dm_voc_rings(runs: Runs) -> str:
    _, entries = read_audit(Path(runs.results["c17_voc"].audit_path))
    said = sum(1 for e in entries if e.reason.value == "not_in_target" and "further polygon" in e.message)
    return "audited: `not_in_target`" if said == _facts("coco2017_val")["multi_polygon"] else runs.verdict(False)


def _dm_voc_stored(runs: Runs) -> str:
    return "audited: `not_in_target`" if _changed_with(runs, "c17_voc", "not_in_target", "stored area") else runs.verdict(False)


def _dm_voc_crowd(runs: Runs) -> str:
    return runs.verdict(False, "c17_voc", "crowd_as_box")


def _dm_voc_keypoints(runs: Runs) -> str:
    return runs.verdict(False, "pose_voc", "keypoints_dropped")


def _dm_voc_class_ids(runs: Runs) -> str:
    said = _changed_with(runs, "c17_voc", "not_in_target", "class ids")
    return "audited: `not_in_target`" if said else runs.verdict(False)


CHECKS: dict[tuple[str, str], Callable[[Runs], str]] = {
    ("COCO -> DM v2", "image identity (`file_name` with sub-folders)"): _coco_identity,
    ("COCO -> DM v2", "image ids"): _coco_image_ids,
    ("COCO -> DM v2", "category ids, names, supercategory, unused categories"): _coco_categories,
    ("COCO -> DM v2", "annotation ids"): _coco_annotation_ids,
    ("COCO -> DM v2", "objects of several polygons"): _coco_multi_polygon_in,
    ("COCO -> DM v2", "stored bbox and area"): _coco_stored_in,
    ("COCO -> DM v2", "crowd regions (RLE)"): _coco_crowd,
    ("DM v2 -> COCO", "image identity"): _dm_coco_identity,
    ("DM v2 -> COCO", "image ids"): _dm_coco_image_ids,
    ("DM v2 -> COCO", "annotation ids"): _dm_coco_annotation_ids,
    ("DM v2 -> COCO", "category ids, names, supercategory, unused categories"): _dm_coco_categories,
    ("DM v2 -> COCO", "objects of several polygons"): _dm_coco_multi_polygon,
    ("DM v2 -> COCO", "stored bbox and area"): _dm_coco_stored,
    ("DM v2 -> COCO", "coordinates"): _dm_coco_precision,
    ("DM v2 -> YOLO", "coordinates"): _dm_yolo_precision,
    ("DM v2 -> COCO", "boxes"): _dm_coco_boxes,
    ("DM v2 -> COCO", "crowd regions (RLE)"): _dm_coco_crowd,
    ("DM v2 -> YOLO", "crowd regions"): _dm_yolo_crowd,
    ("DM v2 -> COCO", "points past the image edge"): _dm_coco_clipped,
    ("YOLO -> DM v2", "image identity"): _yolo_identity,
    ("YOLO -> DM v2", "class ids"): _yolo_class_ids,
    ("YOLO -> DM v2", "polygons"): _yolo_polygons,
    ("YOLO -> DM v2", "pose keypoints"): _yolo_pose,
    ("DM v2 -> YOLO", "pose keypoints"): _dm_yolo_pose,
    ("YOLO -> DM v2", "rotated boxes (YOLO-OBB rows)"): _yolo_obb,
    ("DM v2 -> COCO", "keypoints"): _dm_coco_keypoints,
    ("DM v2 -> YOLO", "image identity"): _dm_yolo_identity,
    ("DM v2 -> YOLO", "class ids from YOLO"): _dm_yolo_class_ids,
    ("DM v2 -> YOLO", "class ids from COCO (gaps)"): _dm_yolo_coco_ids,
    ("DM v2 -> YOLO", "objects of several polygons"): _dm_yolo_multi_polygon,
    ("DM v2 -> YOLO", "boxes among polygons"): _dm_yolo_mixed,
    ("VOC -> DM v2", "image identity (path under `JPEGImages/`)"): _voc_identity_in,
    ("VOC -> DM v2", "boxes and class names"): _voc_boxes_in,
    ("VOC -> DM v2", "pose, truncated, difficult"): _voc_flags_in,
    ("VOC -> DM v2", "splits (`ImageSets/Main`)"): _voc_splits_in,
    ("DM v2 -> VOC", "image identity"): _dm_voc_identity,
    ("DM v2 -> VOC", "boxes, class names and flags of a VOC source"): _dm_voc_boxes,
    ("DM v2 -> VOC", "splits"): _dm_voc_splits,
    ("DM v2 -> VOC", "class ids"): _dm_voc_class_ids,
    ("DM v2 -> VOC", "objects of several polygons"): _dm_voc_rings,
    ("DM v2 -> VOC", "stored bbox and area"): _dm_voc_stored,
    ("DM v2 -> VOC", "crowd regions (RLE)"): _dm_voc_crowd,
    ("DM v2 -> VOC", "keypoints"): _dm_voc_keypoints,
}


def test_the_table_lists_exactly_the_checked_properties() -> None:
    assert set(_table()) == set(CHECKS)
    assert all(
        re.fullmatch(r"kept( exactly| to [^|]+)?|audited: `[a-z_]+`", v) for v in _table().values()
    )


@pytest.mark.parametrize("row", sorted(CHECKS), ids=lambda row: f"{row[0]}: {row[1]}")
def test_each_row_holds_on_the_real_fixtures(runs: Runs, row: tuple[str, str]) -> None:
    assert CHECKS[row](runs) == _table()[row]
