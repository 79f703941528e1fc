"""Property tests: DM v2 round-trips through YOLO and COCO; bad input lands in the audit only."""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from steprail.datasets import (
    AuditReason,
    ConversionResult,
    coco_to_dmv2,
    dmv2_to_coco,
    dmv2_to_yolo,
    read_audit,
    yolo_to_dmv2,
)

from ._helpers import Box, ItemSpec, Poly, close_boxes, close_polys, read_dmv2, write_dataset, write_image

# Names that exercise quoting in dataset.yaml and JSON: spaces, colons, quotes, digits, unicode.
CLASS_NAMES = ["car", "traffic light", "a: b", 'say "hi"', "0", "Ünï"]


@st.composite
def boxes(draw: st.DrawFn, width: int, height: int) -> Box:
    x = draw(st.floats(0, width - 0.5))
    y = draw(st.floats(0, height - 0.5))
    w = draw(st.floats(0.5, width - x))
    h = draw(st.floats(0.5, height - y))
    return (draw(st.sampled_from(CLASS_NAMES)), x, y, w, h)


@st.composite
def polygons(draw: st.DrawFn, width: int, height: int) -> Poly:
    # A 0.01 px grid keeps distinct points distinct after YOLO's 6-decimal normalised rows.
    point = st.tuples(
        st.integers(0, width * 100).map(lambda v: v / 100),
        st.integers(0, height * 100).map(lambda v: v / 100),
    )
    points = draw(st.lists(point, min_size=3, max_size=6, unique=True))
    return (draw(st.sampled_from(CLASS_NAMES)), tuple(points))


@st.composite
def datasets(draw: st.DrawFn) -> list[ItemSpec]:
    categorized = draw(st.booleans())
    count = draw(st.integers(1, 4))
    specs = []
    for index in range(count):
        width = draw(st.integers(4, 40))
        height = draw(st.integers(4, 40))
        specs.append(
            ItemSpec(
                stem=f"item{index}",
                width=width,
                height=height,
                boxes=draw(st.lists(boxes(width, height), max_size=4)),
                polygons=draw(st.lists(polygons(width, height), max_size=2)),
                split=draw(st.sampled_from(["train", "valid", "test"])) if categorized else None,
                record_size=draw(st.booleans()),
            )
        )
    return specs


ROUND_TRIPS: dict[str, tuple[Callable[[Path, Path], ConversionResult], Callable[[Path, Path], ConversionResult]]] = {
    "yolo": (dmv2_to_yolo, yolo_to_dmv2),
    "coco": (dmv2_to_coco, coco_to_dmv2),
}


def _round_trip(specs: list[ItemSpec], fmt: str) -> None:
    write, read_back = ROUND_TRIPS[fmt]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_dataset(root / "src", specs)
        converted = write(root / "src", root / "mid")
        assert converted.audit.items_skipped == converted.audit.annotations_skipped == 0
        back = read_back(root / "mid", root / "back")
        assert back.audit.items_skipped == back.audit.annotations_skipped == 0
        original, returned = read_dmv2(root / "src"), read_dmv2(root / "back")
        assert original.keys() == returned.keys()
        for key, (boxes_before, polys_before) in original.items():
            boxes_after, polys_after = returned[key]
            assert close_boxes(boxes_before, boxes_after), (key, boxes_before, boxes_after)
            assert close_polys(polys_before, polys_after), (key, polys_before, polys_after)
        used = {b[0] for boxes_, _ in original.values() for b in boxes_} | {
            p[0] for _, polys_ in original.values() for p in polys_
        }
        assert set(back.classes) >= used


@given(datasets())
def test_round_trip_through_yolo(specs: list[ItemSpec]) -> None:
    _round_trip(specs, "yolo")


@given(datasets())
def test_round_trip_through_coco(specs: list[ItemSpec]) -> None:
    _round_trip(specs, "coco")


# -- bad input ----------------------------------------------------------------------------------


@dataclass
class BadAnnotation:
    kind: str  # "bounding_box" or "polygon"
    raw: dict[str, object]
    reason: AuditReason


@st.composite
def bad_annotations(draw: st.DrawFn, width: int, height: int, ann_id: str) -> BadAnnotation:
    defect = draw(
        st.sampled_from(
            [
                "box_outside",
                "box_non_positive",
                "box_non_finite",
                "missing_class",
                "polygon_few",
                "polygon_outside",
                "polygon_non_finite",
            ]
        )
    )
    name = draw(st.sampled_from(CLASS_NAMES))
    if defect == "box_outside":
        # Further out than the clipping margin (1% of the image size): skipped, not clipped.
        margin = 0.01 * width + 0.01
        x = draw(st.one_of(st.floats(-50, -margin), st.floats(width - 2 + margin, width + 50)))
        return BadAnnotation(
            "bounding_box",
            {"id": ann_id, "classification": name, "data": [x, 0, 2, 2]},
            AuditReason.BOX_OUTSIDE_IMAGE,
        )
    if defect == "box_non_positive":
        w = draw(st.floats(-10, 0))
        return BadAnnotation(
            "bounding_box",
            {"id": ann_id, "classification": name, "data": [0, 0, w, 1]},
            AuditReason.BOX_NON_POSITIVE,
        )
    if defect == "box_non_finite":
        data: list[float] = [0, 0, 1, 1]
        data[draw(st.integers(0, 3))] = draw(st.sampled_from([math.nan, math.inf, -math.inf]))
        return BadAnnotation(
            "bounding_box",
            {"id": ann_id, "classification": name, "data": data},
            AuditReason.BOX_NON_FINITE,
        )
    if defect == "missing_class":
        raw: dict[str, object] = {"id": ann_id, "data": [0, 0, 1, 1]}
        blank = draw(st.sampled_from([None, "", "   "]))
        if blank is not None:
            raw["classification"] = blank
        return BadAnnotation("bounding_box", raw, AuditReason.MISSING_CLASS)
    if defect == "polygon_few":
        point = [draw(st.integers(0, width)), draw(st.integers(0, height))]
        other = [point[0], (point[1] + 1) % (height + 1)]
        points = draw(st.sampled_from([[point], [point, other], [point, other, point], [point] * 4]))
        return BadAnnotation(
            "polygon",
            {"id": ann_id, "classification": name, "data": points},
            AuditReason.POLYGON_TOO_FEW_POINTS,
        )
    if defect == "polygon_outside":
        return BadAnnotation(
            "polygon",
            {"id": ann_id, "classification": name, "data": [[0, 0], [width + 1, 0], [0, 1]]},
            AuditReason.POLYGON_OUTSIDE_IMAGE,
        )
    return BadAnnotation(
        "polygon",
        {"id": ann_id, "classification": name, "data": [[0, 0], [math.nan, 0], [0, 1]]},
        AuditReason.POLYGON_NON_FINITE,
    )


BAD_ITEMS = {
    "malformed_json": AuditReason.MALFORMED_JSON,
    "missing_image": AuditReason.MISSING_IMAGE,
    "unreadable_image": AuditReason.UNREADABLE_IMAGE,
    "invalid_item": AuditReason.INVALID_ITEM,
}


@st.composite
def dirty_datasets(
    draw: st.DrawFn,
) -> tuple[list[ItemSpec], dict[str, list[BadAnnotation]], dict[str, AuditReason]]:
    specs = draw(datasets())
    for spec in specs:
        spec.split = None
    bad_anns: dict[str, list[BadAnnotation]] = {}
    for spec in specs:
        n = draw(st.integers(0, 3))
        bad_anns[spec.stem] = [
            draw(bad_annotations(spec.width, spec.height, f"bad{i}")) for i in range(n)
        ]
    bad_items = {
        f"broken{i}": BAD_ITEMS[kind]
        for i, kind in enumerate(draw(st.lists(st.sampled_from(sorted(BAD_ITEMS)), max_size=4)))
    }
    return specs, bad_anns, bad_items


def _write_dirty(
    root: Path,
    specs: list[ItemSpec],
    bad_anns: dict[str, list[BadAnnotation]],
    bad_items: dict[str, AuditReason],
) -> None:
    write_dataset(root, specs)
    for stem, anns in bad_anns.items():
        path = root / "json" / f"{stem}.json"
        raw = json.loads(path.read_text())
        for ann in anns:
            raw["images"][0][ann.kind].append(ann.raw)
        path.write_text(json.dumps(raw))
    for stem, reason in bad_items.items():
        json_path = root / "json" / f"{stem}.json"
        image_path = root / "original_files" / f"{stem}.png"
        if reason is AuditReason.MALFORMED_JSON:
            json_path.write_text('{"images": [')
            write_image(image_path, 8, 8)
        elif reason is AuditReason.MISSING_IMAGE:
            json_path.write_text(json.dumps({"images": []}))
        elif reason is AuditReason.UNREADABLE_IMAGE:
            json_path.write_text(json.dumps({"images": [{"bounding_box": []}]}))
            image_path.write_bytes(b"\x89PNG but not really")
        else:
            json_path.write_text(json.dumps({"images": {"not": "a list"}}))
            write_image(image_path, 8, 8)


@given(dirty_datasets(), st.sampled_from(["yolo", "coco"]))
def test_bad_input_lands_in_the_audit_and_nowhere_else(
    dirty: tuple[list[ItemSpec], dict[str, list[BadAnnotation]], dict[str, AuditReason]],
    fmt: str,
) -> None:
    specs, bad_anns, bad_items = dirty
    write, read_back = ROUND_TRIPS[fmt]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _write_dirty(root / "src", specs, bad_anns, bad_items)
        result = write(root / "src", root / "out")
        summary, entries = read_audit(Path(result.audit_path))
        expected = {(stem, None, reason) for stem, reason in bad_items.items()} | {
            (stem, ann.raw["id"], ann.reason) for stem, anns in bad_anns.items() for ann in anns
        }
        skips = [e for e in entries if e.action == "skipped"]
        assert {(e.item, e.annotation, e.reason) for e in skips} == expected
        assert len(skips) == len(expected)
        # What was kept but written differently is said too, and only that: a COCO box carries
        # its rectangle as segmentation; YOLO says when box and polygon rows are mixed.
        changes = {e.reason for e in entries if e.action == "changed"}
        assert changes <= {AuditReason.BOX_AS_RECTANGLE, AuditReason.MIXED_BOXES_AND_POLYGONS}
        assert summary.items_written == len(specs)
        good = sum(len(s.boxes) + len(s.polygons) for s in specs)
        assert summary.annotations_written == good
        # Nowhere else: reading the output back gives exactly the good items and annotations.
        back = read_back(root / "out", root / "back")
        assert back.audit.items_skipped == 0 and back.audit.annotations_skipped == 0
        returned = read_dmv2(root / "back")
        assert {stem for _, stem in returned} == {s.stem for s in specs}
        for spec in specs:
            boxes_after, polys_after = returned[(None, spec.stem)]
            assert close_boxes(spec.boxes, boxes_after)
            assert close_polys(list(spec.polygons), polys_after)
        shutil.rmtree(root / "back")
