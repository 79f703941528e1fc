"""Image files that no item lists are audited (``unlisted_image``), counted, and not imported.

COCO: the annotations JSON defines the dataset, so an image under the images root that no
``images`` entry names is skipped with an entry. DM v2: an ``original_files/`` image with no
``json/<stem>.json`` item likewise, by every reader (the three writers and the backend import).
Pascal VOC: a ``JPEGImages/`` image that no ``Annotations/`` file describes likewise.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from steprail.datasets import (
    AuditEntry,
    AuditReason,
    ConversionResult,
    LocalBackend,
    NoUsableItemsError,
    coco_to_dmv2,
    dmv2_to_coco,
    dmv2_to_voc,
    dmv2_to_yolo,
    make_sample_dataset,
    read_audit,
    voc_to_dmv2,
)

from ._helpers import ItemSpec, tree, write_dataset, write_image

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
UNLISTED = AuditReason.UNLISTED_IMAGE

Writer = Callable[[Path, Path], ConversionResult]
WRITERS: list[Writer] = [dmv2_to_coco, dmv2_to_yolo, dmv2_to_voc]


def _unlisted(result: ConversionResult) -> list[AuditEntry]:
    _, entries = read_audit(Path(result.audit_path))
    return [e for e in entries if e.reason is UNLISTED]


def _copy_fixture(name: str, tmp_path: Path) -> Path:
    copy = tmp_path / name
    shutil.copytree(REAL / name, copy)
    return copy


# --- COCO -------------------------------------------------------------------------------------


def test_coco_2017_layout_images_missing_from_the_json_are_audited_not_imported(
    tmp_path: Path,
) -> None:
    source = _copy_fixture("coco2017_val", tmp_path)
    facts = json.loads((source / "facts.json").read_text(encoding="utf-8"))
    real_image = next((source / "val2017").glob("*.jpg"))
    shutil.copy(real_image, source / "val2017" / "000000999999.jpg")
    write_image(source / "val2017" / "extra" / "frame.png", 16, 12)
    (source / "val2017" / "notes.txt").write_text("not an image")

    result = coco_to_dmv2(source, tmp_path / "dm")

    entries = _unlisted(result)
    assert [(e.split, e.item, e.kind, e.action) for e in entries] == [
        ("valid", "000000999999.jpg", "item", "skipped"),
        ("valid", "extra/frame.png", "item", "skipped"),
    ]
    assert all("not imported" in e.message for e in entries)
    summary = result.audit
    listed = facts["images"]
    assert summary.items_total == listed + 2
    assert summary.items_written == listed
    assert summary.reasons[UNLISTED.value] == 2
    assert summary.items_written + summary.items_skipped == summary.items_total
    # Nothing of them reached the DM v2 output.
    written = {p.name for p in (tmp_path / "dm").rglob("original_files/*")}
    assert len(written) == listed and "000000999999.jpg" not in written
    assert not any("frame" in name for name in written)


def test_labelme_export_with_subfolder_file_names_names_the_unlisted_file_by_its_identity(
    tmp_path: Path,
) -> None:
    # file_name is "JPEGImages/x.jpg": the images root is the export's folder itself.
    source = _copy_fixture("labelme_coco", tmp_path)
    shutil.copy(next((source / "JPEGImages").glob("*.jpg")), source / "JPEGImages" / "spare.jpg")

    result = coco_to_dmv2(source / "annotations.json", tmp_path / "dm")

    assert [(e.split, e.item) for e in _unlisted(result)] == [(None, "JPEGImages/spare.jpg")]
    assert result.audit.items_total == result.audit.items_written + 1 == 4


def _coco_file(path: Path, images: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    categories = [{"id": 1, "name": "thing"}]
    path.write_text(json.dumps({"images": images, "annotations": [], "categories": categories}))


def test_listed_files_are_never_unlisted_whatever_became_of_their_entry(tmp_path: Path) -> None:
    # An entry without an id, a duplicate id, a duplicate file name: each is audited for what it
    # is, and its file (named by an entry) is not reported again as unlisted.
    root = tmp_path / "coco"
    for name in ("a.png", "b.png", "c.png", "d.png"):
        write_image(root / name, 8, 8)
    _coco_file(
        root / "annotations.json",
        [
            {"id": 1, "file_name": "a.png"},
            {"file_name": "b.png"},  # no id
            {"id": 1, "file_name": "c.png"},  # id taken
            {"id": 2, "file_name": "./a.png"},  # a.png again
        ],
    )
    result = coco_to_dmv2(root, tmp_path / "dm")
    assert [e.item for e in _unlisted(result)] == ["d.png"]
    assert result.audit.reasons == {
        "duplicate_image": 2,
        "invalid_item": 1,
        UNLISTED.value: 1,
    }
    assert result.audit.items_total == 5 and result.audit.items_written == 1


def test_a_folder_shared_by_two_splits_reports_each_unlisted_file_once(tmp_path: Path) -> None:
    root = tmp_path / "coco"
    for name in ("t.png", "v.png", "stray.png"):
        write_image(root / "images" / name, 8, 8)
    _coco_file(root / "annotations" / "instances_train.json", [{"id": 1, "file_name": "t.png"}])
    _coco_file(root / "annotations" / "instances_val.json", [{"id": 2, "file_name": "v.png"}])

    result = coco_to_dmv2(root, tmp_path / "dm")

    assert [e.item for e in _unlisted(result)] == ["stray.png"]
    assert result.audit.items_total == 3 and result.audit.items_written == 2


def test_a_listed_image_reached_through_a_symlinked_folder_is_not_unlisted(
    tmp_path: Path,
) -> None:
    root = tmp_path / "coco"
    write_image(root / "store" / "a.png", 8, 8)
    (root / "pics").symlink_to(root / "store", target_is_directory=True)
    _coco_file(root / "annotations.json", [{"id": 1, "file_name": "pics/a.png"}])

    result = coco_to_dmv2(root / "annotations.json", tmp_path / "dm")

    assert result.audit.items_written == 1
    assert _unlisted(result) == []


def test_images_outside_the_root_behind_a_symlink_are_neither_listed_nor_read(
    tmp_path: Path,
) -> None:
    outside = tmp_path / "outside"
    write_image(outside / "secret.png", 8, 8)
    root = tmp_path / "coco"
    write_image(root / "a.png", 8, 8)
    (root / "elsewhere").symlink_to(outside, target_is_directory=True)
    _coco_file(root / "annotations.json", [{"id": 1, "file_name": "a.png"}])
    before = tree(outside)

    result = coco_to_dmv2(root / "annotations.json", tmp_path / "dm")

    assert _unlisted(result) == []
    assert "secret" not in Path(result.audit_path).read_text(encoding="utf-8")
    assert tree(outside) == before


# --- DM v2 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("writer", WRITERS, ids=lambda w: w.__name__)
def test_dmv2_image_without_an_item_is_audited_by_every_writer(
    writer: Writer, tmp_path: Path
) -> None:
    # Real data: the COCO 2017 subset imported to DM v2, then a real image with no item added.
    dm = Path(coco_to_dmv2(REAL / "coco2017_val", tmp_path / "dm").path)
    originals = next(dm.rglob("original_files"))
    split = originals.parent.name if originals.parent != dm else None
    shutil.copy(next(originals.iterdir()), originals / "orphan.jpg")
    (originals / "Thumbs.db").write_bytes(b"not an image")
    items = len(list(dm.rglob("json/*.json")))

    result = writer(dm, tmp_path / "out")

    entries = _unlisted(result)
    assert [(e.split, e.item, e.action) for e in entries] == [(split, "orphan.jpg", "skipped")]
    assert "json/orphan.json" in entries[0].message
    assert result.audit.items_total == items + 1
    assert result.audit.items_written == items
    assert not any(p.name.startswith("orphan") for p in (tmp_path / "out").rglob("*"))


def test_backend_import_audits_an_image_without_an_item(tmp_path: Path) -> None:
    sample = make_sample_dataset(tmp_path / "dm", items=6, categorized=True)
    valid = tmp_path / "dm" / "valid" / "original_files"
    write_image(valid / "lonely.png", 8, 8)
    with LocalBackend(tmp_path / "backend") as backend:
        imported = backend.import_dataset(sample.path, name="d")
    _, entries = read_audit(Path(imported.audit_path))
    assert [(e.split, e.item) for e in entries if e.reason is UNLISTED] == [
        ("valid", "lonely.png")
    ]
    assert imported.audit.items_total == 7 and imported.audit.items_written == 6


def test_items_skipped_for_their_json_keep_their_image_out_of_unlisted(tmp_path: Path) -> None:
    # x has malformed JSON, y a second image of another extension, z no JSON at all: only z's
    # image is unlisted (x's is audited with its item, y's belongs to item y).
    root = tmp_path / "dm"
    write_dataset(
        root,
        [ItemSpec("x", 8, 8, boxes=[("a", 1, 1, 2, 2)]), ItemSpec("y", 8, 8, boxes=[("a", 1, 1, 2, 2)])],
    )
    (root / "json" / "x.json").write_text("{not json")
    write_image(root / "original_files" / "y.jpg", 8, 8)
    write_image(root / "original_files" / "z.png", 8, 8)
    os.mkdir(root / "original_files" / "folder.png")  # a folder is no image

    result = dmv2_to_yolo(root, tmp_path / "out")

    assert [e.item for e in _unlisted(result)] == ["z.png"]
    assert result.audit.reasons == {"malformed_json": 1, UNLISTED.value: 1}
    assert result.audit.items_total == 3 and result.audit.items_written == 1


def test_unlisted_entries_are_sorted_and_one_per_file(tmp_path: Path) -> None:
    root = tmp_path / "dm"
    write_dataset(root, [ItemSpec("keep", 8, 8, boxes=[("a", 1, 1, 2, 2)])])
    names = ["b.png", "a.jpg", "c.JPG", "é.png"]
    for name in names:
        write_image(root / "original_files" / name, 8, 8)
    result = dmv2_to_coco(root, tmp_path / "out")
    assert [e.item for e in _unlisted(result)] == sorted(names)
    assert result.audit.reasons[UNLISTED.value] == len(names)


def test_original_files_leading_out_of_the_root_is_not_listed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write_image(outside / "secret.png", 8, 8)  # no item: would be unlisted, were it inside
    write_image(outside / "a.png", 8, 8)  # item a's image, reached through the symlink
    root = tmp_path / "dm"
    (root / "json").mkdir(parents=True)
    (root / "json" / "a.json").write_text(json.dumps({"images": []}))
    (root / "original_files").symlink_to(outside, target_is_directory=True)
    with pytest.raises(NoUsableItemsError, match="unsafe_path") as raised:
        dmv2_to_yolo(root, tmp_path / "out")
    assert "secret" not in str(raised.value) and UNLISTED.value not in str(raised.value)
    assert not (tmp_path / "out").exists()


# --- Pascal VOC -------------------------------------------------------------------------------


def _voc_images_written(dm: Path) -> set[str]:
    return {p.name for p in dm.rglob("original_files/*")}


def test_voc_image_without_an_annotation_file_is_audited_counted_and_not_imported(
    tmp_path: Path,
) -> None:
    source = _copy_fixture("bccd_voc", tmp_path)
    images = source / "BCCD" / "JPEGImages"
    clean = voc_to_dmv2(source, tmp_path / "clean")
    assert _unlisted(clean) == []  # every image of the real folder has its annotation file
    shutil.copy(images / "BloodImage_00000.jpg", images / "BloodImage_99999.jpg")
    write_image(images / "extra.PNG", 16, 12)
    write_image(images / "later" / "frame.png", 16, 12)  # sub-folders are not VOC images
    (images / "notes.txt").write_text("not an image")

    result = voc_to_dmv2(source, tmp_path / "dm")

    entries = _unlisted(result)
    assert [(e.split, e.item, e.kind, e.action) for e in entries] == [
        (None, "BloodImage_99999.jpg", "item", "skipped"),
        (None, "extra.PNG", "item", "skipped"),
    ]
    assert "JPEGImages/BloodImage_99999.jpg" in entries[0].message
    assert "Annotations/BloodImage_99999.xml" in entries[0].message
    summary = result.audit
    assert summary.items_total == clean.audit.items_total + 2
    assert summary.items_written == clean.audit.items_written
    assert summary.reasons[UNLISTED.value] == 2
    assert summary.items_written + summary.items_skipped == summary.items_total
    written = _voc_images_written(tmp_path / "dm")
    assert "BloodImage_99999.jpg" not in written and "extra.PNG" not in written
    assert written == _voc_images_written(tmp_path / "clean")


def test_voc_image_paired_by_its_filename_or_with_a_skipped_annotation_is_not_unlisted(
    tmp_path: Path,
) -> None:
    source = _copy_fixture("labelme_voc", tmp_path)
    images, annotations = source / "JPEGImages", source / "Annotations"
    # Paired by <filename> (no image has the annotation file's id): the image is described.
    first = sorted(annotations.glob("*.xml"))[0]
    stem = first.stem
    (images / f"{stem}.jpg").rename(images / "renamed.jpg")
    first.write_text(
        first.read_text(encoding="utf-8").replace(f"{stem}.jpg", "renamed.jpg"), encoding="utf-8"
    )
    # An annotation file that cannot be read: its item is skipped for that, once; its image
    # has an annotation file, so it is not also unlisted.
    second = sorted(annotations.glob("*.xml"))[1]
    second.write_text("<annotation><object>", encoding="utf-8")

    result = voc_to_dmv2(source, tmp_path / "dm", one_based=False)

    assert _unlisted(result) == []
    _, entries = read_audit(Path(result.audit_path))
    assert [e.item for e in entries if e.action == "skipped" and e.kind == "item"] == [
        second.stem
    ]
    assert "renamed.jpg" in _voc_images_written(tmp_path / "dm")
    summary = result.audit
    assert summary.items_total == len(list(annotations.glob("*.xml")))
    assert summary.items_written + summary.items_skipped == summary.items_total
