"""Reading and writing DM v2 folders item by item, with every check that can skip something.

Readers stream: one item's JSON is read, validated and handed on before the next is touched, and
the folder is walked with ``os.scandir`` without collecting its names, so memory does not grow
with the dataset's size.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from types import MappingProxyType
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ._audit import AuditLog, AuditReason
from ._convert import write_whole_file
from ._dmv2 import (
    DMV2_SCHEMA_VERSION,
    DMV2_SPLITS,
    IMAGE_EXTENSIONS,
    BoundingBox,
    DMv2Category,
    DMv2Image,
    DMv2Item,
    DMv2Keypoints,
    DMv2Source,
    Polygon,
    RleMask,
    _LeanBox,
    _LeanImage,
    _LeanPolygon,
    _LEAN_ITEM,
)
from ._paths import UnsafePathError, inside_root
from ._regular import special_file_problem
from ._rle import rle_problem

__all__ = [
    "CheckedItem",
    "CheckedShapes",
    "DMv2Layout",
    "DMv2Manifest",
    "DatasetInputError",
    "FileTooLargeError",
    "ItemListing",
    "MANIFEST_FILE_NAME",
    "MAX_ITEM_BYTES",
    "NoUsableItemsError",
    "ShapeExtras",
    "annotation_reason",
    "audit_unlisted_originals",
    "check_something_written",
    "checked_box",
    "checked_declared_size",
    "detect_layout",
    "find_image",
    "image_size",
    "image_size_or_skip",
    "iter_checked_items",
    "iter_checked_shapes",
    "link_or_copy",
    "list_item_files",
    "read_manifest",
    "read_small_file",
    "refuse_output_inside",
    "scan_classes",
    "split_folders",
    "validation_message",
    "write_dmv2_item",
    "write_manifest",
    "write_small_file",
]

#: An optional file at a DM v2 root listing its classes, so converters need not pre-scan.
MANIFEST_FILE_NAME: Final = "dataset.json"

# An item JSON larger than this is recorded as too large, never read: real items are kilobytes.
MAX_ITEM_BYTES: Final = 64 << 20

_NO_INDEXES: Final[frozenset[int]] = frozenset()
_NO_ENTRIES: Final[Mapping[Any, Any]] = MappingProxyType({})

# Coordinates this close outside the image (in pixels) are float noise, not a bad annotation.
_EDGE_TOLERANCE: Final = 1e-3
# Annotations reaching up to this fraction of the image size past its edge (tools export points a
# fraction of a pixel outside; Ultralytics accepts 1%) are clipped to the image and the change is
# audited; further out, they are skipped and audited.
_CLIP_FRACTION: Final = 0.01


class DatasetInputError(ValueError):
    """The input folder is missing or is not a dataset of the expected format."""


class NoUsableItemsError(ValueError):
    """Every item of the input was skipped: there is nothing to write."""


class DMv2Manifest(BaseModel):
    """The optional ``dataset.json`` at a DM v2 root.

    ``classes`` lists the class names (sorted); ``categories`` (schema 2.1) is the class map with
    the ids the source gave them, unused classes and gaps included; ``next_image_id`` is the
    first image id above every id the items carry, for items that need a new one.
    """

    model_config = ConfigDict(extra="ignore")

    format: str = "dm_v2"
    version: str = "2.0"
    classes: list[str] = Field(default_factory=list)
    categories: list[DMv2Category] = Field(default_factory=list)
    count: int | None = None
    next_image_id: int | None = None
    next_annotation_id: int | None = None
    keypoints: DMv2Keypoints | None = None


@dataclass(frozen=True, slots=True)
class DMv2Layout:
    """Where a DM v2 dataset keeps its items: ``splits`` holds ``None`` for a flat dataset."""

    root: Path
    is_categorized: bool
    splits: tuple[str | None, ...]

    def split_dir(self, split: str | None) -> Path:
        """The folder holding ``json/`` and ``original_files/`` for ``split``."""
        return self.root if split is None else self.root / split


@dataclass(slots=True)
class CheckedItem:
    """One item that passed the checks, with only its usable annotations."""

    split: str | None
    stem: str
    image_path: str
    image_name: str
    width: int
    height: int
    boxes: list[BoundingBox]
    polygons: list[Polygon]
    source: DMv2Source | None = None


type _CheckedPolygon = tuple[str, list[tuple[float, float]], tuple[float, float, float, float]]


@dataclass(slots=True)
class CheckedShapes:
    """One item that passed the checks, as only the class name and data of its usable
    annotations: ``boxes`` holds ``(name, (x, y, width, height))``, ``polygons``
    ``(name, [(x, y), ...], (min x, min y, max x, max y))``."""

    split: str | None
    stem: str
    image_path: str
    image_name: str
    width: int
    height: int
    boxes: list[tuple[str, tuple[float, float, float, float]]]
    polygons: list[_CheckedPolygon]
    #: The annotations' ids, in the order of ``boxes`` and of ``polygons``.
    box_ids: list[str]
    polygon_ids: list[str]
    #: What few items have (rings, stored values, keypoints, crowds), or ``None``.
    extras: ShapeExtras | None = None
    #: The item's identity and source image id (``DMv2Source``), when it has them.
    file_name: str | None = None
    image_id: int | None = None
    #: Each polygon's vertex xs and ys, in the order of ``polygons``: split once by the check,
    #: kept so the COCO writer's shoelace area need not split the vertices again.
    polygon_coords: list[tuple[tuple[float, ...], tuple[float, ...]]] = field(
        default_factory=list
    )

    # The extras, empty when the item has none: writers read these without a check.
    @property
    def rings(self) -> Mapping[int, list[list[tuple[float, float]]]]:
        """Further rings of multi-part polygons, by index in ``polygons``."""
        return self.extras.rings if self.extras is not None else _NO_ENTRIES

    @property
    def polygon_stored(
        self,
    ) -> Mapping[int, tuple[tuple[float, float, float, float] | None, float | None]]:
        """(stored bbox or None, stored area or None) by index in ``polygons``."""
        return self.extras.polygon_stored if self.extras is not None else _NO_ENTRIES

    @property
    def box_areas(self) -> Mapping[int, float]:
        """The stored area of boxes, by index in ``boxes``."""
        return self.extras.box_areas if self.extras is not None else _NO_ENTRIES

    @property
    def box_keypoints(self) -> Mapping[int, list[tuple[float, float, int]]]:
        """Keypoints ``[(x, y, visibility), ...]`` by index in ``boxes``."""
        return self.extras.box_keypoints if self.extras is not None else _NO_ENTRIES

    @property
    def polygon_keypoints(self) -> Mapping[int, list[tuple[float, float, int]]]:
        """Keypoints by index in ``polygons``."""
        return self.extras.polygon_keypoints if self.extras is not None else _NO_ENTRIES

    @property
    def box_masks(self) -> Mapping[int, RleMask]:
        """The RLE mask of boxes that have one, by index in ``boxes``."""
        return self.extras.box_masks if self.extras is not None else _NO_ENTRIES

    @property
    def crowd_boxes(self) -> AbstractSet[int]:
        """Indexes in ``boxes`` of crowd regions."""
        return self.extras.crowd_boxes if self.extras is not None else _NO_INDEXES

    @property
    def crowd_polygons(self) -> AbstractSet[int]:
        """Indexes in ``polygons`` of crowd regions."""
        return self.extras.crowd_polygons if self.extras is not None else _NO_INDEXES


@dataclass(slots=True)
class ShapeExtras:
    """What few items carry beyond class and shape, by index in the item's boxes or polygons:
    further rings, the source's stored bbox/area, keypoints and crowd regions."""

    rings: dict[int, list[list[tuple[float, float]]]] = field(default_factory=dict)
    polygon_stored: dict[
        int, tuple[tuple[float, float, float, float] | None, float | None]
    ] = field(default_factory=dict)
    box_areas: dict[int, float] = field(default_factory=dict)
    box_keypoints: dict[int, list[tuple[float, float, int]]] = field(default_factory=dict)
    polygon_keypoints: dict[int, list[tuple[float, float, int]]] = field(default_factory=dict)
    box_masks: dict[int, RleMask] = field(default_factory=dict)
    crowd_boxes: set[int] = field(default_factory=set)
    crowd_polygons: set[int] = field(default_factory=set)


def detect_layout(root: Path, splits: Sequence[str] | None = None) -> DMv2Layout:
    """Find whether ``root`` is a flat or a categorized DM v2 dataset.

    ``splits`` restricts a categorized dataset to those splits (each must exist).
    Raises :class:`DatasetInputError` naming the folder when it is neither.
    """
    if not root.is_dir():
        raise DatasetInputError(f"dataset folder {str(root)!r} does not exist")
    present = tuple(s for s in DMV2_SPLITS if (root / s / "json").is_dir())
    if present:
        if splits is not None:
            unknown = [s for s in splits if s not in present]
            if unknown:
                raise DatasetInputError(
                    f"split(s) {unknown} not found in {str(root)!r} (it has {list(present)})"
                )
            present = tuple(s for s in present if s in splits)
        return DMv2Layout(root, True, present)
    if (root / "json").is_dir():
        return DMv2Layout(root, False, (None,))
    raise DatasetInputError(
        f"{str(root)!r} is not a DM v2 dataset: expected json/ or train|valid|test/json/ in it"
    )


def read_manifest(root: Path) -> DMv2Manifest | None:
    """The root's ``dataset.json``, or ``None`` if absent or unreadable; raises
    :class:`DatasetInputError` when it is not a regular file (a FIFO would block)."""
    path = root / MANIFEST_FILE_NAME
    problem = special_file_problem(path)
    if problem is not None:
        raise DatasetInputError(f"DM v2 manifest {str(path)!r} {problem}")
    try:
        return DMv2Manifest.model_validate_json(path.read_bytes())
    except (OSError, ValidationError):
        return None


def write_manifest(
    root: Path,
    classes: Sequence[str],
    count: int,
    *,
    categories: Sequence[DMv2Category] = (),
    next_image_id: int | None = None,
    keypoints: DMv2Keypoints | None = None,
    next_annotation_id: int | None = None,
) -> None:
    """Write ``dataset.json`` (schema 2.1) at a DM v2 root."""
    manifest = DMv2Manifest(
        version=DMV2_SCHEMA_VERSION,
        classes=sorted(set(classes) | {c.name for c in categories}),
        categories=sorted(categories, key=lambda c: c.id),
        count=count,
        next_image_id=next_image_id,
        next_annotation_id=next_annotation_id,
        keypoints=keypoints,
    )
    write_whole_file(root / MANIFEST_FILE_NAME, manifest.model_dump_json(indent=2))


def _iter_json(folder: Path) -> Iterator[os.DirEntry[str]]:
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.endswith(".json") and entry.is_file():
                yield entry


def _class_names(raw: object) -> Iterator[str]:
    # Whatever class names a parsed item JSON holds, ignoring every part of the wrong shape.
    images = raw.get("images") if isinstance(raw, dict) else None
    for image in images if isinstance(images, list) else ():
        if not isinstance(image, dict):
            continue
        for key in ("bounding_box", "polygon"):
            anns = image.get(key)
            for ann in anns if isinstance(anns, list) else ():
                name = ann.get("classification") if isinstance(ann, dict) else None
                if isinstance(name, str) and name.strip():
                    yield name


def scan_classes(layout: DMv2Layout) -> list[str]:
    """Every class name used in the dataset, sorted (a quick pass that tolerates bad items)."""
    names: set[str] = set()
    for split in layout.splits:
        for entry in _iter_json(layout.split_dir(split) / "json"):
            try:
                raw = json.loads(read_small_file(entry.path))
            except (OSError, ValueError, RecursionError):
                continue
            names.update(_class_names(raw))
    return sorted(names)


def find_image(original_files: str, stem: str, hint: str) -> str | None:
    """The image ``original_files/<stem>.<ext>``; ``hint`` (the last extension seen) first."""
    base = os.path.join(original_files, stem)
    return base + hint if os.path.isfile(base + hint) else _find_other_image(base, hint)


def _find_other_image(base: str, hint: str) -> str | None:
    # ``base`` with any image extension but ``hint``, which the caller has tried already.
    for ext in IMAGE_EXTENSIONS:
        if ext != hint and os.path.isfile(base + ext):
            return base + ext
    return None


_PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
_READ_FLAGS: Final = os.O_RDONLY | getattr(os, "O_BINARY", 0)
# Where the system has it, opening a symlink with this flag fails: a read that succeeds proves the
# file is not one, with no lstat of its own.
_NO_FOLLOW: Final[int] = getattr(os, "O_NOFOLLOW", 0)
_READ_NO_FOLLOW_FLAGS: Final = _READ_FLAGS | _NO_FOLLOW
_WRITE_FLAGS: Final = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
_NEW_FILE_FLAGS: Final = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


# Converters open three small files per item. Plain os-level calls skip the buffered-file layers
# of open(), which cost more than the I/O itself for files of a few kilobytes.
class FileTooLargeError(OSError):
    """A file is larger than the reader accepts."""


_FIRST_READ: Final = 1 << 16


def read_small_file(
    path: str, limit: int = -1, *, max_size: int | None = None, follow_symlinks: bool = True
) -> bytes:
    """The whole file (or its first ``limit`` bytes); :class:`FileTooLargeError` when it is
    larger than ``max_size``. ``follow_symlinks=False``: an ``OSError`` when ``path`` is itself
    a symlink, where the system can tell (``O_NOFOLLOW``)."""
    fd = os.open(path, _READ_FLAGS if follow_symlinks else _READ_NO_FOLLOW_FLAGS)
    try:
        if limit < 0:
            # Item files are a few kilobytes: one read of _FIRST_READ bytes usually gets all of
            # one, and a read shorter than asked ends a regular file, so no fstat is needed.
            data = os.read(fd, _FIRST_READ)
            if len(data) < _FIRST_READ and (max_size is None or len(data) <= max_size):
                return data
            limit = os.fstat(fd).st_size  # the rest in one right-sized read, no chunk buffers
            if max_size is not None and limit > max_size:
                raise FileTooLargeError(f"{limit} bytes, more than the {max_size} accepted")
        else:
            data = os.read(fd, limit)
        # A file that grew since fstat (or a short read) is finished in chunks.
        while len(data) < limit and (chunk := os.read(fd, limit - len(data))):
            data += chunk
        return data
    finally:
        os.close(fd)


def write_small_file(path: str, data: bytes, *, exclusive: bool = False) -> None:
    """Create or replace ``path`` with ``data``; ``exclusive``: create only (``FileExistsError``
    when it exists)."""
    fd = os.open(path, _NEW_FILE_FLAGS if exclusive else _WRITE_FLAGS, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def image_size(
    path: str | os.PathLike[str], *, follow_symlinks: bool = True
) -> tuple[int, int]:
    """``(width, height)`` from the image header, without decoding pixels.

    A PNG's size is read from its IHDR chunk directly (the common case, and ten times cheaper
    than building a Pillow image); every other file goes to Pillow, whose errors
    (``UnidentifiedImageError``, ``OSError``) mean an unreadable image.
    ``follow_symlinks=False``: an ``OSError`` when ``path`` is itself a symlink (as
    :func:`read_small_file`).
    """
    head = read_small_file(os.fspath(path), 24, follow_symlinks=follow_symlinks)
    if head[:8] == _PNG_SIGNATURE and head[12:16] == b"IHDR":
        width = int.from_bytes(head[16:20], "big")
        height = int.from_bytes(head[20:24], "big")
        if width > 0 and height > 0:
            return width, height
        raise ValueError(f"PNG header gives a {width}x{height} image")
    # Pillow is imported here, not with the module: it costs ~45 ms, and `steprail jobs list`
    # or a PNG-only dataset never needs it.
    from PIL import Image

    with Image.open(path) as image:
        width, height = image.size
    return int(width), int(height)


def image_size_or_skip(
    path: str | os.PathLike[str], name: str, audit: AuditLog, split: str | None, stem: str
) -> tuple[int, int] | None:
    """:func:`image_size`, or ``None`` once item ``stem`` is recorded in ``audit`` as an
    unreadable image (the message is the file's ``name`` and what is wrong with it)."""
    try:
        return image_size(path)
    except (OSError, ValueError) as exc:  # Pillow's UnidentifiedImageError is an OSError
        audit.record(
            split=split,
            item=stem,
            reason=AuditReason.UNREADABLE_IMAGE,
            message=f"{name}: {exc}",
        )
        return None


def refuse_output_inside(output: Path, *sources: Path) -> None:
    """Raise :class:`DatasetInputError` when ``output`` is (inside) one of ``sources``: the
    output's copies would become part of the input, read again by the next run over it."""
    out_real = os.path.realpath(output)
    for source in sources:
        root = os.path.realpath(source)
        if os.path.commonpath([root, out_real]) == root:
            raise DatasetInputError(
                f"output folder {str(output)!r} is inside the source dataset {str(source)!r}: "
                "a later run over the source would read the output's copies; write it elsewhere"
            )


def checked_declared_size(
    path: str | os.PathLike[str],
    declared: tuple[int, int],
    name: str,
    audit: AuditLog,
    split: str | None,
    stem: str,
) -> tuple[int, int] | None:
    """The size of an image whose source declares one (COCO ``width``/``height``, a DM v2
    item's stored size), checked against its header: ``None`` once recorded as an unreadable
    image (an empty file, not an image); the header's size, audited as ``image_size_mismatch``,
    when they differ, since the file is what every consumer decodes. A declared size that is
    the header's turned a quarter (a photo with an EXIF rotation) is kept as declared."""
    header = image_size_or_skip(path, name, audit, split, stem)
    if header is None:
        return None
    if header == declared or header == (declared[1], declared[0]):
        return declared
    audit.record_change(
        split=split, item=stem, reason=AuditReason.IMAGE_SIZE_MISMATCH,
        message=f"{name}: the source declares {declared[0]}x{declared[1]}, the image is "
        f"{header[0]}x{header[1]}: the image's size is used",
    )  # fmt: skip
    return header


def check_something_written(audit: AuditLog, source: Path) -> None:
    """Raise :class:`NoUsableItemsError` (with the skip counts) when a conversion of ``source``
    wrote no item."""
    if audit.items_written == 0:
        raise NoUsableItemsError(
            f"no usable item in {str(source)!r}: {audit.items_total} item(s), "
            f"all skipped ({dict(audit.reasons)})"
        )


_CLASS_ERRORS: Final = frozenset({"missing", "string_too_short", "string_pattern_mismatch"})


def annotation_reason(kind: str, error: ValidationError) -> AuditReason:
    """The audit reason for an annotation (``kind`` ``"box"`` or ``"polygon"``) that ``error``
    rejected: the specific reason where the first error has one, else ``INVALID_ANNOTATION``."""
    first = error.errors()[0]
    loc, kind_of_error = first["loc"], first["type"]
    if loc and loc[0] == "classification" and kind_of_error in _CLASS_ERRORS:
        return AuditReason.MISSING_CLASS
    if loc and loc[0] == "data":
        if kind_of_error == "finite_number":
            return (
                AuditReason.BOX_NON_FINITE if kind == "box" else AuditReason.POLYGON_NON_FINITE
            )
        if kind_of_error == "greater_than" and kind == "box":
            return AuditReason.BOX_NON_POSITIVE
        if kind_of_error == "polygon_too_few_points":
            return AuditReason.POLYGON_TOO_FEW_POINTS
    return AuditReason.INVALID_ANNOTATION


def validation_message(error: ValidationError) -> str:
    """``"<field path>: <message>"`` of the first error: what was wrong and where, in one line
    (``str(error)`` spans several lines and ends with a documentation link)."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else str(first["msg"])


def _salvage(raw_bytes: bytes, split: str | None, stem: str, audit: AuditLog) -> DMv2Item | None:
    """Slow path for an item that failed whole-item validation: keep what is valid."""
    try:
        raw = json.loads(raw_bytes)
    except ValueError as exc:
        audit.record(
            split=split, item=stem, reason=AuditReason.MALFORMED_JSON, message=str(exc)
        )
        return None
    except RecursionError:
        audit.record(
            split=split, item=stem, reason=AuditReason.ITEM_TOO_LARGE,
            message="the JSON is nested too deeply to parse",
        )  # fmt: skip
        return None
    source: DMv2Source | None = None
    if isinstance(raw, dict) and raw.get("source") is not None:
        try:
            source = DMv2Source.model_validate(raw["source"])
        except ValidationError as exc:
            unsafe = any(e["type"] == "unsafe_path" for e in exc.errors())
            audit.record(
                split=split,
                item=stem,
                reason=AuditReason.UNSAFE_PATH if unsafe else AuditReason.INVALID_ITEM,
                message=f"source.{validation_message(exc)}",
            )
            return None
    images = raw.get("images") if isinstance(raw, dict) else None
    if not isinstance(images, list) or not all(isinstance(i, dict) for i in images):
        audit.record(
            split=split,
            item=stem,
            reason=AuditReason.INVALID_ITEM,
            message="expected an object with an 'images' list of objects",
        )
        return None
    kept: list[DMv2Image] = []
    for index, image in enumerate(images):
        boxes: list[BoundingBox] = []
        polygons: list[Polygon] = []
        for key, kind, model in (
            ("bounding_box", "box", BoundingBox),
            ("polygon", "polygon", Polygon),
        ):
            anns = image.get(key, [])
            if not isinstance(anns, list):
                audit.record(
                    split=split,
                    item=stem,
                    reason=AuditReason.INVALID_ITEM,
                    message=f"images[{index}].{key} is not a list",
                )
                return None
            for position, ann in enumerate(anns):
                ann_id = (
                    str(ann.get("id")) if isinstance(ann, dict) and "id" in ann else f"#{position}"
                )
                try:
                    parsed = model.model_validate(ann)
                except ValidationError as exc:
                    audit.record(
                        split=split,
                        item=stem,
                        annotation=ann_id,
                        kind=kind,
                        reason=annotation_reason(kind, exc),
                        message=f"images[{index}].{key}[{position}].{validation_message(exc)}",
                    )
                    continue
                if isinstance(parsed, BoundingBox):
                    boxes.append(parsed)
                elif isinstance(parsed, Polygon):
                    polygons.append(parsed)
        try:
            header = DMv2Image.model_validate(
                {"width": image.get("width"), "height": image.get("height")}
            )
        except ValidationError as exc:
            audit.record(
                split=split,
                item=stem,
                reason=AuditReason.INVALID_ITEM,
                message=f"images[{index}].{validation_message(exc)}",
            )
            return None
        kept.append(
            DMv2Image(
                width=header.width, height=header.height, bounding_box=boxes, polygon=polygons
            )
        )
    return DMv2Item(images=kept, source=source)


def _clamped_box_data(
    data: tuple[float, float, float, float], width: int, height: int
) -> tuple[float, float, float, float]:
    x, y, w, h = data
    x0, y0 = min(max(x, 0.0), width), min(max(y, 0.0), height)
    x1, y1 = min(max(x + w, 0.0), width), min(max(y + h, 0.0), height)
    if x1 <= x0 or y1 <= y0:  # a sliver in the tolerance band: keep it, 1e-9 wide
        x1, y1 = max(x1, x0 + 1e-9), max(y1, y0 + 1e-9)
    return (x0, y0, x1 - x0, y1 - y0)


def _unknown_class(name: str) -> str:
    return f"class {name!r} is not in the class list"


def _checked_box(
    audit: AuditLog,
    split: str | None,
    stem: str,
    ann_id: str,
    name: str,
    data: tuple[float, float, float, float],
    classes: Mapping[str, int] | None,
    width: int,
    height: int,
) -> tuple[float, float, float, float] | None:
    # A box's data as written (snapped inside when within the edge tolerance), or None once its
    # skip is recorded. Both readers below use it, so their reasons and messages are the same.
    if classes is not None and name not in classes:
        audit.record(
            split=split, item=stem, annotation=ann_id, kind="box",
            reason=AuditReason.UNKNOWN_CLASS, message=_unknown_class(name),
        )  # fmt: skip
        return None
    x, y, w, h = data
    margin_x = max(_EDGE_TOLERANCE, _CLIP_FRACTION * width)
    margin_y = max(_EDGE_TOLERANCE, _CLIP_FRACTION * height)
    if not (
        -margin_x <= x
        and -margin_y <= y
        and x + w <= width + margin_x
        and y + h <= height + margin_y
    ):
        audit.record(
            split=split, item=stem, annotation=ann_id, kind="box",
            reason=AuditReason.BOX_OUTSIDE_IMAGE,
            message=f"box {list(data)} is outside the {width}x{height} image",
        )  # fmt: skip
        return None
    if x < 0.0 or y < 0.0 or x + w > width or y + h > height:
        low = -_EDGE_TOLERANCE
        if not (
            low <= x
            and low <= y
            and x + w <= width + _EDGE_TOLERANCE
            and y + h <= height + _EDGE_TOLERANCE
        ):
            audit.record_change(
                split=split, item=stem, annotation=ann_id, kind="box",
                reason=AuditReason.CLAMPED_TO_IMAGE,
                message=f"box {list(data)} reaches past the {width}x{height} image: clipped",
            )  # fmt: skip
        return _clamped_box_data(data, width, height)  # float noise is snapped without a word
    return data


#: The box check every reader and writer shares (an importer passes ``classes=None``): a box
#: further outside the image than the tolerance is ``box_outside_image``, a closer one clipped.
checked_box = _checked_box


def _checked_polygon(
    audit: AuditLog,
    split: str | None,
    stem: str,
    ann_id: str,
    name: str,
    points: list[tuple[float, float]],
    classes: Mapping[str, int] | None,
    width: int,
    height: int,
) -> list[tuple[float, float]] | None:
    # The polygon counterpart of _checked_box.
    if classes is not None and name not in classes:
        audit.record(
            split=split, item=stem, annotation=ann_id, kind="polygon",
            reason=AuditReason.UNKNOWN_CLASS, message=_unknown_class(name),
        )  # fmt: skip
        return None
    if not _points_near(points, width, height):
        audit.record(
            split=split, item=stem, annotation=ann_id, kind="polygon",
            reason=AuditReason.POLYGON_OUTSIDE_IMAGE,
            message=f"a polygon point is outside the {width}x{height} image",
        )  # fmt: skip
        return None
    if not all(0.0 <= px <= width and 0.0 <= py <= height for px, py in points):
        _note_clipped(audit, split, stem, ann_id, points, width, height)
        return [(min(max(px, 0.0), width), min(max(py, 0.0), height)) for px, py in points]
    return points


def _points_near(points: list[tuple[float, float]], width: int, height: int) -> bool:
    margin_x = max(_EDGE_TOLERANCE, _CLIP_FRACTION * width)
    margin_y = max(_EDGE_TOLERANCE, _CLIP_FRACTION * height)
    low_x, low_y, high_x, high_y = -margin_x, -margin_y, width + margin_x, height + margin_y
    return all(low_x <= px <= high_x and low_y <= py <= high_y for px, py in points)


def _note_clipped(
    audit: AuditLog,
    split: str | None,
    stem: str,
    ann_id: str,
    points: list[tuple[float, float]],
    width: int,
    height: int,
) -> None:
    # Points moved onto the edge from further than float noise are a change worth an entry.
    low, high_x, high_y = -_EDGE_TOLERANCE, width + _EDGE_TOLERANCE, height + _EDGE_TOLERANCE
    if not all(low <= px <= high_x and low <= py <= high_y for px, py in points):
        audit.record_change(
            split=split, item=stem, annotation=ann_id, kind="polygon",
            reason=AuditReason.CLAMPED_TO_IMAGE,
            message=f"polygon points past the {width}x{height} image moved onto its edge",
        )  # fmt: skip


# (image entries, (width, height) when the item gives it, (identity, source image id)).
type _Parsed[T] = tuple[list[T], tuple[int, int] | None, tuple[str | None, int | None]]
type _Parser[T] = Callable[[bytes, str | None, str, AuditLog], _Parsed[T] | None]


def _checked_rings(
    audit: AuditLog,
    split: str | None,
    stem: str,
    ann_id: str,
    rings: list[list[tuple[float, float]]],
    width: int,
    height: int,
) -> list[list[tuple[float, float]]] | None:
    # The further rings of a polygon, snapped inside when within the tolerance; None (recorded)
    # when one leaves the image: the object is one, so it is skipped whole.
    kept: list[list[tuple[float, float]]] = []
    for ring in rings:
        if not _points_near(ring, width, height):
            audit.record(
                split=split, item=stem, annotation=ann_id, kind="polygon",
                reason=AuditReason.POLYGON_OUTSIDE_IMAGE,
                message=f"a point of a further ring is outside the {width}x{height} image",
            )  # fmt: skip
            return None
        if not all(0.0 <= px <= width and 0.0 <= py <= height for px, py in ring):
            _note_clipped(audit, split, stem, ann_id, ring, width, height)
        kept.append(
            [(min(max(px, 0.0), width), min(max(py, 0.0), height)) for px, py in ring]
        )
    return kept


def _parse_models(
    raw: bytes, split: str | None, stem: str, audit: AuditLog
) -> _Parsed[DMv2Image] | None:
    try:
        item: DMv2Item | None = DMv2Item.model_validate_json(raw)
    except ValidationError:
        item = _salvage(raw, split, stem, audit)
    if item is None:
        return None
    source = item.source
    identity = (None, None) if source is None else (source.file_name, source.image_id)
    return item.images, item.size(), identity


def _lean_image(image: DMv2Image) -> _LeanImage:
    lean: _LeanImage = {
        "bounding_box": [
            {
                "id": b.id, "classification": b.classification, "data": b.data,
                "area": b.area, "keypoints": b.keypoints, "mask": b.mask, "crowd": b.crowd,
            }  # fmt: skip
            for b in image.bounding_box
        ],
        "polygon": [
            {
                "id": p.id, "classification": p.classification, "data": p.data,
                "rings": p.rings, "bbox": p.bbox, "area": p.area, "keypoints": p.keypoints,
                "crowd": p.crowd,
            }  # fmt: skip
            for p in image.polygon
        ],
    }
    if image.width is not None:
        lean["width"] = image.width
    if image.height is not None:
        lean["height"] = image.height
    return lean


def _parse_lean(
    raw: bytes, split: str | None, stem: str, audit: AuditLog
) -> _Parsed[_LeanImage] | None:
    identity: tuple[str | None, int | None] = (None, None)
    try:
        lean = _LEAN_ITEM.validate_json(raw)
        images = lean.get("images", [])
        source = lean.get("source")
        if source is not None:
            identity = (source.get("file_name"), source.get("image_id"))
    except ValidationError:
        # Something is wrong: the model path keeps what is valid and records the rest.
        item = _salvage(raw, split, stem, audit)
        if item is None:
            return None
        images = [_lean_image(image) for image in item.images]
        if item.source is not None:
            identity = (item.source.file_name, item.source.image_id)
    for image in images:
        width, height = image.get("width"), image.get("height")
        if width is not None and height is not None:
            return images, (width, height), identity
    return images, None, identity


def _unsafe_entry(
    root: Path, root_real: str, path: str, split: str | None, stem: str, audit: AuditLog
) -> bool:
    # True (and recorded) when ``path`` (under ``root``) is a symlink, or under one, that leaves
    # the root.
    try:
        inside_root(root_real, os.path.join(root_real, os.path.relpath(path, root)))
    except UnsafePathError as exc:
        audit.record(split=split, item=stem, reason=AuditReason.UNSAFE_PATH, message=str(exc))
        return True
    return False


class ItemListing:
    """Which item files of each split a check reads, for a run that checks part of a dataset
    (one shard of a sharded conversion): by default every ``json/*.json`` of the split.

    :func:`iter_checked_items` and :func:`iter_checked_shapes` given a listing read only the
    entries :meth:`entries` yields, and leave the split-wide check for images no item lists to
    the caller (it needs every shard's count): they store each split's count of items whose
    image was found in :attr:`matched` instead.
    """

    def __init__(self) -> None:
        #: Per split: the items whose image was found (each a different file of
        #: ``original_files/``).
        self.matched: dict[str | None, int] = {}

    def entries(self, layout: DMv2Layout, split: str | None) -> Iterator[os.DirEntry[str]]:
        """The item files of ``split`` to read, in the order the single-process run reads them."""
        return list_item_files(layout.split_dir(split) / "json")


def list_item_files(folder: Path) -> Iterator[os.DirEntry[str]]:
    """The ``*.json`` files of a ``json/`` folder, in the order a conversion reads them (the
    directory's own order: the same for an unchanged folder)."""
    return _iter_json(folder)


def split_folders(layout: DMv2Layout, split: str | None) -> tuple[str, str, bool]:
    """``split``'s ``original_files/`` (with a trailing separator) and ``json/`` folders, and
    whether both lie inside the dataset root (a folder that is a symlink out of the root makes
    every item in it unsafe, and its images are not even listed)."""
    folder = layout.split_dir(split)
    root_real = os.path.realpath(layout.root)
    # ".../original_files/": an image path is this + stem + extension (no join per item).
    originals = os.path.join(folder, "original_files", "")
    json_folder = os.path.join(folder, "json")
    folders_safe = all(
        _is_inside(root_real, os.path.join(root_real, os.path.relpath(f, layout.root)))
        for f in (json_folder, originals)
    )
    return originals, json_folder, folders_safe


def audit_unlisted_originals(
    layout: DMv2Layout, split: str | None, matched: int, audit: AuditLog
) -> None:
    """Record the images of ``split`` that no item lists, given how many items of the split
    found their image (what a sharded run does once every shard of the split is merged)."""
    originals, json_folder, folders_safe = split_folders(layout, split)
    if folders_safe:  # a folder leading out of the root is not even listed
        _audit_unlisted_originals(originals, json_folder, matched, split, audit)


def _iter_sized[T](
    layout: DMv2Layout, audit: AuditLog, parse: _Parser[T], listing: ItemListing | None = None
) -> Iterator[tuple[str | None, str, str, str, int, int, list[T], tuple[str | None, int | None]]]:
    # Every item that parses and has a readable image, with its size: (split, stem, image path,
    # image file name, width, height, its image entries, its source identity). Skips are
    # recorded in ``audit``. No file reached through a symlink leading out of the root is read.
    hint = ".jpg"
    root_real = os.path.realpath(layout.root)
    for split in layout.splits:
        folder = layout.split_dir(split)
        # Plain strings in this loop: pathlib objects cost more than the I/O for small items.
        # Folders that are symlinks out of the root make every item in them unsafe; checked once
        # here, so each item needs only an lstat of its own two files.
        originals, json_folder, folders_safe = split_folders(layout, split)
        matched = 0  # items whose image was found: each is a different file of original_files/
        entries = _iter_json(folder / "json") if listing is None else listing.entries(layout, split)
        for entry in entries:
            stem = entry.name[:-5]
            audit.items_total += 1
            if not folders_safe or entry.is_symlink():
                if _unsafe_entry(layout.root, root_real, entry.path, split, stem, audit):
                    continue
            try:
                raw_bytes = read_small_file(entry.path, max_size=MAX_ITEM_BYTES)
            except FileTooLargeError as exc:
                audit.record(
                    split=split, item=stem, reason=AuditReason.ITEM_TOO_LARGE,
                    message=f"json/{entry.name}: {exc}",
                )  # fmt: skip
                continue
            except OSError as exc:
                audit.record(
                    split=split, item=stem, reason=AuditReason.MALFORMED_JSON, message=str(exc)
                )
                continue
            parsed = parse(raw_bytes, split, stem, audit)
            if parsed is None:
                continue
            images, size, identity = parsed
            base = originals + stem
            candidate = base + hint
            image_path: str | None = None
            header_unread = size is not None  # a stored size is checked against the header
            not_a_link = False  # known without an lstat: the header was read without following
            if size is None:
                # Most items share the last item's extension: reading that header straight away
                # also proves the file exists (one open instead of a stat and an open), and, not
                # following a symlink, that it is none. A symlink fails here and takes the path
                # below, where it is checked before anything is read through it.
                try:
                    size = image_size(candidate, follow_symlinks=False)
                    image_path = candidate
                    not_a_link = _NO_FOLLOW != 0
                except (OSError, ValueError):  # Pillow's UnidentifiedImageError is an OSError
                    pass  # another extension, or unreadable: decided below with its message
            elif os.path.isfile(candidate):
                image_path = candidate
            if image_path is None:
                if size is None and os.path.isfile(candidate):
                    image_path = candidate  # there but unreadable: recorded below with its error
                else:
                    image_path = _find_other_image(base, hint)
            if image_path is None:
                audit.record(
                    split=split,
                    item=stem,
                    reason=AuditReason.MISSING_IMAGE,
                    message=f"no image original_files/{stem}.* beside json/{entry.name}",
                )
                continue
            matched += 1
            image_name = image_path[len(originals) :]
            hint = image_name[len(stem) :]
            if (
                not folders_safe or (not not_a_link and os.path.islink(image_path))
            ) and _unsafe_entry(
                layout.root, root_real, image_path, split, stem, audit
            ):
                continue
            if size is None:
                size = image_size_or_skip(image_path, image_name, audit, split, stem)
            elif header_unread:
                size = checked_declared_size(image_path, size, image_name, audit, split, stem)
            if size is None:
                continue
            yield split, stem, image_path, image_name, size[0], size[1], images, identity
        if listing is not None:
            listing.matched[split] = matched  # the caller checks unlisted images split-wide
        elif folders_safe:  # a folder leading out of the root is not even listed
            _audit_unlisted_originals(originals, json_folder, matched, split, audit)


_IMAGE_SUFFIXES: Final = frozenset(ext.lower() for ext in IMAGE_EXTENSIONS)


def _audit_unlisted_originals(
    originals: str, json_folder: str, matched: int, split: str | None, audit: AuditLog
) -> None:
    # Record every image of ``originals`` with no item ``json/<stem>.json``: not imported, so
    # counted as a skipped item (``unlisted_image``). Cheap in the common case: the folder's
    # entries are only counted (streamed, not collected: memory stays flat), and when there are
    # no more of them than items that found their image, each is some item's. Only otherwise
    # is each image's item looked for (one stat per image); the memory held is the unlisted
    # names alone.
    try:
        with os.scandir(originals) as entries:
            if sum(1 for _ in entries) <= matched:
                return
        with os.scandir(originals) as entries:
            images = [
                entry.name
                for entry in entries
                if os.path.splitext(entry.name)[1].lower() in _IMAGE_SUFFIXES
                and not entry.is_dir(follow_symlinks=False)
                and not os.path.isfile(
                    os.path.join(json_folder, os.path.splitext(entry.name)[0] + ".json")
                )
            ]
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in sorted(images):
        audit.items_total += 1
        audit.record(
            split=split, item=name, reason=AuditReason.UNLISTED_IMAGE,
            message=f"original_files/{name} has no item json/{os.path.splitext(name)[0]}.json: "
            "not imported",
        )  # fmt: skip


def _is_inside(root_real: str, path: str) -> bool:
    try:
        inside_root(root_real, path)
    except UnsafePathError:
        return False
    return True


def iter_checked_items(
    layout: DMv2Layout,
    audit: AuditLog,
    classes: Mapping[str, int] | None = None,
    listing: ItemListing | None = None,
) -> Iterator[CheckedItem]:
    """Yield every usable item of ``layout`` (those ``listing`` names, when given), recording
    each skip in ``audit``.

    Yielded boxes and polygons lie inside the image: those within the edge tolerance outside it
    are snapped in, so writers need no clamping.

    ``classes`` (name to id), when given, makes an annotation of any other class a skip.
    """
    for split, stem, image_path, image_name, width, height, images, identity in _iter_sized(
        layout, audit, _parse_models, listing
    ):
        boxes: list[BoundingBox] = []
        polygons: list[Polygon] = []
        for image in images:
            for box in image.bounding_box:
                data = _checked_box(
                    audit, split, stem, box.id, box.classification, box.data, classes,
                    width, height,
                )  # fmt: skip
                if data is not None:
                    boxes.append(
                        box
                        if data is box.data
                        else box.model_copy(update={"data": data, "area": None, "mask": None})
                    )
            for poly in image.polygon:
                points = _checked_polygon(
                    audit, split, stem, poly.id, poly.classification, poly.data, classes,
                    width, height,
                )  # fmt: skip
                if points is not None and poly.rings:
                    rings = _checked_rings(
                        audit, split, stem, poly.id, poly.rings, width, height
                    )
                    if rings is None:
                        continue
                    poly = poly.model_copy(update={"rings": rings})
                if points is not None:
                    polygons.append(
                        poly
                        if points is poly.data
                        else poly.model_copy(update={"data": points, "bbox": None, "area": None})
                    )
        source = None if identity == (None, None) else DMv2Source(
            file_name=identity[0], image_id=identity[1]
        )
        yield CheckedItem(
            split, stem, image_path, image_name, width, height, boxes, polygons, source
        )


def _drop_unreadable_mask(
    extras: ShapeExtras,
    index: int,
    audit: AuditLog,
    split: str | None,
    stem: str,
    ann_id: str,
    width: int,
    height: int,
) -> None:
    # A mask that does not decode to this image is dropped (the region stays, as its box):
    # written as it is, pycocotools' annToMask would raise on it.
    mask = extras.box_masks[index]
    problem = rle_problem(mask.counts, mask.size, width, height)
    if problem is not None:
        del extras.box_masks[index]
        audit.record_change(
            split=split, item=stem, annotation=ann_id, kind="box",
            reason=AuditReason.CROWD_AS_BOX,
            message=f"the RLE mask is unreadable ({problem}): the region is kept as its box",
        )  # fmt: skip


def _box_extras(
    box: _LeanBox, unchanged: bool, index: int, extras: ShapeExtras | None
) -> ShapeExtras | None:
    # What a box carries beyond its class and data, into ``extras`` (made when first needed).
    # Stored area and mask hold only while the box is as given (not clipped).
    area, keypoints, mask = box.get("area"), box.get("keypoints"), box.get("mask")
    crowd = box.get("crowd", False)
    if not ((area is not None or mask is not None) and unchanged) and not keypoints and not crowd:
        return extras
    extras = extras or ShapeExtras()
    if area is not None and unchanged:
        extras.box_areas[index] = area
    if mask is not None and unchanged:
        extras.box_masks[index] = mask
    if keypoints:
        extras.box_keypoints[index] = keypoints
    if crowd:
        extras.crowd_boxes.add(index)
    return extras


def _polygon_extras(
    poly: _LeanPolygon, index: int, extras: ShapeExtras | None
) -> ShapeExtras | None:
    # The polygon counterpart of _box_extras (its rings are handled by the caller).
    stored_bbox, stored_area = poly.get("bbox"), poly.get("area")
    keypoints, crowd = poly.get("keypoints"), poly.get("crowd", False)
    if stored_bbox is None and stored_area is None and not keypoints and not crowd:
        return extras
    extras = extras or ShapeExtras()
    if stored_bbox is not None or stored_area is not None:
        extras.polygon_stored[index] = (stored_bbox, stored_area)
    if keypoints:
        extras.polygon_keypoints[index] = keypoints
    if crowd:
        extras.crowd_polygons.add(index)
    return extras


def iter_checked_shapes(
    layout: DMv2Layout,
    audit: AuditLog,
    classes: Mapping[str, int],
    listing: ItemListing | None = None,
) -> Iterator[CheckedShapes]:
    """:func:`iter_checked_items` for writers that need only each annotation's class and data.

    The same items, annotations, skips and audit records, without a model object per
    annotation: a valid item is validated in one pydantic-core call into plain tuples (an item
    with anything wrong goes through the same salvage path as in :func:`iter_checked_items`).
    """
    for split, stem, image_path, image_name, width, height, images, identity in _iter_sized(
        layout, audit, _parse_lean, listing
    ):
        boxes: list[tuple[str, tuple[float, float, float, float]]] = []
        polygons: list[_CheckedPolygon] = []
        extras: ShapeExtras | None = None  # made on the first annotation that needs it
        box_ids: list[str] = []
        polygon_ids: list[str] = []
        polygon_coords: list[tuple[tuple[float, ...], tuple[float, ...]]] = []
        for image in images:
            for box in image.get("bounding_box", ()):
                name, data = box["classification"], box["data"]
                x, y, w, h = data
                # The common case inline (known class, inside the image); the rest as above.
                if not (
                    name in classes and 0.0 <= x and 0.0 <= y and x + w <= width
                    and y + h <= height
                ):  # fmt: skip
                    checked = _checked_box(
                        audit, split, stem, box["id"], name, data, classes, width, height
                    )
                    if checked is None:
                        continue
                    data = checked
                if len(box) > 3:  # id, classification and data, plus something stored
                    extras = _box_extras(box, data is box["data"], len(boxes), extras)
                    if extras is not None and len(boxes) in extras.box_masks:
                        _drop_unreadable_mask(
                            extras, len(boxes), audit, split, stem, box["id"], width, height
                        )
                boxes.append((name, data))
                box_ids.append(box["id"])
            for poly in image.get("polygon", ()):
                name, points = poly["classification"], poly["data"]
                xs, ys = zip(*points, strict=True)
                bounds = (min(xs), min(ys), max(xs), max(ys))
                if not (
                    name in classes and 0.0 <= bounds[0] and 0.0 <= bounds[1]
                    and bounds[2] <= width and bounds[3] <= height
                ):  # fmt: skip
                    checked_points = _checked_polygon(
                        audit, split, stem, poly["id"], name, points, classes, width, height
                    )
                    if checked_points is None:
                        continue
                    if checked_points is not points:  # snapped inside: new bounds
                        points = checked_points
                        xs, ys = zip(*points, strict=True)
                        bounds = (min(xs), min(ys), max(xs), max(ys))
                        poly = {**poly, "bbox": None, "area": None}  # no longer what was stored
                if len(poly) > 3:  # id, classification and data, plus something more
                    extra = poly.get("rings")
                    if extra:
                        checked_rings = _checked_rings(
                            audit, split, stem, poly["id"], extra, width, height
                        )
                        if checked_rings is None:
                            continue
                        extras = extras or ShapeExtras()
                        extras.rings[len(polygons)] = checked_rings
                    extras = _polygon_extras(poly, len(polygons), extras)
                polygons.append((name, points, bounds))
                polygon_ids.append(poly["id"])
                polygon_coords.append((xs, ys))
        yield CheckedShapes(
            split, stem, image_path, image_name, width, height, boxes, polygons, box_ids,
            polygon_ids, extras, identity[0], identity[1], polygon_coords,
        )  # fmt: skip


def link_or_copy(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Hard-link ``source`` to ``target`` (no bytes copied), or copy when linking is refused.

    Raises ``FileExistsError`` when ``target`` exists: an output file is never replaced, which
    is also how writers find two items wanting one file name, without remembering every name.
    """
    try:
        os.link(source, target)
    except FileExistsError:
        raise
    except OSError:
        with open(source, "rb") as src, open(target, "xb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)


def write_dmv2_item(
    root: Path,
    split: str | None,
    stem: str,
    item: DMv2Item,
    image_source: str | os.PathLike[str],
) -> None:
    """Write one item (``json/<stem>.json`` and its image) under ``root`` (``root/split``),
    making those two folders when they are not there yet."""
    folder = os.path.join(root, split) if split is not None else os.fspath(root)
    json_dir, images_dir = os.path.join(folder, "json"), os.path.join(folder, "original_files")
    data = item.model_dump_json(exclude_none=True).encode("utf-8")
    image_name = stem + os.path.splitext(image_source)[1]

    def write() -> None:
        write_small_file(os.path.join(json_dir, stem + ".json"), data)
        link_or_copy(image_source, os.path.join(images_dir, image_name))

    try:
        write()
    except FileNotFoundError:
        # Usually the split's first item: its folders are made then, not looked for every time.
        os.makedirs(json_dir, exist_ok=True)
        os.makedirs(images_dir, exist_ok=True)
        write()
