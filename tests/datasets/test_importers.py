"""Importers from YOLO and COCO written by others (not by our writers): configs, odd rows, RLE."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from steprail.datasets import (
    AuditReason,
    DatasetInputError,
    NoUsableItemsError,
    coco_to_dmv2,
    read_audit,
    read_yolo_config,
    yolo_to_dmv2,
)

from ._helpers import read_dmv2, write_image


@pytest.mark.parametrize(
    "names_block",
    [
        "names: ['cat', 'dog']",
        "names:\n  - cat\n  - dog",
        "names:\n  0: cat\n  1: dog",
        "names: {0: cat, 1: dog}",
    ],
)
def test_yolo_config_forms(tmp_path: Path, names_block: str) -> None:
    (tmp_path / "train" / "images").mkdir(parents=True)
    (tmp_path / "data.yaml").write_text(
        f"# exported elsewhere\ntrain: train/images  # comment\nnc: 2\n{names_block}\n"
    )
    config = read_yolo_config(tmp_path / "data.yaml")
    assert config.names == ["cat", "dog"]
    assert config.splits == {"train": tmp_path / "train" / "images"}


def test_yolo_config_without_names_is_refused(tmp_path: Path) -> None:
    (tmp_path / "data.yaml").write_text("train: images\n")
    with pytest.raises(ValueError, match="no 'names'"):
        read_yolo_config(tmp_path / "data.yaml")


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        # YAML that parses but is not a dataset config: the file and the key are named.
        ("train: images\nnames:\n  first: cat\n", ":", "names key 'first' is not a class id"),
        ("train: images\nnames: {a: cat}\n", ":", "names key 'a' is not a class id"),
        ("train: images\nnames: ['a', '']\n", ":", "class 1 has no usable name"),
        ("- train\n", ":", "expected a mapping at the top"),
        # YAML that does not parse: PyYAML's line (1-based) and problem.
        ('train: "images\nnames: [cat]\n', " line 3:", "found unexpected end of stream"),
        ("train: images\nnames: [cat]\njust words\n", " line 4:", "could not find expected ':'"),
    ],
)
def test_unreadable_yolo_config_lines_are_named(
    tmp_path: Path, text: str, where: str, problem: str
) -> None:
    (tmp_path / "data.yaml").write_text(text)
    with pytest.raises(ValueError) as caught:
        read_yolo_config(tmp_path / "data.yaml")
    assert str(caught.value).startswith(f"{tmp_path / 'data.yaml'}{where} ")
    assert problem in str(caught.value)


def test_published_ultralytics_yaml_forms(tmp_path: Path) -> None:
    # What the issue found misread: a key with only a comment is null (no test split), and a
    # quoted name holding a comma is one name.
    (tmp_path / "images" / "train").mkdir(parents=True)
    (tmp_path / "coco8.yaml").write_text(
        "path: .  # dataset root, relative to this file\n"
        "train: images/train  # train images\n"
        "val: images/train\n"
        "test: # test images (optional)\n"
        "names: ['a, b', 'c']\n"
    )
    config = read_yolo_config(tmp_path / "coco8.yaml")
    assert config.names == ["a, b", "c"]
    assert set(config.sources) == {"train", "val"}
    assert config.root == tmp_path / "."
    assert config.splits["train"] == tmp_path / "." / "images" / "train"


def test_yolo_import_of_a_roboflow_style_layout(tmp_path: Path) -> None:
    src = tmp_path / "rf"
    for split in ("train", "valid"):
        write_image(src / split / "images" / f"{split}1.jpg", 100, 50)
        (src / split / "labels").mkdir(parents=True)
    (src / "train" / "labels" / "train1.txt").write_text(
        "0 0.5 0.5 0.2 0.4\n"
        "1 0.1 0.1 0.9 0.1 0.5 0.9\n"
        "7 0.5 0.5 0.1 0.1\n"  # class id out of range
        "0 0.5 zero 0.1 0.1\n"  # not a number
        "1 0.5 0.5 0.1 0.1 0.3\n"  # six numbers: neither box nor polygon
        "1 0.1 0.1 0.1 0.1 0.1 0.1\n"  # polygon of one repeated point
    )
    # valid1.jpg has no label file: a background image.
    (src / "data.yaml").write_text(
        "train: ../train/images\nval: ../valid/images\nnc: 2\nnames: ['cat', 'dog']\n"
    )
    result = yolo_to_dmv2(src / "data.yaml", tmp_path / "dm")
    items = read_dmv2(tmp_path / "dm")
    boxes, polygons = items[("train", "train1")]
    assert boxes == [("cat", 40.0, 15.0, 20.0, 20.0)]
    assert polygons == [("dog", ((10.0, 5.0), (90.0, 5.0), (50.0, 45.0)))]
    assert items[("valid", "valid1")] == ([], [])
    _, entries = read_audit(Path(result.audit_path))
    assert {e.item for e in entries} == {"train1.jpg"}  # the item's identity
    assert [e.reason for e in entries] == [
        AuditReason.MISSING_CLASS,
        AuditReason.MALFORMED_ROW,
        AuditReason.MALFORMED_ROW,
        AuditReason.POLYGON_TOO_FEW_POINTS,
    ]
    assert all("train1.txt line" in e.message for e in entries)


def _coco(folder: Path, data: dict[str, object], split: str = "train") -> None:
    (folder / "annotations").mkdir(parents=True, exist_ok=True)
    (folder / "annotations" / f"instances_{split}.json").write_text(json.dumps(data))


def test_coco_import_handles_rle_unknown_categories_and_missing_images(tmp_path: Path) -> None:
    src = tmp_path / "coco"
    write_image(src / "images" / "val" / "a.png", 30, 20)
    _coco(
        src,
        {
            "images": [
                {"id": 7, "file_name": "a.png", "width": 30, "height": 20},
                {"id": 8, "file_name": "gone.png", "width": 30, "height": 20},
            ],
            "annotations": [
                {"id": 1, "image_id": 7, "category_id": 3, "bbox": [1, 2, 3, 4], "segmentation": []},
                {
                    "id": 2,
                    "image_id": 7,
                    "category_id": 3,
                    "bbox": [0, 0, 5, 5],
                    "segmentation": {"counts": "Y35?0000000[<", "size": [20, 30]},
                    "iscrowd": 1,
                },
                {
                    "id": 3,
                    "image_id": 7,
                    "category_id": 4,
                    "bbox": [0, 0, 10, 10],
                    "segmentation": [[0, 0, 10, 0, 10, 10], [20, 0, 25, 5, 20, 10]],
                },
                {"id": 4, "image_id": 7, "category_id": 99, "bbox": [1, 1, 1, 1]},
                {"id": 5, "image_id": 7, "category_id": 3, "bbox": [1, 1, -1, 1]},
            ],
            "categories": [{"id": 3, "name": "car"}, {"id": 4, "name": "road"}],
        },
        split="val",
    )
    result = coco_to_dmv2(src, tmp_path / "dm")
    assert result.splits == ["valid"] and result.classes == ["car", "road"]
    boxes, polygons = read_dmv2(tmp_path / "dm")[("valid", "a")]
    assert boxes == [("car", 0.0, 0.0, 5.0, 5.0), ("car", 1.0, 2.0, 3.0, 4.0)]
    crowd = json.loads((tmp_path / "dm" / "valid" / "json" / "a.json").read_text())
    crowd_box = next(b for b in crowd["images"][0]["bounding_box"] if b["id"] == "2")
    assert crowd_box["crowd"] is True and crowd_box["mask"] == {"counts": "Y35?0000000[<", "size": [20, 30]}
    # The object of two polygons stays one object, with a further ring.
    assert [p[0] for p in polygons] == ["road"]
    item = json.loads((tmp_path / "dm" / "valid" / "json" / "a.json").read_text())
    (road,) = item["images"][0]["polygon"]
    assert road["data"] == [[0, 0], [10, 0], [10, 10]]
    assert road["rings"] == [[[20, 0], [25, 5], [20, 10]]]
    assert item["source"] == {"file_name": "a.png", "image_id": 7}
    _, entries = read_audit(Path(result.audit_path))
    assert {(e.item, e.annotation, e.reason, e.action) for e in entries} == {
        ("gone.png", None, AuditReason.MISSING_IMAGE, "skipped"),
        ("a.png", "4", AuditReason.MISSING_CLASS, "skipped"),
        ("a.png", "5", AuditReason.BOX_NON_POSITIVE, "skipped"),
    }


def test_coco_import_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetInputError, match="no COCO annotations in .*annotations/instances"):
        coco_to_dmv2(tmp_path, tmp_path / "out")
    _coco(tmp_path / "c", {"images": [{"id": 1, "file_name": "x.png"}], "annotations": []})
    with pytest.raises(NoUsableItemsError):
        coco_to_dmv2(tmp_path / "c", tmp_path / "out")
    (tmp_path / "c" / "annotations" / "instances_train.json").write_text("{")
    with pytest.raises(DatasetInputError, match="not valid JSON"):
        coco_to_dmv2(tmp_path / "c", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_import_audit_messages_say_what_was_wrong(tmp_path: Path) -> None:
    # A rejected annotation's message names the field and the problem, not pydantic's title
    # line or its documentation link; a non-finite polygon is not called "too few points".
    yolo = tmp_path / "yolo"
    write_image(yolo / "images" / "train" / "a.png", 10, 10)
    (yolo / "labels" / "train").mkdir(parents=True)
    (yolo / "labels" / "train" / "a.txt").write_text(
        "0 0.5 0.5 0 0.2\n"  # zero width
        "0 0.1 0.1 nan 0.2 0.5 0.9\n"  # a polygon with a NaN coordinate
    )
    (yolo / "dataset.yaml").write_text("train: images/train\nnames: ['cat']\n")
    result = yolo_to_dmv2(yolo / "dataset.yaml", tmp_path / "dm_yolo")
    _, entries = read_audit(Path(result.audit_path))
    assert [(e.annotation, e.reason) for e in entries] == [
        ("a-1", AuditReason.BOX_NON_POSITIVE),
        ("a-2", AuditReason.POLYGON_NON_FINITE),
    ]
    assert "a.txt line 1: box [0.5, 0.5, 0.0, 0.2] has no area" in entries[0].message
    assert "a.txt line 2: a polygon point is not finite" in entries[1].message

    coco = tmp_path / "coco"
    write_image(coco / "images" / "train" / "a.png", 10, 10)
    _coco(
        coco,
        {
            "images": [{"id": 1, "file_name": "a.png", "width": 10, "height": 10}],
            "annotations": [{"id": 5, "image_id": 1, "category_id": 1, "bbox": [1, 1, -1, 1]}],
            "categories": [{"id": 1, "name": "car"}],
        },
    )
    result = coco_to_dmv2(coco, tmp_path / "dm_coco")
    _, entries = read_audit(Path(result.audit_path))
    assert [(e.annotation, e.reason, e.message) for e in entries] == [
        ("5", AuditReason.BOX_NON_POSITIVE, "bbox [1, 1, -1, 1] has no area")
    ]


def test_a_yolo_box_across_the_left_or_top_edge_is_clipped_not_shifted(tmp_path: Path) -> None:
    src = tmp_path / "yolo"
    write_image(src / "images" / "a.png", 100, 50)
    (src / "labels").mkdir(parents=True)
    # x from -5 to 15 and y from 20 to 30; then x from 40 to 60 and y from -5 to 5 (pixels).
    (src / "labels" / "a.txt").write_text("0 0.05 0.5 0.2 0.2\n0 0.5 0.0 0.2 0.2\n")
    (src / "dataset.yaml").write_text("train: images\nval: images\nnames: ['cat']\n")
    result = yolo_to_dmv2(src / "dataset.yaml", tmp_path / "dm")
    # Clipped, and said: nothing is moved without an audit entry.
    _, entries = read_audit(Path(result.audit_path))
    assert [(e.annotation, e.reason, e.action) for e in entries] == [
        ("a-1", AuditReason.CLAMPED_TO_IMAGE, "changed"),
        ("a-2", AuditReason.CLAMPED_TO_IMAGE, "changed"),
    ]
    boxes, _ = read_dmv2(tmp_path / "dm")[(None, "a")]
    assert [name for name, *_ in boxes] == ["cat", "cat"]
    assert [tuple(data) for _, *data in boxes] == [
        pytest.approx((0.0, 20.0, 15.0, 10.0)),
        pytest.approx((40.0, 0.0, 20.0, 5.0)),
    ]
