"""Pascal VOC: importing a VOC folder into DM v2, and writing a DM v2 dataset as VOC.

A VOC folder (``VOC2012/``, or any folder laid out the same way)::

    Annotations/<id>.xml        one XML file per image: <filename>, <size>, one <object> each
    JPEGImages/<id>.jpg         the images
    ImageSets/Main/<split>.txt  optional: the ids of each split (train, val, trainval, test)

An annotation file is paired with its image by id (the XML file's stem), as the VOC devkit,
Detectron2 and supervision do; ``<filename>`` is only used when no ``JPEGImages/<id>.<ext>``
exists, and a ``<filename>`` or ``<size>`` that disagrees with the image used is noted in the
audit.

Pixel convention: VOC corners are 1-based and inclusive (the devkit's ``xmin = 1`` is the
first pixel column, ``xmax = width`` the last). DM v2 boxes are continuous, from the top left
corner of the image, so a VOC box ``(xmin, ymin, xmax, ymax)`` is the DM v2 box
``x = xmin - 1, y = ymin - 1, width = xmax - xmin + 1, height = ymax - ymin + 1``, and back.
This is the reading Detectron2 and supervision use. Tools that write 0-based corners (labelme,
some exporters) are read with ``one_based=False``. Numbers are converted in exact decimal
arithmetic, so a DM v2 coordinate comes back bit for bit after DM v2 -> VOC -> DM v2.

Kept through VOC -> DM v2 -> VOC: each object's class, box, ``pose``, ``truncated``,
``difficult`` and ``occluded`` (as DM v2 attributes of those names), polygons written as a
``<polygon>`` element (``x1, y1, x2, y2, ...``, each vertex shifted by +1 like ``xmin``, as
supervision and Roboflow read them), and any other DM v2 attribute as CVAT's
``<attributes><attribute><name/><value/></attribute></attributes>`` (the value as JSON).
Everything skipped is recorded in ``audit.json``; nothing is clamped.

In the hub: an imported item's identity is its image's path under ``JPEGImages/``; the export
writes flat, percent-encoded ids (``camA/0001.jpg`` -> ``camA%2F0001``), renaming (``~2``) rather
than overwriting, and records as ``"changed"`` entries what VOC cannot hold (further rings,
stored bbox/area, crowd flags and masks, keypoints, class ids). VOC has class names only: ids
come from an explicit ``class_map``.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import unicodedata
import xml.etree.ElementTree as StdET  # writing only: parsing goes through defusedxml
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, DecimalException, localcontext
from pathlib import Path
from typing import IO, Final
from urllib.parse import quote

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from PIL import Image
from pydantic import JsonValue, ValidationError

from ._audit import AuditLog, AuditReason
from ._classes import _checked_explicit  # the one validation of a caller's class map
from ._classes import resolve_class_map
from ._convert import ConversionResult, OutputExistsError, fresh_output
from ._dmv2 import (
    IMAGE_EXTENSIONS,
    Attribute,
    BoundingBox,
    DMv2Category,
    DMv2Image,
    DMv2Item,
    DMv2Source,
    Polygon,
)
from ._paths import ItemKeys, utf8_identity
from ._source import (
    CheckedItem,
    DatasetInputError,
    annotation_reason,
    check_something_written,
    detect_layout,
    image_size,
    refuse_output_inside,
    iter_checked_items,
    link_or_copy,
    read_manifest,
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
# Characters XML 1.0 cannot carry at all (not even escaped); lone surrogates (file names that
# are not UTF-8) are among them.
_NOT_XML_CHARS: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_POLYGON_TAG: Final = re.compile(r"([xy])(\d+)")
# A plain decimal number, ASCII digits only: not "1_000", "²", "nan" or "inf" (which float()
# would take).
_NUMBER: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_COUNT: Final = re.compile(r"[0-9]+")
# Exact decimal arithmetic for coordinates: enough digits for any double plus the 1-pixel shift.
_DECIMAL_DIGITS: Final = 1200
_UTF8_BOM: Final = b"\xef\xbb\xbf"

type _Skip = Callable[[AuditReason, str], None]


def _shown(text: str) -> str:
    """``text`` safe to put in JSON: bytes of a non-UTF-8 file name shown as ``\\xe9``."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _is_text(name: str) -> bool:
    """Whether a file name decoded from disk is real text (not undecodable bytes)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _Log:
    """The run's :class:`AuditLog`, with names made safe for JSON and kept-but-noted entries."""

    def __init__(self, audit: AuditLog) -> None:
        self.audit = audit
        #: Names of the ``JPEGImages/`` files an annotation file was paired with (by its id or
        #: its ``<filename>``): the rest of that folder, when no annotation file has their id,
        #: are unlisted images.
        self.paired_images: set[str] = set()

    def skip(
        self,
        split: str | None,
        item: str,
        reason: AuditReason,
        message: str,
        *,
        annotation: str | None = None,
        kind: str = "item",
    ) -> None:
        """Record that an item (``annotation=None``) or one annotation was left out."""
        self._entry(self.audit.record, split, item, reason, message, annotation, kind)

    def note(
        self,
        split: str | None,
        item: str,
        reason: AuditReason,
        message: str,
        *,
        annotation: str | None = None,
        kind: str = "item",
    ) -> None:
        """Record something kept but changed (an ``"action": "changed"`` entry, not a skip)."""
        self._entry(self.audit.record_change, split, item, reason, message, annotation, kind)

    @staticmethod
    def _entry(
        record: Callable[..., None],
        split: str | None,
        item: str,
        reason: AuditReason,
        message: str,
        annotation: str | None,
        kind: str,
    ) -> None:
        record(
            split=split,
            item=_shown(item),
            annotation=None if annotation is None else _shown(annotation),
            kind=kind,
            reason=reason,
            message=_shown(message),
        )


def _refuse_file_output(output: Path) -> None:
    if output.exists() and not output.is_dir():
        raise OutputExistsError(
            f"output {str(output)!r} is a file, expected a folder (absent or empty)"
        )


# ---------------------------------------------------------------------------------------------
# VOC -> DM v2


def voc_to_dmv2(
    source: Path,
    output: Path,
    *,
    one_based: bool = True,
    class_map: Mapping[str, int] | None = None,
) -> ConversionResult:
    """Import the Pascal VOC folder ``source`` into a new DM v2 dataset at ``output``.

    ``source`` is the folder holding ``Annotations/`` (or a folder with exactly one such
    sub-folder, as ``VOCdevkit/`` has ``VOC2012/``). With ``ImageSets/Main/{train,val,test}.txt``
    the output is categorized (``val`` becomes ``valid``; ``trainval`` stands in for a missing
    ``train`` or ``val``: minus the other list, or as ``train`` when both are missing).
    ``one_based=False`` reads corners as 0-based (see the module docs). An image of
    ``JPEGImages/`` that no annotation file describes is not imported (``unlisted_image``).

    An item's identity (``source.file_name``) is its image's path relative to ``JPEGImages/``
    (``2008_000123.jpg``). VOC names classes without ids, so the manifest lists the names only
    and a later conversion numbers them; ``class_map`` (class name -> id) gives them ids, kept
    in the manifest's class map (unused classes included), and an object of a class not in it
    is skipped as ``unknown_class``.

    Each annotation file is paired with ``JPEGImages/<id>.<ext>`` by its id; ``<filename>`` is
    used only when no such image exists. XML is parsed with defusedxml: a file with a DTD or
    entity declarations (billion laughs, external entities) is refused and audited, never
    expanded. An object with a bad box, an unknown class or a polygon outside the image, an
    annotation file whose image is missing, an id that would leave the folder, an id listed in
    two splits and an annotation file no split lists are all recorded in ``output/audit.json``
    with a reason code. Raises :class:`~steprail.datasets.DatasetInputError` when ``source``
    is not a VOC folder, when a split list is not UTF-8 text, or when ``Annotations/`` or
    ``JPEGImages/`` is a symlink to outside ``source``, and
    :class:`~steprail.datasets.NoUsableItemsError` when nothing usable remains; on failure
    ``output`` is left as it was.
    """
    root = _find_voc_root(source)
    _refuse_linked_folders(root)
    _refuse_file_output(output)
    refuse_output_inside(output, root)
    offset = Decimal(1) if one_based else Decimal(0)
    split_lists = _read_split_lists(root)
    explicit = _checked_explicit(class_map) if class_map is not None else None
    with fresh_output(output) as out, AuditLog(
        out, source=str(source), target_format="dm_v2"
    ) as audit:
        log = _Log(audit)
        classes: set[str] = set()
        keys: dict[str | None, ItemKeys] = {}
        files = _scan_annotations(root / "Annotations", out, log)
        for split, stem, file_name in _plan(files, split_lists, log):
            audit.items_total += 1
            read = _read_voc_item(root, split, stem, file_name, log, offset, explicit)
            if read is None:
                continue
            item, image_path = read
            # The identity is the image's path relative to JPEGImages/ (the images root).
            identity, encoded = utf8_identity(image_path.name)
            if encoded:
                log.note(
                    split, stem, AuditReason.RENAMED_FOR_TARGET,
                    "the image's file name is not UTF-8 text: its identity is kept "
                    "percent-encoded",
                )  # fmt: skip
            item = item.model_copy(update={"source": DMv2Source(file_name=identity)})
            key = keys.setdefault(split, ItemKeys()).key(image_path.name)
            write_dmv2_item(out, split, key, item, image_path)
            audit.items_written += 1
            audit.annotations_written += len(item.boxes()) + len(item.polygons())
            classes.update(a.classification for a in item.boxes())
            classes.update(a.classification for a in item.polygons())
        _audit_unlisted_images(root / "JPEGImages", files, log)
        check_something_written(audit, source)
        categories = (
            [DMv2Category(id=i, name=n) for n, i in explicit.items()] if explicit else []
        )
        write_manifest(out, sorted(classes), audit.items_written, categories=categories)
        summary = audit.close()
    return ConversionResult(
        path=str(out),
        config_path=str(out / "dataset.json"),
        format="dm_v2",
        is_categorized=split_lists is not None,
        source_path=str(source),
        classes=sorted(classes),
        splits=list(split_lists.ids) if split_lists is not None else [],
        audit_path=str(audit.path),
        audit=summary,
    )


def _find_voc_root(source: Path) -> Path:
    if source.exists() and not source.is_dir():
        raise DatasetInputError(
            f"VOC source {str(source)!r} is a file, expected a folder holding Annotations/"
        )
    if not source.is_dir():
        raise DatasetInputError(f"VOC folder {str(source)!r} does not exist")
    if (source / "Annotations").is_dir():
        return source
    inner = [child for child in sorted(source.iterdir()) if (child / "Annotations").is_dir()]
    if len(inner) == 1:
        return inner[0]
    raise DatasetInputError(
        f"{str(source)!r} is not a Pascal VOC folder: expected Annotations/ in it"
        + (f" (found it in {len(inner)} sub-folders; give one)" if inner else "")
    )


def _refuse_linked_folders(root: Path) -> None:
    """A VOC folder whose ``Annotations/``, ``JPEGImages/`` or ``ImageSets/`` is a symlink
    leaving it is refused as a whole, naming the link (nothing outside a dataset is read)."""
    for name in ("Annotations", "JPEGImages", "ImageSets"):
        folder = root / name
        if folder.is_symlink() and not _inside(folder, root):
            raise DatasetInputError(
                f"{str(folder)!r} is a symlink to {str(folder.resolve())!r}, outside the dataset "
                f"folder {str(root)!r}; steprail reads nothing outside the dataset: give a "
                "folder that holds the real Annotations/ and JPEGImages/ (or copy them in)"
            )


@dataclass(frozen=True, slots=True)
class _SplitLists:
    """The ids of each DM v2 split, and where each split's list came from (for messages)."""

    ids: dict[str, list[str]]
    origin: dict[str, str]


def _read_ids(path: Path) -> list[str]:
    """One id per line (the first word: class lists add ``1``/``-1``); the first of each kept.

    UTF-8, with or without a byte-order mark; anything else is refused naming the file."""
    data = path.read_bytes()
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetInputError(
            f"split list {str(path)!r} is not UTF-8 text ({exc}); save it as UTF-8"
        ) from None
    seen: dict[str, None] = {}
    for line in text.splitlines():
        parts = line.split()
        if parts:
            seen.setdefault(parts[0], None)
    return list(seen)


def _read_split_lists(root: Path) -> _SplitLists | None:
    """DM v2 split -> VOC ids, from ``ImageSets/Main``; ``None`` when there are no lists.

    ``trainval`` is the union of ``train`` and ``val`` in VOC: it stands in for whichever of
    the two is missing (``val = trainval - train``), or is ``train`` when both are."""
    main = root / "ImageSets" / "Main"
    present = {name: main / f"{name}.txt" for name in ("train", "val", "test", "trainval")}
    present = {name: path for name, path in present.items() if path.is_file()}
    if not present:
        return None
    read = {name: _read_ids(path) for name, path in present.items()}
    ids: dict[str, list[str]] = {}
    origin: dict[str, str] = {}
    for voc_split, dm_split in _SPLITS_IN.items():
        if voc_split in read:
            ids[dm_split] = read[voc_split]
            origin[dm_split] = f"ImageSets/Main/{voc_split}.txt"
    if "trainval" in read:
        both = read["trainval"]
        if "train" in read and "val" not in read:
            known = set(read["train"])
            ids["valid"] = [stem for stem in both if stem not in known]
            origin["valid"] = "ImageSets/Main/trainval.txt minus train.txt"
        elif "val" in read and "train" not in read:
            known = set(read["val"])
            ids["train"] = [stem for stem in both if stem not in known]
            origin["train"] = "ImageSets/Main/trainval.txt minus val.txt"
        elif "train" not in read and "val" not in read:
            ids["train"] = both
            origin["train"] = "ImageSets/Main/trainval.txt"
    # Order the splits as DM v2 does (train, valid, test).
    order = [split for split in ("train", "valid", "test") if split in ids]
    return _SplitLists({s: ids[s] for s in order}, {s: origin[s] for s in order})


def _plain_name(name: str) -> bool:
    """A single file name that stays in its folder: no separator, not ``.``/``..``, no NUL."""
    return (
        bool(name)
        and name not in (".", "..")
        and "/" not in name
        and "\\" not in name
        and "\0" not in name
    )


def _scan_annotations(annotations: Path, out: Path, log: _Log) -> dict[str, str]:
    """id -> file name of every ``*.xml`` (any case) in ``Annotations/``.

    The output folder (when it was put in there) is not input; a name that is not UTF-8 and a
    second file for one id (``a.xml`` and ``a.XML``) are audited."""
    own = out.resolve()
    found: dict[str, str] = {}
    with os.scandir(annotations) as entries:
        # Only a folder can be the output (resolved only then: one syscall less per file).
        names = sorted(
            e.name
            for e in entries
            if e.name.lower().endswith(".xml")
            and not (e.is_dir() and Path(e.path).resolve() == own)
        )
    for name in names:
        stem = name[:-4]
        where = f"Annotations/{name}"
        if not _is_text(name):
            log.audit.items_total += 1
            log.skip(
                None,
                stem,
                AuditReason.INVALID_ITEM,
                f"{where}: the file name is not UTF-8 (its bytes are shown escaped); a DM v2 "
                "item name must be text: rename the file and its image to import it",
            )
        elif stem in found:
            log.audit.items_total += 1
            log.skip(
                None,
                stem,
                AuditReason.INVALID_ITEM,
                f"{where}: Annotations/{found[stem]} already has the id {stem!r}; not imported",
            )
        else:
            found[stem] = name
    return found


def _plan(
    files: Mapping[str, str], split_lists: _SplitLists | None, log: _Log
) -> Iterator[tuple[str | None, str, str | None]]:
    """Every ``(split, id, annotation file name or None when absent)`` to import, from the
    annotation files found (``files``, id -> file name) and the split lists.

    Unlisted annotation files, unsafe ids and an id listed in a second split are audited."""
    if split_lists is None:
        for stem, name in files.items():
            yield None, stem, name
        return
    listed: dict[str, str] = {}
    for split, ids in split_lists.ids.items():
        origin = split_lists.origin[split]
        for stem in ids:
            if not _plain_name(stem):
                log.audit.items_total += 1
                log.skip(
                    split,
                    stem,
                    AuditReason.UNSAFE_PATH,
                    f"{origin}: id {stem!r} would leave Annotations/; refused, nothing read",
                )
                continue
            if stem in listed:
                log.audit.items_total += 1
                log.skip(
                    split,
                    stem,
                    AuditReason.INVALID_ITEM,
                    f"{origin} lists {stem!r}, already imported from "
                    f"{split_lists.origin[listed[stem]]} (an id in two splits leaks between "
                    "them); kept once, in the first split",
                )
                continue
            listed[stem] = split
            yield split, stem, files.get(stem)
    for stem in files:
        if stem in listed:
            continue
        log.audit.items_total += 1
        log.skip(
            None,
            stem,
            AuditReason.INVALID_ITEM,
            f"Annotations/{files[stem]} is in no ImageSets/Main list "
            f"({', '.join(split_lists.origin.values())}); not imported",
        )


_IMAGE_SUFFIXES: Final = frozenset(ext.lower() for ext in IMAGE_EXTENSIONS)


def _audit_unlisted_images(images: Path, files: Mapping[str, str], log: _Log) -> None:
    """Record every image file of ``images`` (``JPEGImages/``, not its sub-folders) that no
    annotation file describes: no ``Annotations/<id>.xml`` has its id and no ``<filename>``
    paired it. Not imported, so counted as a skipped item (``unlisted_image``), as COCO and
    DM v2 readers do. Only the folder is listed: nothing is read or followed."""
    try:
        with os.scandir(images) as entries:
            unlisted = sorted(
                entry.name
                for entry in entries
                if os.path.splitext(entry.name)[1].lower() in _IMAGE_SUFFIXES
                and os.path.splitext(entry.name)[0] not in files
                and entry.name not in log.paired_images
                and not entry.is_dir(follow_symlinks=False)
            )
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in unlisted:
        log.audit.items_total += 1
        log.skip(
            None,
            name,
            AuditReason.UNLISTED_IMAGE,
            f"JPEGImages/{name} has no annotation file Annotations/"
            f"{os.path.splitext(name)[0]}.xml and no <filename> names it: not imported",
        )


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path``, with every symlink resolved, is under ``root`` (resolved)."""
    return path.resolve().is_relative_to(root.resolve())


def _read_voc_item(
    root: Path,
    split: str | None,
    stem: str,
    file_name: str | None,
    log: _Log,
    offset: Decimal,
    class_map: Mapping[str, int] | None = None,
) -> tuple[DMv2Item, Path] | None:
    """One VOC annotation file as a DM v2 item and its image path, or ``None`` once audited."""

    def skip(reason: AuditReason, message: str) -> None:
        log.skip(split, stem, reason, message)

    if file_name is None:
        listed_in = "a split list" if split is None else f"ImageSets/Main/{_SPLITS_OUT[split]}.txt"
        skip(
            AuditReason.MISSING_LABELS,
            f"Annotations/{stem}.xml does not exist (the id is in {listed_in})",
        )
        return None
    xml_path = root / "Annotations" / file_name
    where = f"Annotations/{file_name}"
    document = _parse_annotation(xml_path, where, root, skip)
    if document is None:
        return None
    image_path = _find_voc_image(root, split, stem, document, log)
    if image_path is None:
        return None
    try:
        width, height = image_size(image_path)
    except (OSError, ValueError) as exc:  # Pillow's UnidentifiedImageError is an OSError
        skip(AuditReason.UNREADABLE_IMAGE, f"JPEGImages/{image_path.name}: {exc}")
        return None
    stated = _stated_size(document)
    if stated is not None and stated != (width, height):
        log.note(
            split,
            stem,
            AuditReason.SOURCE_DISAGREES,
            f"{where}: <size> says {stated[0]}x{stated[1]} but JPEGImages/{image_path.name} is "
            f"{width}x{height}; imported, boxes checked against the image",
        )
    boxes: list[BoundingBox] = []
    polygons: list[Polygon] = []
    for number, obj in enumerate(document.findall("object"), start=1):
        shape = _read_object(obj, f"{stem}-{number}", width, height, offset)
        if (
            class_map is not None
            and isinstance(shape, (BoundingBox, Polygon))
            and shape.classification not in class_map
        ):
            shape = (
                AuditReason.UNKNOWN_CLASS,
                "polygon" if isinstance(shape, Polygon) else "box",
                f"class {shape.classification!r} is not in class_map",
            )
        if isinstance(shape, BoundingBox):
            boxes.append(shape)
        elif isinstance(shape, Polygon):
            polygons.append(shape)
        else:
            reason, kind, message = shape
            log.skip(
                split,
                stem,
                reason,
                f"{where} <object> {number}: {message}",
                annotation=f"{stem}-{number}",
                kind=kind,
            )
        for part in obj.findall("part"):
            log.skip(
                split,
                stem,
                AuditReason.INVALID_ANNOTATION,
                f"{where} <object> {number}: <part> {part.findtext('name')!r} "
                "(VOC person layout) has no DM v2 form; not imported",
                annotation=f"{stem}-{number}",
                kind="part",
            )
    image = DMv2Image(width=width, height=height, bounding_box=boxes, polygon=polygons)
    return DMv2Item(images=[image]), image_path


def _parse_annotation(
    xml_path: Path, where: str, root: Path, skip: _Skip
) -> StdET.Element | None:
    """The ``<annotation>`` element of one file, or ``None`` once audited. Only a regular file
    inside the dataset is opened (a FIFO or device would block or never end)."""
    if not _inside(xml_path, root):
        skip(AuditReason.UNSAFE_PATH, f"{where} is a link to outside the dataset; not read")
        return None
    try:
        mode = xml_path.stat().st_mode
        if stat.S_ISDIR(mode):
            skip(AuditReason.INVALID_ITEM, f"{where} is a folder, not an annotation file")
            return None
        if not stat.S_ISREG(mode):
            skip(
                AuditReason.INVALID_ITEM,
                f"{where} is not a regular file (a FIFO, socket or device); not read",
            )
            return None
        if xml_path.stat().st_size > _MAX_XML_BYTES:
            skip(AuditReason.ITEM_TOO_LARGE, f"{where} is over {_MAX_XML_BYTES} bytes; not read")
            return None
        data = xml_path.read_bytes()
    except OSError as exc:
        skip(AuditReason.INVALID_ITEM, f"{where} cannot be read ({exc.strerror or exc})")
        return None
    try:
        document = SafeET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        skip(
            AuditReason.UNSAFE_XML,
            f"{where}: unsafe XML refused ({type(exc).__name__}: a DTD or entity declaration)",
        )
        return None
    except SafeET.ParseError as exc:
        skip(AuditReason.INVALID_ITEM, f"{where}: not well-formed XML ({exc})")
        return None
    except (RecursionError, MemoryError):
        skip(AuditReason.ITEM_TOO_LARGE, f"{where}: nested too deeply to read")
        return None
    if document.tag != "annotation":
        skip(AuditReason.INVALID_ITEM, f"{where}: root element is <{document.tag}>, not <annotation>")
        return None
    return document


def _find_voc_image(
    root: Path, split: str | None, stem: str, document: StdET.Element, log: _Log
) -> Path | None:
    """The image of annotation ``stem``: ``JPEGImages/<id>.<ext>`` first, as the VOC devkit,
    Detectron2 and supervision pair them, else the file ``<filename>`` names."""
    images = root / "JPEGImages"
    filename = (document.findtext("filename") or "").strip()

    def usable(candidate: Path) -> Path | None:
        if not _inside(candidate, root):
            log.skip(
                split,
                stem,
                AuditReason.UNSAFE_PATH,
                f"JPEGImages/{candidate.name} is a link to outside the dataset; not read",
            )
            return None
        if candidate.suffix not in IMAGE_EXTENSIONS:
            log.skip(
                split,
                stem,
                AuditReason.INVALID_ITEM,
                f"JPEGImages/{candidate.name}: DM v2 reads images named "
                f"{', '.join(IMAGE_EXTENSIONS)}, not {candidate.suffix or 'no extension'}; "
                "not imported",
            )
            return None
        return candidate

    by_id = next(
        (images / (stem + ext) for ext in IMAGE_EXTENSIONS if (images / (stem + ext)).is_file()),
        None,
    )
    if by_id is not None:
        log.paired_images.add(by_id.name)
        # Compared in NFC: a macOS archive may hold the same name in another normal form.
        if filename and _nfc(filename) not in (_nfc(by_id.name), _nfc(stem)):
            log.note(
                split,
                stem,
                AuditReason.SOURCE_DISAGREES,
                f"Annotations/{stem}.xml: <filename> {filename!r} is not its image; paired by "
                f"id with JPEGImages/{by_id.name}, as the VOC devkit does",
            )
        return usable(by_id)
    if not filename:
        log.skip(
            split,
            stem,
            AuditReason.MISSING_IMAGE,
            f"no image JPEGImages/{stem}.<ext> ({', '.join(IMAGE_EXTENSIONS)}) and no "
            f"<filename> in Annotations/{stem}.xml",
        )
        return None
    if not _plain_name(filename):
        log.skip(
            split,
            stem,
            AuditReason.UNSAFE_PATH,
            f"<filename> {filename!r} would leave JPEGImages/; refused, nothing read",
        )
        return None
    named = images / filename
    log.paired_images.add(filename)
    if not named.is_file():
        log.skip(
            split,
            stem,
            AuditReason.MISSING_IMAGE,
            f"no image JPEGImages/{stem}.<ext> and no JPEGImages/{filename} (its <filename>) "
            f"for Annotations/{stem}.xml",
        )
        return None
    return usable(named)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _stated_size(document: StdET.Element) -> tuple[int, int] | None:
    """``<size>``'s width and height when both are positive whole numbers, else ``None``."""
    width = (document.findtext("size/width") or "").strip()
    height = (document.findtext("size/height") or "").strip()
    if not (_COUNT.fullmatch(width) and _COUNT.fullmatch(height)):
        return None
    size = int(width), int(height)
    return size if size[0] > 0 and size[1] > 0 else None


type _Rejected = tuple[AuditReason, str, str]  # reason, annotation kind, message


def _decimal(text: str | None) -> Decimal | None:
    """A coordinate's exact value, or ``None`` when it is not a plain decimal number."""
    text = (text or "").strip()
    if not _NUMBER.fullmatch(text) or len(text) > _DECIMAL_DIGITS:
        return None
    return Decimal(text)


def _read_object(
    obj: StdET.Element, ann_id: str, width: int, height: int, offset: Decimal
) -> BoundingBox | Polygon | _Rejected:
    """One ``<object>`` as a DM v2 box or polygon, or why it cannot be one."""
    name = (obj.findtext("name") or "").strip()
    kind = "polygon" if obj.find("polygon") is not None else "box"
    if not name:
        return AuditReason.MISSING_CLASS, kind, "no <name>"
    # Two <name>s or two <bndbox>es in one object (a hand-merged file): which one is meant is
    # unclear, so the object is refused, audited, rather than read as its first ones.
    repeated = [
        f"{count} <{tag}>" for tag in ("name", "bndbox", "polygon")
        if (count := len(obj.findall(tag))) > 1
    ]  # fmt: skip
    if repeated:
        return (
            AuditReason.INVALID_ANNOTATION,
            kind,
            f"the <object> has {' and '.join(repeated)} elements, one object has one of each: "
            "not imported (which one is meant is unclear)",
        )
    attrs = _read_attributes(obj)
    if isinstance(attrs, str):
        return AuditReason.INVALID_ANNOTATION, kind, attrs
    fields: dict[str, object] = {"id": ann_id, "classification": name, "attrs": attrs}
    with localcontext(prec=_DECIMAL_DIGITS):
        if kind == "polygon":
            polygon = obj.find("polygon")
            assert polygon is not None
            return _read_polygon(polygon, fields, kind, width, height, offset)
        box = obj.find("bndbox")
        if box is None:
            return AuditReason.INVALID_ANNOTATION, kind, "no <bndbox>"
        corners: list[Decimal] = []
        for tag in ("xmin", "ymin", "xmax", "ymax"):
            value = _decimal(box.findtext(tag))
            if value is None:
                text = (box.findtext(tag) or "").strip()
                return AuditReason.INVALID_ANNOTATION, kind, f"<{tag}> {text[:40]!r} is not a plain decimal number"
            corners.append(value)
        xmin, ymin, xmax, ymax = corners
        shown = ", ".join(_shown_number(c) for c in corners)
        if xmax < xmin or ymax < ymin:
            return (
                AuditReason.BOX_NON_POSITIVE,
                kind,
                f"corners ({shown}): xmax < xmin or ymax < ymin",
            )
        try:  # each rounded once to the nearest double (inf when out of range: refused below)
            x, y = float(xmin - offset), float(ymin - offset)
            w, h = float(xmax - xmin + offset), float(ymax - ymin + offset)
        except DecimalException:
            return AuditReason.BOX_NON_FINITE, kind, f"corners ({shown}) are out of range"
    try:
        shape = BoundingBox.model_validate({**fields, "data": (x, y, w, h)})
    except ValidationError as exc:
        return (
            annotation_reason("box", exc),
            kind,
            f"corners ({shown}): " + validation_message(exc),
        )
    if not (_in_image(x, y, width, height) and _in_image(x + w, y + h, width, height)):
        return (
            AuditReason.BOX_OUTSIDE_IMAGE,
            kind,
            f"corners ({shown}) leave the {width}x{height} image",
        )
    return shape


def _shown_number(value: Decimal) -> str:
    return format(value, "f") if abs(value.adjusted()) < 30 else str(value)


def _read_polygon(
    polygon: StdET.Element,
    fields: dict[str, object],
    kind: str,
    width: int,
    height: int,
    offset: Decimal,
) -> Polygon | _Rejected:
    points = _polygon_points(polygon, offset)
    if isinstance(points, str):
        return AuditReason.INVALID_ANNOTATION, kind, points
    try:
        shape = Polygon.model_validate({**fields, "data": points})
    except ValidationError as exc:
        return annotation_reason("polygon", exc), kind, validation_message(exc)
    if not all(_in_image(x, y, width, height) for x, y in points):
        return (
            AuditReason.POLYGON_OUTSIDE_IMAGE,
            kind,
            f"a vertex lies outside the {width}x{height} image",
        )
    return shape


def _in_image(x: float, y: float, width: int, height: int) -> bool:
    return (
        -_EDGE_TOLERANCE <= x <= width + _EDGE_TOLERANCE
        and -_EDGE_TOLERANCE <= y <= height + _EDGE_TOLERANCE
    )


def _polygon_points(polygon: StdET.Element, offset: Decimal) -> list[tuple[float, float]] | str:
    """The vertices of ``<polygon><x1/><y1/>...``, shifted to DM v2, or what is wrong."""
    xs: dict[int, float] = {}
    ys: dict[int, float] = {}
    for child in polygon:
        match = _POLYGON_TAG.fullmatch(child.tag)
        if match is None:
            return f"<polygon> has an element <{child.tag}>; expected x1, y1, x2, y2, ..."
        value = _decimal(child.text)
        if value is None:
            return f"<polygon> <{child.tag}> {(child.text or '')[:40]!r} is not a plain decimal number"
        try:
            (xs if match[1] == "x" else ys)[int(match[2])] = float(value - offset)
        except DecimalException:
            return f"<polygon> <{child.tag}> is out of range"
    if sorted(xs) != sorted(ys):
        return "<polygon> has x and y elements that do not pair up"
    return [(xs[i], ys[i]) for i in sorted(xs)]


def _strict_json(text: str) -> JsonValue:
    """Standard JSON only: ``NaN``, ``Infinity`` and numbers out of range (``1e999``) are not
    JSON values (a DM v2 file could not hold them), so they raise ``ValueError``."""

    def refuse(token: str) -> float:
        raise ValueError(f"{token} is not a JSON value")

    def finite(token: str) -> float:
        number = float(token)
        if not math.isfinite(number):
            raise ValueError(f"{token} is out of range")
        return number

    value: JsonValue = json.loads(text, parse_constant=refuse, parse_float=finite)
    return value


def _read_attributes(obj: StdET.Element) -> list[Attribute] | str:
    """The object's VOC fields and CVAT attributes, or what makes them unreadable.

    CVAT attributes named like a VOC field carry values that field's text cannot (a pose that
    is not text, a flag that is not a count, two values of one name: see ``_object_element``),
    so they replace the field; every attribute is kept in order, duplicate names and names
    with spaces included."""
    fields: dict[str, JsonValue] = {}
    for name in VOC_ATTRIBUTES:
        element = obj.find(name)
        if element is None:
            continue
        text = (element.text or "").strip()
        fields[name] = int(text) if name in _FLAGS and _COUNT.fullmatch(text) else text
    extra: list[tuple[str, JsonValue]] = []
    for attribute in obj.findall("attributes/attribute"):
        name_element = attribute.find("name")
        if name_element is None:
            continue
        name = name_element.text or ""
        text = attribute.findtext("value") or ""
        try:
            value = _strict_json(text)
        except ValueError:
            value = text  # CVAT writes plain text values; NaN and 1e999 stay as written
        except RecursionError:
            return f"attribute {name[:40]!r}: its value is nested too deeply to read"
        extra.append((name, value))
    replaced = {name for name, _ in extra}
    kept = [(name, value) for name, value in fields.items() if name not in replaced]
    try:
        return [Attribute(name=n, value=v) for n, v in [*kept, *extra]]
    except (ValidationError, RecursionError):
        return "an attribute's value is nested too deeply for DM v2"


# ---------------------------------------------------------------------------------------------
# DM v2 -> VOC


def dmv2_to_voc(
    source: Path,
    output: Path,
    *,
    splits: Sequence[str] | None = None,
    class_map: Mapping[str, int] | None = None,
) -> ConversionResult:
    """Convert the DM v2 dataset at ``source`` into a new Pascal VOC folder at ``output``.

    Writes ``Annotations/<id>.xml`` (1-based inclusive corners), ``JPEGImages/<id><ext>`` (hard
    links to the source images when possible) and, for a categorized dataset,
    ``ImageSets/Main/{train,val,test,trainval}.txt``. ``<id>`` is the item's identity without
    its extension; VOC readers look for flat folders, so an identity in sub-folders
    (``camA/0001.jpg``) is flattened percent-encoded (``camA%2F0001``), as is any character a
    split list or XML cannot carry, and an id already written (the same name in two splits,
    ``x.jpg`` and ``x.png``) gets ``~2``, ``~3``...: each such rename is a
    ``renamed_for_target`` entry, and no file is ever overwritten.

    A polygon becomes an object with its bounding ``<bndbox>`` and a ``<polygon>`` element.
    What VOC cannot hold is written without it and audited: an object's further rings, the
    stored ``bbox``/``area`` (``not_in_target``), keypoints (``keypoints_dropped``), the crowd
    flag and RLE mask (``crowd_as_box``). Classes come from the manifest's class map, or
    ``class_map`` (annotations of other classes are skipped as ``unknown_class``); VOC writes
    names only, so when the source had ids (a manifest class map, or ``class_map``) one
    dataset entry (``not_in_target``) lists the ids not written. An annotation whose class name or attributes cannot be written so that they
    read back the same is skipped. Raises as :func:`~steprail.datasets.dmv2_to_yolo` does; on
    failure ``output`` is left as it was.
    """
    layout = detect_layout(source, splits)
    _refuse_file_output(output)
    refuse_output_inside(output, layout.root)
    resolved = resolve_class_map(layout, first_id=0, class_map=class_map)
    class_ids = resolved.ids
    names = sorted(class_ids)
    manifest = read_manifest(layout.root)
    with fresh_output(output) as out, AuditLog(
        out, source=str(source), target_format="voc"
    ) as audit, _SplitListWriter(out / "ImageSets" / "Main") as split_lists:
        log = _Log(audit)
        annotations_dir = out / "Annotations"
        images_dir = out / "JPEGImages"
        annotations_dir.mkdir()
        images_dir.mkdir()
        if class_map is not None or (manifest is not None and manifest.categories):
            log.note(
                None, "*", AuditReason.NOT_IN_TARGET,
                "VOC names classes without ids: the class ids "
                + json.dumps({name: class_ids[name] for name in names})
                + " are not written (give them as class_map when importing the VOC folder)",
                kind="dataset",
            )  # fmt: skip
        for item in iter_checked_items(layout, audit, class_ids):
            identity = (
                item.source.file_name
                if item.source is not None and item.source.file_name
                else item.image_name
            )
            objects: list[StdET.Element] = []
            shapes: list[BoundingBox | Polygon] = [*item.boxes, *item.polygons]
            for shape in shapes:
                kind = "box" if isinstance(shape, BoundingBox) else "polygon"
                refused = _unwritable(shape)
                if refused is not None:
                    reason, message = refused
                    log.skip(item.split, item.stem, reason, message, annotation=shape.id, kind=kind)
                    continue
                for reason, message in _losses(shape):
                    log.note(item.split, item.stem, reason, message, annotation=shape.id, kind=kind)
                objects.append(_object_element(shape))
            voc_id, ext = _voc_id(identity, item.image_path)
            written_id = _write_voc_pair(
                annotations_dir, images_dir, voc_id, ext, item, objects
            )
            if f"{_IMAGES_PREFIX}{written_id}{ext}" not in (identity, _IMAGES_PREFIX + identity):
                log.note(
                    item.split, item.stem, AuditReason.RENAMED_FOR_TARGET,
                    f"{identity} written as JPEGImages/{written_id}{ext} and "
                    f"Annotations/{written_id}.xml: VOC folders are flat, ids are one word of "
                    "plain text, and an earlier item has that id",
                )  # fmt: skip
            split_lists.add(item.split, written_id)
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


# Characters a VOC id keeps as they are: no folder separator, no white space (a split list
# holds one id per line, its first word), nothing XML or a shell would trip on.
_VOC_ID_SAFE: Final = "!#$()+,-.;=@[]^_{}~"
_IMAGES_PREFIX: Final = "JPEGImages/"


def _voc_id(identity: str, image_path: str) -> tuple[str, str]:
    """The flat VOC id of ``identity`` and the extension its image is written with."""
    # The images root of a VOC folder is JPEGImages/: an identity already under a folder of
    # that name (a COCO export beside its JPEGImages/, as labelme writes it) is the path below.
    if identity.startswith(_IMAGES_PREFIX) and len(identity) > len(_IMAGES_PREFIX):
        identity = identity[len(_IMAGES_PREFIX) :]
    # The extension is the image file's own: a reader opens it by its bytes' kind.
    stem = os.path.splitext(identity)[0]
    ext = os.path.splitext(image_path)[1]
    voc_id = quote(stem, safe=_VOC_ID_SAFE, errors="surrogateescape")
    if voc_id.startswith("."):  # a hidden file to most tools, and "." or ".." is no name
        voc_id = "%2E" + voc_id[1:]
    return voc_id or "item", quote(ext, safe=_VOC_ID_SAFE, errors="surrogateescape")


def _write_voc_pair(
    annotations_dir: Path,
    images_dir: Path,
    voc_id: str,
    ext: str,
    item: CheckedItem,
    objects: list[StdET.Element],
) -> str:
    # The annotation is created exclusively, then the image linked; when either exists (an
    # earlier item took the id) the next ``<id>~N`` is tried. The files on disk are the memory
    # of ids taken, so nothing per item is kept in memory and nothing is overwritten.
    candidate, number = voc_id, 1
    while True:
        document = _annotation_element(
            candidate + ext, item.width, item.height, _depth(item.image_path), objects
        )
        xml_path = str(annotations_dir / f"{candidate}.xml")
        try:
            write_small_file(xml_path, _xml_bytes(document), exclusive=True)
        except FileExistsError:
            pass
        else:
            try:
                link_or_copy(item.image_path, images_dir / (candidate + ext))
                return candidate
            except FileExistsError:
                os.unlink(xml_path)
        number += 1
        candidate = f"{voc_id}~{number}"


def _losses(shape: BoundingBox | Polygon) -> list[tuple[AuditReason, str]]:
    """What of ``shape`` a VOC object cannot hold: each a (reason, message) change entry."""
    losses: list[tuple[AuditReason, str]] = []
    if shape.keypoints:
        losses.append(
            (
                AuditReason.KEYPOINTS_DROPPED,
                f"{len(shape.keypoints)} keypoints not written: a VOC object has none",
            )
        )
    if shape.crowd or (isinstance(shape, BoundingBox) and shape.mask is not None):
        losses.append(
            (
                AuditReason.CROWD_AS_BOX,
                "a crowd region written as an ordinary object: VOC has no crowd flag and no "
                "mask (a mask is written as its box)",
            )
        )
    dropped: list[str] = []
    if isinstance(shape, Polygon) and shape.rings:
        dropped.append(
            f"{len(shape.rings)} further polygon(s) of the object (its <bndbox> covers them; "
            "<polygon> holds the first)"
        )
    if isinstance(shape, Polygon) and shape.bbox is not None:
        dropped.append("the stored bbox (<bndbox> is the polygon's extent)")
    if shape.area is not None:
        dropped.append("the stored area")
    if dropped:
        losses.append(
            (AuditReason.NOT_IN_TARGET, "not written, VOC has no place for it: " + "; ".join(dropped))
        )
    return losses


def _xml_bytes(document: StdET.Element) -> bytes:
    """The document as UTF-8 XML. A carriage return in text is written as ``&#13;``: a parser
    turns a raw one into a line feed (XML end-of-line handling), the reference keeps it."""
    StdET.indent(document)
    data: bytes = StdET.tostring(document, encoding="utf-8", xml_declaration=False)
    # Only text holds a \r (the layout uses \n), and "&#13;" is read back as exactly that.
    return data.replace(b"\r", b"&#13;")


class _SplitListWriter:
    """Appends ids to ``ImageSets/Main/<split>.txt`` (and ``trainval.txt``) as items stream."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._files: dict[str, IO[str]] = {}

    def __enter__(self) -> _SplitListWriter:
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
                    "w", encoding="utf-8", newline="\n"
                )
            handle.write(stem + "\n")


def _voc_number(*parts: float) -> str:
    """The exact decimal sum of ``parts`` (each taken as its shortest repr): integers as
    ``12``, others in full, so reading it back and undoing the shift gives each float exactly."""
    with localcontext(prec=_DECIMAL_DIGITS):
        total = sum((Decimal(repr(part)) for part in parts), Decimal(0))
        if total == total.to_integral_value():
            return str(int(total))
        return format(total, "f")


def _finite(value: JsonValue) -> bool:
    """Whether ``value`` holds no NaN or infinity anywhere (JSON has no such numbers)."""
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, float) and not math.isfinite(current):
            return False
        if isinstance(current, list):
            stack.extend(current)
        elif isinstance(current, dict):
            stack.extend(current.values())
    return True


def _plain_voc_value(name: str, value: JsonValue) -> bool:
    """Whether ``value`` of VOC field ``name`` can be that field's text and read back the same.

    Flags are written as text only when they are counts (``0``, ``1``): VOC readers call
    ``int()`` on them; every other flag value goes to ``<attributes>``."""
    if name == "pose":
        return (
            isinstance(value, str)
            and value == value.strip()
            and not _NOT_XML_CHARS.search(value)
        )
    if name in _FLAGS:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return False


def _json_text(value: JsonValue) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def _unwritable(shape: BoundingBox | Polygon) -> tuple[AuditReason, str] | None:
    """Why ``shape`` cannot be written so that it reads back the same, or ``None``."""
    if isinstance(shape, BoundingBox) and min(shape.data[2], shape.data[3]) < 1:
        # Inclusive corners: xmax = xmin + width - 1, before xmin when width < 1, and a box
        # with xmax < xmin is refused by every VOC reader (this one included).
        return (
            AuditReason.BOX_NON_POSITIVE,
            f"box {shape.data[2]!r} x {shape.data[3]!r} is under one pixel wide or high: VOC's "
            "inclusive corners would put xmax before xmin (or ymax before ymin); not written",
        )
    problem = _unwritable_text(shape)
    return None if problem is None else (AuditReason.INVALID_ANNOTATION, problem)


def _unwritable_text(shape: BoundingBox | Polygon) -> str | None:
    for attr in shape.attrs:
        if not _finite(attr.value):
            return (
                f"attribute {attr.name!r} holds NaN or an infinity, which JSON (and so "
                "<attributes>) cannot carry; not written"
            )
    texts = [shape.classification]
    for attr in shape.attrs:
        texts.append(attr.name)
        texts.append(_json_text(attr.value))
    for text in texts:
        if _NOT_XML_CHARS.search(text):
            return f"{text[:60]!r} holds characters XML 1.0 cannot carry; not written"
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
    # A VOC field's only attribute goes in that field when its text can hold it; every other
    # attribute, and every value of a field name given twice, goes to <attributes> (which the
    # importer lets replace the field, so nothing is read back twice).
    counts: dict[str, int] = {}
    for attr in shape.attrs:
        counts[attr.name] = counts.get(attr.name, 0) + 1
    plain = {
        attr.name: attr.value
        for attr in shape.attrs
        if attr.name in VOC_ATTRIBUTES
        and counts[attr.name] == 1
        and _plain_voc_value(attr.name, attr.value)
    }
    others = [attr for attr in shape.attrs if attr.name not in plain]
    seen = set(counts)
    _sub(obj, "pose", str(plain.get("pose", "Unspecified")))
    for flag in ("truncated", "difficult", "occluded"):
        if flag in seen or flag != "occluded":
            _sub(obj, flag, str(plain.get(flag, 0)))
    bndbox = _sub(obj, "bndbox")
    if isinstance(shape, BoundingBox):
        x, y, w, h = shape.data
        corners = (_voc_number(x, 1), _voc_number(y, 1), _voc_number(x, w), _voc_number(y, h))
    else:
        # Over every ring: the box of the whole object, even where <polygon> holds only one.
        xs = [px for ring in (shape.data, *shape.rings) for px, _ in ring]
        ys = [py for ring in (shape.data, *shape.rings) for _, py in ring]
        # The box a box of the polygon's extent gets: the polygon's own bounds, 1-based inclusive.
        corners = (
            _voc_number(min(xs), 1),
            _voc_number(min(ys), 1),
            _voc_number(max(xs)),
            _voc_number(max(ys)),
        )
    for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), corners, strict=True):
        _sub(bndbox, tag, value)
    if isinstance(shape, Polygon):
        polygon = _sub(obj, "polygon")
        for index, (px, py) in enumerate(shape.data, start=1):
            _sub(polygon, f"x{index}", _voc_number(px, 1))
            _sub(polygon, f"y{index}", _voc_number(py, 1))
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
