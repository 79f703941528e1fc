"""Pascal VOC: importing a VOC folder into DM v2, and writing a DM v2 dataset as VOC.

A VOC folder (``VOC2012/``, or any folder laid out the same way)::

    Annotations/<id>.xml        one XML file per image: <filename>, <size>, one <object> each
    JPEGImages/<id>.jpg         the images
    ImageSets/Main/<split>.txt  optional: the ids of each split (train, val, trainval, test)

Pixel convention: VOC corners are 1-based and inclusive (the devkit's ``xmin = 1`` is the
first pixel column, ``xmax = width`` the last). DM v2 boxes are continuous, from the top left
corner of the image, so a VOC box ``(xmin, ymin, xmax, ymax)`` is the DM v2 box
``x = xmin - 1, y = ymin - 1, width = xmax - xmin + 1, height = ymax - ymin + 1``, and back.
This is the reading Detectron2 and supervision use. Tools that write 0-based corners (labelme,
some exporters) are read with ``one_based=False``.

Kept through VOC -> DM v2 -> VOC: each object's class, box, ``pose``, ``truncated``,
``difficult`` and ``occluded`` (as DM v2 attributes of those names), polygons written as a
``<polygon>`` element (``x1, y1, x2, y2, ...``, 1-based like the box, as supervision and
Roboflow read them), and any other DM v2 attribute as CVAT's
``<attributes><attribute><name/><value/></attribute></attributes>`` (the value as JSON).
Everything skipped is recorded in ``audit.json``; nothing is clamped.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as StdET  # writing only: parsing goes through defusedxml
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Final

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from PIL import Image
from pydantic import JsonValue, ValidationError

from ._audit import AuditLog, AuditReason
from ._convert import ConversionResult, fresh_output
from ._dmv2 import IMAGE_EXTENSIONS, Attribute, BoundingBox, DMv2Image, DMv2Item, Polygon
from ._source import (
    DatasetInputError,
    annotation_reason,
    check_something_written,
    detect_layout,
    image_size_or_skip,
    iter_checked_items,
    link_or_copy,
    resolve_classes,
    validation_message,
    write_dmv2_item,
    write_manifest,
    write_small_file,
)

__all__ = [
    "VOC_ATTRIBUTES",
    "dmv2_to_voc",
    "voc_to_dmv2",
]

#: The per-object VOC fields kept as DM v2 attributes of the same name.
VOC_ATTRIBUTES: Final = ("pose", "truncated", "difficult", "occluded")

# Flags hold 0/1 in VOC; they become integers in DM v2 (anything else is kept as its text).
_FLAGS: Final = frozenset({"truncated", "difficult", "occluded"})
# VOC split list -> DM v2 split, and back.
_SPLITS_IN: Final = {"train": "train", "val": "valid", "test": "test"}
_SPLITS_OUT: Final = {"train": "train", "valid": "val", "test": "test"}
# A VOC annotation file is a few kilobytes; anything this large is not one.
_MAX_XML_BYTES: Final = 16 * 1024 * 1024
# Float noise allowed outside the image before a box counts as leaving it (pixels).
_EDGE_TOLERANCE: Final = 1e-6
# Characters XML 1.0 cannot carry at all (not even escaped).
_NOT_XML_CHARS: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_POLYGON_TAG: Final = re.compile(r"([xy])(\d+)")


# ---------------------------------------------------------------------------------------------
# VOC -> DM v2


def voc_to_dmv2(source: Path, output: Path, *, one_based: bool = True) -> ConversionResult:
    """Import the Pascal VOC folder ``source`` into a new DM v2 dataset at ``output``.

    ``source`` is the folder holding ``Annotations/`` (or a folder with exactly one such
    sub-folder, as ``VOCdevkit/`` has ``VOC2012/``). With ``ImageSets/Main/{train,val,test}.txt``
    the output is categorized (``val`` becomes ``valid``; ``trainval`` is used as ``train`` only
    when neither ``train`` nor ``val`` exists); without them it is flat. ``one_based=False``
    reads corners as 0-based (see the module docs).

    XML is parsed with defusedxml: a file with a DTD or entity declarations (billion laughs,
    external entities) is refused and audited, never expanded. An object with a bad box, an
    unknown class or a polygon outside the image, an annotation file whose image is missing, an
    id that would leave the folder, and an annotation file no split lists are all recorded in
    ``output/audit.json`` with a reason code. Raises
    :class:`~steprail.datasets.DatasetInputError` when ``source`` is not a VOC folder and
    :class:`~steprail.datasets.NoUsableItemsError` when nothing usable remains; on failure
    ``output`` is left as it was.
    """
    root = _find_voc_root(source)
    offset = 1.0 if one_based else 0.0
    split_lists = _read_split_lists(root)
    with fresh_output(output) as out, AuditLog(
        out, source=str(source), target_format="dm_v2"
    ) as audit:
        classes: set[str] = set()
        for split, stem in _plan(root, split_lists, audit):
            audit.items_total += 1
            read = _read_voc_item(root, split, stem, audit, offset)
            if read is None:
                continue
            item, image_path = read
            write_dmv2_item(out, split, stem, item, image_path)
            audit.items_written += 1
            audit.annotations_written += len(item.boxes()) + len(item.polygons())
            classes.update(a.classification for a in item.boxes())
            classes.update(a.classification for a in item.polygons())
        check_something_written(audit, source)
        write_manifest(out, sorted(classes), audit.items_written)
        summary = audit.close()
    return ConversionResult(
        path=str(out),
        config_path=str(out / "dataset.json"),
        format="dm_v2",
        is_categorized=split_lists is not None,
        source_path=str(source),
        classes=sorted(classes),
        splits=list(split_lists) if split_lists is not None else [],
        audit_path=str(audit.path),
        audit=summary,
    )


def _find_voc_root(source: Path) -> Path:
    if (source / "Annotations").is_dir():
        return source
    if not source.is_dir():
        raise DatasetInputError(f"VOC folder {str(source)!r} does not exist")
    inner = [child for child in sorted(source.iterdir()) if (child / "Annotations").is_dir()]
    if len(inner) == 1:
        return inner[0]
    raise DatasetInputError(
        f"{str(source)!r} is not a Pascal VOC folder: expected Annotations/ in it"
        + (f" (found it in {len(inner)} sub-folders; give one)" if inner else "")
    )


def _read_ids(path: Path) -> list[str]:
    # One id per line; keep the first occurrence of each, in order.
    seen: dict[str, None] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if parts:
            seen.setdefault(parts[0], None)
    return list(seen)


def _read_split_lists(root: Path) -> dict[str, list[str]] | None:
    """DM v2 split -> VOC ids, from ``ImageSets/Main``; ``None`` when there are no lists."""
    main = root / "ImageSets" / "Main"
    present = {name: main / f"{name}.txt" for name in ("train", "val", "test", "trainval")}
    present = {name: path for name, path in present.items() if path.is_file()}
    if not present:
        return None
    lists: dict[str, list[str]] = {}
    for voc_split, dm_split in _SPLITS_IN.items():
        if voc_split in present:
            lists[dm_split] = _read_ids(present[voc_split])
    if "trainval" in present and "train" not in present and "val" not in present:
        lists["train"] = _read_ids(present["trainval"])
    # Order the splits as DM v2 does (train, valid, test).
    return {split: lists[split] for split in ("train", "valid", "test") if split in lists}


def _plain_name(name: str) -> bool:
    """A single file name that stays in its folder: no separator, not ``.``/``..``, no NUL."""
    return (
        bool(name)
        and name not in (".", "..")
        and "/" not in name
        and "\\" not in name
        and "\0" not in name
    )


def _plan(
    root: Path, split_lists: dict[str, list[str]] | None, audit: AuditLog
) -> Iterator[tuple[str | None, str]]:
    """Every ``(split, id)`` to import; unlisted annotation files and unsafe ids are audited."""
    annotations = root / "Annotations"
    if split_lists is None:
        with os.scandir(annotations) as entries:
            stems = sorted(e.name[:-4] for e in entries if e.name.endswith(".xml"))
        for stem in stems:
            yield None, stem
        return
    listed: set[str] = set()
    for split, ids in split_lists.items():
        for stem in ids:
            if not _plain_name(stem):
                audit.items_total += 1
                audit.record(
                    split=split,
                    item=stem,
                    reason=AuditReason.INVALID_ITEM,
                    message=(
                        f"ImageSets/Main/{_SPLITS_OUT[split]}.txt: id {stem!r} would leave "
                        "Annotations/; refused, nothing read"
                    ),
                )
                continue
            listed.add(stem)
            yield split, stem
    with os.scandir(annotations) as entries:
        unlisted = sorted(
            e.name[:-4] for e in entries if e.name.endswith(".xml") and e.name[:-4] not in listed
        )
    for stem in unlisted:
        audit.items_total += 1
        audit.record(
            split=None,
            item=stem,
            reason=AuditReason.INVALID_ITEM,
            message=(
                f"Annotations/{stem}.xml is in no ImageSets/Main list "
                f"({', '.join(_SPLITS_OUT[s] + '.txt' for s in split_lists)}); not imported"
            ),
        )


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path``, with every symlink resolved, is under ``root`` (resolved)."""
    return path.resolve().is_relative_to(root.resolve())


def _read_voc_item(
    root: Path, split: str | None, stem: str, audit: AuditLog, offset: float
) -> tuple[DMv2Item, Path] | None:
    """One VOC annotation file as a DM v2 item and its image path, or ``None`` once audited."""

    def skip(reason: AuditReason, message: str) -> None:
        audit.record(split=split, item=stem, reason=reason, message=message)

    xml_path = root / "Annotations" / f"{stem}.xml"
    where = f"Annotations/{stem}.xml"
    if not xml_path.is_file():
        skip(AuditReason.MISSING_LABELS, f"{where} does not exist (the id is in a split list)")
        return None
    if not _inside(xml_path, root):
        skip(AuditReason.INVALID_ITEM, f"{where} is a link to outside the dataset; not read")
        return None
    if xml_path.stat().st_size > _MAX_XML_BYTES:
        skip(AuditReason.INVALID_ITEM, f"{where} is over {_MAX_XML_BYTES} bytes; not read")
        return None
    try:
        document = SafeET.fromstring(xml_path.read_bytes(), forbid_dtd=True)
    except DefusedXmlException as exc:
        skip(
            AuditReason.INVALID_ITEM,
            f"{where}: unsafe XML refused ({type(exc).__name__}: a DTD or entity declaration)",
        )
        return None
    except SafeET.ParseError as exc:
        skip(AuditReason.INVALID_ITEM, f"{where}: not well-formed XML ({exc})")
        return None
    if document.tag != "annotation":
        skip(AuditReason.INVALID_ITEM, f"{where}: root element is <{document.tag}>, not <annotation>")
        return None
    image_path = _find_voc_image(root, stem, (document.findtext("filename") or "").strip(), skip)
    if image_path is None:
        return None
    size = image_size_or_skip(image_path, image_path.name, audit, split, stem)
    if size is None:
        return None
    width, height = size
    boxes: list[BoundingBox] = []
    polygons: list[Polygon] = []
    for number, obj in enumerate(document.findall("object"), start=1):
        shape = _read_object(obj, f"{stem}-{number}", width, height, offset)
        if isinstance(shape, BoundingBox):
            boxes.append(shape)
        elif isinstance(shape, Polygon):
            polygons.append(shape)
        else:
            reason, kind, message = shape
            audit.record(
                split=split,
                item=stem,
                annotation=f"{stem}-{number}",
                kind=kind,
                reason=reason,
                message=f"{where} <object> {number}: {message}",
            )
        for part in obj.findall("part"):
            audit.record(
                split=split,
                item=stem,
                annotation=f"{stem}-{number}",
                kind="part",
                reason=AuditReason.INVALID_ANNOTATION,
                message=(
                    f"{where} <object> {number}: <part> {part.findtext('name')!r} "
                    "(VOC person layout) has no DM v2 form; not imported"
                ),
            )
    image = DMv2Image(width=width, height=height, bounding_box=boxes, polygon=polygons)
    return DMv2Item(images=[image]), image_path


def _find_voc_image(
    root: Path, stem: str, filename: str, skip: Callable[[AuditReason, str], None]
) -> Path | None:
    images = root / "JPEGImages"
    if filename and not _plain_name(filename):
        skip(
            AuditReason.INVALID_ITEM,
            f"<filename> {filename!r} would leave JPEGImages/; refused, nothing read",
        )
        return None
    candidates = [images / filename] if filename else []
    candidates += [images / (stem + ext) for ext in IMAGE_EXTENSIONS]
    for candidate in candidates:
        if candidate.is_file():
            if not _inside(candidate, root):
                skip(
                    AuditReason.INVALID_ITEM,
                    f"JPEGImages/{candidate.name} is a link to outside the dataset; not read",
                )
                return None
            return candidate
    named = f"JPEGImages/{filename}" if filename else f"JPEGImages/{stem}.*"
    skip(AuditReason.MISSING_IMAGE, f"no image {named} for Annotations/{stem}.xml")
    return None


type _Rejected = tuple[AuditReason, str, str]  # reason, annotation kind, message


def _read_object(
    obj: StdET.Element, ann_id: str, width: int, height: int, offset: float
) -> BoundingBox | Polygon | _Rejected:
    """One ``<object>`` as a DM v2 box or polygon, or why it cannot be one."""
    name = (obj.findtext("name") or "").strip()
    kind = "polygon" if obj.find("polygon") is not None else "box"
    if not name:
        return AuditReason.MISSING_CLASS, kind, "no <name>"
    attrs = _read_attributes(obj)
    fields: dict[str, object] = {"id": ann_id, "classification": name, "attrs": attrs}
    if kind == "polygon":
        polygon = obj.find("polygon")
        assert polygon is not None
        points = _polygon_points(polygon, offset)
        if isinstance(points, str):
            return AuditReason.INVALID_ANNOTATION, kind, points
        try:
            shape: BoundingBox | Polygon = Polygon.model_validate({**fields, "data": points})
        except ValidationError as exc:
            return annotation_reason("polygon", exc), kind, validation_message(exc)
        if not all(_in_image(x, y, width, height) for x, y in points):
            return (
                AuditReason.POLYGON_OUTSIDE_IMAGE,
                kind,
                f"a vertex lies outside the {width}x{height} image",
            )
        return shape
    box = obj.find("bndbox")
    if box is None:
        return AuditReason.INVALID_ANNOTATION, kind, "no <bndbox>"
    corners: list[float] = []
    for tag in ("xmin", "ymin", "xmax", "ymax"):
        text = (box.findtext(tag) or "").strip()
        try:
            corners.append(float(text))
        except ValueError:
            return AuditReason.INVALID_ANNOTATION, kind, f"<{tag}> {text!r} is not a number"
    xmin, ymin, xmax, ymax = corners
    x, y = xmin - offset, ymin - offset
    data = (x, y, xmax - x, ymax - y)
    try:
        shape = BoundingBox.model_validate({**fields, "data": data})
    except ValidationError as exc:
        return (
            annotation_reason("box", exc),
            kind,
            f"corners ({_number(xmin)}, {_number(ymin)}, {_number(xmax)}, {_number(ymax)}): "
            + validation_message(exc),
        )
    if not (_in_image(x, y, width, height) and _in_image(xmax, ymax, width, height)):
        return (
            AuditReason.BOX_OUTSIDE_IMAGE,
            kind,
            f"corners ({_number(xmin)}, {_number(ymin)}, {_number(xmax)}, {_number(ymax)}) "
            f"leave the {width}x{height} image",
        )
    return shape


def _in_image(x: float, y: float, width: int, height: int) -> bool:
    return (
        -_EDGE_TOLERANCE <= x <= width + _EDGE_TOLERANCE
        and -_EDGE_TOLERANCE <= y <= height + _EDGE_TOLERANCE
    )


def _polygon_points(polygon: StdET.Element, offset: float) -> list[tuple[float, float]] | str:
    """The vertices of ``<polygon><x1/><y1/>...``, shifted to DM v2, or what is wrong."""
    xs: dict[int, float] = {}
    ys: dict[int, float] = {}
    for child in polygon:
        match = _POLYGON_TAG.fullmatch(child.tag)
        if match is None:
            return f"<polygon> has an element <{child.tag}>; expected x1, y1, x2, y2, ..."
        try:
            value = float((child.text or "").strip())
        except ValueError:
            return f"<polygon> <{child.tag}> {child.text!r} is not a number"
        (xs if match[1] == "x" else ys)[int(match[2])] = value - offset
    if sorted(xs) != sorted(ys):
        return "<polygon> has x and y elements that do not pair up"
    return [(xs[i], ys[i]) for i in sorted(xs)]


def _read_attributes(obj: StdET.Element) -> list[Attribute]:
    values: dict[str, JsonValue] = {}
    for name in VOC_ATTRIBUTES:
        element = obj.find(name)
        if element is None:
            continue
        text = (element.text or "").strip()
        values[name] = int(text) if name in _FLAGS and text.isdigit() else text
    # CVAT-style extra attributes; one named like a VOC field carries a value that field's
    # text cannot (a pose that is not text, a flag that is not a count), so it wins.
    for attribute in obj.findall("attributes/attribute"):
        name = (attribute.findtext("name") or "").strip()
        if not name:
            continue
        text = attribute.findtext("value") or ""
        try:
            values[name] = json.loads(text)
        except ValueError:
            values[name] = text  # CVAT writes plain text values
    return [Attribute(name=name, value=value) for name, value in values.items()]


# ---------------------------------------------------------------------------------------------
# DM v2 -> VOC


def dmv2_to_voc(
    source: Path, output: Path, *, splits: Sequence[str] | None = None
) -> ConversionResult:
    """Convert the DM v2 dataset at ``source`` into a new Pascal VOC folder at ``output``.

    Writes ``Annotations/<stem>.xml`` (1-based inclusive corners), ``JPEGImages/`` (hard links
    to the source images when possible) and, for a categorized dataset,
    ``ImageSets/Main/{train,val,test,trainval}.txt``. A polygon becomes an object with its
    bounding ``<bndbox>`` and a ``<polygon>`` element. VOC keeps one ``Annotations/`` folder for
    all splits, so a stem met in a second split is audited, not overwritten; so is an annotation
    whose class name or attributes hold characters XML 1.0 cannot carry. Raises as
    :func:`~steprail.datasets.dmv2_to_yolo` does; on failure ``output`` is left as it was.
    """
    layout = detect_layout(source, splits)
    names = resolve_classes(layout)
    class_ids = {name: index for index, name in enumerate(names)}
    with fresh_output(output) as out, AuditLog(
        out, source=str(source), target_format="voc"
    ) as audit, _SplitLists(out / "ImageSets" / "Main") as split_lists:
        annotations_dir = out / "Annotations"
        images_dir = out / "JPEGImages"
        annotations_dir.mkdir()
        images_dir.mkdir()
        written: dict[str, str | None] = {}
        for item in iter_checked_items(layout, audit, class_ids):
            if item.stem in written:
                audit.record(
                    split=item.split,
                    item=item.stem,
                    reason=AuditReason.INVALID_ITEM,
                    message=(
                        f"the stem is also in split {written[item.stem]!r}; a VOC folder has "
                        "one Annotations/ for every split, so this one is not written"
                    ),
                )
                continue
            objects: list[StdET.Element] = []
            shapes: list[BoundingBox | Polygon] = [*item.boxes, *item.polygons]
            for shape in shapes:
                problem = _unwritable(shape)
                if problem is not None:
                    audit.record(
                        split=item.split,
                        item=item.stem,
                        annotation=shape.id,
                        kind="box" if isinstance(shape, BoundingBox) else "polygon",
                        reason=AuditReason.INVALID_ANNOTATION,
                        message=problem,
                    )
                    continue
                objects.append(_object_element(shape))
            document = _annotation_element(
                item.image_name, item.width, item.height, _depth(item.image_path), objects
            )
            StdET.indent(document)
            write_small_file(
                str(annotations_dir / f"{item.stem}.xml"),
                StdET.tostring(document, encoding="utf-8", xml_declaration=False),
            )
            link_or_copy(item.image_path, images_dir / item.image_name)
            split_lists.add(item.split, item.stem)
            written[item.stem] = item.split
            audit.items_written += 1
            audit.annotations_written += len(objects)
        check_something_written(audit, source)
        summary = audit.close()
    return ConversionResult(
        path=str(out),
        config_path=str(out / "Annotations"),
        format="voc",
        is_categorized=layout.is_categorized,
        source_path=str(source),
        classes=names,
        splits=[s for s in layout.splits if s is not None],
        audit_path=str(audit.path),
        audit=summary,
    )


class _SplitLists:
    """Appends ids to ``ImageSets/Main/<split>.txt`` (and ``trainval.txt``) as items stream."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._files: dict[str, IO[str]] = {}

    def __enter__(self) -> _SplitLists:
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._files.values():
            handle.close()

    def add(self, split: str | None, stem: str) -> None:
        if split is None:
            return
        names = [_SPLITS_OUT[split]] + (["trainval"] if split in ("train", "valid") else [])
        for name in names:
            handle = self._files.get(name)
            if handle is None:
                self._folder.mkdir(parents=True, exist_ok=True)
                handle = self._files[name] = (self._folder / f"{name}.txt").open(
                    "w", encoding="utf-8"
                )
            handle.write(stem + "\n")


def _number(value: float) -> str:
    """Integers without a fraction (``12``, as VOC tools expect), others in full precision."""
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def _plain_voc_value(name: str, value: JsonValue) -> bool:
    """Whether ``value`` of VOC field ``name`` reads back the same from that field's text."""
    if isinstance(value, str) and _NOT_XML_CHARS.search(value):
        return False  # as JSON text in <attributes> instead, where it is escaped
    if name == "pose":
        return isinstance(value, str) and value == value.strip()
    if name in _FLAGS:
        if isinstance(value, int) and not isinstance(value, bool):
            return value >= 0
        return isinstance(value, str) and value == value.strip() and not value.isdigit()
    return False


def _json_text(value: JsonValue) -> str:
    return json.dumps(value, ensure_ascii=False)


def _unwritable(shape: BoundingBox | Polygon) -> str | None:
    texts = [shape.classification]
    for attr in shape.attrs:
        texts.append(attr.name)
        texts.append(_json_text(attr.value))
    for text in texts:
        if _NOT_XML_CHARS.search(text):
            return f"{text!r} holds characters XML 1.0 cannot carry; not written"
    if shape.classification != shape.classification.strip():
        return (
            f"class {shape.classification!r} begins or ends with white space, which VOC readers "
            "strip; not written"
        )
    return None


def _sub(parent: StdET.Element, tag: str, text: str | None = None) -> StdET.Element:
    element = StdET.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element


def _object_element(shape: BoundingBox | Polygon) -> StdET.Element:
    obj = StdET.Element("object")
    _sub(obj, "name", shape.classification)
    given = {a.name: a.value for a in shape.attrs}
    plain = {name: value for name, value in given.items() if _plain_voc_value(name, value)}
    _sub(obj, "pose", str(plain.get("pose", "Unspecified")))
    for flag in ("truncated", "difficult", "occluded"):
        if flag in given or flag != "occluded":
            _sub(obj, flag, str(plain.get(flag, 0)))
    if isinstance(shape, BoundingBox):
        x, y, w, h = shape.data
        corners = (x + 1, y + 1, x + w, y + h)
    else:
        xs = [px for px, _ in shape.data]
        ys = [py for _, py in shape.data]
        corners = (min(xs) + 1, min(ys) + 1, max(xs), max(ys))
    bndbox = _sub(obj, "bndbox")
    for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), corners, strict=True):
        _sub(bndbox, tag, _number(value))
    if isinstance(shape, Polygon):
        polygon = _sub(obj, "polygon")
        for index, (px, py) in enumerate(shape.data, start=1):
            _sub(polygon, f"x{index}", _number(px + 1))
            _sub(polygon, f"y{index}", _number(py + 1))
    others = [a for a in shape.attrs if a.name not in plain]
    if others:
        attributes = _sub(obj, "attributes")
        for attr in others:
            attribute = _sub(attributes, "attribute")
            _sub(attribute, "name", attr.name)
            _sub(attribute, "value", _json_text(attr.value))
    return obj


def _annotation_element(
    filename: str, width: int, height: int, depth: int, objects: list[StdET.Element]
) -> StdET.Element:
    document = StdET.Element("annotation")
    _sub(document, "folder", "JPEGImages")
    _sub(document, "filename", filename)
    size = _sub(document, "size")
    _sub(size, "width", str(width))
    _sub(size, "height", str(height))
    _sub(size, "depth", str(depth))
    _sub(document, "segmented", "0")
    document.extend(objects)
    return document


def _depth(image_path: str) -> int:
    """The number of channels, from the image header (Pillow opens lazily: no pixel decoding)."""
    try:
        with Image.open(image_path) as image:
            return len(image.getbands())
    except OSError:
        return 3  # iter_checked_items read its size already; a header Pillow cannot name is RGB
