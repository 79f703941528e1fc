"""Property: a round trip through DM v2 keeps ids, identities and counts.

COCO -> DM v2 -> COCO keeps category ids (gaps, unused ones, supercategory), image ids,
file names with their folders (equal names in other folders included) and every annotation;
YOLO -> DM v2 -> YOLO keeps the class ids of the yaml, the image paths and every row.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from steprail.datasets import coco_to_dmv2, dmv2_to_coco, dmv2_to_yolo, yolo_to_dmv2

from ._helpers import write_image

_FOLDERS = st.sampled_from(["", "camA/", "camB/", "camA/night/"])
_STEMS = st.sampled_from(["0001", "0002", "x", "img 1", "é"])
_EXTS = st.sampled_from([".png", ".jpg"])


@st.composite
def _file_names(draw: st.DrawFn) -> list[str]:
    names = draw(
        st.lists(st.tuples(_FOLDERS, _STEMS, _EXTS).map("".join), min_size=1, max_size=5, unique=True)
    )
    return sorted(names)


@st.composite
def _coco(draw: st.DrawFn) -> dict[str, Any]:
    category_ids = draw(st.lists(st.integers(0, 120), min_size=1, max_size=5, unique=True))
    categories = [
        {"id": cid, "name": f"class {cid}", "supercategory": draw(st.sampled_from(["a", "b", None]))}
        for cid in category_ids
    ]
    names = draw(_file_names())
    image_ids = draw(st.lists(st.integers(0, 10**6), min_size=len(names), max_size=len(names), unique=True))
    images = [
        {"id": iid, "file_name": name, "width": 32, "height": 24}
        for iid, name in zip(image_ids, names, strict=True)
    ]
    annotations: list[dict[str, Any]] = []
    for image in images:
        for _ in range(draw(st.integers(0, 3))):
            x, y = draw(st.integers(0, 20)), draw(st.integers(0, 12))
            w, h = draw(st.integers(1, 32 - x)), draw(st.integers(1, 24 - y))
            polygon = draw(st.booleans())
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image["id"],
                    "category_id": draw(st.sampled_from(category_ids)),
                    "bbox": [x, y, w, h],
                    "area": w * h if not polygon else w * h / 2,
                    "segmentation": [[x, y, x + w, y, x, y + h]] if polygon else [],
                    "iscrowd": 0,
                }
            )
    return {"images": images, "annotations": annotations, "categories": categories}


def _shape(annotation: dict[str, Any]) -> object:
    # A polygon's rings, or "box" for a box (written with its rectangle as segmentation, which
    # the audit says; an empty segmentation in the source).
    x, y, w, h = annotation["bbox"]
    rectangle = [[x, y, x + w, y, x + w, y + h, x, y + h]]
    segmentation = annotation["segmentation"]
    if segmentation in ([], rectangle):
        return "box"
    # Compared by value: COCO output may write the source's 1 as 1.0, the same number.
    return tuple(tuple(ring) for ring in segmentation)


def _annotation_keys(data: dict[str, Any]) -> Counter[tuple[object, ...]]:
    return Counter(
        (a["image_id"], a["category_id"], *a["bbox"], a["area"], _shape(a))
        for a in data["annotations"]
    )


# Each example writes and converts a small dataset three times: capped below the ci profile's
# 300 examples to keep the suite quick (about 5 s each under ci).
_CAPPED = settings(max_examples=min(settings().max_examples, 80))


@_CAPPED
@given(_coco())
def test_coco_round_trip_keeps_ids_identities_and_counts(data: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for image in data["images"]:
            write_image(root / "src" / "images" / image["file_name"], 32, 24)
        (root / "src" / "annotations.json").write_text(json.dumps(data))
        first = coco_to_dmv2(root / "src" / "annotations.json", root / "dm", images_root=root / "src" / "images")
        assert first.audit.items_written == len(data["images"])
        assert first.audit.annotations_written == len(data["annotations"])
        second = dmv2_to_coco(root / "dm", root / "coco")
        assert second.audit.reasons == {}  # nothing skipped
        written = json.loads((root / "coco" / "annotations" / "instances.json").read_text())
        assert written["categories"] == sorted(data["categories"], key=lambda c: c["id"])
        assert sorted((i["id"], i["file_name"]) for i in written["images"]) == sorted(
            (i["id"], i["file_name"]) for i in data["images"]
        )
        assert _annotation_keys(written) == _annotation_keys(data)
        for image in written["images"]:
            assert (root / "coco" / "images" / image["file_name"]).is_file()


@st.composite
def _yolo(draw: st.DrawFn) -> tuple[list[str], dict[str, list[str]]]:
    count = draw(st.integers(1, 5))
    names = draw(st.lists(st.sampled_from(["person", "car", "a, b", "x: y", "0", "é"]), min_size=count, max_size=count, unique=True))
    labels: dict[str, list[str]] = {}
    # A YOLO source cannot hold x.jpg and x.png in one folder (they share x.txt): one of each.
    by_label = {Path(f).with_suffix("").as_posix(): f for f in draw(_file_names())}
    for file_name in sorted(by_label.values()):
        rows = []
        for _ in range(draw(st.integers(0, 3))):
            cx, cy = draw(st.integers(3, 7)) / 10, draw(st.integers(3, 7)) / 10
            w, h = draw(st.integers(1, 5)) / 10, draw(st.integers(1, 5)) / 10
            rows.append("%d %.6f %.6f %.6f %.6f" % (draw(st.integers(0, count - 1)), cx, cy, w, h))
        labels[file_name] = rows
    return names, labels


def _yolo_rows(folder: Path) -> dict[str, list[str]]:
    return {
        p.relative_to(folder).with_suffix("").as_posix(): sorted(p.read_text().splitlines())
        for p in folder.rglob("*.txt")
    }


@_CAPPED
@given(_yolo())
def test_yolo_round_trip_keeps_class_ids_paths_and_rows(case: tuple[list[str], dict[str, list[str]]]) -> None:
    names, labels = case
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for file_name, rows in labels.items():
            write_image(root / "src" / "images" / "all" / file_name, 40, 20)
            label = (root / "src" / "labels" / "all" / file_name).with_suffix(".txt")
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text("".join(row + "\n" for row in rows))
        (root / "src" / "my data.yml").write_text(
            yaml.safe_dump({"train": "images/all", "val": "images/all", "names": names})
        )
        first = yolo_to_dmv2(root / "src", root / "dm")
        assert first.audit.items_written == len(labels)
        back = dmv2_to_yolo(root / "dm", root / "yolo")
        assert yaml.safe_load((root / "yolo" / "dataset.yaml").read_text())["names"] == dict(enumerate(names))
        assert back.audit.changes == {}
        ours = _yolo_rows(root / "yolo" / "labels")
        assert ours == _yolo_rows(root / "src" / "labels" / "all")
        images = sorted(
            p.relative_to(root / "yolo" / "images").as_posix()
            for p in (root / "yolo" / "images").rglob("*.*")
        )
        assert images == sorted(labels)


def test_a_taken_image_or_annotation_id_is_renumbered_and_audited(tmp_path: Path) -> None:
    from steprail.datasets import AuditReason, read_audit

    from ._helpers import ItemSpec, write_dataset

    write_dataset(
        tmp_path / "dm",
        [ItemSpec(stem, 16, 16, boxes=[("a", 1.0, 1.0, 4.0, 4.0)]) for stem in ("a", "b", "c")],
    )
    # a and b both claim image id 7 and annotation id 5; c has no ids of its own.
    for stem in ("a", "b"):
        path = tmp_path / "dm" / "json" / f"{stem}.json"
        item = json.loads(path.read_text())
        item["source"] = {"file_name": f"{stem}.png", "image_id": 7}
        item["images"][0]["bounding_box"][0]["id"] = "5"
        path.write_text(json.dumps(item))
    result = dmv2_to_coco(tmp_path / "dm", tmp_path / "coco")
    written = json.loads((tmp_path / "coco" / "annotations" / "instances.json").read_text())
    image_ids = {i["file_name"]: i["id"] for i in written["images"]}
    assert image_ids["a.png"] == 7 and len(set(image_ids.values())) == 3
    ann_ids = [a["id"] for a in written["annotations"]]
    assert 5 in ann_ids and len(set(ann_ids)) == 3
    _, entries = read_audit(Path(result.audit_path))
    assert {(e.item, e.reason) for e in entries if e.action == "changed"} == {
        ("b", AuditReason.IMAGE_ID_RENUMBERED),
        ("b", AuditReason.ANNOTATION_ID_RENUMBERED),
        ("*", AuditReason.BOX_AS_RECTANGLE),
    }
