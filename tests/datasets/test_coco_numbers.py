"""COCO output numbers: each float written by orjson as its shortest round-trip text, so the
value read back is exactly the value written; integers of any size; one object per line."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from steprail.datasets import dmv2_to_coco

from ._helpers import ItemSpec, write_dataset

_SIZE = 1000
# Each example writes a dataset with an image and converts it: kept few.
_CAPPED = settings(max_examples=min(settings().max_examples, 40), deadline=None)

_coordinate = st.floats(min_value=0.0, max_value=500.0, allow_nan=False, allow_infinity=False)
_extent = st.floats(min_value=1e-3, max_value=400.0, allow_nan=False, allow_infinity=False)


def _instances(root: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(
        (root / "annotations" / "instances.json").read_text(encoding="utf-8")
    )
    return result


@_CAPPED
@given(
    box=st.tuples(_coordinate, _coordinate, _extent, _extent),
    triangle=st.tuples(_coordinate, _coordinate, _extent, _extent, _coordinate),
)
def test_every_written_float_reads_back_as_the_value_converted(
    box: tuple[float, float, float, float], triangle: tuple[float, float, float, float, float]
) -> None:
    x, y, w, h = box
    px, py, dx, dy, apex = triangle  # a triangle with an area (a flat polygon is skipped)
    points = ((px, py), (px + dx, py), (apex, py + dy))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_dataset(
            root / "dm",
            [ItemSpec("a", _SIZE, _SIZE, boxes=[("c", x, y, w, h)], polygons=[("c", points)])],
        )
        dmv2_to_coco(root / "dm", root / "coco")
        written = _instances(root / "coco")
    box_ann, poly_ann = written["annotations"]
    assert box_ann["bbox"] == [x, y, w, h]  # exact float equality, not "close"
    assert box_ann["area"] == w * h
    assert box_ann["segmentation"] == [[x, y, x + w, y, x + w, y + h, x, y + h]]
    assert poly_ann["segmentation"] == [[v for point in points for v in point]]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    assert poly_ann["bbox"] == [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]


def test_a_category_id_past_64_bits_is_written_whole(tmp_path: Path) -> None:
    huge = (1 << 70) + 3  # orjson refuses integers this large: the writer falls back
    write_dataset(tmp_path / "dm", [ItemSpec("a", 40, 30, boxes=[("c", 1.5, 2.0, 10.0, 5.0)])])
    dmv2_to_coco(tmp_path / "dm", tmp_path / "coco", class_map={"c": huge})
    written = _instances(tmp_path / "coco")
    assert [a["category_id"] for a in written["annotations"]] == [huge]
    assert [c["id"] for c in written["categories"]] == [huge]
    assert written["annotations"][0]["bbox"] == [1.5, 2.0, 10.0, 5.0]


def test_each_annotation_object_is_on_a_line_of_its_own(tmp_path: Path) -> None:
    boxes = [("c", 1.0 + i, 2.0, 3.0, 4.0) for i in range(3)]
    polygons: list[tuple[str, tuple[tuple[float, float], ...]]] = [
        ("c", ((1.0, 1.0), (9.0, 1.0), (5.0, 7.0)))
    ]
    write_dataset(
        tmp_path / "dm",
        [ItemSpec(s, 40, 30, boxes=boxes, polygons=polygons) for s in ("a", "b")],
    )
    dmv2_to_coco(tmp_path / "dm", tmp_path / "coco")
    text = (tmp_path / "coco" / "annotations" / "instances.json").read_text(encoding="utf-8")
    section = text.split('"annotations": [\n', 1)[1].split("\n ],", 1)[0]
    lines = section.split("\n")
    objects = [json.loads(line.removesuffix(",")) for line in lines]
    assert len(objects) == 8
    assert [o["id"] for o in objects] == list(range(1, 9))
    assert objects == _instances(tmp_path / "coco")["annotations"]
