"""The audit report: every item or annotation a conversion or import skipped, and why.

Bad input never crashes a run and is never dropped silently: each skip is one entry (split, item,
annotation id, reason, message). What a run kept but had to change (a class renumbered for a
target that needs contiguous ids, a file renamed because the target cannot hold two of that name,
a box written with a rectangle segmentation) is an entry too, with ``action`` ``"changed"``:
those are counted apart from the skips. Entries are streamed to disk as they happen, so a dataset full
of bad items does not grow memory; :meth:`AuditLog.close` writes the final ``audit.json``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from enum import StrEnum
from pathlib import Path
from typing import IO, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AUDIT_FILE_NAME",
    "AuditEntry",
    "AuditLog",
    "AuditReason",
    "AuditSummary",
    "read_audit",
]

#: The report's file name, written at the root of the output folder.
AUDIT_FILE_NAME = "audit.json"


class AuditReason(StrEnum):
    """Why something was skipped."""

    MALFORMED_JSON = "malformed_json"
    INVALID_ITEM = "invalid_item"
    MISSING_IMAGE = "missing_image"
    UNREADABLE_IMAGE = "unreadable_image"
    MISSING_CLASS = "missing_class"
    UNKNOWN_CLASS = "unknown_class"
    INVALID_ANNOTATION = "invalid_annotation"
    BOX_NON_FINITE = "box_non_finite"
    BOX_NON_POSITIVE = "box_non_positive"
    BOX_OUTSIDE_IMAGE = "box_outside_image"
    POLYGON_TOO_FEW_POINTS = "polygon_too_few_points"
    POLYGON_NON_FINITE = "polygon_non_finite"
    POLYGON_OUTSIDE_IMAGE = "polygon_outside_image"
    MALFORMED_ROW = "malformed_row"
    MISSING_LABELS = "missing_labels"
    #: A path in the input leaves the dataset root (``..``, absolute, or a symlink pointing
    #: outside): the file is never read.
    UNSAFE_PATH = "unsafe_path"
    #: An item file is larger than the reader accepts, or nested deeper than it can parse.
    ITEM_TOO_LARGE = "item_too_large"
    #: Two entries of the input name the same image file.
    DUPLICATE_IMAGE = "duplicate_image"
    #: An annotation refers to an image that the input does not list.
    ORPHAN_ANNOTATION = "orphan_annotation"
    #: An image id the output could not keep (already used): the item got a new one.
    IMAGE_ID_RENUMBERED = "image_id_renumbered"
    #: An annotation id the output could not keep (already used): the annotation got a new one.
    ANNOTATION_ID_RENUMBERED = "annotation_id_renumbered"
    #: The target needs class ids ``0..n-1``: the source's ids were mapped to them in id order.
    CLASS_IDS_RENUMBERED = "class_ids_renumbered"
    #: A file name the target cannot hold twice (two images with one label file name): renamed.
    RENAMED_FOR_TARGET = "renamed_for_target"
    #: A box written to COCO with its rectangle as ``segmentation`` (mask tools need one).
    BOX_AS_RECTANGLE = "box_as_rectangle"
    #: A YOLO dataset holds both box and polygon rows: Ultralytics then drops all polygons.
    MIXED_BOXES_AND_POLYGONS = "mixed_boxes_and_polygons"
    #: A coordinate slightly outside the image (within 1% of its size) was moved onto its edge.
    CLAMPED_TO_IMAGE = "clamped_to_image"
    #: An object of several polygons was written as one polygon per ring (YOLO rows).
    POLYGON_RINGS_SPLIT = "polygon_rings_split"
    #: A crowd region written as an ordinary object (YOLO), or an unreadable RLE mask kept as
    #: its bounding box.
    CROWD_AS_BOX = "crowd_as_box"
    #: An annotation's keypoints could not be kept; the object was.
    KEYPOINTS_DROPPED = "keypoints_dropped"
    #: A polygon written as its bounding box (a YOLO pose dataset holds boxes only).
    POLYGON_AS_BOX = "polygon_as_box"
    #: An XML file with a DTD or entity declarations (billion laughs, external entities):
    #: refused, never expanded.
    UNSAFE_XML = "unsafe_xml"
    #: Something the target format has no place for (a VOC object's further rings, its stored
    #: area): the object is written without it.
    NOT_IN_TARGET = "not_in_target"
    #: The source states something that disagrees with the file it describes (a VOC ``<size>``
    #: or ``<filename>`` other than the image's): the file wins.
    SOURCE_DISAGREES = "source_disagrees"
    #: Ultralytics needs both ``train`` and ``val`` in a yaml: a split the dataset lacks points
    #: at one it has (``val`` at ``test``, else ``train``; ``train`` at ``valid``, else ``test``).
    SPLIT_FILLED_IN = "split_filled_in"
    #: The size the source declares for an image is not its header's: the header's is used.
    IMAGE_SIZE_MISMATCH = "image_size_mismatch"
    #: A YOLO label path that cannot be read (a folder, no permission, not UTF-8): the image
    #: is kept without annotations.
    LABEL_UNREADABLE = "label_unreadable"
    #: A COCO source gives one annotation id to several annotations: both are kept (a COCO
    #: output renumbers the later ones, ``annotation_id_renumbered``).
    DUPLICATE_ANNOTATION_ID = "duplicate_annotation_id"
    #: An image file in the dataset that no item lists (a COCO images folder file missing from
    #: the annotations JSON, a DM v2 ``original_files/`` file with no ``json/`` item): the
    #: annotations define the dataset, so it is not imported; counted as a skipped item.
    UNLISTED_IMAGE = "unlisted_image"
    #: A YOLO output image whose path holds a folder named ``images``: Ultralytics maps the
    #: LAST ``/images/`` of an image path to ``/labels/``, so its label is written there
    #: (inside ``images/<split>/``), not under ``labels/``.
    LABEL_IN_IMAGES_FOLDER = "label_in_images_folder"
    #: One ring of an object of several polygons is broken (too few points, not finite): it is
    #: dropped and the object kept with its other rings.
    POLYGON_RING_DROPPED = "polygon_ring_dropped"
    #: A COCO ``bbox``/``area`` the source stored no longer describes the object kept (a ring
    #: was dropped): replaced by the kept rings' bounding box and shoelace area.
    BBOX_RECOMPUTED = "bbox_recomputed"
    #: Several COCO category ids with one name (Roboflow's project entry beside its class):
    #: one class, with the id an earlier file or the annotations use; the others map to it.
    CATEGORY_MERGED = "category_merged"


class AuditEntry(BaseModel):
    """One skipped item (``annotation`` is ``None``) or one skipped annotation."""

    model_config = ConfigDict(frozen=True)

    split: str | None
    item: str
    annotation: str | None
    kind: str
    reason: AuditReason
    message: str
    #: ``"skipped"``: left out of the output; ``"changed"``: kept, but not exactly as given.
    action: Literal["skipped", "changed"] = "skipped"


class AuditSummary(BaseModel):
    """The counts of a report; also what the steps put in their result data."""

    model_config = ConfigDict(frozen=True)

    items_total: int = 0
    items_written: int = 0
    items_skipped: int = 0
    annotations_written: int = 0
    annotations_skipped: int = 0
    reasons: dict[str, int] = Field(default_factory=dict)
    #: Entries with action ``"changed"``, by reason (not counted in ``reasons``).
    changes: dict[str, int] = Field(default_factory=dict)


class AuditLog:
    """Collects skips while a run streams; :meth:`close` writes ``<folder>/audit.json``.

    Entries go to a spool file beside the report as they come; counts stay in memory (a handful
    of integers). Use it as a context manager; the spool file is removed in every case.
    """

    def __init__(self, folder: Path, *, source: str, target_format: str) -> None:
        """Prepare a report for ``folder``; ``source`` and ``target_format`` are echoed in it."""
        self.path = folder / AUDIT_FILE_NAME
        self._spool_path = folder / (AUDIT_FILE_NAME + ".spool")
        self._spool: IO[str] | None = None
        self._first = True
        self.source = source
        self.target_format = target_format
        self.items_total = 0
        self.items_written = 0
        self.annotations_written = 0
        self.items_skipped = 0
        self.annotations_skipped = 0
        self.reasons: Counter[str] = Counter()
        self.changes: Counter[str] = Counter()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard_spool()

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
        """Record one skip; ``annotation=None`` means the whole item was skipped."""
        self._write(
            AuditEntry(
                split=split,
                item=item,
                annotation=annotation,
                kind=kind,
                reason=reason,
                message=message,
            )
        )
        self.reasons[reason.value] += 1
        if annotation is None:
            self.items_skipped += 1
        else:
            self.annotations_skipped += 1

    def record_change(
        self,
        *,
        split: str | None,
        item: str,
        reason: AuditReason,
        message: str,
        annotation: str | None = None,
        kind: str = "item",
    ) -> None:
        """Record something kept but changed (renamed, renumbered, rewritten); ``item`` ``"*"``
        with ``kind`` ``"dataset"`` for a change that concerns the whole dataset."""
        self._write(
            AuditEntry(
                split=split,
                item=item,
                annotation=annotation,
                kind=kind,
                reason=reason,
                message=message,
                action="changed",
            )
        )
        self.changes[reason.value] += 1

    def _write(self, entry: AuditEntry) -> None:
        if not _is_text(entry.item, entry.annotation or "", entry.message):
            # A file name with bytes that are not UTF-8 cannot go into JSON as it is: escaped.
            entry = entry.model_copy(
                update={
                    "item": _escaped(entry.item),
                    "annotation": None if entry.annotation is None else _escaped(entry.annotation),
                    "message": _escaped(entry.message),
                }
            )
        if self._spool is None:
            self._spool = self._spool_path.open("w", encoding="utf-8")
        if not self._first:
            self._spool.write(",\n")
        self._first = False
        self._spool.write(entry.model_dump_json())

    def summary(self) -> AuditSummary:
        """The counts so far."""
        return AuditSummary(
            items_total=self.items_total,
            items_written=self.items_written,
            items_skipped=self.items_skipped,
            annotations_written=self.annotations_written,
            annotations_skipped=self.annotations_skipped,
            reasons=dict(sorted(self.reasons.items())),
            changes=dict(sorted(self.changes.items())),
        )

    def close(self) -> AuditSummary:
        """Write ``audit.json`` (summary then entries) and return the summary."""
        summary = self.summary()
        head = {
            "source": self.source,
            "target_format": self.target_format,
            "summary": summary.model_dump(),
        }
        # Written under a hidden name and renamed into place: audit.json is the mark of a
        # finished run, so it must never exist half written.
        partial = self.path.with_name(f".{self.path.name}.partial")
        with partial.open("w", encoding="utf-8") as out:
            text = json.dumps(head, indent=2)
            # Splice the streamed entries in as the last key of the object.
            out.write(text[:-2] + ',\n  "entries": [\n')
            if self._spool is not None:
                self._spool.close()
                self._spool = None
                with self._spool_path.open("r", encoding="utf-8") as spool:
                    shutil.copyfileobj(spool, out, 1 << 16)  # bounded chunks, not line by line
            out.write("\n  ]\n}\n")
        os.replace(partial, self.path)
        self.discard_spool()
        return summary

    def discard_spool(self) -> None:
        """Close and remove the spool file, if any."""
        if self._spool is not None:
            self._spool.close()
            self._spool = None
        try:
            os.unlink(self._spool_path)
        except FileNotFoundError:
            pass


def _is_text(*values: str) -> bool:
    try:
        for value in values:
            value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _escaped(value: str) -> str:
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def read_audit(path: Path) -> tuple[AuditSummary, list[AuditEntry]]:
    """Load an ``audit.json`` written by :class:`AuditLog` (tests and tools use it)."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    summary = AuditSummary.model_validate(raw["summary"])
    entries = [AuditEntry.model_validate(e) for e in raw["entries"]]
    return summary, entries
