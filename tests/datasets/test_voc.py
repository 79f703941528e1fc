"""Pascal VOC in and out: real VOC folders, round trips, real consumers, hostile XML."""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET
import globox
import numpy as np
import pytest
import supervision as sv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from steprail import BaseStep, Orchestrator, RuntimeContext, StepRegistry
from steprail.datasets import (
    AuditReason,
    ConvertDatasetStep,
    DatasetContext,
    DatasetInputError,
    ExportDatasetStep,
    LocalBackend,
    NoUsableItemsError,
    OutputExistsError,
    coco_to_dmv2,
    dmv2_to_coco,
    dmv2_to_voc,
    read_audit,
    voc_to_dmv2,
    yolo_to_dmv2,
)
from steprail.datasets import _voc

from .._doc_blocks import ROOT, scripts_of
from ._helpers import ItemSpec, read_dmv2, tree, write_dataset, write_image

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
BCCD = REAL / "bccd_voc"
LABELME_VOC = REAL / "labelme_voc"


def _facts(folder: Path) -> dict[str, object]:
    facts = json.loads((folder / "facts.json").read_text(encoding="utf-8"))
    assert isinstance(facts, dict)
    return facts


def _item_attrs(root: Path) -> list[dict[str, object]]:
    """Every annotation's attributes (name -> value) in a DM v2 folder."""
    found: list[dict[str, object]] = []
    for path in sorted(root.rglob("json/*.json")):
        for image in json.loads(path.read_text())["images"]:
            for shape in [*image.get("bounding_box", []), *image.get("polygon", [])]:
                found.append({a["name"]: a.get("value") for a in shape.get("attrs", [])})
    return found


def _voc_objects(annotations: Path) -> dict[str, list[tuple[str, tuple[float, ...], str]]]:
    """stem -> sorted (name, corners, flags) of every object, read with defusedxml."""
    out: dict[str, list[tuple[str, tuple[float, ...], str]]] = {}
    for path in sorted(annotations.glob("*.xml")):
        root = SafeET.parse(path).getroot()
        assert root is not None
        objects = []
        for obj in root.iter("object"):
            box = obj.find("bndbox")
            assert box is not None
            corners = tuple(float(box.findtext(k) or "nan") for k in ("xmin", "ymin", "xmax", "ymax"))
            flags = "/".join((obj.findtext(f) or "").strip() for f in ("truncated", "difficult"))
            objects.append(((obj.findtext("name") or "").strip(), corners, flags))
        out[path.stem] = sorted(objects)
    return out


# --- the real fixtures -------------------------------------------------------------------------


def test_real_bccd_voc_imports_with_the_independent_counts(tmp_path: Path) -> None:
    facts = _facts(BCCD)
    result = voc_to_dmv2(BCCD, tmp_path / "dm")  # BCCD/ is found one level down
    items = read_dmv2(tmp_path / "dm")
    per_class: Counter[str] = Counter(b[0] for boxes, _ in items.values() for b in boxes)
    assert dict(per_class) == facts["objects_per_class"]
    assert result.audit.annotations_written == facts["objects"]
    assert result.audit.items_written == facts["annotation_files"]
    assert result.audit.items_skipped == 0 and result.audit.annotations_skipped == 0
    # ImageSets/Main: val becomes valid; trainval (the union) adds no split of its own.
    image_sets = facts["image_sets"]
    assert isinstance(image_sets, dict)
    for voc_split, dm_split in (("train", "train"), ("val", "valid"), ("test", "test")):
        assert sorted(s for (sp, s) in items if sp == dm_split) == sorted(image_sets[voc_split])
    assert result.splits == ["train", "valid", "test"] and result.is_categorized
    # VOC's flags survive as attributes: as many truncated objects as the XML says.
    attrs = _item_attrs(tmp_path / "dm")
    flags_set = facts["flags_set"]
    assert isinstance(flags_set, dict)
    assert sum(1 for a in attrs if a.get("truncated") == 1) == flags_set["truncated"]
    assert all(a["pose"] == "Unspecified" and a["difficult"] == 0 for a in attrs)


def test_voc_corners_are_one_based_and_inclusive(tmp_path: Path) -> None:
    # BloodImage_00338 has the real box xmin == xmax == 504, ymin == ymax == 337: under the
    # devkit convention that is the single pixel (503, 336) to (504, 337), a 1x1 box.
    voc_to_dmv2(BCCD, tmp_path / "dm")
    boxes, _ = read_dmv2(tmp_path / "dm")[("valid", "BloodImage_00338")]
    assert ("RBC", 503.0, 336.0, 1.0, 1.0) in boxes
    # BloodImage_00000's first object: WBC 260 177 491 376.
    boxes, _ = read_dmv2(tmp_path / "dm")[("valid", "BloodImage_00000")]
    assert ("WBC", 259.0, 176.0, 232.0, 200.0) in boxes


def test_labelme_voc_export_reads_zero_based_and_keeps_float_corners(tmp_path: Path) -> None:
    facts = _facts(LABELME_VOC)
    result = voc_to_dmv2(LABELME_VOC, tmp_path / "dm", one_based=False)
    items = read_dmv2(tmp_path / "dm")
    assert not result.is_categorized and result.splits == []
    assert dict(Counter(b[0] for bs, _ in items.values() for b in bs)) == facts["objects_per_class"]
    # 2011_000003's first person: 191.0 107.369... 313.0 329.369..., taken as written.
    boxes, _ = items[(None, "2011_000003")]
    name, x, y, w, h = boxes[0]
    assert (name, x, w) == ("person", 191.0, 122.0)
    assert y == pytest.approx(107.36900369003689) and y + h == pytest.approx(329.36900369003695)
    # labelme writes empty <pose/>, <truncated/>, <difficult/>: kept as empty text, not invented.
    assert all(a == {"pose": "", "truncated": "", "difficult": ""} for a in _item_attrs(tmp_path / "dm"))


def test_real_bccd_round_trip_keeps_every_object_flag_and_split(tmp_path: Path) -> None:
    voc_to_dmv2(BCCD, tmp_path / "dm")
    result = dmv2_to_voc(tmp_path / "dm", tmp_path / "voc")
    assert result.audit.items_skipped == 0 and result.audit.annotations_skipped == 0
    assert _voc_objects(tmp_path / "voc" / "Annotations") == _voc_objects(BCCD / "BCCD" / "Annotations")
    for name in ("train", "val", "test", "trainval"):
        ours = (tmp_path / "voc" / "ImageSets" / "Main" / f"{name}.txt").read_text().split()
        theirs = (BCCD / "BCCD" / "ImageSets" / "Main" / f"{name}.txt").read_text().split()
        assert sorted(ours) == sorted(theirs)
    # Integer corners are written as integers, as VOC tools that call int() expect.
    text = (tmp_path / "voc" / "Annotations" / "BloodImage_00000.xml").read_text()
    assert "<xmin>260</xmin>" in text and ".0<" not in text


def test_supervision_and_globox_read_our_voc_with_the_same_boxes(tmp_path: Path) -> None:
    voc_to_dmv2(BCCD, tmp_path / "dm")
    dmv2_to_voc(tmp_path / "dm", tmp_path / "voc")
    expected = {stem: boxes for (_, stem), (boxes, _) in read_dmv2(tmp_path / "dm").items()}

    dataset = sv.DetectionDataset.from_pascal_voc(
        images_directory_path=str(tmp_path / "voc" / "JPEGImages"),
        annotations_directory_path=str(tmp_path / "voc" / "Annotations"),
    )
    assert len(dataset) == len(expected)
    for image_path, _, detections in dataset:
        stem = Path(image_path).stem
        assert detections.class_id is not None
        got = sorted(
            (dataset.classes[int(c)], tuple(float(v) for v in xyxy))
            for c, xyxy in zip(detections.class_id, detections.xyxy, strict=True)
        )
        want = sorted((n, (x, y, x + w, y + h)) for n, x, y, w, h in expected[stem])
        assert [name for name, _ in got] == [name for name, _ in want]
        assert np.allclose([box for _, box in got], [box for _, box in want])

    # globox takes the corners as written (no 1-based shift): xmin = x + 1, xmax = x + width.
    annotations = globox.AnnotationSet.from_pascal_voc(tmp_path / "voc" / "Annotations")
    seen = 0
    for annotation in annotations:
        stem = Path(annotation.image_id).stem
        read = sorted((b.label, *b.ltrb) for b in annotation.boxes)
        shifted = sorted((n, x + 1, y + 1, x + w, y + h) for n, x, y, w, h in expected[stem])
        assert read == shifted
        seen += 1
    assert seen == len(expected)


# --- generated round trips ---------------------------------------------------------------------

_NAMES = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=8,
)


@st.composite
def _voc_boxes(draw: st.DrawFn, width: int, height: int) -> tuple[float, float, float, float]:
    """VOC corners inside a ``width`` x ``height`` image: integers or fractional values."""
    integral = draw(st.booleans())
    if integral:
        xmin = draw(st.integers(1, width))
        ymin = draw(st.integers(1, height))
        return (
            float(xmin),
            float(ymin),
            float(draw(st.integers(xmin, width))),
            float(draw(st.integers(ymin, height))),
        )
    # 1-based: the smallest corner is 1 (the left edge of the first pixel column is 0 in DM v2).
    xmin_f = draw(st.floats(1.0, float(width), allow_nan=False))
    ymin_f = draw(st.floats(1.0, float(height), allow_nan=False))
    return (
        xmin_f,
        ymin_f,
        draw(st.floats(xmin_f, float(width), allow_nan=False)),
        draw(st.floats(ymin_f, float(height), allow_nan=False)),
    )


type _Corners = tuple[float, float, float, float]
type _VocItems = list[tuple[int, int, list[tuple[str, _Corners, int]]]]


@st.composite
def _voc_items(draw: st.DrawFn) -> _VocItems:
    items = []
    for _ in range(draw(st.integers(1, 3))):
        width, height = draw(st.integers(2, 40)), draw(st.integers(2, 40))
        objects = draw(
            st.lists(
                st.tuples(_NAMES, _voc_boxes(width, height), st.integers(0, 1)), max_size=4
            )
        )
        items.append((width, height, objects))
    return items


def _write_voc(root: Path, items: _VocItems) -> None:
    (root / "Annotations").mkdir(parents=True)
    for index, (width, height, objects) in enumerate(items):
        stem = f"img{index}"
        write_image(root / "JPEGImages" / f"{stem}.png", width, height)
        body = "".join(
            f"<object><name>{escape(name)}</name><difficult>{difficult}</difficult><bndbox>"
            f"<xmin>{c[0]!r}</xmin><ymin>{c[1]!r}</ymin><xmax>{c[2]!r}</xmax><ymax>{c[3]!r}</ymax>"
            "</bndbox></object>"
            for name, c, difficult in objects
        )
        (root / "Annotations" / f"{stem}.xml").write_text(
            f"<annotation><filename>{stem}.png</filename><size><width>{width}</width>"
            f"<height>{height}</height><depth>3</depth></size>{body}</annotation>",
            encoding="utf-8",
        )


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(items=_voc_items())
def test_voc_round_trip_keeps_boxes_classes_and_flags(
    tmp_path_factory: pytest.TempPathFactory,
    items: _VocItems,
) -> None:
    base = tmp_path_factory.mktemp("voc")
    _write_voc(base / "in", items)
    imported = voc_to_dmv2(base / "in", base / "dm")
    total = sum(len(objects) for _, _, objects in items)
    assert imported.audit.annotations_written == total and imported.audit.annotations_skipped == 0
    exported = dmv2_to_voc(base / "dm", base / "out")
    assert exported.audit.annotations_written == total
    for index, (_, _, objects) in enumerate(items):
        root = SafeET.parse(base / "out" / "Annotations" / f"img{index}.xml").getroot()
        assert root is not None
        got = sorted(
            (
                obj.findtext("name") or "",
                tuple(float(obj.findtext(f"bndbox/{k}") or "nan") for k in ("xmin", "ymin", "xmax", "ymax")),
                int(obj.findtext("difficult") or "-1"),
            )
            for obj in root.iter("object")
        )
        want = sorted(objects)
        assert [(n, d) for n, _, d in got] == [(n, d) for n, _, d in want]
        for (_, got_corners, _), (_, want_corners, _) in zip(got, want, strict=True):
            # Corners of whole pixels come back exactly; fractional ones within float rounding
            # of the -1/+1 shift.
            assert got_corners == pytest.approx(want_corners, abs=1e-9)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    boxes=st.lists(
        st.tuples(
            _NAMES,
            st.integers(0, 30),
            st.integers(0, 20),
            st.integers(1, 10),
            st.integers(1, 10),
        ),
        max_size=4,
    ),
    attrs=st.dictionaries(
        st.sampled_from(["color", "score", "pose", "occluded"]),
        st.one_of(st.integers(0, 3), st.text(max_size=5), st.booleans()),
        max_size=3,
    ),
)
def test_dmv2_round_trip_through_voc_keeps_boxes_polygons_and_attributes(
    tmp_path_factory: pytest.TempPathFactory,
    boxes: list[tuple[str, int, int, int, int]],
    attrs: dict[str, object],
) -> None:
    base = tmp_path_factory.mktemp("dm")
    spec = ItemSpec(
        "a",
        40,
        30,
        boxes=[(n, float(x), float(y), float(w), float(h)) for n, x, y, w, h in boxes],
        polygons=[("zone", ((1.5, 2.0), (20.25, 3.0), (10.0, 25.5)))],
    )
    write_dataset(base / "src", [spec])
    item_path = base / "src" / "json" / "a.json"
    raw = json.loads(item_path.read_text())
    for shape in raw["images"][0]["bounding_box"]:
        shape["attrs"] = [{"name": k, "value": v} for k, v in attrs.items()]
    item_path.write_text(json.dumps(raw))
    dmv2_to_voc(base / "src", base / "voc")
    voc_to_dmv2(base / "voc", base / "back")
    assert read_dmv2(base / "back") == read_dmv2(base / "src")
    for got in _item_attrs(base / "back")[: len(boxes)]:
        # VOC always writes pose/truncated/difficult; given values win over those defaults.
        assert {k: got[k] for k in attrs} == attrs


# --- hostile and broken input ------------------------------------------------------------------

_BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<annotation><filename>bomb.png</filename><object><name>&lol9;</name>
<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></object></annotation>
"""

_EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE a [<!ENTITY secret SYSTEM "file:///etc/hostname">]>
<annotation><filename>ext.png</filename><object><name>&secret;</name>
<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></object></annotation>
"""


def _annotation(filename: str, *objects: str) -> str:
    return f"<annotation><filename>{filename}</filename>{''.join(objects)}</annotation>"


def _object(name: str, xmin: str, ymin: str, xmax: str, ymax: str) -> str:
    return (
        f"<object><name>{name}</name><bndbox><xmin>{xmin}</xmin><ymin>{ymin}</ymin>"
        f"<xmax>{xmax}</xmax><ymax>{ymax}</ymax></bndbox></object>"
    )


def test_hostile_and_broken_voc_input_is_audited_and_the_rest_imported(tmp_path: Path) -> None:
    root = tmp_path / "voc"
    (root / "Annotations").mkdir(parents=True)
    # No escape.png: <filename> is only used when JPEGImages/<id>.<ext> is missing.
    for stem in ("good", "bomb", "ext", "broken", "bad_boxes", "linked"):
        write_image(root / "JPEGImages" / f"{stem}.png", 20, 10)
    write_image(tmp_path / "outside.png", 20, 10)
    (root / "JPEGImages" / "linked.png").unlink()
    (root / "JPEGImages" / "linked.png").symlink_to(tmp_path / "outside.png")
    files = {
        "good": _annotation("good.png", _object("cat", "1", "1", "20", "10")),
        "bomb": _BOMB,
        "ext": _EXTERNAL,
        "broken": "<annotation><filename>broken.png</filename><object>",
        "no_image": _annotation("no_image.png", _object("cat", "1", "1", "2", "2")),
        "escape": _annotation("../../outside.png", _object("cat", "1", "1", "2", "2")),
        "linked": _annotation("linked.png", _object("cat", "1", "1", "2", "2")),
        "bad_boxes": _annotation(
            "bad_boxes.png",
            _object("cat", "5", "5", "2", "8"),  # xmax < xmin
            _object("cat", "0", "1", "4", "4"),  # column 0 is left of the image (1-based)
            _object("cat", "1", "1", "21", "4"),  # past the right edge
            _object("cat", "one", "1", "4", "4"),  # not a number
            _object("", "1", "1", "4", "4"),  # no class
            _object("dog", "2", "2", "4", "4"),  # the only good one
        ),
    }
    for stem, text in files.items():
        (root / "Annotations" / f"{stem}.xml").write_text(text, encoding="utf-8")
    # An annotation file that is a link to a file outside the folder is not read either.
    (tmp_path / "secret.xml").write_text(_annotation("good.png", _object("secret", "1", "1", "2", "2")))
    (root / "Annotations" / "xml_link.xml").symlink_to(tmp_path / "secret.xml")
    files["xml_link"] = ""

    result = voc_to_dmv2(root, tmp_path / "dm")
    summary, entries = read_audit(Path(result.audit_path))
    by_item = {(e.item, e.annotation): e for e in entries}
    assert by_item[("bomb", None)].reason is AuditReason.UNSAFE_XML
    assert "unsafe XML refused" in by_item[("bomb", None)].message
    assert by_item[("ext", None)].reason is AuditReason.UNSAFE_XML
    assert "unsafe XML refused" in by_item[("ext", None)].message
    assert "not well-formed" in by_item[("broken", None)].message
    assert by_item[("no_image", None)].reason is AuditReason.MISSING_IMAGE
    assert "would leave JPEGImages" in by_item[("escape", None)].message
    assert "outside the dataset" in by_item[("linked", None)].message
    assert "outside the dataset" in by_item[("xml_link", None)].message
    # Paths leaving the dataset carry the hub's reason, as in COCO, YOLO and DM v2 input.
    for stem in ("escape", "linked", "xml_link"):
        assert by_item[(stem, None)].reason is AuditReason.UNSAFE_PATH
    reasons = [by_item[("bad_boxes", f"bad_boxes-{n}")].reason for n in range(1, 6)]
    assert reasons == [
        AuditReason.BOX_NON_POSITIVE,
        AuditReason.BOX_OUTSIDE_IMAGE,
        AuditReason.BOX_OUTSIDE_IMAGE,
        AuditReason.INVALID_ANNOTATION,
        AuditReason.MISSING_CLASS,
    ]
    # Counts add up: every file is written or skipped, every object written or skipped.
    assert summary.items_total == len(files) == summary.items_written + summary.items_skipped
    assert summary.items_written == 2 and summary.annotations_written == 2
    assert summary.annotations_skipped == 5
    written = read_dmv2(tmp_path / "dm")
    assert set(written) == {(None, "good"), (None, "bad_boxes")}
    assert written[(None, "bad_boxes")][0] == [("dog", 1.0, 1.0, 3.0, 3.0)]
    # Nothing of the refused files reached the output: no expanded entity, no outside bytes.
    assert not any("lol" in p.name or p.name.startswith("outside") for p in (tmp_path / "dm").rglob("*"))
    assert "secret" not in str(read_dmv2(tmp_path / "dm"))


def test_image_sets_ids_are_checked_and_unlisted_files_audited(tmp_path: Path) -> None:
    root = tmp_path / "voc"
    (root / "Annotations").mkdir(parents=True)
    (root / "ImageSets" / "Main").mkdir(parents=True)
    for stem in ("a", "b", "c"):
        write_image(root / "JPEGImages" / f"{stem}.jpg", 8, 8)
        (root / "Annotations" / f"{stem}.xml").write_text(
            _annotation(f"{stem}.jpg", _object("x", "1", "1", "8", "8"))
        )
    (root / "ImageSets" / "Main" / "train.txt").write_text("a\n../../etc/passwd\nghost\n")
    (root / "ImageSets" / "Main" / "val.txt").write_text("b\n")
    result = voc_to_dmv2(root, tmp_path / "dm")
    _, entries = read_audit(Path(result.audit_path))
    reasons = {e.item: (e.reason, e.message) for e in entries}
    assert reasons["../../etc/passwd"][0] is AuditReason.UNSAFE_PATH
    assert reasons["ghost"][0] is AuditReason.MISSING_LABELS
    assert reasons["c"][0] is AuditReason.INVALID_ITEM and "no ImageSets/Main list" in reasons["c"][1]
    assert set(read_dmv2(tmp_path / "dm")) == {("train", "a"), ("valid", "b")}
    assert result.audit.items_total == 5


def test_a_folder_that_is_not_voc_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(DatasetInputError, match="not a Pascal VOC folder"):
        voc_to_dmv2(tmp_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_nothing_usable_fails_and_leaves_no_output(tmp_path: Path) -> None:
    root = tmp_path / "voc"
    (root / "Annotations").mkdir(parents=True)
    (root / "Annotations" / "bomb.xml").write_text(_BOMB)
    with pytest.raises(NoUsableItemsError):
        voc_to_dmv2(root, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_export_audits_what_voc_cannot_hold_and_never_overwrites(tmp_path: Path) -> None:
    write_dataset(
        tmp_path / "src",
        [
            ItemSpec("same", 10, 10, boxes=[("a", 1, 1, 2, 2)], split="train"),
            ItemSpec("same", 10, 10, boxes=[("b", 1, 1, 2, 2)], split="valid"),
            ItemSpec("odd", 10, 10, boxes=[("bad\x01name", 1, 1, 2, 2), ("ok", 0, 0, 10, 10)], split="test"),
        ],
    )
    result = dmv2_to_voc(tmp_path / "src", tmp_path / "voc")
    _, entries = read_audit(Path(result.audit_path))
    # One Annotations/ for every split: the second "same" is renamed, audited, not overwritten.
    assert [(e.item, e.split, e.reason, e.action) for e in entries if e.annotation is None] == [
        ("same", "valid", AuditReason.RENAMED_FOR_TARGET, "changed")
    ]
    assert [e.message for e in entries if e.annotation is not None][0].endswith("not written")
    assert (tmp_path / "voc" / "ImageSets" / "Main" / "train.txt").read_text() == "same\n"
    assert (tmp_path / "voc" / "ImageSets" / "Main" / "val.txt").read_text() == "same~2\n"
    assert "<name>a</name>" in (tmp_path / "voc" / "Annotations" / "same.xml").read_text()
    assert "<name>b</name>" in (tmp_path / "voc" / "Annotations" / "same~2.xml").read_text()
    assert (tmp_path / "voc" / "JPEGImages" / "same~2.png").is_file()
    odd = (tmp_path / "voc" / "Annotations" / "odd.xml").read_text()
    assert "<name>ok</name>" in odd and "<xmin>1</xmin>" in odd and "<xmax>10</xmax>" in odd

    before = tree(tmp_path / "voc")
    with pytest.raises(OutputExistsError):
        dmv2_to_voc(tmp_path / "src", tmp_path / "voc")
    assert tree(tmp_path / "voc") == before


def test_voc_is_found_one_folder_down_and_zero_based_tools_need_the_flag(tmp_path: Path) -> None:
    devkit = tmp_path / "VOCdevkit"
    shutil.copytree(LABELME_VOC, devkit / "VOC2012")
    # 1-based reading of labelme's 0-based corners is still valid here (no corner at 0) but
    # moves every box by one pixel: the flag matters and is not guessed.
    one = read_dmv2(_import(devkit, tmp_path / "one", one_based=True))
    zero = read_dmv2(_import(devkit, tmp_path / "zero", one_based=False))
    for key, (boxes, _) in zero.items():
        shifted = [(n, x - 1, y - 1, w + 1, h + 1) for n, x, y, w, h in boxes]
        assert one[key][0] == shifted


def _import(source: Path, output: Path, *, one_based: bool) -> Path:
    voc_to_dmv2(source, output, one_based=one_based)
    return output


def test_the_voc_docs_page_marks_its_blocks_and_names_the_module_api() -> None:
    page = ROOT / "docs" / "datasets-voc.md"
    scripts_of(page)  # fails on an unmarked block or a fragment that does not say so
    text = page.read_text(encoding="utf-8")
    assert [name for name in _voc.__all__ if name not in text] == []


# --- regressions from the hostile review (one test per finding) ----------------------------------


def _voc_root(tmp_path: Path) -> Path:
    root = tmp_path / "voc"
    (root / "Annotations").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    return root


def _put(root: Path, stem: str, *parts: str, filename: str | None = None, extra: str = "") -> None:
    """Annotations/<stem>.xml naming ``filename`` (``<stem>.png`` by default)."""
    name = f"{stem}.png" if filename is None else filename
    (root / "Annotations" / f"{stem}.xml").write_text(
        f"<annotation><filename>{escape(name)}</filename>{extra}{''.join(parts)}</annotation>",
        encoding="utf-8",
    )


def _entries(result_audit_path: str) -> dict[str, list[tuple[str | None, AuditReason, str]]]:
    """item -> [(annotation, reason, message)] of every audit entry."""
    _, entries = read_audit(Path(result_audit_path))
    found: dict[str, list[tuple[str | None, AuditReason, str]]] = {}
    for entry in entries:
        found.setdefault(entry.item, []).append((entry.annotation, entry.reason, entry.message))
    return found


def _attrs_of(dm: Path, stem: str) -> dict[str, object]:
    raw = json.loads(next(dm.rglob(f"json/{stem}.json")).read_text(encoding="utf-8"))
    shape = [*raw["images"][0]["bounding_box"], *raw["images"][0]["polygon"]][0]
    return {a["name"]: a.get("value") for a in shape.get("attrs", [])}


def test_an_annotation_pairs_with_the_image_of_its_id_not_a_stale_filename(tmp_path: Path) -> None:
    # Review #2: labelImg after a rename leaves b.xml saying <filename>a.jpg</filename>. The VOC
    # devkit, Detectron2 and supervision pair by id; so do we, and say what disagreed.
    root = _voc_root(tmp_path)
    write_image(root / "JPEGImages" / "a.png", 100, 80)
    write_image(root / "JPEGImages" / "b.png", 300, 200)
    write_image(root / "JPEGImages" / "c.png", 100, 80)
    write_image(root / "JPEGImages" / "photo_d.png", 40, 30)
    _put(root, "a", _object("dog", "1", "1", "10", "10"))
    size = "<size><width>300</width><height>200</height><depth>3</depth></size>"
    _put(root, "b", _object("dog", "150", "100", "300", "200"), filename="a.png", extra=size)
    _put(root, "c", _object("cat", "1", "1", "100", "80"), extra=size)  # <size> is stale
    _put(root, "d", _object("cat", "1", "1", "40", "30"), filename="photo_d.png")  # no d.*
    result = voc_to_dmv2(root, tmp_path / "dm")
    items = read_dmv2(tmp_path / "dm")
    assert items[(None, "b")][0] == [("dog", 149.0, 99.0, 151.0, 101.0)]
    # The item's identity (and so its key) is its image's path under JPEGImages/.
    assert items[(None, "photo_d")][0] == [("cat", 0.0, 0.0, 40.0, 30.0)]
    d_item = json.loads((tmp_path / "dm" / "json" / "photo_d.json").read_text(encoding="utf-8"))
    assert d_item["source"] == {"file_name": "photo_d.png"}
    assert result.audit.items_written == 4 and result.audit.items_skipped == 0
    notes = _entries(result.audit_path)
    assert "paired by id with JPEGImages/b.png" in notes["b"][0][2]
    assert "<size> says 300x200 but JPEGImages/c.png is 100x80" in notes["c"][0][2]
    assert set(notes) == {"b", "c"}


def test_one_odd_value_never_stops_the_run(tmp_path: Path) -> None:
    # Review #3 and #8 (import side): a superscript digit, JSON nested 200 000 deep, NaN and
    # 1e999 (not JSON values: a DM v2 file would turn them into null).
    root = _voc_root(tmp_path)
    write_image(root / "JPEGImages" / "a.png", 20, 20)
    deep = "[" * 200_000 + "]" * 200_000

    def attribute(name: str, value: str) -> str:
        return f"<attribute><name>{name}</name><value>{value}</value></attribute>"

    odd = (
        "<difficult>\u00b2</difficult><attributes>"
        + attribute("score", "NaN")
        + attribute("big", "1e999")
        + "</attributes>"
    )
    box = "<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>4</xmax><ymax>4</ymax></bndbox>"
    _put(
        root,
        "a",
        f"<object><name>odd</name>{odd}{box}</object>",
        f"<object><name>deep</name><attributes>{attribute('x', deep)}</attributes>{box}</object>",
    )
    result = voc_to_dmv2(root, tmp_path / "dm")
    assert _attrs_of(tmp_path / "dm", "a") == {"difficult": "\u00b2", "score": "NaN", "big": "1e999"}
    [(annotation, reason, message)] = _entries(result.audit_path)["a"]
    assert (annotation, reason) == ("a-2", AuditReason.INVALID_ANNOTATION)
    assert "nested too deeply" in message


def test_non_utf8_file_names_are_audited_escaped_and_never_written_as_broken_xml(
    tmp_path: Path,
) -> None:
    # Review #4 (import) and #5 (export).
    root = _voc_root(tmp_path)
    bad = os.fsdecode(b"caf\xe9")
    write_image(root / "JPEGImages" / f"{bad}.png", 20, 20)
    write_image(root / "JPEGImages" / "ok.png", 20, 20)
    _put(root, bad, _object("dog", "1", "1", "4", "4"), filename="x.png")
    _put(root, "ok", _object("dog", "1", "1", "4", "4"))
    result = voc_to_dmv2(root, tmp_path / "dm")
    entries = _entries(result.audit_path)
    [(_, reason, message)] = entries["caf\\xe9"]
    assert reason is AuditReason.INVALID_ITEM and "not UTF-8" in message
    assert set(read_dmv2(tmp_path / "dm")) == {(None, "ok")}

    specs = [ItemSpec(stem, 10, 10, boxes=[("dog", 0, 0, 4, 4)]) for stem in ("ctl\x01x", bad, "ok")]
    write_dataset(tmp_path / "src", specs)
    exported = dmv2_to_voc(tmp_path / "src", tmp_path / "out")
    # Names XML cannot carry are written percent-encoded, each rename audited as a change.
    renamed = _entries(exported.audit_path)
    assert set(renamed) == {"ctl\x01x", "caf\\xe9"}
    assert all(r is AuditReason.RENAMED_FOR_TARGET for e in renamed.values() for _, r, _ in e)
    assert exported.audit.items_written == 3 and exported.audit.items_skipped == 0
    for path in (tmp_path / "out" / "Annotations").iterdir():
        SafeET.parse(path)  # every file written is well-formed
    assert sorted(p.name for p in (tmp_path / "out" / "Annotations").iterdir()) == [
        "caf%E9.xml", "ctl%01x.xml", "ok.xml",
    ]
    assert sorted(p.name for p in (tmp_path / "out" / "JPEGImages").iterdir()) == [
        "caf%E9.png", "ctl%01x.png", "ok.png",
    ]


def test_export_writes_flags_as_integers_and_keeps_other_values_as_attributes(
    tmp_path: Path,
) -> None:
    # Review #7: labelme's empty <truncated/> came back out empty; the devkit calls int() on it.
    voc_to_dmv2(LABELME_VOC, tmp_path / "dm", one_based=False)
    dmv2_to_voc(tmp_path / "dm", tmp_path / "voc")
    for path in sorted((tmp_path / "voc" / "Annotations").glob("*.xml")):
        root = SafeET.parse(path).getroot()
        assert root is not None
        for obj in root.iter("object"):
            assert int(obj.findtext("truncated") or "x") == 0
            assert int(obj.findtext("difficult") or "x") == 0
    voc_to_dmv2(tmp_path / "voc", tmp_path / "back")
    # The empty text is not lost: it travels in <attributes> and wins on the way back.
    assert {json.dumps(a, sort_keys=True) for a in _item_attrs(tmp_path / "back")} == {
        json.dumps({"pose": "", "truncated": "", "difficult": ""}, sort_keys=True)
    }


_COORD = st.floats(0.0, 50.0, allow_nan=False, allow_infinity=False)
_EXTENT = st.floats(1.0, 50.0, allow_nan=False, allow_infinity=False)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    boxes=st.lists(st.tuples(_COORD, _COORD, _EXTENT, _EXTENT), min_size=1, max_size=5),
    vertices=st.lists(st.tuples(_COORD, _COORD), min_size=3, max_size=6, unique=True),
)
def test_dmv2_voc_dmv2_keeps_every_float_bit_for_bit(
    tmp_path_factory: pytest.TempPathFactory,
    boxes: list[tuple[float, float, float, float]],
    vertices: list[tuple[float, float]],
) -> None:
    # Review #8: corners drifted by up to 7e-15 px through the +1/-1 shift.
    base = tmp_path_factory.mktemp("exact")
    spec = ItemSpec(
        "a",
        101,
        101,
        boxes=[("c", *box) for box in boxes],
        polygons=[("p", tuple(vertices))],
    )
    write_dataset(base / "src", [spec])
    exported = dmv2_to_voc(base / "src", base / "voc")
    assert exported.audit.annotations_skipped == 0
    voc_to_dmv2(base / "voc", base / "back")
    assert read_dmv2(base / "back") == read_dmv2(base / "src")


def test_names_and_attributes_round_trip_or_are_audited(tmp_path: Path) -> None:
    # Review #8: "\r" came back as "\n"; duplicate, empty and padded attribute names were merged
    # or stripped.
    attrs = [
        {"name": "pose", "value": "a\rb"},
        {"name": "note", "value": "x"},
        {"name": "note", "value": "y"},
        {"name": "", "value": 1},
        {"name": " padded ", "value": 2},
        {"name": "truncated", "value": True},
        {"name": "difficult", "value": "\u00b2"},
    ]
    write_dataset(tmp_path / "src", [ItemSpec("a", 20, 20, boxes=[("car\rtruck", 1, 1, 5, 5)])])
    item_path = tmp_path / "src" / "json" / "a.json"
    raw = json.loads(item_path.read_text())
    raw["images"][0]["bounding_box"][0]["attrs"] = attrs
    item_path.write_text(json.dumps(raw))
    dmv2_to_voc(tmp_path / "src", tmp_path / "voc")
    voc_to_dmv2(tmp_path / "voc", tmp_path / "back")
    assert read_dmv2(tmp_path / "back") == read_dmv2(tmp_path / "src")
    back = json.loads((tmp_path / "back" / "json" / "a.json").read_text())["images"][0]
    got = back["bounding_box"][0]["attrs"]
    assert sorted(json.dumps(a, sort_keys=True) for a in got) == sorted(
        json.dumps(a, sort_keys=True) for a in attrs
    )
    assert back["bounding_box"][0]["classification"] == "car\rtruck"


def test_split_lists_bom_encoding_trainval_and_ids_in_two_splits(tmp_path: Path) -> None:
    # Review #9.
    root = _voc_root(tmp_path)
    main = root / "ImageSets" / "Main"
    main.mkdir(parents=True)
    for stem in ("a", "b", "c", "d"):
        write_image(root / "JPEGImages" / f"{stem}.png", 8, 8)
        _put(root, stem, _object("x", "1", "1", "8", "8"))
    (main / "train.txt").write_bytes(b"\xef\xbb\xbfa\nb\n")  # a BOM from Notepad
    (main / "trainval.txt").write_text("a\nb\nc\n")  # no val.txt: val = trainval - train
    (main / "test.txt").write_text("d\nb\n")  # b is in train too: a leak
    result = voc_to_dmv2(root, tmp_path / "dm")
    assert set(read_dmv2(tmp_path / "dm")) == {
        ("train", "a"),
        ("train", "b"),
        ("valid", "c"),
        ("test", "d"),
    }
    [(_, reason, message)] = _entries(result.audit_path)["b"]
    assert reason is AuditReason.INVALID_ITEM and "test.txt lists 'b'" in message
    assert result.splits == ["train", "valid", "test"]

    (main / "test.txt").write_bytes("d\n".encode("utf-16"))
    with pytest.raises(DatasetInputError, match=r"test\.txt.*not UTF-8"):
        voc_to_dmv2(root, tmp_path / "dm2")
    assert not (tmp_path / "dm2").exists()


def test_a_symlinked_folder_leaving_the_dataset_is_refused_naming_it(tmp_path: Path) -> None:
    # Review #10: shared-disk setups link JPEGImages/ elsewhere; say so instead of auditing
    # every image as a bare invalid_item.
    root = _voc_root(tmp_path)
    write_image(tmp_path / "shared" / "a.png", 8, 8)
    (root / "JPEGImages").rmdir()
    (root / "JPEGImages").symlink_to(tmp_path / "shared")
    _put(root, "a", _object("x", "1", "1", "8", "8"))
    with pytest.raises(DatasetInputError, match=r"JPEGImages' is a symlink to .*shared"):
        voc_to_dmv2(root, tmp_path / "dm")
    assert not (tmp_path / "dm").exists()


def test_polygons_use_the_box_convention_documented_and_round_trip(tmp_path: Path) -> None:
    # Review #11: a polygon touching the right edge. Vertices are shifted by +1 like xmin (the
    # reading supervision and Roboflow use), the polygon's <bndbox> is the box of its extent.
    triangle = ((0.0, 0.0), (100.0, 0.0), (100.0, 80.0))
    write_dataset(tmp_path / "src", [ItemSpec("edge", 100, 80, polygons=[("tri", triangle)])])
    dmv2_to_voc(tmp_path / "src", tmp_path / "voc")
    root = SafeET.parse(tmp_path / "voc" / "Annotations" / "edge.xml").getroot()
    assert root is not None
    obj = root.find("object")
    assert obj is not None
    corners = [obj.findtext(f"bndbox/{k}") for k in ("xmin", "ymin", "xmax", "ymax")]
    assert corners == ["1", "1", "100", "80"]
    vertices = [obj.findtext(f"polygon/{k}") for k in ("x1", "y1", "x2", "y2", "x3", "y3")]
    assert vertices == ["1", "1", "101", "1", "101", "81"]
    voc_to_dmv2(tmp_path / "voc", tmp_path / "back")
    assert read_dmv2(tmp_path / "back") == read_dmv2(tmp_path / "src")


def test_annotation_folder_entries_are_read_or_audited_by_what_they_are(tmp_path: Path) -> None:
    # Review #12 and #14: an upper-case .XML is an annotation file; a folder or FIFO named
    # *.xml is audited as such; an output folder put inside Annotations/ is not input; an
    # image whose extension DM v2 does not read is audited (review #6).
    root = _voc_root(tmp_path)
    for stem in ("upper", "odd"):
        write_image(root / "JPEGImages" / f"{stem}.png", 8, 8)
    (root / "JPEGImages" / "odd.png").rename(root / "JPEGImages" / "odd.gif")
    (root / "Annotations" / "upper.XML").write_text(
        _annotation("upper.png", _object("x", "1", "1", "8", "8"))
    )
    _put(root, "odd", _object("x", "1", "1", "8", "8"), filename="odd.gif")
    (root / "Annotations" / "folder.xml").mkdir()
    os.mkfifo(root / "Annotations" / "pipe.xml")
    # An output inside the source is refused (test_review_fixes); a folder named like an
    # annotation file elsewhere is just a folder.
    result = voc_to_dmv2(root, tmp_path / "out.xml")
    entries = _entries(result.audit_path)
    assert set(read_dmv2(tmp_path / "out.xml")) == {(None, "upper")}
    assert "is a folder" in entries["folder"][0][2]
    assert "not a regular file" in entries["pipe"][0][2]
    assert "not .gif" in entries["odd"][0][2]
    assert "out" not in entries and result.audit.items_total == 4
    assert not any("split list" in m for e in entries.values() for _, _, m in e)


def test_reversed_and_non_decimal_corners_are_refused(tmp_path: Path) -> None:
    # Review #13: xmin > xmax (even by half a pixel) is box_non_positive, as documented;
    # "1_000" and "²" are not numbers (float() takes both).
    root = _voc_root(tmp_path)
    write_image(root / "JPEGImages" / "a.png", 100, 80)
    _put(
        root,
        "a",
        _object("half", "10", "10", "9.5", "20"),
        _object("under", "1_000", "1", "5", "5"),
        _object("sup", "\u00b2", "1", "5", "5"),
        _object("ok", "1", "1", "5", "5"),
    )
    result = voc_to_dmv2(root, tmp_path / "dm")
    reasons = {a: r for a, r, _ in _entries(result.audit_path)["a"]}
    assert reasons == {
        "a-1": AuditReason.BOX_NON_POSITIVE,
        "a-2": AuditReason.INVALID_ANNOTATION,
        "a-3": AuditReason.INVALID_ANNOTATION,
    }
    # The other way: a DM v2 box under one pixel wide cannot be written with inclusive corners.
    boxes = [("thin", 1.0, 1.0, 0.5, 4.0), ("ok", 1.0, 1.0, 1.0, 4.0)]
    write_dataset(tmp_path / "src", [ItemSpec("t", 10, 10, boxes=boxes)])
    exported = dmv2_to_voc(tmp_path / "src", tmp_path / "out")
    [(annotation, reason, message)] = _entries(exported.audit_path)["t"]
    assert (annotation, reason) == ("b0", AuditReason.BOX_NON_POSITIVE) and "xmax before" in message
    assert exported.audit.annotations_written == 1


def test_a_source_or_output_that_is_a_file_is_refused_saying_so(tmp_path: Path) -> None:
    # Review #14.
    (tmp_path / "file").write_text("x")
    with pytest.raises(DatasetInputError, match="is a file, expected a folder"):
        voc_to_dmv2(tmp_path / "file", tmp_path / "out")
    with pytest.raises(OutputExistsError, match="is a file, expected a folder"):
        voc_to_dmv2(BCCD, tmp_path / "file")
    write_dataset(tmp_path / "src", [ItemSpec("a", 10, 10, boxes=[("x", 1, 1, 2, 2)])])
    with pytest.raises(OutputExistsError, match="is a file, expected a folder"):
        dmv2_to_voc(tmp_path / "src", tmp_path / "file")
    assert (tmp_path / "file").read_text() == "x"


def test_export_audits_attribute_values_json_cannot_hold(tmp_path: Path) -> None:
    # Review #8: a NaN score (Python's json reads and writes it) came back as null.
    write_dataset(tmp_path / "src", [ItemSpec("a", 20, 20, boxes=[("dog", 0, 0, 4, 4)] * 2)])
    item_path = tmp_path / "src" / "json" / "a.json"
    raw = json.loads(item_path.read_text())
    raw["images"][0]["bounding_box"][0]["attrs"] = [{"name": "score", "value": float("nan")}]
    item_path.write_text(json.dumps(raw))  # writes the non-standard token NaN
    exported = dmv2_to_voc(tmp_path / "src", tmp_path / "voc")
    [(annotation, reason, message)] = _entries(exported.audit_path)["a"]
    assert (annotation, reason) == ("b0", AuditReason.INVALID_ANNOTATION) and "NaN" in message
    assert exported.audit.annotations_written == 1


# --- VOC in the hub: the backend, the step, identities, class ids, what VOC cannot hold ------

COCO2017 = REAL / "coco2017_val"


def _run_steps(context: DatasetContext, *steps: BaseStep[DatasetContext]) -> None:
    # The tests fill context.dataset themselves: an input of the workflow (docs/data-flow.md).
    registry = StepRegistry[DatasetContext](inputs=("dataset",))
    for step in steps:
        registry.register(step)
    Orchestrator(registry, context, lambda current, total: None).execute()


def _sv_class_counts(dataset: sv.DetectionDataset) -> Counter[str]:
    counts: Counter[str] = Counter()
    for _, _, detections in dataset:
        assert detections.class_id is not None
        counts.update(dataset.classes[int(c)] for c in detections.class_id)
    return counts


def test_real_voc_through_the_backend_and_the_step_into_yolo_and_coco(tmp_path: Path) -> None:
    facts = _facts(BCCD)
    with LocalBackend(tmp_path / "backend") as backend:
        imported = backend.import_dataset(BCCD, name="bccd", source_format="voc")
        assert imported.dataset.count == facts["annotation_files"]
        assert imported.audit.annotations_written == facts["objects"]
        for target in ("yolo", "coco"):
            context = DatasetContext(
                runtime_ctx=RuntimeContext(),
                params={"dataset": "bccd", "output_dir": str(tmp_path / target / "bccd")},
                client=backend,
            )
            _run_steps(context, ExportDatasetStep(), ConvertDatasetStep(target_format=target))
            out = Path(context.dataset["path"])
            assert context.dataset["count"] == facts["annotation_files"]
            exported = tmp_path / target / "bccd"
            # The identity is the image's path under JPEGImages/: kept through the backend.
            first = json.loads(next(exported.rglob("json/BloodImage_00000.json")).read_text())
            assert first["source"] == {"file_name": "BloodImage_00000.jpg"}
            if target == "yolo":
                readers = [
                    sv.DetectionDataset.from_yolo(
                        images_directory_path=str(out / "images" / split),
                        annotations_directory_path=str(out / "labels" / split),
                        data_yaml_path=str(out / "dataset.yaml"),
                    )
                    for split in ("train", "valid", "test")
                ]
            else:
                readers = [
                    sv.DetectionDataset.from_coco(
                        images_directory_path=str(out / "images" / split),
                        annotations_path=str(out / "annotations" / f"instances_{split}.json"),
                    )
                    for split in ("train", "valid", "test")
                ]
            counts = sum((_sv_class_counts(r) for r in readers), Counter[str]())
            assert dict(counts) == facts["objects_per_class"]
            assert sum(len(r) for r in readers) == facts["annotation_files"]


def test_real_coco_to_voc_through_the_step_audits_what_voc_cannot_hold(tmp_path: Path) -> None:
    facts: dict[str, Any] = json.loads((COCO2017 / "facts.json").read_text(encoding="utf-8"))
    coco_to_dmv2(COCO2017, tmp_path / "dm")
    context = DatasetContext(
        runtime_ctx=RuntimeContext(), params={"convert_output_dir": str(tmp_path / "voc")}
    )
    context.dataset = {"path": str(tmp_path / "dm"), "format": "dm_v2"}
    _run_steps(context, ConvertDatasetStep(target_format="voc"))
    assert context.dataset["format"] == "voc" and context.dataset["count"] == facts["images"]
    out = tmp_path / "voc"
    # Real readers find every image and every object, with COCO's class names.
    dataset = sv.DetectionDataset.from_pascal_voc(
        images_directory_path=str(out / "JPEGImages"),
        annotations_directory_path=str(out / "Annotations"),
    )
    assert len(dataset) == facts["images"]
    names = {str(c["id"]): c["name"] for c in facts["categories"]}
    want = Counter({names[i]: n for i, n in facts["annotations_per_category_id"].items()})
    assert _sv_class_counts(dataset) == want
    boxes = globox.AnnotationSet.from_pascal_voc(out / "Annotations")
    assert sum(len(a.boxes) for a in boxes) == facts["annotations"]
    assert sorted(p.name for p in (out / "JPEGImages").iterdir()) == sorted(facts["file_names"])
    # Nothing silent: the crowd region, the objects of several polygons and every stored area
    # are changes in the audit, each object still written.
    summary, entries = read_audit(out / "audit.json")
    assert summary.annotations_written == facts["annotations"] and summary.annotations_skipped == 0
    assert summary.changes["crowd_as_box"] == facts["crowd"]
    # Each object had a stored area; the class ids (COCO's 1..90) are one dataset entry.
    assert summary.changes["not_in_target"] == facts["annotations"] + 1
    [ids] = [e for e in entries if e.kind == "dataset"]
    assert ids.reason is AuditReason.NOT_IN_TARGET and '"person": 1' in ids.message
    rings = [e for e in entries if "further polygon" in e.message]
    assert len(rings) == facts["multi_polygon"]
    assert all(e.action == "changed" and e.annotation is not None for e in rings)


def test_voc_ids_come_from_an_explicit_class_map_only(tmp_path: Path) -> None:
    # Without a class map VOC gives names only: a later conversion numbers them (sorted).
    plain = voc_to_dmv2(BCCD, tmp_path / "plain")
    manifest = json.loads(Path(plain.config_path).read_text())
    assert manifest["categories"] == [] and manifest["classes"] == ["Platelets", "RBC", "WBC"]
    coco = dmv2_to_coco(tmp_path / "plain", tmp_path / "plain_coco")
    cats = json.loads(next(Path(coco.config_path).glob("*.json")).read_text())["categories"]
    assert [(c["id"], c["name"]) for c in cats] == [(1, "Platelets"), (2, "RBC"), (3, "WBC")]

    # With one (through the step), its ids, unused ones included, reach COCO unchanged; an
    # object of a class outside the map is skipped as unknown_class.
    class_map = {"WBC": 5, "RBC": 7, "spare": 11}
    context = DatasetContext(
        runtime_ctx=RuntimeContext(),
        params={"convert_output_dir": str(tmp_path / "mapped"), "class_map": class_map},
    )
    context.dataset = {"path": str(BCCD), "format": "voc"}
    _run_steps(context, ConvertDatasetStep(target_format="dm_v2", source_format="voc"))
    summary, _ = read_audit(tmp_path / "mapped" / "audit.json")
    platelets = _facts(BCCD)["objects_per_class"]
    assert isinstance(platelets, dict)
    assert summary.reasons == {"unknown_class": platelets["Platelets"]}
    coco = dmv2_to_coco(tmp_path / "mapped", tmp_path / "mapped_coco")
    for path in Path(coco.config_path).glob("*.json"):
        data = json.loads(path.read_text())
        assert {(c["id"], c["name"]) for c in data["categories"]} == {
            (5, "WBC"), (7, "RBC"), (11, "spare"),
        }
        assert {a["category_id"] for a in data["annotations"]} <= {5, 7}
    with pytest.raises(ValueError, match="class_map"):
        voc_to_dmv2(BCCD, tmp_path / "bad", class_map={"WBC": 1, "RBC": 1})
    assert not (tmp_path / "bad").exists()


def test_nested_identities_are_flattened_audited_and_never_overwrite(tmp_path: Path) -> None:
    write_dataset(
        tmp_path / "src",
        [
            ItemSpec("a", 10, 10, boxes=[("cat", 1, 1, 4, 4)]),
            ItemSpec("b", 10, 10, boxes=[("dog", 1, 1, 4, 4)]),
            ItemSpec("c", 10, 10, boxes=[("dog", 2, 2, 4, 4)]),
        ],
    )
    for stem, file_name in (("a", "camA/0001.jpg"), ("b", "camB/0001.jpg"), ("c", "camA/0001.png")):
        path = tmp_path / "src" / "json" / f"{stem}.json"
        raw = json.loads(path.read_text())
        raw["source"] = {"file_name": file_name}
        path.write_text(json.dumps(raw))
    result = dmv2_to_voc(tmp_path / "src", tmp_path / "voc")
    assert result.audit.items_written == 3
    annotations = sorted(p.name for p in (tmp_path / "voc" / "Annotations").iterdir())
    # camA/0001.jpg and camA/0001.png both want one id: the second is ~2 (a "%" in a name
    # would be written %25, so an encoded name never meets a literal one).
    assert annotations == ["camA%2F0001.xml", "camA%2F0001~2.xml", "camB%2F0001.xml"]
    renamed = {e.item: e.message for e in read_audit(Path(result.audit_path))[1]}
    assert set(renamed) == {"a", "b", "c"}
    assert "camA/0001.jpg written as JPEGImages/camA%2F0001.png" in renamed["a"]
    assert "camA/0001.png written as JPEGImages/camA%2F0001~2.png" in renamed["c"]
    # A flat reader pairs each image with its annotation.
    dataset = sv.DetectionDataset.from_pascal_voc(
        images_directory_path=str(tmp_path / "voc" / "JPEGImages"),
        annotations_directory_path=str(tmp_path / "voc" / "Annotations"),
    )
    assert len(dataset) == 3 and sum(_sv_class_counts(dataset).values()) == 3


def test_keypoints_are_dropped_with_an_entry_each(tmp_path: Path) -> None:
    yolo_to_dmv2(REAL / "coco8-pose" / "coco8-pose.yaml", tmp_path / "dm")
    result = dmv2_to_voc(tmp_path / "dm", tmp_path / "voc")
    assert result.audit.changes == {
        "keypoints_dropped": result.audit.annotations_written,
        "not_in_target": 1,  # the YOLO class ids
    }
    assert result.audit.annotations_skipped == 0
