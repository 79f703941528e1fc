"""The two DM v2 readers agree: ``iter_checked_items`` (a pydantic model per annotation) and
``iter_checked_shapes`` (the lean one-call schema) yield the same items, boxes and polygons and
record the same audit entries, on generated folders mixing valid and invalid input."""

from __future__ import annotations

import functools
import json
import math
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from steprail.datasets._audit import AuditLog, AuditReason
from steprail.datasets._source import detect_layout, iter_checked_items, iter_checked_shapes

from ._helpers import Box, Poly, close_boxes, close_polys, write_image

CLASSES = {"cat": 0, "dog": 1}
# Offsets around an image edge: on it, inside and outside the 0.001 px tolerance, and far out.
_EDGE_OFFSETS = (0.0, 0.0005, -0.0005, 0.001, -0.001, 0.0011, -0.0011, 0.01, -0.01, 3.0, -3.0)
_NON_NUMBERS: tuple[object, ...] = ("abc", None, [1.0], {"v": 1}, True, "2.5", "")

type Entry = tuple[str | None, str, str | None, str, AuditReason, str]


class _RecordingAudit(AuditLog):
    """An audit log that also keeps every entry in memory, in order."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder, source="dm_v2", target_format="test")
        self.entries: list[Entry] = []

    def record(
        self,
        *,
        split: str | None,
        item: str,
        reason: AuditReason,
        message: str,
        annotation: str | None = None,
        kind: str = "item",
    ) -> None:
        self.entries.append((split, item, annotation, kind, reason, message))
        super().record(
            split=split, item=item, reason=reason, message=message, annotation=annotation,
            kind=kind,
        )  # fmt: skip


# Cached: building (and validating) a strategy per draw costs more than the readers under test.
@functools.cache
def _near_edge(limit: int) -> st.SearchStrategy[float]:
    # A coordinate on 0 or ``limit`` plus an offset, or anywhere in and around the image.
    edge = st.builds(
        lambda base, off: base + off,
        st.sampled_from([0.0, float(limit)]),
        st.sampled_from(_EDGE_OFFSETS),
    )
    anywhere = st.floats(-limit * 0.25, limit * 1.25, allow_nan=False, allow_infinity=False)
    return st.one_of(edge, anywhere, st.integers(0, limit))


_NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])


@st.composite
def _box_data(draw: st.DrawFn, width: int, height: int, *, valid: bool) -> object:
    # ``valid``: well-formed (it may still be outside the image); else one kind of bad data.
    kind = (
        "fit" if valid else draw(st.sampled_from(["size", "nonfinite", "junk", "arity"]))
    )
    if kind == "arity":
        return draw(
            st.one_of(
                st.lists(st.floats(0, 5), max_size=6).filter(lambda v: len(v) != 4),
                st.sampled_from(["1,2,3,4", 7, {"x": 1}, None]),
            )
        )
    x, y = draw(_near_edge(width)), draw(_near_edge(height))
    if kind == "fit":
        # The far corner on or near the right/bottom edge, or anywhere.
        right, bottom = draw(_near_edge(width)), draw(_near_edge(height))
        x, right = min(x, right), max(x, right)  # an empty box only when the two coincide
        y, bottom = min(y, bottom), max(y, bottom)
        w, h = right - x, bottom - y
    else:
        w = draw(st.floats(0.1, width))
        h = draw(st.floats(0.1, height))
    data: list[object] = [x, y, w, h]
    if kind == "size":
        data[draw(st.integers(2, 3))] = draw(st.sampled_from([0, 0.0, -0.0, -1.0, -1e-9]))
    elif kind == "nonfinite":
        data[draw(st.integers(0, 3))] = draw(_NON_FINITE)
    elif kind == "junk":
        data[draw(st.integers(0, 3))] = draw(st.sampled_from(_NON_NUMBERS))
    return data


@functools.cache
def _point(width: int, height: int) -> st.SearchStrategy[list[object]]:
    return st.tuples(_near_edge(width), _near_edge(height)).map(lambda p: list[object](p))


@st.composite
def _polygon_data(draw: st.DrawFn, width: int, height: int, *, valid: bool) -> object:
    kind = (
        draw(st.sampled_from(["ok", "ok", "dupes"]))
        if valid
        else draw(st.sampled_from(["dupes", "few", "nonfinite", "junk", "arity"]))
    )
    point = _point(width, height)
    if kind == "few":
        points = draw(st.lists(point, max_size=2))
    else:
        points = draw(st.lists(point, min_size=3, max_size=6))
    if kind == "dupes":
        # Repeats of at most two distinct points (too few), or of enough (fine).
        distinct = points[: draw(st.integers(1, 3))]
        points = draw(st.lists(st.sampled_from(distinct), min_size=3, max_size=6))
    elif kind == "nonfinite":
        points[draw(st.integers(0, len(points) - 1))][draw(st.integers(0, 1))] = draw(_NON_FINITE)
    elif kind == "junk":
        points[draw(st.integers(0, len(points) - 1))][draw(st.integers(0, 1))] = draw(
            st.sampled_from(_NON_NUMBERS)
        )
    out: list[object] = [list(p) for p in points]
    if kind == "arity":
        bad: tuple[object, ...] = ([1.0], [1.0, 2.0, 3.0], [], 4.0, "p")
        out[draw(st.integers(0, len(out) - 1))] = draw(st.sampled_from(bad))
    return out


_GOOD_ATTRS: tuple[object, ...] = (
    "<missing>",
    [],
    [{"name": "colour", "value": "red"}],
    [{"name": "n", "value": {"a": [1, None]}}],
)
_BAD_ATTRS: tuple[object, ...] = (
        [{"name": 1, "value": 2}],  # name not a string
        [{"value": 2}],  # no name
        [{"name": "a", "value": 1, "extra": 0}],  # attributes forbid extra keys
        "notalist",
        None,
)


_FAULTS = ("none",) * 8 + ("id", "class", "attrs", "data", "nodata", "notobject")


@st.composite
def _annotation(
    draw: st.DrawFn, kind: str, index: int, width: int, height: int, faults: tuple[str, ...]
) -> object:
    # Mostly one fault at a time (or none), so valid annotations reach the geometry checks.
    fault = draw(st.sampled_from(faults))
    if fault == "notobject":
        return draw(st.sampled_from(["ann", 3, None, []]))
    ann: dict[str, object] = {"id": f"{kind[0]}{index}"}
    if fault == "id":
        ann_id = draw(st.sampled_from(["<missing>", 9, None]))
        ann.pop("id") if ann_id == "<missing>" else ann.update(id=ann_id)
    ann["classification"] = draw(st.sampled_from(["cat", "dog", "dog", "bird"]))
    if fault == "class":
        name = draw(st.sampled_from(["", "   ", " cat", 5, None, "<missing>"]))
        ann.pop("classification") if name == "<missing>" else ann.update(classification=name)
    attrs = draw(st.sampled_from(_GOOD_ATTRS))
    if fault == "attrs":
        attrs = draw(st.sampled_from(_BAD_ATTRS))
    if attrs != "<missing>":
        ann["attrs"] = attrs
    if draw(st.booleans()):
        ann["score"] = 0.5  # extra keys are ignored
    strategy = _box_data if kind == "box" else _polygon_data
    if fault != "nodata":
        ann["data"] = draw(strategy(width, height, valid=fault != "data"))
    return ann


_BAD_SIZES: tuple[object, ...] = (0, -3, 1.5, "abc", None, "12", 12.0, True)


@st.composite
def _image_entry(draw: st.DrawFn, width: int, height: int, *, wild: bool) -> object:
    # ``wild``: anything may be wrong; else the entry and its annotations are well-formed (the
    # annotations may still be outside the image or of an unknown class).
    if wild and draw(st.integers(0, 30)) == 0:
        return draw(st.sampled_from(["img", 1, None]))
    # The size recorded in the JSON (used instead of the header) may differ from the file's.
    recorded_w = draw(st.sampled_from([width, width, width + 3, max(1, width - 2)]))
    recorded_h = draw(st.sampled_from([height, height, height + 1]))
    entry: dict[str, object] = {}
    size_kinds = ["none", "both", "both", "width", "height"] + (["bad"] if wild else [])
    size_kind = draw(st.sampled_from(size_kinds))
    if size_kind in ("both", "width", "bad"):
        entry["width"] = recorded_w
    if size_kind in ("both", "height", "bad"):
        entry["height"] = recorded_h
    if size_kind == "bad":
        entry[draw(st.sampled_from(["width", "height"]))] = draw(st.sampled_from(_BAD_SIZES))
    # Annotations are checked against the size the reader settles on; aim near either.
    aim_w, aim_h = draw(st.sampled_from([(width, height), (recorded_w, recorded_h)]))
    for key, kind in (("bounding_box", "box"), ("polygon", "polygon")):
        shapes = ["list", "list", "list", "list", "missing"] + (["bad"] if wild else [])
        shape = draw(st.sampled_from(shapes))
        if shape == "list":
            count = draw(st.integers(0, 4))
            faults = _FAULTS if wild else ("none",)
            entry[key] = [
                draw(_annotation(kind, i, aim_w, aim_h, faults)) for i in range(count)
            ]
        elif shape == "missing" and not wild:
            entry[key] = [draw(_annotation(kind, 0, aim_w, aim_h, ("none",)))]
        elif shape == "bad":
            entry[key] = draw(st.sampled_from([None, {}, "x", 3]))
    if draw(st.booleans()):
        entry["note"] = "extra key"
    return entry


@st.composite
def _item_bytes(draw: st.DrawFn, width: int, height: int) -> bytes:
    shape = draw(st.integers(0, 40))
    if shape == 0:
        return draw(st.sampled_from([b"", b"{", b'{"images": [', b"not json", b"\xff\xfe"]))
    if shape == 1:
        return draw(st.sampled_from([b"[]", b'{"images": "x"}', b'{"images": null}', b"3"]))
    # "wild" items may have anything wrong; the others are well-formed but for at most one
    # faulty annotation. Those are where the readers can part: an item both schemas reject goes
    # to the same salvage path in both, but one with a single fault the lean schema misses is
    # yielded whole by it and salvaged (with an audit entry) by the models.
    mode = draw(st.sampled_from(["wild", "clean", "one_fault", "one_fault"]))
    item: dict[str, object] = {}
    if mode != "wild" or draw(st.integers(0, 10)) != 0:
        count = draw(st.integers(1, 2))
        entries = [draw(_image_entry(width, height, wild=mode == "wild")) for _ in range(count)]
        item["images"] = entries
        if mode == "one_fault":
            entry = entries[draw(st.integers(0, count - 1))]
            assert isinstance(entry, dict)
            key, kind = draw(st.sampled_from([("bounding_box", "box"), ("polygon", "polygon")]))
            anns = entry[key]
            assert isinstance(anns, list)
            index = draw(st.integers(0, len(anns)))  # replace one, or add one at the end
            bad = draw(_annotation(kind, index, width, height, _FAULTS[8:]))
            anns[index : index + 1] = [bad]
    if draw(st.booleans()):
        item["meta"] = {"k": 1}
    return json.dumps(item).encode()  # NaN and Infinity as JSON literals, as Python writes them


@st.composite
def _item(draw: st.DrawFn) -> tuple[int, int, bytes, str]:
    width, height = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    image = draw(st.sampled_from([".png", ".png", ".png", ".jpg", "<missing>", "<garbage>"]))
    return width, height, draw(_item_bytes(width, height)), image


def _write(root: Path, items: list[tuple[int, int, bytes, str]], splits: list[str | None]) -> None:
    for index, ((width, height, raw, image), split) in enumerate(zip(items, splits, strict=True)):
        folder = root if split is None else root / split
        stem = f"item{index}"
        (folder / "json").mkdir(parents=True, exist_ok=True)
        (folder / "json" / f"{stem}.json").write_bytes(raw)
        originals = folder / "original_files"
        originals.mkdir(exist_ok=True)
        if image == "<garbage>":
            (originals / f"{stem}.png").write_bytes(b"not an image at all")
        elif image != "<missing>":
            write_image(originals / f"{stem}{image}", width, height)


type _Read = tuple[list[tuple[object, ...]], list[list[Box]], list[list[Poly]], list[Entry]]


def _read_models(root: Path, log_dir: Path) -> tuple[_Read, dict[str, int]]:
    audit = _RecordingAudit(log_dir)
    heads: list[tuple[object, ...]] = []
    boxes: list[list[Box]] = []
    polys: list[list[Poly]] = []
    with audit:
        for item in iter_checked_items(detect_layout(root), audit, CLASSES):
            heads.append((item.split, item.stem, item.image_path, item.image_name, item.width,
                          item.height))  # fmt: skip
            boxes.append([(b.classification, *b.data) for b in item.boxes])
            polys.append([(p.classification, tuple(p.data)) for p in item.polygons])
    counts = {"total": audit.items_total, **audit.reasons}
    return (heads, boxes, polys, audit.entries), counts


def _read_lean(root: Path, log_dir: Path) -> tuple[_Read, dict[str, int]]:
    audit = _RecordingAudit(log_dir)
    heads: list[tuple[object, ...]] = []
    boxes: list[list[Box]] = []
    polys: list[list[Poly]] = []
    with audit:
        for item in iter_checked_shapes(detect_layout(root), audit, CLASSES):
            heads.append((item.split, item.stem, item.image_path, item.image_name, item.width,
                          item.height))  # fmt: skip
            boxes.append([(name, *data) for name, data in item.boxes])
            polys.append([(name, tuple(points)) for name, points, _ in item.polygons])
            for _, points, bounds in item.polygons:
                # The bounds handed to the COCO writer are those of the (snapped) points.
                xs, ys = [p[0] for p in points], [p[1] for p in points]
                assert bounds == (min(xs), min(ys), max(xs), max(ys))
    counts = {"total": audit.items_total, **audit.reasons}
    return (heads, boxes, polys, audit.entries), counts


@given(
    items=st.lists(_item(), min_size=1, max_size=4),
    categorized=st.booleans(),
    data=st.data(),
)
def test_both_readers_agree(
    items: list[tuple[int, int, bytes, str]], categorized: bool, data: st.DataObject
) -> None:
    splits: list[str | None] = [
        data.draw(st.sampled_from(["train", "valid", "test"])) if categorized else None
        for _ in items
    ]
    with tempfile.TemporaryDirectory() as tmp:
        root, logs = Path(tmp) / "ds", Path(tmp) / "logs"
        logs.mkdir()
        _write(root, items, splits)
        (m_heads, m_boxes, m_polys, m_entries), m_counts = _read_models(root, logs)
        (l_heads, l_boxes, l_polys, l_entries), l_counts = _read_lean(root, logs)
    assert l_heads == m_heads
    assert l_entries == m_entries
    assert l_counts == m_counts
    for lean, model in zip(l_boxes, m_boxes, strict=True):
        # In the same order, with the same coordinates (the readers share the clipping).
        assert len(lean) == len(model) and close_boxes(lean, model, tol=1e-9), (lean, model)
        assert [b[0] for b in lean] == [b[0] for b in model]
    for lean_p, model_p in zip(l_polys, m_polys, strict=True):
        assert len(lean_p) == len(model_p) and close_polys(lean_p, model_p, tol=1e-9)
        assert [p[0] for p in lean_p] == [p[0] for p in model_p]
