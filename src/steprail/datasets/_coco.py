"""COCO: writing a DM v2 dataset as COCO instances, and importing COCO back to DM v2.

Output layout (a flat dataset has no split level and one ``instances.json``)::

    images/<split>/<stem>.<ext>            the images (hard links to the source when possible)
    annotations/instances_<split>.json     images, annotations, categories
    audit.json                             what was skipped, and why

A box becomes an annotation with ``bbox`` ``[x, y, w, h]``, ``area`` ``w*h`` and its rectangle
as ``segmentation`` (pycocotools' mask tools, ``annToMask`` and ``COCOeval(..., "segm")``, fail
on an empty one; the audit says how many boxes were written so); a polygon becomes an annotation
with ``segmentation`` ``[[x1, y1, ...]]``, its bounding box and its shoelace area. ``iscrowd``
is 0. Category ids are the source's (the DM v2 manifest's ``categories``, unused ones and
``supercategory`` included, null when the source had none), or those of an explicit ``class_map``, else 1 + the index of the
sorted class names; the same for every split. Image ids are the items' source ids where they
have one (ids are kept per annotations file, as COCO ids need only be unique within one: a
clash in one file is renumbered and audited), and ``file_name`` is the item's identity, with its
sub-folders. The instances file is streamed: images are written
as they come and annotations are spooled to disk, so memory does not grow with the dataset.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import chain
from pathlib import Path
from typing import IO, Final

import orjson

from ._audit import AuditLog, AuditReason
from ._classes import resolve_class_map
from ._coco_read import coco_to_dmv2
from ._convert import ConversionResult, fresh_output, partial_path
from ._dmv2 import DMv2Category, DMv2Keypoints, _polygon_area
from ._paths import utf8_identity
from ._source import (
    CheckedShapes,
    DMv2Layout,
    check_something_written,
    detect_layout,
    iter_checked_shapes,
    link_or_copy,
    read_manifest,
    refuse_output_inside,
)

__all__ = [
    "CheckedShapesSource",
    "coco_to_dmv2",
    "dmv2_to_coco",
    "write_coco",
]

_ANNOTATIONS_DIR: Final = "annotations"


# Annotation objects are built as dicts and encoded by orjson: several times cheaper than
# formatting their numbers in Python. Floats are written as their shortest round-trip text (the
# value that was computed, exactly, as repr() writes it; a whole float keeps its ".0"), ints as
# ints. Only finite values reach a writer (the checks drop the rest).
type _Annotation = dict[str, object]


def _encode(annotations: list[_Annotation]) -> bytes:
    # The objects, one per line, joined by ",\n" (no enclosing brackets). The bytes '},{"id":'
    # can only be where one object ends and the next begins: inside a JSON string a quote is
    # escaped.
    try:
        text = orjson.dumps(annotations)
    except orjson.JSONEncodeError:
        # An integer past 64 bits (a category id of an explicit class map): the standard
        # library writes any integer.
        text = json.dumps(annotations, separators=(",", ":")).encode("utf-8")
    return text[1:-1].replace(b'},{"id":', b'},\n{"id":')


def _box_annotations(
    boxes: Sequence[tuple[str, tuple[float, float, float, float]]],
    box_ids: Sequence[int],
    image_id: int,
    class_ids: Mapping[str, int],
    areas: Mapping[int, float],
) -> list[_Annotation]:
    # One annotation object per box: its bbox, its area (the stored one where ``areas`` has it)
    # and its rectangle as segmentation. The hot loop of COCO output (orjson writes the data
    # tuple as the bbox array as it is).
    if not areas:
        return [
            {
                "id": ann_id, "image_id": image_id, "category_id": class_ids[name], "bbox": data,
                "area": data[2] * data[3],
                "segmentation": [_rectangle(*data)], "iscrowd": 0,
            }  # fmt: skip
            for ann_id, (name, data) in zip(box_ids, boxes)
        ]
    return [
        {
            "id": ann_id, "image_id": image_id, "category_id": class_ids[name], "bbox": data,
            "area": areas.get(index, data[2] * data[3]),
            "segmentation": [_rectangle(*data)], "iscrowd": 0,
        }  # fmt: skip
        for index, (ann_id, (name, data)) in enumerate(zip(box_ids, boxes))
    ]


def _rectangle(x: float, y: float, width: float, height: float) -> list[float]:
    # A box's corners as one polygon ring, clockwise from the top left.
    right, bottom = x + width, y + height
    return [x, y, right, y, right, bottom, x, bottom]


def _polygon_annotation(
    ann_id: int,
    image_id: int,
    category_id: int,
    bbox: tuple[float, float, float, float],
    area: float,
    points: Sequence[tuple[float, float]],
) -> _Annotation:
    # One polygon annotation object (a single ring).
    return {
        "id": ann_id, "image_id": image_id, "category_id": category_id, "bbox": bbox,
        "area": area, "segmentation": [list(chain.from_iterable(points))], "iscrowd": 0,
    }  # fmt: skip


_PLAIN_JSON_TEXT: Final = re.compile(r"[ !#-\[\]-~]*")


def _json_string(text: str) -> str:
    # File names are nearly always plain ASCII, which needs only quotes; json.dumps otherwise.
    return f'"{text}"' if _PLAIN_JSON_TEXT.fullmatch(text) else json.dumps(text)


# Items formatted between two writes: fewer, larger writes, with a small bounded buffer (tens of
# kilobytes) so peak memory stays flat.
_BATCH_ITEMS: Final = 16


class _InstancesWriter:
    """Streams one ``instances*.json``: images now, annotations spooled, categories at the end."""

    def __init__(
        self,
        path: Path,
        categories: Sequence[DMv2Category],
        keypoints: DMv2Keypoints | None = None,
    ) -> None:
        self.path = path
        #: Class names that have an annotation with keypoints: their category gets the names.
        self.keypoint_classes: set[str] = set()
        self._keypoints = keypoints
        #: Classes of the manifest's keypoint schema and its keypoint count: an object of one
        #: of them without keypoints gets K unlabelled ones (COCOeval "keypoints" needs them).
        self.pose_classes: frozenset[str] = frozenset(
            keypoints.classes if keypoints is not None and keypoints.names else ()
        )
        self.pose_count = len(keypoints.names) if keypoints is not None else 0
        self.spool_path = path.with_suffix(".annotations.spool")
        # Binary files fed with one encoded batch at a time: the spool is copied back by the
        # kernel (sendfile), never decoded and encoded again.
        # Written under a hidden name, renamed into place by close(): a killed run leaves no
        # instances file that looks whole.
        self._partial = partial_path(path)
        self._out: IO[bytes] = self._partial.open("wb")
        self._spool: IO[bytes] = self.spool_path.open("wb")
        self._categories = categories
        self._images: list[str] = []
        self._annotations: list[bytes] = []
        self._pending = 0
        self._image_sep = ""
        self._ann_sep = b""
        self._keypoint_count = 0
        self._out.write(
            b'{"info": {"description": "written by steprail"}, "licenses": [],\n "images": [\n'
        )

    def note_keypoints(self, name: str, count: int) -> None:
        """Remember that class ``name`` has an annotation with ``count`` keypoints."""
        self.keypoint_classes.add(name)
        self._keypoint_count = max(self._keypoint_count, count)

    def item(self, image_id: int, file_name: str, width: int, height: int, anns: bytes) -> None:
        """Add one image and its already encoded annotation objects (``anns``, joined by
        ``",\\n"``, empty when it has none; see ``_encode``)."""
        self._images.append(
            f'{self._image_sep}  {{"id": {image_id}, "file_name": {_json_string(file_name)}, '
            f'"width": {width}, "height": {height}}}'
        )
        self._image_sep = ",\n"
        if anns:
            self._annotations.append(self._ann_sep + anns)
            self._ann_sep = b",\n"
        self._pending += 1
        if self._pending >= _BATCH_ITEMS:
            self._flush()

    def _flush(self) -> None:
        self._out.write("".join(self._images).encode("utf-8"))
        self._spool.write(b"".join(self._annotations))
        self._images.clear()
        self._annotations.clear()
        self._pending = 0

    def close(self) -> None:
        self._flush()
        self._spool.close()
        self._out.write(b"\n ],\n \"annotations\": [\n")
        self._out.flush()
        with self.spool_path.open("rb") as spool:
            _copy_to(spool, self._out)
        categories: list[dict[str, object]] = [
            {"id": c.id, "name": c.name, "supercategory": c.supercategory}
            for c in self._categories
        ]
        schema = self._keypoints
        # The manifest says which classes have keypoints (the same in every split); without it,
        # the classes seen with keypoints in this file.
        with_keypoints = set(schema.classes) if schema is not None and schema.classes else (
            self.keypoint_classes
        )
        for category in categories:
            if category["name"] in with_keypoints:
                names = schema.names if schema is not None else []
                if not names or (self._keypoint_count and len(names) != self._keypoint_count):
                    names = [str(i) for i in range(self._keypoint_count)]
                category["keypoints"] = names
                skeleton = schema.skeleton if schema is not None else None
                category["skeleton"] = [list(pair) for pair in skeleton or []]
        self._out.write(
            ('\n ],\n "categories": ' + json.dumps(categories) + "\n}\n").encode("utf-8")
        )
        self._out.close()
        os.replace(self._partial, self.path)
        os.unlink(self.spool_path)

    def abort(self) -> None:
        self._spool.close()
        self._out.close()
        self.spool_path.unlink(missing_ok=True)
        self._partial.unlink(missing_ok=True)


def _copy_to(source: IO[bytes], target: IO[bytes]) -> None:
    # Append all of ``source`` to ``target`` (flushed, positioned at its end) in the kernel, or in
    # bounded chunks where sendfile is not available.
    try:
        out_fd, in_fd = target.fileno(), source.fileno()
        offset, size = 0, os.fstat(in_fd).st_size
        while offset < size:
            sent = os.sendfile(out_fd, in_fd, offset, size - offset)
            if sent == 0:
                break
            offset += sent
        if offset == size:
            return
        source.seek(offset)
    except (AttributeError, OSError):  # no os.sendfile (Windows), or refused for these files
        source.seek(0)
        target.seek(0, os.SEEK_END)
    shutil.copyfileobj(source, target, 1 << 16)


def _multi_ring(
    ann_id: int,
    image_id: int,
    category_id: int,
    rings: list[list[tuple[float, float]]],
    stored_bbox: tuple[float, float, float, float] | None,
    stored_area: float | None,
) -> _Annotation:
    # An object of several polygons: one annotation, one segmentation list per ring, the bbox of
    # them all and the sum of their areas (as COCO's own multi-part objects have), unless the
    # source stored its own.
    if stored_bbox is not None:
        bbox = list(stored_bbox)  # as stored: corners and back would add float noise to w, h
    else:
        xs = [x for ring in rings for x, _ in ring]
        ys = [y for ring in rings for _, y in ring]
        bbox = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
    area = (
        sum(_polygon_area([x for x, _ in r], [y for _, y in r]) for r in rings)
        if stored_area is None
        else stored_area
    )
    return {
        "id": ann_id, "image_id": image_id, "category_id": category_id,
        "bbox": bbox, "area": area,
        "segmentation": [list(chain.from_iterable(ring)) for ring in rings], "iscrowd": 0,
    }  # fmt: skip


def _add_keypoints(
    annotation: _Annotation,
    keypoints: list[tuple[float, float, int]],
    writer: _InstancesWriter,
    name: str,
) -> None:
    # COCO's "keypoints" (x, y, v flat) and "num_keypoints" on the annotation object.
    writer.note_keypoints(name, len(keypoints))
    annotation["keypoints"] = list(chain.from_iterable(keypoints))
    annotation["num_keypoints"] = sum(1 for point in keypoints if point[2] > 0)


def _annotation_ids(
    item: CheckedShapes, ids: _Ids, audit: AuditLog
) -> tuple[Sequence[int], Sequence[int]]:
    # The output ids of the item's boxes and polygons: an annotation id that is an integer (a
    # COCO source's) is kept while free (a taken one is audited); others get the next free id.
    isdigit = str.isdigit
    if not any(map(isdigit, item.box_ids)) and not any(map(isdigit, item.polygon_ids)):
        # The common case (no source ids to keep): the next free ids, in one step.
        new_ids = ids.take_new_many(len(item.box_ids) + len(item.polygon_ids))
        boxes = len(item.box_ids)
        return new_ids[:boxes], new_ids[boxes:]
    new = ids.take_new
    box_ids = [
        _kept_id(item, a, "box", ids, audit) if a.isdigit() else new() for a in item.box_ids
    ]
    polygon_ids = [
        _kept_id(item, a, "polygon", ids, audit) if a.isdigit() else new()
        for a in item.polygon_ids
    ]
    return box_ids, polygon_ids


def _kept_id(item: CheckedShapes, ann_id: str, kind: str, ids: _Ids, audit: AuditLog) -> int:
    new_id, moved = ids.take(int(ann_id))
    if moved:
        audit.record_change(
            split=item.split, item=item.stem, annotation=ann_id, kind=kind,
            reason=AuditReason.ANNOTATION_ID_RENUMBERED,
            message=_taken_message("annotation", int(ann_id), new_id),
        )  # fmt: skip
    return new_id


def _write_item(
    writer: _InstancesWriter,
    item: CheckedShapes,
    image_id: int,
    ann_ids: tuple[Sequence[int], Sequence[int]],
    class_ids: dict[str, int],
    file_name: str,
) -> int:
    # One encoded run of annotation objects per item. Returns the number of annotations written.
    box_ids, polygon_ids = ann_ids
    if item.extras is None:
        # The common case: nothing stored, no rings, crowds or keypoints to look up.
        annotations = _box_annotations(item.boxes, box_ids, image_id, class_ids, _NO_AREAS)
        for ann_id, (name, points, (left, top, right, bottom)), (xs, ys) in zip(
            polygon_ids, item.polygons, item.polygon_coords
        ):
            annotations.append(
                _polygon_annotation(
                    ann_id, image_id, class_ids[name], (left, top, right - left, bottom - top),
                    _polygon_area(xs, ys), points,
                )  # fmt: skip
            )
        if writer.pose_classes:
            _unlabelled_keypoints(annotations, item, writer)
        writer.item(image_id, file_name, item.width, item.height, _encode(annotations))
        return len(annotations)
    areas = item.box_areas
    annotations = _box_annotations(item.boxes, box_ids, image_id, class_ids, areas)
    for index, mask in item.box_masks.items():
        # A region with its own mask (a COCO crowd region): the mask, not a rectangle.
        annotations[index]["segmentation"] = mask.model_dump(mode="json")
    for index in item.crowd_boxes:
        annotations[index]["iscrowd"] = 1
    for index, keypoints in item.box_keypoints.items():
        _add_keypoints(annotations[index], keypoints, writer, item.boxes[index][0])
    for index, (name, points, (left, top, right, bottom)) in enumerate(item.polygons):
        stored_bbox, stored_area = item.polygon_stored.get(index, (None, None))
        if index in item.rings:
            annotation = _multi_ring(
                polygon_ids[index], image_id, class_ids[name], [points, *item.rings[index]],
                stored_bbox, stored_area,
            )  # fmt: skip
        else:
            xs, ys = item.polygon_coords[index]
            annotation = _polygon_annotation(
                polygon_ids[index], image_id, class_ids[name],
                # A stored bbox as it is: corners and back would add float noise to w and h.
                (left, top, right - left, bottom - top) if stored_bbox is None else stored_bbox,
                _polygon_area(xs, ys) if stored_area is None else stored_area, points,
            )  # fmt: skip
        if index in item.crowd_polygons:
            annotation["iscrowd"] = 1
        if index in item.polygon_keypoints:
            _add_keypoints(annotation, item.polygon_keypoints[index], writer, name)
        annotations.append(annotation)
    if writer.pose_classes:
        _unlabelled_keypoints(annotations, item, writer)
    writer.item(image_id, file_name, item.width, item.height, _encode(annotations))
    return len(annotations)


def _unlabelled_keypoints(annotations: list[_Annotation], item: CheckedShapes, writer: _InstancesWriter) -> None:
    # In a keypoint dataset, COCOeval "keypoints" reads num_keypoints of every object: an object
    # of a keypoint class without keypoints gets K unlabelled ones and num_keypoints 0, as
    # COCO's own files have; an object of another class only num_keypoints 0 (keypoints on it
    # would make pycocotools' showAnns look for a skeleton its category does not have).
    names = [name for name, _ in item.boxes] + [name for name, _, _ in item.polygons]
    unlabelled = [(0.0, 0.0, 0)] * writer.pose_count
    for index, name in enumerate(names):
        if "num_keypoints" in annotations[index]:
            continue
        if name in writer.pose_classes:
            _add_keypoints(annotations[index], unlabelled, writer, name)
        else:
            annotations[index]["num_keypoints"] = 0


_INT64_MAX: Final = (1 << 63) - 1
_NO_AREAS: Final[Mapping[int, float]] = {}


def fits_int64(value: int) -> bool:
    """Whether ``value`` fits a signed 64-bit integer, as COCO tools (pycocotools, numpy
    arrays of ids, SQL stores) hold ids."""
    return -_INT64_MAX - 1 <= value <= _INT64_MAX


def _taken_message(kind: str, wanted: object, new_id: int) -> str:
    reason = (
        "does not fit a 64-bit integer"
        if isinstance(wanted, int) and not fits_int64(wanted)
        else "is taken"
    )
    return f"{kind} id {wanted} {reason}: written as {new_id}"


class _Ids:
    """Image or annotation ids of one output: the source's id when still free, else the next
    free one.

    Memory does not grow with the item count: ids the source asked for are bits of a bytearray
    (a set only for ids too large or negative for it), and ids handed out in sequence are kept
    as runs ``[start, end)``, which stay few (one, unless source ids interleave).
    """

    _BITMAP_LIMIT: Final = 1 << 31

    def __init__(self, first_new: int) -> None:
        self._bits = bytearray()
        self._other: set[int] = set()
        self._runs: list[list[int]] = []
        # A manifest's next id past int64 (a source with ids that large) starts again at 1.
        self._next = max(first_new, 1) if first_new <= _INT64_MAX else 1

    def _wanted_taken(self, value: int) -> bool:
        if 0 <= value < self._BITMAP_LIMIT:
            byte = value >> 3
            return byte < len(self._bits) and bool(self._bits[byte] & (1 << (value & 7)))
        return value in self._other

    @property
    def next_new(self) -> int:
        """Where :meth:`take_new` looks next (the next output file starts its new ids here, so
        new ids stay unique across the dataset's files)."""
        return self._next

    def take_new(self) -> int:
        """The next id no one has."""
        value = self._next
        while self._wanted_taken(value):
            value += 1
        runs = self._runs
        if runs and runs[-1][1] == value:
            runs[-1][1] = value + 1
        else:
            runs.append([value, value + 1])
        self._next = value + 1
        return value

    def take_new_many(self, count: int) -> Sequence[int]:
        """``count`` new ids, the ones :meth:`take_new` would hand out one by one: a range taken
        in one step when no id the source asked for lies among them."""
        start, end = self._next, self._next + count
        if 0 < start and end <= self._BITMAP_LIMIT and not any(
            self._bits[start >> 3 : ((end - 1) >> 3) + 1]
        ):
            # No id in [start, end) was asked for (bytes past the bitmap's end are all free).
            if count:
                runs = self._runs
                if runs and runs[-1][1] == start:
                    runs[-1][1] = end
                else:
                    runs.append([start, end])
                self._next = end
            return range(start, end)
        return [self.take_new() for _ in range(count)]

    def take(self, wanted: int | None) -> tuple[int, bool]:
        """The id for an item that wants ``wanted``; True when it could not have it."""
        if wanted is None:
            return self.take_new(), False
        if not fits_int64(wanted):
            return self.take_new(), True
        if self._wanted_taken(wanted) or any(start <= wanted < end for start, end in self._runs):
            return self.take_new(), True
        if 0 <= wanted < self._BITMAP_LIMIT:
            byte = wanted >> 3
            if byte >= len(self._bits):
                self._bits.extend(bytes(max(byte + 1 - len(self._bits), len(self._bits))))
            self._bits[byte] |= 1 << (wanted & 7)
        else:
            self._other.add(wanted)
        return wanted, False


def _link_unique(source: str, folder: str, identity: str) -> str:
    # Link ``source`` as ``folder/identity``; when that file exists (an earlier item with the
    # same identity), as ``<stem>~2<ext>``, ``~3``...: the name written.
    try:
        link_or_copy(source, os.path.join(folder, identity))
        return identity
    except FileExistsError:
        pass  # rare: the name is split only then
    stem, ext = os.path.splitext(identity)
    number = 2
    while True:
        name = f"{stem}~{number}{ext}"
        try:
            link_or_copy(source, os.path.join(folder, name))
            return name
        except FileExistsError:
            number += 1


def dmv2_to_coco(
    source: Path,
    output: Path,
    *,
    splits: Sequence[str] | None = None,
    class_map: Mapping[str, int] | None = None,
) -> ConversionResult:
    """Convert the DM v2 dataset at ``source`` into a new COCO dataset at ``output``.

    Same contract as :func:`~steprail.datasets.dmv2_to_yolo`: streaming, bad input skipped and
    audited, nothing left behind on failure. Category ids, image ids and file names (with their
    sub-folders) are the source's where it has them (see the module docs); ``class_map`` fixes
    the category ids instead.
    """
    return write_coco(source, output, splits=splits, class_map=class_map)


#: Where a split's checked items come from (a one-split layout, the audit their skips go to,
#: the class ids): a sharded conversion replays its shards' items through it.
type CheckedShapesSource = Callable[
    [DMv2Layout, AuditLog, Mapping[str, int]], Iterator[CheckedShapes]
]


def write_coco(
    source: Path,
    output: Path,
    *,
    splits: Sequence[str] | None = None,
    class_map: Mapping[str, int] | None = None,
    checked: CheckedShapesSource | None = None,
    tolerated: str | None = None,
) -> ConversionResult:
    """:func:`dmv2_to_coco`, with each split's items from ``checked`` when given (the sharded
    conversion replays its shards' items so): the same items in the same order give the same
    bytes. ``tolerated``: the sharded run's staging folder inside ``output``, if it put it there."""
    read_items: CheckedShapesSource = iter_checked_shapes if checked is None else checked
    layout = detect_layout(source, splits)
    refuse_output_inside(output, layout.root)
    resolved = resolve_class_map(layout, first_id=1, class_map=class_map)
    class_ids = resolved.ids
    manifest = read_manifest(layout.root)
    next_image_id = manifest.next_image_id or 1 if manifest is not None else 1
    next_annotation_id = manifest.next_annotation_id or 1 if manifest is not None else 1
    with fresh_output(output, tolerated) as out, AuditLog(
        out, source=str(source), target_format="coco"
    ) as audit:
        annotations_dir = out / _ANNOTATIONS_DIR
        annotations_dir.mkdir()
        boxes = 0
        writer: _InstancesWriter | None = None
        try:
            for split in layout.splits:
                images_dir = out / "images" if split is None else out / "images" / split
                images_dir.mkdir(parents=True)
                images_str = str(images_dir)
                made: set[str] = {images_str}
                file_name = "instances.json" if split is None else f"instances_{split}.json"
                # COCO ids are unique within one annotations file (pycocotools reads one):
                # each split keeps its source ids even when another split uses them too
                # (Roboflow numbers every split from 0). New ids go on from the last file's.
                image_ids, annotation_ids = _Ids(next_image_id), _Ids(next_annotation_id)
                writer = _InstancesWriter(
                    annotations_dir / file_name,
                    resolved.categories,
                    manifest.keypoints if manifest is not None else None,
                )
                for item in read_items(_single_split(layout, split), audit, class_ids):
                    identity, encoded = utf8_identity(item.file_name or item.image_name)
                    if "/" in identity:
                        parent = os.path.dirname(os.path.join(images_str, identity))
                        if parent not in made:
                            os.makedirs(parent, exist_ok=True)
                            made.add(parent)
                    name = _link_unique(item.image_path, images_str, identity)
                    if name != identity or encoded:
                        audit.record_change(
                            split=split, item=item.stem, reason=AuditReason.RENAMED_FOR_TARGET,
                            message=f"{identity} written as {name}: an earlier item has that "
                            "file name, or the name is not UTF-8 text",
                        )  # fmt: skip
                    image_id, moved = image_ids.take(item.image_id)
                    if moved:
                        audit.record_change(
                            split=split, item=item.stem, reason=AuditReason.IMAGE_ID_RENUMBERED,
                            message=_taken_message("image", item.image_id, image_id),
                        )  # fmt: skip
                    ann_ids = _annotation_ids(item, annotation_ids, audit)
                    written = _write_item(writer, item, image_id, ann_ids, class_ids, name)
                    boxes += len(item.boxes) - len(item.box_masks)
                    audit.items_written += 1
                    audit.annotations_written += written
                writer.close()
                writer = None
                next_image_id, next_annotation_id = image_ids.next_new, annotation_ids.next_new
        finally:
            if writer is not None:
                writer.abort()
        check_something_written(audit, source)
        if boxes:
            audit.record_change(
                split=None, item="*", kind="dataset", reason=AuditReason.BOX_AS_RECTANGLE,
                message=f"{boxes} box(es) written with their rectangle as segmentation, so "
                "pycocotools' mask tools (annToMask, COCOeval segm) accept them",
            )  # fmt: skip
        summary = audit.close()
    names = sorted(class_ids)
    return ConversionResult(
        path=str(out),
        config_path=str(out / _ANNOTATIONS_DIR),
        format="coco",
        is_categorized=layout.is_categorized,
        source_path=str(source),
        classes=names,
        splits=[s for s in layout.splits if s is not None],
        audit_path=str(audit.path),
        audit=summary,
    )


def _single_split(layout: DMv2Layout, split: str | None) -> DMv2Layout:
    return DMv2Layout(layout.root, layout.is_categorized, (split,))
