"""Findings of the hostile review of the dataset hub (issue 9), one test per finding."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
import pycocotools.mask as coco_mask
from pycocotools.coco import COCO

import steprail.datasets
from steprail.datasets import (
    AuditReason,
    DatasetInputError,
    LocalBackend,
    NoUsableItemsError,
    OutputExistsError,
    coco_to_dmv2,
    dmv2_to_coco,
    dmv2_to_voc,
    dmv2_to_yolo,
    read_audit,
    voc_to_dmv2,
    yolo_to_dmv2,
)

from steprail.datasets._convert import CLAIM_FILE_NAME
from steprail.datasets._rle import rle_problem

from ._helpers import ItemSpec, read_dmv2, write_dataset, write_image


def _bytes_path(folder: Path, name: bytes) -> Path:
    return Path(os.fsdecode(os.path.join(os.fsencode(folder), name)))


def test_yolo_image_name_not_utf8_with_labels_is_kept_percent_encoded(tmp_path: Path) -> None:
    root = tmp_path / "yolo"
    (root / "labels" / "train").mkdir(parents=True)
    write_image(_bytes_path(root / "images" / "train", b"bad\xff.png"), 20, 10)
    _bytes_path(root / "labels" / "train", b"bad\xff.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "d.yaml").write_text("train: images/train\nval: images/train\nnames: [a]\n")
    result = yolo_to_dmv2(root / "d.yaml", tmp_path / "dm")
    assert result.audit.items_written == 1 and result.audit.annotations_written == 1
    item = json.loads((tmp_path / "dm" / "train" / "json" / "bad%FF.json").read_text())
    assert item["source"]["file_name"] == "bad%FF.png"
    assert all("\\udcff" not in box["id"] for box in item["images"][0]["bounding_box"])
    _, entries = read_audit(Path(result.audit_path))
    assert [(e.item, e.reason) for e in entries] == [
        ("bad%FF.png", AuditReason.RENAMED_FOR_TARGET)
    ]


def _ultralytics_accepts(config: Path) -> bool:
    """Ultralytics' check_det_dataset rule: ``train`` and ``val`` keys both present (``validation``
    counts as ``val``), each naming (relative to ``path``, else the yaml's folder) something that
    exists."""
    data = yaml.safe_load(config.read_text())
    if "val" not in data and "validation" in data:
        data["val"] = data.pop("validation")
    if "train" not in data or "val" not in data:
        return False
    root = config.parent / data.get("path", ".")
    return all((root / data[key]).exists() for key in ("train", "val"))


@pytest.mark.parametrize(
    "splits", [["train"], ["valid"], ["test"], ["train", "test"], ["valid", "test"], [None]]
)
def test_yolo_output_always_names_train_and_val(
    tmp_path: Path, splits: list[str | None]
) -> None:
    specs = [
        ItemSpec(f"i{split}", 16, 16, boxes=[("a", 1.0, 1.0, 4.0, 4.0)], split=split)
        for split in splits
    ]
    write_dataset(tmp_path / "dm", specs)
    result = dmv2_to_yolo(tmp_path / "dm", tmp_path / "yolo")
    assert _ultralytics_accepts(tmp_path / "yolo" / "dataset.yaml")
    filled = 0 if splits == [None] else len({"train", "val"} - {"val" if s == "valid" else s for s in splits})
    assert result.audit.changes.get("split_filled_in", 0) == filled
    # Read back, every item comes once, in its own split.
    yolo_to_dmv2(tmp_path / "yolo", tmp_path / "back")
    assert sorted(read_dmv2(tmp_path / "back"), key=str) == sorted(
        ((s, f"i{s}") for s in splits), key=str
    )


_DIE = """
import os, sys
from pathlib import Path
import steprail.datasets._{module} as target
from steprail.datasets import {convert}

def die(*args, **kwargs):
    os._exit(9)  # as kill -9: no cleanup, no finally blocks

target.{patched} = die
{convert}(Path(sys.argv[1]), Path(sys.argv[2]))
"""


def _killed_run(tmp_path: Path, convert: str, module: str, patched: str) -> Path:
    out = tmp_path / f"out_{convert}_{patched.replace('.', '_')}"
    script = _DIE.format(module=module, convert=convert, patched=patched)
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "src"), str(out)])
    assert done.returncode == 9
    return out


@pytest.mark.parametrize(
    ("convert", "module", "patched"),
    [
        ("dmv2_to_coco", "coco", "_copy_to"),  # inside the first instances file's close
        ("dmv2_to_coco", "coco", "AuditLog.close"),  # every instances file done, no audit
        ("dmv2_to_yolo", "yolo", "AuditLog.close"),
        ("dmv2_to_yolo", "yolo", "write_whole_file"),
    ],
)
def test_a_run_killed_half_way_leaves_no_whole_looking_file_and_is_named_on_rerun(
    tmp_path: Path, convert: str, module: str, patched: str
) -> None:
    specs = [
        ItemSpec(f"i{n}", 16, 16, boxes=[("a", 1.0, 1.0, 4.0, 4.0)], split=split)
        for n in range(3)
        for split in ("train", "valid")
    ]
    write_dataset(tmp_path / "src", specs)
    out = _killed_run(tmp_path, convert, module, patched)
    assert not (out / "audit.json").exists() and (out / CLAIM_FILE_NAME).is_file()
    # Every file under its real name is whole: instances JSONs parse, the yaml loads.
    for path in out.rglob("instances*.json"):
        json.loads(path.read_text())
    if patched == "_copy_to":
        assert not list(out.rglob("instances*.json"))
    if patched == "write_whole_file":
        assert not (out / "dataset.yaml").exists()
    with pytest.raises(OutputExistsError, match=r"left by an interrupted run \(claim file "
                       r"\.steprail-claim, no audit\.json\); remove it"):
        getattr(steprail.datasets, convert)(tmp_path / "src", out)


def test_a_folder_claimed_by_a_live_run_is_not_called_interrupted(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / CLAIM_FILE_NAME).write_text(f"{os.getpid()}\n")
    write_dataset(tmp_path / "src", [ItemSpec("i", 16, 16)])
    with pytest.raises(OutputExistsError) as caught:
        dmv2_to_coco(tmp_path / "src", out)
    assert "interrupted" not in str(caught.value)


@settings(deadline=None, max_examples=60)
@given(
    mask=st.integers(1, 9).flatmap(
        lambda h: st.integers(1, 9).flatmap(
            lambda w: st.lists(st.booleans(), min_size=h * w, max_size=h * w).map(
                lambda bits: (h, w, bits)
            )
        )
    )
)
def test_rle_check_reads_pycocotools_compressed_counts(mask: tuple[int, int, list[bool]]) -> None:
    height, width, bits = mask
    pixels = np.asfortranarray(np.array(bits, dtype=np.uint8).reshape(height, width))
    encoded = coco_mask.encode(pixels)
    counts = encoded["counts"].decode("ascii")
    assert rle_problem(counts, encoded["size"], width, height) is None
    assert _runs(counts) == _reference_runs(pixels)
    assert rle_problem(counts, [height + 1, width], width, height) is not None
    if len(counts) > 1:
        assert rle_problem(counts[:-1], encoded["size"], width, height) is not None


def _runs(counts: str) -> list[int]:
    from steprail.datasets._rle import _decoded_counts

    runs = _decoded_counts(counts)
    assert isinstance(runs, list)
    return runs


def _reference_runs(pixels: np.ndarray[Any, Any]) -> list[int]:
    flat = [int(v) for v in pixels.flatten(order="F")]
    runs, current, length = [], 0, 0
    for value in flat:
        if value == current:
            length += 1
        else:
            runs.append(length)
            current, length = value, 1
    runs.append(length)
    return runs


def test_unreadable_crowd_rle_is_kept_as_its_box_and_masks_tools_read_the_output(
    tmp_path: Path,
) -> None:
    root = tmp_path / "coco"
    write_image(root / "images" / "a.png", 20, 10)
    good = coco_mask.encode(np.asfortranarray(np.ones((10, 20), dtype=np.uint8)))
    segmentations = {
        1: {"counts": "garbage!!", "size": [10, 20]},
        2: {"counts": [10, 5], "size": [10, 20]},  # runs add up to 15, not 200
        3: {"counts": good["counts"].decode("ascii"), "size": [20, 10]},  # size swapped
        4: {"counts": good["counts"].decode("ascii"), "size": [10, 20]},
        5: {"counts": [0, 200], "size": [10, 20]},
    }
    data = {
        "images": [{"id": 1, "file_name": "a.png", "width": 20, "height": 10}],
        "annotations": [
            {"id": i, "image_id": 1, "category_id": 1, "bbox": [1, 1, 4, 4], "area": 16,
             "iscrowd": 1, "segmentation": seg}
            for i, seg in segmentations.items()
        ],
        "categories": [{"id": 1, "name": "a"}],
    }  # fmt: skip
    (root / "annotations").mkdir()
    (root / "annotations" / "instances.json").write_text(json.dumps(data))
    result = coco_to_dmv2(root, tmp_path / "dm")
    assert result.audit.annotations_written == 5
    _, entries = read_audit(Path(result.audit_path))
    assert sorted(e.annotation or "" for e in entries if e.reason == AuditReason.CROWD_AS_BOX) == [
        "1", "2", "3"
    ]
    dmv2_to_coco(tmp_path / "dm", tmp_path / "out")
    gt = COCO(str(tmp_path / "out" / "annotations" / "instances.json"))
    for ann in gt.dataset["annotations"]:
        assert gt.annToMask(ann).shape == (10, 20)
    # A DM v2 source whose stored mask was broken after import: dropped on the way out, audited.
    item_path = next((tmp_path / "dm").rglob("json/*.json"))
    item = json.loads(item_path.read_text())
    masked = [b for b in item["images"][0]["bounding_box"] if b.get("mask")]
    assert len(masked) == 2
    masked[0]["mask"]["counts"] = "garbage!!"
    item_path.write_text(json.dumps(item))
    again = dmv2_to_coco(tmp_path / "dm", tmp_path / "out2")
    assert again.audit.changes.get("crowd_as_box") == 1
    gt = COCO(str(tmp_path / "out2" / "annotations" / "instances.json"))
    assert all(gt.annToMask(ann).shape == (10, 20) for ann in gt.dataset["annotations"])


def test_coco_declared_sizes_are_checked_against_the_image(tmp_path: Path) -> None:
    root = tmp_path / "coco"
    (root / "images").mkdir(parents=True)
    (root / "images" / "empty.png").write_bytes(b"")
    (root / "images" / "text.png").write_bytes(b"not an image at all, just text")
    write_image(root / "images" / "small.png", 100, 100)
    write_image(root / "images" / "turned.png", 30, 40)
    write_image(root / "images" / "ok.png", 50, 20)
    declared = {"empty.png": (640, 480), "text.png": (640, 480), "small.png": (640, 480),
                "turned.png": (40, 30), "ok.png": (50, 20)}  # fmt: skip
    data = {
        "images": [
            {"id": i, "file_name": name, "width": w, "height": h}
            for i, (name, (w, h)) in enumerate(declared.items(), 1)
        ],
        "annotations": [
            {"id": i, "image_id": i, "category_id": 1, "bbox": [1, 1, 8, 8]}
            for i in range(1, len(declared) + 1)
        ],
        "categories": [{"id": 1, "name": "a"}],
    }
    (root / "annotations").mkdir()
    (root / "annotations" / "instances.json").write_text(json.dumps(data))
    result = coco_to_dmv2(root, tmp_path / "dm")
    assert result.audit.items_total == 5 and result.audit.items_written == 3
    assert result.audit.reasons == {"unreadable_image": 2}
    assert result.audit.changes == {"image_size_mismatch": 1}
    _, entries = read_audit(Path(result.audit_path))
    assert {e.item for e in entries if e.reason == AuditReason.UNREADABLE_IMAGE} == {
        "empty.png", "text.png"
    }
    sizes = {
        json.loads(p.read_text())["source"]["file_name"]: (
            json.loads(p.read_text())["images"][0]["width"],
            json.loads(p.read_text())["images"][0]["height"],
        )
        for p in (tmp_path / "dm").rglob("json/*.json")
    }
    assert sizes == {"small.png": (100, 100), "turned.png": (40, 30), "ok.png": (50, 20)}


def test_a_dmv2_item_with_a_stored_size_and_an_empty_image_is_unreadable(tmp_path: Path) -> None:
    write_dataset(
        tmp_path / "src",
        [ItemSpec("a", 16, 16, record_size=True), ItemSpec("b", 16, 16, record_size=True)],
    )
    next((tmp_path / "src" / "original_files").glob("b.*")).write_bytes(b"")
    result = dmv2_to_coco(tmp_path / "src", tmp_path / "coco")
    assert result.audit.items_written == 1 and result.audit.reasons == {"unreadable_image": 1}


_KINDS = ["ok", "no_label", "not_image", "empty_image", "image_link_out", "label_link_out",
          "label_dir", "orphan_label", "bad_rows"]  # fmt: skip


def _hostile_yolo(root: Path, kinds: list[str]) -> int:
    """A YOLO folder with one item of each kind in ``kinds``; returns how many are usable."""
    outside = root.parent / "outside"
    outside.mkdir(exist_ok=True)
    write_image(outside / "o.png", 8, 8)
    (outside / "o.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    images, labels = root / "images" / "train", root / "labels" / "train"
    images.mkdir(parents=True)
    labels.mkdir(parents=True)
    usable = 0
    for index, kind in enumerate(kinds):
        name = f"{index}_{kind}"
        image, label = images / f"{name}.png", labels / f"{name}.txt"
        if kind == "image_link_out":
            image.symlink_to(outside / "o.png")
        elif kind == "not_image":
            image.write_text("hello")
        elif kind == "empty_image":
            image.write_bytes(b"")
        elif kind != "orphan_label":
            write_image(image, 10, 10)
        if kind == "label_link_out":
            label.symlink_to(outside / "o.txt")
        elif kind == "label_dir":
            label.mkdir()
        elif kind == "bad_rows":
            label.write_text("0 0_5 0.5 0.2 0.2\nx\n0 nan 0.5 0.2 0.2\n1.5 0.5 0.5 0.2 0.2\n")
        elif kind != "no_label":
            label.write_text("0 0.5 0.5 0.2 0.2\n1.0 0.5 0.5 0.4 0.4\n")
        usable += kind in ("ok", "no_label", "label_dir", "bad_rows")
    (root / "d.yaml").write_text("train: images/train\nnames: [a, b]\n")
    return usable


@settings(deadline=None, max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(st.sampled_from(_KINDS), min_size=1, max_size=8))
def test_yolo_import_counts_add_up_one_entry_per_skipped_item(
    tmp_path_factory: pytest.TempPathFactory, kinds: list[str]
) -> None:
    tmp = tmp_path_factory.mktemp("hostile")
    usable = _hostile_yolo(tmp / "yolo", kinds)
    if not usable:
        with pytest.raises(NoUsableItemsError):
            yolo_to_dmv2(tmp / "yolo" / "d.yaml", tmp / "dm")
        return
    summary = yolo_to_dmv2(tmp / "yolo" / "d.yaml", tmp / "dm").audit
    assert summary.items_total == len(kinds)
    assert summary.items_written == usable
    assert summary.items_written + summary.items_skipped == summary.items_total
    _, entries = read_audit(tmp / "dm" / "audit.json")
    skipped_items = [e.item for e in entries if e.action == "skipped" and e.annotation is None]
    assert len(skipped_items) == len(set(skipped_items)) == summary.items_skipped
    # A change never carries a skip reason, and a skip never a change reason.
    assert all(e.reason != AuditReason.MALFORMED_ROW for e in entries if e.action == "changed")
    assert summary.changes.get("label_unreadable", 0) == kinds.count("label_dir")
    # `1.0` is the class id 1; `0_5`, `x`, nan and `1.5` are refused.
    assert summary.annotations_written == 2 * kinds.count("ok")
    assert summary.annotations_skipped == 4 * kinds.count("bad_rows")


def test_an_output_inside_the_source_is_refused_by_every_converter(tmp_path: Path) -> None:
    write_dataset(tmp_path / "dm", [ItemSpec("a", 16, 16, boxes=[("a", 1.0, 1.0, 4.0, 4.0)])])
    dmv2_to_yolo(tmp_path / "dm", tmp_path / "yolo")
    dmv2_to_coco(tmp_path / "dm", tmp_path / "coco")
    dmv2_to_voc(tmp_path / "dm", tmp_path / "voc")
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    attempts = [
        (yolo_to_dmv2, tmp_path / "yolo" / "dataset.yaml", tmp_path / "yolo" / "images" / "dm"),
        (yolo_to_dmv2, tmp_path / "yolo", tmp_path / "yolo"),
        (coco_to_dmv2, tmp_path / "coco", tmp_path / "coco" / "images" / "dm"),
        (coco_to_dmv2, tmp_path / "coco" / "annotations" / "instances.json", tmp_path / "coco" / "annotations" / "x"),
        (dmv2_to_yolo, tmp_path / "dm", tmp_path / "dm" / "original_files" / "out"),
        (dmv2_to_coco, tmp_path / "dm", tmp_path / "dm" / "json_out"),
        (dmv2_to_voc, tmp_path / "dm", tmp_path / "dm" / "voc_out"),
        (voc_to_dmv2, tmp_path / "voc", tmp_path / "voc" / "Annotations" / "dm"),
    ]
    for convert, source, output in attempts:
        with pytest.raises(DatasetInputError, match="is inside the source dataset"):
            convert(source, output)
    with LocalBackend(tmp_path / "dm" / "backend") as backend:
        with pytest.raises(DatasetInputError, match="is inside the source dataset"):
            backend.import_dataset(tmp_path / "dm", name="x")
    with LocalBackend(tmp_path / "backend") as backend:
        backend.import_dataset(tmp_path / "dm", name="x")
        with pytest.raises(DatasetInputError, match="is inside the source dataset"):
            backend.download_dataset("x", tmp_path / "backend" / "out")
    # Nothing was made in any source (the backends' own folders aside).
    after = sorted(str(p) for p in tmp_path.rglob("*") if "backend" not in p.parts)
    assert after == [p for p in before if "backend" not in Path(p).parts]


def test_import_dataset_checks_boxes_against_the_real_image(tmp_path: Path) -> None:
    write_dataset(tmp_path / "dm", [ItemSpec("a", 16, 16, boxes=[("a", 1.0, 1.0, 4.0, 4.0)])])
    item_path = tmp_path / "dm" / "json" / "a.json"
    item = json.loads(item_path.read_text())
    image = item["images"][0]
    image["width"], image["height"] = 2000, 2000  # declared, but the file is 16x16
    image["bounding_box"] += [
        {"id": "far", "classification": "a", "data": [1500, 1500, 100, 100]},
        {"id": "huge", "classification": "a", "data": [1e308, 1, 5, 5]},
    ]
    item_path.write_text(json.dumps(item))
    with LocalBackend(tmp_path / "backend") as backend:
        result = backend.import_dataset(tmp_path / "dm", name="x")
    assert result.audit.annotations_written == 1
    assert result.audit.reasons == {"box_outside_image": 2}
    assert result.audit.changes == {"image_size_mismatch": 1}
    stored = [json.loads(p.read_text()) for p in (tmp_path / "backend").rglob("json/*.json")]
    assert [(i["images"][0]["width"], len(i["images"][0]["bounding_box"])) for i in stored] == [
        (16, 1)
    ]


def test_a_missing_yolo_folder_is_named_as_written_and_as_resolved(tmp_path: Path) -> None:
    root = tmp_path / "a" / "b" / "ds"
    write_image(root / "images" / "val" / "x.png", 8, 8)
    (root / "d.yaml").write_text("train: ../../../nowhere\nval: images/val\nnames: [a]\n")
    first, retried = tmp_path / "nowhere", tmp_path / "a" / "nowhere"
    with pytest.raises(DatasetInputError) as caught:
        yolo_to_dmv2(root / "d.yaml", tmp_path / "out")
    message = str(caught.value)
    assert "'../../../nowhere'" in message
    assert f"neither {str(first)!r} nor {str(retried)!r}" in message


def test_coco_audit_details_polygon_inf_ids_as_written_duplicates_and_int64(
    tmp_path: Path,
) -> None:
    root = tmp_path / "coco"
    write_image(root / "images" / "a.png", 20, 10)
    write_image(root / "images" / "b.png", 20, 10)
    huge = 1 << 64
    data = {
        "images": [
            {"id": huge, "file_name": "a.png", "width": 20, "height": 10},
            {"id": 2, "file_name": "b.png", "width": 20, "height": 10},
        ],
        "annotations": [
            {"id": 15, "image_id": huge, "category_id": 1, "bbox": [1, 1, 4, 4],
             "segmentation": [[1, 1, float("inf"), 1, 4, 4]]},
            {"id": 16, "image_id": huge, "category_id": 1, "bbox": [1, 1, 4, 4],
             "segmentation": [[1, 1, 4, 1]]},
            {"id": huge + 1, "image_id": 2, "category_id": 1, "bbox": [1, 1, 4, 4]},
            {"id": 18, "image_id": huge, "category_id": 1, "bbox": [1, 1, 4, 4]},
            {"id": 18, "image_id": 2, "category_id": 1, "bbox": [2, 2, 4, 4]},
        ],
        "categories": [{"id": 1, "name": "a"}],
    }  # fmt: skip
    (root / "annotations").mkdir()
    (root / "annotations" / "instances.json").write_text(json.dumps(data))
    result = coco_to_dmv2(root, tmp_path / "dm")
    _, entries = read_audit(Path(result.audit_path))
    found = {(e.annotation, e.reason) for e in entries}
    assert ("15", AuditReason.POLYGON_NON_FINITE) in found
    assert ("16", AuditReason.POLYGON_TOO_FEW_POINTS) in found
    assert ("18", AuditReason.DUPLICATE_ANNOTATION_ID) in found
    out = dmv2_to_coco(tmp_path / "dm", tmp_path / "out")
    written = json.loads((tmp_path / "out" / "annotations" / "instances.json").read_text())
    ids = [i["id"] for i in written["images"]] + [a["id"] for a in written["annotations"]]
    assert all(-(1 << 63) <= i < (1 << 63) for i in ids)
    assert len({a["id"] for a in written["annotations"]}) == len(written["annotations"])
    _, out_entries = read_audit(Path(out.audit_path))
    messages = [e.message for e in out_entries if e.reason in (
        AuditReason.IMAGE_ID_RENUMBERED, AuditReason.ANNOTATION_ID_RENUMBERED)]  # fmt: skip
    assert sum("does not fit a 64-bit integer" in m for m in messages) == 2
    assert sum("is taken" in m for m in messages) == 1


def test_roboflow_coco_export_layout_is_read_as_splits(tmp_path: Path) -> None:
    root = tmp_path / "rf"
    root.mkdir()
    (root / "README.roboflow.txt").write_text("exported by roboflow")
    counts = {"train": 3, "valid": 2, "test": 1}
    for split, count in counts.items():
        folder = root / split
        for index in range(count):
            write_image(folder / f"{split}{index}_jpg.rf.abc.png", 20, 10)
        data = {
            "images": [
                {"id": i, "file_name": f"{split}{i}_jpg.rf.abc.png", "width": 20, "height": 10}
                for i in range(count)
            ],
            "annotations": [
                {"id": i, "image_id": i, "category_id": 1, "bbox": [1, 1, 4, 4], "area": 16,
                 "segmentation": [], "iscrowd": 0}
                for i in range(count)
            ],  # fmt: skip
            "categories": [
                {"id": 0, "name": "objects", "supercategory": "none"},
                {"id": 1, "name": "pen", "supercategory": "objects"},
            ],
        }
        (folder / "_annotations.coco.json").write_text(json.dumps(data))
    result = coco_to_dmv2(root, tmp_path / "dm")
    assert sorted(result.splits) == sorted(counts)
    assert result.audit.items_written == sum(counts.values()) == result.audit.items_total
    for split, count in counts.items():
        assert len(list((tmp_path / "dm" / split / "json").glob("*.json"))) == count
