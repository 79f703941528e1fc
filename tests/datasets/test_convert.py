"""DM v2 to YOLO and COCO: output layouts by example, bad input audited, error paths."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from steprail.datasets import (
    AuditReason,
    ConversionResult,
    DatasetInputError,
    NoUsableItemsError,
    OutputExistsError,
    dmv2_to_coco,
    dmv2_to_yolo,
    read_audit,
    read_yolo_config,
)

from ._helpers import ItemSpec, tree, write_dataset, write_image, write_item


Convert = Callable[[Path, Path], ConversionResult]


def _two_splits(root: Path) -> None:
    write_dataset(
        root,
        [
            ItemSpec(
                "a",
                40,
                20,
                boxes=[("person", 4.0, 2.0, 8.0, 10.0)],
                polygons=[("tree", ((0.0, 0.0), (40.0, 0.0), (20.0, 20.0)))],
                split="train",
            ),
            ItemSpec("b", 10, 10, boxes=[("car", 0.0, 0.0, 10.0, 10.0)], split="valid"),
        ],
    )


def test_yolo_layout_rows_and_config(tmp_path: Path) -> None:
    _two_splits(tmp_path / "src")
    result = dmv2_to_yolo(tmp_path / "src", tmp_path / "yolo")
    out = tmp_path / "yolo"
    assert result.format == "yolo" and result.is_categorized
    assert result.classes == ["car", "person", "tree"]
    assert result.config_path == str(out / "dataset.yaml")
    assert (out / "images" / "train" / "a.png").is_file()
    assert (out / "images" / "valid" / "b.png").is_file()
    rows_a = (out / "labels" / "train" / "a.txt").read_text().splitlines()
    # person is id 1 in sorted names; centre (8, 7) of a 40x20 image; 8x10 box.
    assert rows_a[0] == "1 0.200000 0.350000 0.200000 0.500000"
    assert rows_a[1] == "2 0.000000 0.000000 1.000000 0.000000 0.500000 1.000000"
    # Class ids are shared across splits: car is 0 in valid too.
    assert (out / "labels" / "valid" / "b.txt").read_text() == "0 0.500000 0.500000 1.000000 1.000000\n"
    config = read_yolo_config(out / "dataset.yaml")
    assert config.names == ["car", "person", "tree"]
    assert set(config.splits) == {"train", "val"}
    assert config.splits["val"] == out / "images" / "valid"
    text = (out / "dataset.yaml").read_text()
    assert "nc: 3" in text
    assert result.audit.items_written == 2 and result.audit.annotations_written == 3


def test_coco_layout_and_fields(tmp_path: Path) -> None:
    _two_splits(tmp_path / "src")
    result = dmv2_to_coco(tmp_path / "src", tmp_path / "coco")
    out = tmp_path / "coco"
    assert result.config_path == str(out / "annotations")
    train = json.loads((out / "annotations" / "instances_train.json").read_text())
    valid = json.loads((out / "annotations" / "instances_valid.json").read_text())
    assert train["categories"] == valid["categories"]
    assert [c["name"] for c in train["categories"]] == ["car", "person", "tree"]
    assert [c["id"] for c in train["categories"]] == [1, 2, 3]
    assert train["images"] == [{"id": 1, "file_name": "a.png", "width": 40, "height": 20}]
    box, poly = train["annotations"]
    assert box == {
        "id": 1,
        "image_id": 1,
        "category_id": 2,
        "bbox": [4, 2, 8, 10],
        "area": 80,
        # A box carries its rectangle, so pycocotools' mask tools accept it (audited).
        "segmentation": [[4, 2, 12, 2, 12, 12, 4, 12]],
        "iscrowd": 0,
    }
    assert poly["category_id"] == 3
    assert poly["segmentation"] == [[0, 0, 40, 0, 20, 20]]
    assert poly["bbox"] == [0, 0, 40, 20]
    assert poly["area"] == pytest.approx(400.0)
    # Image and annotation ids keep counting across splits (unique in the whole dataset).
    assert valid["images"][0]["id"] == 2 and valid["annotations"][0]["id"] == 3
    assert (out / "images" / "valid" / "b.png").is_file()
    assert not list(out.rglob("*.spool"))


def test_flat_dataset_layouts(tmp_path: Path) -> None:
    write_dataset(tmp_path / "src", [ItemSpec("x", 16, 16, boxes=[("a", 1.0, 1.0, 2.0, 2.0)])])
    yolo = dmv2_to_yolo(tmp_path / "src", tmp_path / "yolo")
    coco = dmv2_to_coco(tmp_path / "src", tmp_path / "coco")
    assert not yolo.is_categorized and not coco.is_categorized
    assert (tmp_path / "yolo" / "labels" / "x.txt").is_file()
    assert (tmp_path / "yolo" / "images" / "x.png").is_file()
    assert (tmp_path / "coco" / "annotations" / "instances.json").is_file()
    assert (tmp_path / "coco" / "images" / "x.png").is_file()


def test_a_stored_size_is_checked_against_the_image_header(tmp_path: Path) -> None:
    spec = ItemSpec("x", 16, 16, boxes=[("a", 0.0, 0.0, 8.0, 4.0)], record_size=True)
    write_item(tmp_path / "src", spec)
    raw = json.loads((tmp_path / "src" / "json" / "x.json").read_text())
    raw["images"][0]["width"], raw["images"][0]["height"] = 200, 100
    (tmp_path / "src" / "json" / "x.json").write_text(json.dumps(raw))
    result = dmv2_to_yolo(tmp_path / "src", tmp_path / "yolo")
    # The image's own size wins (16x16), and the difference is audited.
    assert (tmp_path / "yolo" / "labels" / "x.txt").read_text() == (
        "0 0.250000 0.125000 0.500000 0.250000\n"
    )
    assert result.audit.changes == {"image_size_mismatch": 1}


def _bad_dataset(root: Path) -> None:
    json_dir, images = root / "json", root / "original_files"
    write_item(root, ItemSpec("good", 20, 20, boxes=[("a", 1.0, 1.0, 5.0, 5.0)]))
    # Annotation-level problems, all in one otherwise fine item.
    anns = {
        "images": [
            {
                "bounding_box": [
                    {"id": "ok", "classification": "a", "data": [0, 0, 20, 20]},
                    {"id": "out", "classification": "a", "data": [15, 15, 10, 10]},
                    {"id": "zero", "classification": "a", "data": [1, 1, 0, 4]},
                    {"id": "nan", "classification": "a", "data": [float("nan"), 1, 2, 2]},
                    {"id": "noclass", "data": [1, 1, 2, 2]},
                    {"id": "blank", "classification": "  ", "data": [1, 1, 2, 2]},
                ],
                "polygon": [
                    {"id": "two", "classification": "a", "data": [[0, 0], [1, 1], [0, 0]]},
                    {"id": "far", "classification": "a", "data": [[0, 0], [30, 0], [0, 5]]},
                ],
            }
        ]
    }
    (json_dir / "mixed.json").write_text(json.dumps(anns))
    write_image(images / "mixed.png", 20, 20)
    (json_dir / "broken.json").write_text("{not json")
    write_image(images / "broken.png", 20, 20)
    (json_dir / "noimage.json").write_text(json.dumps({"images": []}))
    (json_dir / "garbage.json").write_text(json.dumps({"images": []}))
    (images / "garbage.png").write_bytes(b"this is not a png")
    (json_dir / "shape.json").write_text(json.dumps({"images": 3}))
    write_image(images / "shape.png", 20, 20)


EXPECTED_SKIPS = {
    ("mixed", "out", AuditReason.BOX_OUTSIDE_IMAGE),
    ("mixed", "zero", AuditReason.BOX_NON_POSITIVE),
    ("mixed", "nan", AuditReason.BOX_NON_FINITE),
    ("mixed", "noclass", AuditReason.MISSING_CLASS),
    ("mixed", "blank", AuditReason.MISSING_CLASS),
    ("mixed", "two", AuditReason.POLYGON_TOO_FEW_POINTS),
    ("mixed", "far", AuditReason.POLYGON_OUTSIDE_IMAGE),
    ("broken", None, AuditReason.MALFORMED_JSON),
    ("noimage", None, AuditReason.MISSING_IMAGE),
    ("garbage", None, AuditReason.UNREADABLE_IMAGE),
    ("shape", None, AuditReason.INVALID_ITEM),
}


@pytest.mark.parametrize("convert", [dmv2_to_yolo, dmv2_to_coco])
def test_bad_items_are_skipped_and_audited(tmp_path: Path, convert: Convert) -> None:
    _bad_dataset(tmp_path / "src")
    result = convert(tmp_path / "src", tmp_path / "out")
    summary, entries = read_audit(Path(result.audit_path))
    assert Path(result.audit_path) == tmp_path / "out" / "audit.json"
    skips = {(e.item, e.annotation, e.reason) for e in entries if e.action == "skipped"}
    assert skips == EXPECTED_SKIPS
    assert all(e.message for e in entries)
    assert summary == result.audit
    assert summary.items_total == 6
    assert summary.items_written == 2  # good and mixed
    assert summary.items_skipped == 4
    assert summary.annotations_written == 2  # good's box and mixed's "ok"
    assert summary.annotations_skipped == 7
    assert summary.reasons["missing_class"] == 2


def test_messages_name_the_field(tmp_path: Path) -> None:
    _bad_dataset(tmp_path / "src")
    result = dmv2_to_yolo(tmp_path / "src", tmp_path / "out")
    _, entries = read_audit(Path(result.audit_path))
    by_ann = {e.annotation: e for e in entries}
    assert "bounding_box[2].data.2" in by_ann["zero"].message
    assert "classification" in by_ann["noclass"].message
    assert "20x20" in by_ann["out"].message


def test_missing_input_fails_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(DatasetInputError, match="does not exist"):
        dmv2_to_yolo(tmp_path / "nope", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetInputError, match="not a DM v2 dataset"):
        dmv2_to_coco(tmp_path / "empty", tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("convert", [dmv2_to_yolo, dmv2_to_coco])
def test_nothing_usable_fails_and_leaves_no_output(tmp_path: Path, convert: Convert) -> None:
    root = tmp_path / "src"
    (root / "json").mkdir(parents=True)
    (root / "json" / "x.json").write_text("[")
    with pytest.raises(NoUsableItemsError, match="malformed_json"):
        convert(root, tmp_path / "deep" / "out")
    assert not (tmp_path / "deep").exists()


def test_existing_output_is_refused_and_untouched(tmp_path: Path) -> None:
    _two_splits(tmp_path / "src")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    before = tree(tmp_path)
    with pytest.raises(OutputExistsError, match="not empty"):
        dmv2_to_yolo(tmp_path / "src", tmp_path / "out")
    assert tree(tmp_path) == before


def test_failure_midway_removes_partial_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _two_splits(tmp_path / "src")
    (tmp_path / "out").mkdir()  # an empty folder that existed stays, empty
    before = tree(tmp_path)
    import steprail.datasets._yolo as yolo_module

    calls = 0

    def failing_link(source: str, target: str) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError("disk full")
        Path(target).write_bytes(Path(source).read_bytes())

    monkeypatch.setattr(yolo_module, "link_or_copy", failing_link)
    with pytest.raises(OSError, match="disk full"):
        dmv2_to_yolo(tmp_path / "src", tmp_path / "out")
    assert tree(tmp_path) == before


def test_splits_selection(tmp_path: Path) -> None:
    _two_splits(tmp_path / "src")
    result = dmv2_to_coco(tmp_path / "src", tmp_path / "coco", splits=["valid"])
    assert result.splits == ["valid"]
    assert [p.name for p in (tmp_path / "coco" / "annotations").iterdir()] == [
        "instances_valid.json"
    ]
    with pytest.raises(DatasetInputError, match="'nope'"):
        dmv2_to_coco(tmp_path / "src", tmp_path / "coco2", splits=["nope"])


def test_manifest_classes_are_used_and_unknown_classes_audited(tmp_path: Path) -> None:
    write_dataset(
        tmp_path / "src",
        [ItemSpec("x", 16, 16, boxes=[("a", 1.0, 1.0, 2.0, 2.0), ("zzz", 1.0, 1.0, 2.0, 2.0)])],
    )
    (tmp_path / "src" / "dataset.json").write_text(json.dumps({"classes": ["b", "a"]}))
    result = dmv2_to_yolo(tmp_path / "src", tmp_path / "yolo")
    assert result.classes == ["a", "b"]
    assert (tmp_path / "yolo" / "labels" / "x.txt").read_text().startswith("0 ")
    _, entries = read_audit(Path(result.audit_path))
    assert [(e.annotation, e.reason) for e in entries] == [("b1", AuditReason.UNKNOWN_CLASS)]


def test_coordinates_within_the_edge_tolerance_are_snapped_inside(tmp_path: Path) -> None:
    write_dataset(
        tmp_path / "src",
        [
            ItemSpec(
                "x",
                10,
                10,
                boxes=[("a", -0.0005, 0.0, 10.0008, 5.0)],
                polygons=[("a", ((0.0, 0.0), (10.0005, 0.0), (5.0, -0.0004)))],
            )
        ],
    )
    yolo = dmv2_to_yolo(tmp_path / "src", tmp_path / "yolo")
    coco = dmv2_to_coco(tmp_path / "src", tmp_path / "coco")
    assert yolo.audit.annotations_skipped == coco.audit.annotations_skipped == 0
    rows = (tmp_path / "yolo" / "labels" / "x.txt").read_text().splitlines()
    assert rows == ["0 0.500000 0.250000 1.000000 0.500000", "0 0.000000 0.000000 1.000000 0.000000 0.500000 0.000000"]
    data = json.loads((tmp_path / "coco" / "annotations" / "instances.json").read_text())
    box, poly = data["annotations"]
    assert box["bbox"] == [0, 0, 10, 5]
    assert poly["segmentation"] == [[0, 0, 10, 0, 5, 0]]
