"""COCO: writing a DM v2 dataset as COCO instances, and importing COCO back to DM v2.

Output layout (a flat dataset has no split level and one ``instances.json``)::

    images/<split>/<stem>.<ext>            the images (hard links to the source when possible)
    annotations/instances_<split>.json     images, annotations, categories
    audit.json                             what was skipped, and why

A box becomes an annotation with ``bbox`` ``[x, y, w, h]``, ``area`` ``w*h`` and an empty
``segmentation``; a polygon becomes an annotation with ``segmentation`` ``[[x1, y1, ...]]``, its
bounding box and its shoelace area. ``iscrowd`` is 0. Category ids are 1 + the index of the
sorted class names, the same for every split. The instances file is streamed: images are written
as they come and annotations are spooled to disk, so memory does not grow with the dataset.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, Final

from pydantic import ValidationError

from ._audit import AuditLog, AuditReason
from ._convert import ConversionResult, fresh_output
from ._dmv2 import BoundingBox, DMv2Image, DMv2Item, Polygon, _polygon_area
from ._source import (
    CheckedShapes,
    DatasetInputError,
    DMv2Layout,
    NoUsableItemsError,
    check_something_written,
    detect_layout,
    image_size_or_skip,
    iter_checked_shapes,
    link_or_copy,
    resolve_classes,
    validation_message,
    write_dmv2_item,
    write_manifest,
)

__all__ = [
    "coco_to_dmv2",
    "dmv2_to_coco",
]

_ANNOTATIONS_DIR: Final = "annotations"


# Pixel values with 10 significant digits (sub-micro-pixel for any real image size): several
# times cheaper than repr() for arbitrary floats, and valid JSON for the finite values that
# reach a writer ("%g" drops trailing zeros, so integral values print as integers).
_BOX_TEMPLATE: Final = (
    '  {"id": %d, "image_id": %d, "category_id": %d, "bbox": [%.10g, %.10g, %.10g, %.10g], '
    '"area": %.10g, "segmentation": [], "iscrowd": 0}'
)
_POLYGON_HEAD: Final = (
    '  {"id": %d, "image_id": %d, "category_id": %d, "bbox": [%.10g, %.10g, %.10g, %.10g], '
    '"area": %.10g, "segmentation": [['
)


@functools.lru_cache(maxsize=64)
def _polygon_template(points: int) -> str:
    # One template per vertex count, so a polygon's numbers are formatted in a single % call.
    return _POLYGON_HEAD + ", ".join(["%.10g, %.10g"] * points) + ']], "iscrowd": 0}'



_PLAIN_JSON_TEXT: Final = re.compile(r"[ !#-\[\]-~]*")


def _json_string(text: str) -> str:
    # File names are nearly always plain ASCII, which needs only quotes; json.dumps otherwise.
    return f'"{text}"' if _PLAIN_JSON_TEXT.fullmatch(text) else json.dumps(text)


# Items formatted between two writes: fewer, larger writes, with a small bounded buffer (tens of
# kilobytes) so peak memory stays flat.
_BATCH_ITEMS: Final = 16


class _InstancesWriter:
    """Streams one ``instances*.json``: images now, annotations spooled, categories at the end."""

    def __init__(self, path: Path, categories: Sequence[str]) -> None:
        self.path = path
        self.spool_path = path.with_suffix(".annotations.spool")
        # Binary files fed with one encoded batch at a time: the spool is copied back by the
        # kernel (sendfile), never decoded and encoded again.
        self._out: IO[bytes] = path.open("wb")
        self._spool: IO[bytes] = self.spool_path.open("wb")
        self._categories = categories
        self._images: list[str] = []
        self._annotations: list[str] = []
        self._pending = 0
        self._image_sep = ""
        self._ann_sep = ""
        self._out.write(
            b'{"info": {"description": "written by steprail"}, "licenses": [],\n "images": [\n'
        )

    def item(self, image_id: int, file_name: str, width: int, height: int, anns: str) -> None:
        """Add one image and its already formatted annotation objects (``anns``, joined by
        ``",\\n"``, empty when it has none; see ``_BOX_TEMPLATE``)."""
        self._images.append(
            f'{self._image_sep}  {{"id": {image_id}, "file_name": {_json_string(file_name)}, '
            f'"width": {width}, "height": {height}}}'
        )
        self._image_sep = ",\n"
        if anns:
            self._annotations.append(self._ann_sep + anns)
            self._ann_sep = ",\n"
        self._pending += 1
        if self._pending >= _BATCH_ITEMS:
            self._flush()

    def _flush(self) -> None:
        self._out.write("".join(self._images).encode("utf-8"))
        self._spool.write("".join(self._annotations).encode("utf-8"))
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
        categories = [
            {"id": index + 1, "name": name, "supercategory": "none"}
            for index, name in enumerate(self._categories)
        ]
        self._out.write(
            ('\n ],\n "categories": ' + json.dumps(categories) + "\n}\n").encode("utf-8")
        )
        self._out.close()
        os.unlink(self.spool_path)

    def abort(self) -> None:
        self._spool.close()
        self._out.close()
        self.spool_path.unlink(missing_ok=True)


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


def _write_item(
    writer: _InstancesWriter,
    item: CheckedShapes,
    image_id: int,
    next_ann_id: int,
    class_ids: dict[str, int],
) -> int:
    # The hot loop of COCO output: one string per item, numbers through %-formatting (C speed).
    parts: list[str] = [
        _BOX_TEMPLATE % (next_ann_id + index, image_id, class_ids[name], x, y, bw, bh, bw * bh)
        for index, (name, (x, y, bw, bh)) in enumerate(item.boxes)
    ]
    next_ann_id += len(parts)
    for name, points, (left, top, right, bottom) in item.polygons:
        flat = [c for point in points for c in point]
        parts.append(
            _polygon_template(len(points))
            % (
                next_ann_id,
                image_id,
                class_ids[name],
                left,
                top,
                right - left,
                bottom - top,
                _polygon_area(flat[0::2], flat[1::2]),
                *flat,
            )
        )
        next_ann_id += 1
    writer.item(image_id, item.image_name, item.width, item.height, ",\n".join(parts))
    return next_ann_id


def dmv2_to_coco(
    source: Path, output: Path, *, splits: Sequence[str] | None = None
) -> ConversionResult:
    """Convert the DM v2 dataset at ``source`` into a new COCO dataset at ``output``.

    Same contract as :func:`~steprail.datasets.dmv2_to_yolo`: streaming, bad input skipped and
    audited, nothing left behind on failure.
    """
    layout = detect_layout(source, splits)
    names = resolve_classes(layout)
    class_ids = {name: index + 1 for index, name in enumerate(names)}
    with fresh_output(output) as out, AuditLog(
        out, source=str(source), target_format="coco"
    ) as audit:
        annotations_dir = out / _ANNOTATIONS_DIR
        annotations_dir.mkdir()
        image_id = 1
        ann_id = 1
        writer: _InstancesWriter | None = None
        try:
            for split in layout.splits:
                images_dir = out / "images" if split is None else out / "images" / split
                images_dir.mkdir(parents=True)
                images_str = str(images_dir)
                file_name = "instances.json" if split is None else f"instances_{split}.json"
                writer = _InstancesWriter(annotations_dir / file_name, names)
                for item in iter_checked_shapes(
                    _single_split(layout, split), audit, class_ids
                ):
                    link_or_copy(item.image_path, os.path.join(images_str, item.image_name))
                    before = ann_id
                    ann_id = _write_item(writer, item, image_id, ann_id, class_ids)
                    image_id += 1
                    audit.items_written += 1
                    audit.annotations_written += ann_id - before
                writer.close()
                writer = None
        finally:
            if writer is not None:
                writer.abort()
        check_something_written(audit, source)
        summary = audit.close()
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


def coco_to_dmv2(source: Path, output: Path) -> ConversionResult:
    """Import the COCO dataset at ``source`` (a folder with ``annotations/`` and ``images/``).

    Every ``annotations/instances*.json`` is one split (``instances_<split>.json``; a single
    ``instances.json`` gives a flat dataset); its images are looked for in ``images/<split>/``,
    then ``images/``, then ``<split>/``. An annotation with a polygon ``segmentation`` becomes a
    DM v2 polygon (one per ring), any other becomes a box from its ``bbox``. Unlike the writers,
    this loads one instances file at a time into memory, as every COCO reader does.
    """
    annotations_dir = source / _ANNOTATIONS_DIR
    files = sorted(annotations_dir.glob("instances*.json")) if annotations_dir.is_dir() else []
    if not files:
        raise DatasetInputError(f"no annotations/instances*.json in {str(source)!r}")
    # (DM v2 split, the name in the file name, the file): "val" files give the "valid" split.
    plan: list[tuple[str | None, str | None, Path]] = []
    for path in files:
        raw = path.stem.removeprefix("instances_") if path.stem.startswith("instances_") else None
        plan.append(("valid" if raw == "val" else raw, raw, path))
    if len(plan) > 1 and any(split is None for split, _, _ in plan):
        raise DatasetInputError(
            f"{str(source)!r} mixes instances.json with per-split instances files"
        )
    all_names: set[str] = set()
    with fresh_output(output) as out, AuditLog(
        out, source=str(source), target_format="dm_v2"
    ) as audit:
        for split, raw_split, path in plan:
            candidates = [
                source / "images" / raw_split if raw_split else source / "images",
                source / "images",
                source / raw_split if raw_split else source,
            ]
            images_dir = next((c for c in candidates if c.is_dir()), candidates[0])
            _import_instances(path, images_dir, out, split, audit, all_names)
        if audit.items_written == 0:
            raise NoUsableItemsError(f"no usable image in the COCO dataset {str(source)!r}")
        write_manifest(out, sorted(all_names), audit.items_written)
        summary = audit.close()
    return ConversionResult(
        path=str(out),
        config_path=str(out / "dataset.json"),
        format="dm_v2",
        is_categorized=plan[0][0] is not None,
        source_path=str(source),
        classes=sorted(all_names),
        splits=[s for s, _, _ in plan if s is not None],
        audit_path=str(audit.path),
        audit=summary,
    )


def _import_instances(
    path: Path,
    images_dir: Path,
    out: Path,
    split: str | None,
    audit: AuditLog,
    all_names: set[str],
) -> None:
    try:
        data = json.loads(path.read_bytes())
    except ValueError as exc:
        raise DatasetInputError(f"{str(path)!r} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise DatasetInputError(f"{str(path)!r} has no 'images' list")
    categories = {
        c["id"]: str(c["name"])
        for c in data.get("categories", [])
        if isinstance(c, dict) and "id" in c and "name" in c
    }
    by_image: defaultdict[object, list[dict[str, Any]]] = defaultdict(list)
    for ann in data.get("annotations", []):
        if isinstance(ann, dict):
            by_image[ann.get("image_id")].append(ann)
    for image in data["images"]:
        audit.items_total += 1
        if not isinstance(image, dict) or "file_name" not in image:
            audit.record(
                split=split,
                item=str(image)[:60],
                reason=AuditReason.INVALID_ITEM,
                message="image entry without file_name",
            )
            continue
        file_name = str(image["file_name"])
        image_path = images_dir / file_name
        stem = Path(file_name).stem
        if not image_path.is_file():
            audit.record(
                split=split,
                item=stem,
                reason=AuditReason.MISSING_IMAGE,
                message=f"{file_name} not found in {images_dir}",
            )
            continue
        width, height = image.get("width"), image.get("height")
        if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
            size = image_size_or_skip(image_path, file_name, audit, split, stem)
            if size is None:
                continue
            width, height = size
        boxes: list[BoundingBox] = []
        polygons: list[Polygon] = []
        for ann in by_image.get(image.get("id"), []):
            ann_id = str(ann.get("id"))
            name = categories.get(ann.get("category_id"))
            if name is None:
                audit.record(
                    split=split,
                    item=stem,
                    annotation=ann_id,
                    kind="annotation",
                    reason=AuditReason.MISSING_CLASS,
                    message=f"category_id {ann.get('category_id')!r} is not in categories",
                )
                continue
            segmentation = ann.get("segmentation")
            rings = (
                [r for r in segmentation if isinstance(r, list) and r]
                if isinstance(segmentation, list)
                else []
            )
            try:
                if rings:
                    for index, ring in enumerate(rings):
                        points = [(ring[i], ring[i + 1]) for i in range(0, len(ring) - 1, 2)]
                        polygons.append(
                            Polygon.model_validate(
                                {
                                    "id": ann_id if len(rings) == 1 else f"{ann_id}.{index}",
                                    "classification": name,
                                    "data": points,
                                }
                            )
                        )
                else:
                    boxes.append(
                        BoundingBox.model_validate(
                            {"id": ann_id, "classification": name, "data": ann.get("bbox")}
                        )
                    )
            except ValidationError as exc:
                audit.record(
                    split=split,
                    item=stem,
                    annotation=ann_id,
                    kind="polygon" if rings else "box",
                    reason=AuditReason.INVALID_ANNOTATION,
                    message=validation_message(exc),
                )
                continue
            all_names.add(name)
        item = DMv2Item(
            images=[DMv2Image(width=width, height=height, bounding_box=boxes, polygon=polygons)]
        )
        write_dmv2_item(out, split, stem, item, image_path)
        audit.items_written += 1
        audit.annotations_written += len(boxes) + len(polygons)
