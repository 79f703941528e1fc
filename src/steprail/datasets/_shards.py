"""Sharded conversion: a DM v2 dataset converted to YOLO or COCO by several workers at once, with
an output byte for byte the one a single process writes.

How it stays identical. A conversion has two kinds of work:

* per item, independent of every other item: reading and validating the item's JSON, reading its
  image header, checking each annotation, and (YOLO) formatting its label rows. This is most of
  the time, and it is what the shards do, each over a contiguous range of the items in the order
  the single-process run reads them. A shard writes what it found (the checked items, and every
  audit record the checks made, in order) to its own file in a staging folder.
* what depends on the items before it: COCO image and annotation ids (a source id is kept while
  free), output file names (``~2`` suffixes), the audit's order and counts, the files written.
  The merge, on the driver, runs the unchanged converter with its item loop fed from the shard
  files, in shard order, replaying each shard's audit records just where the check made them.

So the converter sees the same items, with the same audit calls, in the same order as when it
reads them itself: the bytes cannot differ. The tests compare them anyway.

Where shards run is an executor (:class:`ShardExecutor`): :class:`InProcessShards` runs them one
after the other in this process (no Ray; what proves merge determinism cheaply), and
:class:`RayShards` runs each as a Ray task. Tasks are not retried (``max_retries=0``): a shard
that fails fails the conversion with its name and, where known, its item. A shard's output is
idempotent (written under a partial name and renamed), so running a shard again is harmless.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import pickle
import shutil
import signal
import socket
import stat
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from itertools import islice
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final, Literal, Protocol

from ._audit import AuditLog, AuditReason
from ._classes import resolve_class_map
from ._coco import write_coco
from ._convert import (
    ConversionResult,
    _sigterm_cleans_up,
    raised_termination,
    refuse_used_output,
)
from ._dmv2 import IMAGE_EXTENSIONS, DMv2Keypoints, RleMask
from ._source import (
    CheckedShapes,
    ShapeExtras,
    DatasetInputError,
    DMv2Layout,
    ItemListing,
    audit_unlisted_originals,
    detect_layout,
    iter_checked_items,
    iter_checked_shapes,
    list_item_files,
    read_manifest,
    refuse_output_inside,
    split_folders,
)
from ._yolo import PreparedYoloItem, prepare_yolo_item, write_yolo, yolo_ids

if TYPE_CHECKING:
    from ray import ObjectRef

__all__ = [
    "InProcessShards",
    "RayShards",
    "ShardExecutor",
    "ShardFailedError",
    "ShardRange",
    "ShardReport",
    "ShardRun",
    "ShardSpec",
    "ShardTarget",
    "ShardTask",
    "convert_in_shards",
    "convert_shard",
]

type ShardTarget = Literal["yolo", "coco"]
"""The formats a sharded conversion writes (from DM v2)."""

#: Progress: (done, total) work units, a unit being one item checked by a shard or one item
#: merged by the driver, so ``total`` is twice the item count.
type ProgressCallback = Callable[[int, int], None]


class ShardFailedError(RuntimeError):
    """A shard of a sharded conversion failed: the message names the shard (its number and its
    first and last items) and, when the worker could say, the item it was reading."""


@dataclass(frozen=True, slots=True)
class ShardRange:
    """A shard's items in one split: entries ``[start, stop)`` of the split's ``json/`` folder
    in the order the single-process run reads it, with a digest of their names (a worker that
    lists the folder otherwise refuses to run rather than convert other items)."""

    split: str | None
    start: int
    stop: int
    digest: str
    first: str
    last: str


@dataclass(frozen=True, slots=True)
class ShardSpec:
    """Everything one shard needs (plain data: it is sent to a worker as it is)."""

    index: int
    shards: int
    source: str
    is_categorized: bool
    ranges: tuple[ShardRange, ...]
    target_format: ShardTarget
    class_ids: Mapping[str, int]
    pose: DMv2Keypoints | None
    staging: str

    @property
    def items(self) -> int:
        """How many item files the shard reads."""
        return sum(r.stop - r.start for r in self.ranges)

    @property
    def output_path(self) -> Path:
        """The shard's file in the staging folder."""
        return Path(self.staging) / f"shard-{self.index:05d}.pickle"

    def describe(self) -> str:
        """``shard 2 of 4 (train/item_000120.json .. valid/item_000002.json)``."""
        first, last = self.ranges[0], self.ranges[-1]
        return (
            f"shard {self.index + 1} of {self.shards} "
            f"({_item_name(first.split, first.first)} .. {_item_name(last.split, last.last)})"
        )


@dataclass(frozen=True, slots=True)
class ShardReport:
    """What a finished shard returns: its file, how many item files it read, and where it ran
    (``host:pid``)."""

    index: int
    items: int
    path: str
    worker: str


type ShardTask = Callable[[ShardSpec], ShardReport]
"""The function a shard runs: :func:`convert_shard` (tests wrap it to inject faults)."""


class ShardRun(Protocol):
    """Shards started by an executor."""

    def result(self, index: int) -> ShardReport:
        """Wait for shard ``index`` (reporting other shards as they finish); raise
        :class:`ShardFailedError` if it, or a shard finishing meanwhile, failed."""
        ...

    def cancel(self) -> None:
        """Stop the shards still running and wait until they have stopped."""
        ...


class ShardExecutor(Protocol):
    """Where the shards of a conversion run (the seam between the merge and the workers)."""

    def start(
        self, specs: Sequence[ShardSpec], on_done: Callable[[ShardReport], None]
    ) -> ShardRun:
        """Start (or schedule) every shard; ``on_done`` is called on the caller's thread, once
        per shard that finishes, from :meth:`ShardRun.result`."""
        ...


def _item_name(split: str | None, name: str) -> str:
    return name if split is None else f"{split}/{name}"


# An audit call a check made: (is a change, split, item, reason, message, annotation, kind).
type _Record = tuple[bool, str | None, str, AuditReason, str, str | None, str]


class _RecordingAudit(AuditLog):
    """An audit log that keeps its records in memory, in order, to be replayed by the merge."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder, source="", target_format="")
        self.pending: list[_Record] = []

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
        self.pending.append((False, split, item, reason, message, annotation, kind))

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
        self.pending.append((True, split, item, reason, message, annotation, kind))

    def take(self) -> tuple[_Record, ...]:
        if not self.pending:
            return ()
        taken = tuple(self.pending)
        self.pending.clear()
        return taken


def _replay(records: tuple[_Record, ...], audit: AuditLog) -> None:
    for change, split, item, reason, message, annotation, kind in records:
        add = audit.record_change if change else audit.record
        add(
            split=split, item=item, reason=reason, message=message, annotation=annotation,
            kind=kind,
        )  # fmt: skip


# Events of a shard file: an item (the audit records made before it, the item) or the end of
# the shard's part of a split (records after its last item, items whose image was found, item
# files counted).
type _ItemEvent = tuple[
    Literal["item"],
    tuple[_Record, ...],
    PreparedYoloItem | tuple[object, ...],
    tuple[int, int, int, int],
]
type _EndEvent = tuple[Literal["end"], tuple[_Record, ...], int, int]
type _Event = _ItemEvent | _EndEvent

# The fields of a CheckedShapes, in its constructor's order: how a COCO shard's items travel.
_SHAPE_FIELDS: Final = tuple(f.name for f in fields(CheckedShapes))
_IMAGE_PATH: Final = _SHAPE_FIELDS.index("image_path")

# Events pickled together: few, large writes, and a small bounded buffer.
_BATCH: Final = 256


class _ShardListing(ItemListing):
    """A shard's entries of each split, checked against the names the driver planned."""

    def __init__(self, spec: ShardSpec) -> None:
        super().__init__()
        self._ranges = {r.split: r for r in spec.ranges}
        self._spec = spec
        self.current: str | None = None

    def entries(self, layout: DMv2Layout, split: str | None) -> Iterator[os.DirEntry[str]]:
        wanted = self._ranges[split]
        folder = layout.split_dir(split) / "json"
        chosen = list(islice(list_item_files(folder), wanted.start, wanted.stop))
        if _digest([entry.name for entry in chosen]) != wanted.digest:
            raise ShardFailedError(
                f"{self._spec.describe()}: the worker lists {str(folder)!r} otherwise than the "
                "driver did (files added or removed during the conversion, or storage that is "
                "not the same for both): refused rather than convert other items"
            )
        for entry in chosen:
            self.current = _item_name(split, entry.name)
            yield entry
        self.current = None


def _digest(names: Sequence[str]) -> str:
    joined = "\0".join(names).encode("utf-8", "surrogateescape")
    return hashlib.sha256(joined).hexdigest()


def _where() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def convert_shard(spec: ShardSpec) -> ShardReport:
    """Check one shard's items and write them, with their audit records, to the shard's file.

    Runs wherever the executor puts it (a Ray worker, or this process). The source and the
    staging folder must be reachable there at the same paths (shared storage).

    Raises:
        ShardFailedError: naming the shard and the item it was reading.
    """
    source = Path(spec.source)
    staging = Path(spec.staging)
    for what, folder in (("dataset folder", source), ("staging folder", staging)):
        if not folder.is_dir():
            raise ShardFailedError(
                f"{spec.describe()}: {what} {str(folder)!r} is not reachable from the worker "
                f"{_where()}: the source and the output's folder must be on storage every "
                "worker reaches at the same path"
            )
    listing = _ShardListing(spec)
    audit = _RecordingAudit(staging)
    target = spec.output_path
    partial = target.with_name(target.name + ".partial")
    try:
        with _writing(spec, partial):
            out = partial.open("wb")
        with out:
            batch: list[_Event] = []
            for shard_range in spec.ranges:
                layout = DMv2Layout(source, spec.is_categorized, (shard_range.split,))
                counted = audit.items_total
                for event in _check_range(spec, layout, audit, listing):
                    batch.append(event)
                    if len(batch) >= _BATCH:
                        with _writing(spec, partial):
                            _dump(batch, out)
                matched = listing.matched[shard_range.split]
                batch.append(("end", audit.take(), matched, audit.items_total - counted))
            with _writing(spec, partial):
                _dump(batch, out)
                out.close()  # its last bytes are written now, not as an item's failure
        with _writing(spec, partial):
            os.replace(partial, target)
    except ShardFailedError:
        partial.unlink(missing_ok=True)
        raise
    except Exception as exc:
        partial.unlink(missing_ok=True)
        at = f" at item {listing.current}" if listing.current is not None else ""
        raise ShardFailedError(
            f"{spec.describe()} failed{at}: {type(exc).__name__}: {exc}"
        ) from exc
    return ShardReport(spec.index, spec.items, str(target), _where())


@contextmanager
def _writing(spec: ShardSpec, path: Path) -> Iterator[None]:
    # A failure to write the shard's own file (a full disk, a file size limit) is the staging
    # folder's, not the item's being read: named so.
    try:
        yield
    except OSError as exc:
        raise ShardFailedError(
            f"{spec.describe()}: cannot write its file {str(path)!r}: "
            f"{exc.strerror or type(exc).__name__} (is the staging folder's disk full?)"
        ) from exc


def _check_range(
    spec: ShardSpec, layout: DMv2Layout, audit: _RecordingAudit, listing: _ShardListing
) -> Iterator[_ItemEvent]:
    if spec.target_format == "yolo":
        for item in iter_checked_items(layout, audit, spec.class_ids, listing):
            prepared = prepare_yolo_item(item, spec.class_ids, spec.pose, audit)
            yield ("item", audit.take(), prepared, _identity(prepared.image_path))
    else:
        for shapes in iter_checked_shapes(layout, audit, spec.class_ids, listing):
            # As a plain tuple of its fields: loads in half the time of the dataclass.
            fields_ = tuple([getattr(shapes, f) for f in _SHAPE_FIELDS])
            yield ("item", audit.take(), fields_, _identity(shapes.image_path))


def _identity(path: str) -> tuple[int, int, int, int]:
    # The image file as the check saw it (not followed: a symlink is itself): the merge links
    # it much later, and refuses it if it is no longer this file.
    found = os.lstat(path)
    return (found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns)


def _dump(batch: list[_Event], out: IO[bytes]) -> None:
    if batch:
        pickle.dump(batch, out, protocol=pickle.HIGHEST_PROTOCOL)
        batch.clear()


class _Progress:
    """Work units done of ``total``, reported at most about a thousand times, always at the
    end; only ever grows."""

    def __init__(self, total: int, callback: ProgressCallback | None) -> None:
        self.total = total
        self.done = 0
        self._callback = callback
        self._step = max(1, total // 1000)
        self._reported = 0

    def add(self, units: int) -> None:
        self.done += units
        if self._callback is not None and (
            self.done - self._reported >= self._step
            or (self.done >= self.total and self._reported < self.done)
        ):
            self._reported = self.done
            self._callback(self.done, self.total)

    def finish(self) -> None:
        if self._callback is not None and self._reported < self.total:
            self._reported = self.done = self.total
            self._callback(self.total, self.total)


class _Merge:
    """Feeds the converter from the shard files, in shard order, replaying their audit records."""

    def __init__(
        self,
        specs: Sequence[ShardSpec],
        run: ShardRun,
        progress: _Progress,
        staging: _Staging,
        planned: tuple[Path, Sequence[str] | None, Mapping[str | None, list[str]]],
    ) -> None:
        self._specs = specs
        self._run = run
        self._progress = progress
        self._staging = staging
        self._open: dict[int, tuple[IO[bytes], Iterator[_Event]]] = {}
        self._ranges_left = sum(len(spec.ranges) for spec in specs)
        self._planned = planned

    def close(self) -> None:
        for handle, _ in self._open.values():
            handle.close()
        self._open.clear()

    def finished(self) -> None:
        """Every shard is merged: the staging folder goes now, before the writer ends (it may
        be inside the output)."""
        self.close()
        self._staging.remove()

    def _events(self, spec: ShardSpec) -> Iterator[_Event]:
        if spec.index not in self._open:
            self._run.result(spec.index)
            # The file is opened by name inside the staging folder this process made and still
            # holds open, whatever the report says and whatever the path now leads to.
            handle = self._staging.open_shard_file(spec)
            self._open[spec.index] = (handle, self._guarded(spec, _load(handle)))
        return self._open[spec.index][1]

    def _guarded(self, spec: ShardSpec, events: Iterator[_Event]) -> Iterator[_Event]:
        coco = spec.target_format == "coco"
        try:
            for event in events:
                if event[0] == "item" and coco != (
                    type(event[2]) is tuple and len(event[2]) == len(_SHAPE_FIELDS)
                ):
                    raise pickle.UnpicklingError("holds an item of another format")
                yield event
        except (pickle.UnpicklingError, EOFError, TypeError, ValueError, AttributeError,
                IndexError, KeyError, MemoryError) as exc:  # fmt: skip
            raise ShardFailedError(
                f"{spec.describe()}: its file {spec.output_path.name!r} is not one this "
                f"conversion's shard wrote ({type(exc).__name__}: {exc}): the conversion stopped"
            ) from exc

    def _split(
        self, layout: DMv2Layout, split: str | None, audit: AuditLog
    ) -> Iterator[PreparedYoloItem | tuple[object, ...]]:
        planned_names = self._planned[2]
        if split not in planned_names:
            raise ShardFailedError(_changed(f"the split {split!r} appeared"))
        matched = 0
        for spec in self._specs:
            for shard_range in spec.ranges:
                if shard_range.split != split:
                    continue
                events = self._events(spec)
                merged = 0
                for event in events:
                    _replay(event[1], audit)
                    if event[0] == "end":
                        matched += event[2]
                        audit.items_total += event[3]
                        break
                    merged += 1
                    self._progress.add(1)
                    _refuse_changed_image(spec, event[2], event[3])
                    yield event[2]
                else:
                    raise ShardFailedError(f"{spec.describe()}: its file ends early")
                # Skipped items were merged too (their audit records were replayed).
                self._progress.add(shard_range.stop - shard_range.start - merged)
                self._ranges_left -= 1
                if self._ranges_left == 0:
                    self.finished()
        audit_unlisted_originals(layout, split, matched, audit)
        if split == list(planned_names)[-1]:  # the last split: every item is merged
            self._refuse_changed_listing()

    def _refuse_changed_listing(self) -> None:
        # Each shard checked its own slice of the items; an item added after the last planned
        # one, or a split folder made meanwhile, is seen only by listing everything again.
        root, splits, planned = self._planned
        now = _listed(detect_layout(root, splits))
        if list(now) != list(planned):
            added = sorted(str(split) for split in now if split not in planned)
            raise ShardFailedError(_changed(f"its splits are now {list(now)!r} ({added} new)"))
        for split, names in planned.items():
            if now[split] != names:
                new = sorted(set(now[split]) - set(names))[:3]
                gone = sorted(set(names) - set(now[split]))[:3]
                raise ShardFailedError(
                    _changed(f"the items of {_item_name(split, 'json/')} changed (added {new}, "
                             f"removed {gone})")  # fmt: skip
                )

    def yolo(self, class_ids: Mapping[str, int], pose: DMv2Keypoints | None) -> Callable[
        [DMv2Layout, AuditLog, Mapping[str, int], DMv2Keypoints | None],
        Iterator[PreparedYoloItem],
    ]:
        def prepared(
            layout: DMv2Layout,
            audit: AuditLog,
            found_ids: Mapping[str, int],
            found_pose: DMv2Keypoints | None,
        ) -> Iterator[PreparedYoloItem]:
            _same_classes(found_ids, class_ids)
            if found_pose != pose:
                raise RuntimeError("the converter's pose schema is not the one the shards used")
            for split in layout.splits:
                for item in self._split(layout, split, audit):
                    assert isinstance(item, PreparedYoloItem)
                    yield item

        return prepared

    def coco(self, class_ids: Mapping[str, int]) -> Callable[
        [DMv2Layout, AuditLog, Mapping[str, int]], Iterator[CheckedShapes]
    ]:
        def checked(
            layout: DMv2Layout, audit: AuditLog, found_ids: Mapping[str, int]
        ) -> Iterator[CheckedShapes]:
            _same_classes(found_ids, class_ids)
            for split in layout.splits:
                for item in self._split(layout, split, audit):
                    yield CheckedShapes(*item)  # the fields, in their order

        return checked


def _listed(layout: DMv2Layout) -> dict[str | None, list[str]]:
    # Every split's item files, in reading order.
    return {
        split: [entry.name for entry in list_item_files(layout.split_dir(split) / "json")]
        for split in layout.splits
    }


def _changed(what: str) -> str:
    return (
        f"the dataset changed during the conversion ({what}): its output would not be the "
        "dataset's; run the conversion again"
    )


def _refuse_changed_image(
    spec: ShardSpec, item: PreparedYoloItem | tuple[object, ...], checked: tuple[int, ...]
) -> None:
    # Right before the writer links the image: it must still be the file the shard checked
    # (a symlink put in its place meanwhile, leading out of the root, would otherwise be linked
    # or copied into the output unchecked).
    path = item.image_path if isinstance(item, PreparedYoloItem) else item[_IMAGE_PATH]
    assert isinstance(path, str)
    try:
        now: tuple[int, ...] | None = _identity(path)
    except OSError:
        now = None
    if now != checked:
        raise ShardFailedError(
            f"{spec.describe()}: the image {path!r} changed (replaced, removed or turned into "
            "a symlink) after the shard checked it: a dataset changed during the conversion "
            "is refused rather than copied unchecked; run the conversion again"
        )


def _same_classes(found: Mapping[str, int], planned: Mapping[str, int]) -> None:
    # The shards checked classes against the ids planned before they started; the converter
    # computes its own. They are the same computation on the same input; a difference (the
    # manifest changed meanwhile) would change the output, so it fails instead.
    if dict(found) != dict(planned):
        raise DatasetInputError(
            "the dataset's classes changed while it was converted (the manifest was edited?): "
            "run the conversion again"
        )


class _DataOnlyUnpickler(pickle.Unpickler):
    """Loads what a shard writes and nothing else: plain values and the four record types a
    shard's items are made of. Any other global (``os.system``, a class with side effects in
    ``__reduce__``) is refused, so a shard file that is not what this module wrote cannot run
    code in the driver."""

    _ALLOWED: Final = {
        (cls.__module__, cls.__qualname__): cls
        for cls in (AuditReason, PreparedYoloItem, ShapeExtras, RleMask)
    }

    def find_class(self, module: str, name: str) -> type:
        found = self._ALLOWED.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"refers to {module}.{name}, which a shard never writes")
        return found


def _load(handle: IO[bytes]) -> Iterator[_Event]:
    unpickler = _DataOnlyUnpickler(handle)
    while True:
        try:
            batch: object = unpickler.load()
        except EOFError:
            return
        if not isinstance(batch, list):
            raise pickle.UnpicklingError(f"holds a {type(batch).__name__} where a batch belongs")
        for event in batch:
            yield _checked_event(event)


def _checked_event(event: object) -> _Event:
    # The merge unpacks events by position: anything else would fail with a bare TypeError far
    # from the shard that wrote it.
    if isinstance(event, tuple) and len(event) == 4 and event[0] == "item":
        if (
            isinstance(event[1], tuple)
            and isinstance(event[2], PreparedYoloItem | tuple)
            and isinstance(event[3], tuple)
            and len(event[3]) == 4
            and all(type(n) is int for n in event[3])
        ):
            return event  # shape checked just above
    elif isinstance(event, tuple) and len(event) == 4 and event[0] == "end":
        if isinstance(event[1], tuple) and all(type(n) is int and n >= 0 for n in event[2:]):
            return event  # shape checked just above
    raise pickle.UnpicklingError("holds an event a shard never writes")


_IMAGE_SUFFIXES: Final = frozenset(ext.lower() for ext in IMAGE_EXTENSIONS)


def _refuse_several_images(layout: DMv2Layout, split: str | None) -> None:
    # An item whose stem has several images (a.jpg and a.png) gets the one with the extension of
    # the item read before it, where it has it: a shard starts without that, so it could pick
    # the other one. Refused rather than risk output that differs (one listing of the folder).
    originals, json_folder, safe = split_folders(layout, split)
    if not safe:
        return
    # Readers try the lower-case extensions only: x.JPG beside x.jpg is never chosen (it is the
    # same name where names ignore case), so only different lower-case extensions count.
    stems: dict[str, str] = {}
    try:
        with os.scandir(originals) as entries:
            for entry in entries:
                stem, ext = os.path.splitext(entry.name)
                ext = ext.lower()
                if ext not in _IMAGE_SUFFIXES:
                    continue
                seen = stems.setdefault(stem, ext)
                if seen != ext and os.path.isfile(os.path.join(json_folder, stem + ".json")):
                    where = f"{split}/original_files" if split is not None else "original_files"
                    raise DatasetInputError(
                        f"{where}/{stem}.* in {str(layout.root)!r}: the item has several images; "
                        "which one a conversion uses depends on the item read before it, so a "
                        "sharded conversion cannot promise the single-process output: convert "
                        "it with one shard"
                    )
    except (FileNotFoundError, NotADirectoryError):
        return


def _plan(
    layout: DMv2Layout,
    shards: int,
    target_format: ShardTarget,
    class_ids: Mapping[str, int],
    pose: DMv2Keypoints | None,
    staging: Path,
    names: Mapping[str | None, list[str]],
) -> list[ShardSpec]:
    # Contiguous ranges of the items in reading order (split after split), as even as can be;
    # shards with no item are left out.
    total = sum(len(found) for found in names.values())
    # Never more shards than items: planning costs O(items) whatever ``shards`` asks for.
    shards = max(1, min(shards, total))
    bounds = [total * k // shards for k in range(shards + 1)]
    pieces: list[tuple[ShardRange, ...]] = []
    for start, stop in zip(bounds, bounds[1:]):
        ranges: list[ShardRange] = []
        offset = 0
        for split in layout.splits:
            found = names[split]
            low, high = max(start - offset, 0), min(stop - offset, len(found))
            if low < high:
                chosen = found[low:high]
                ranges.append(
                    ShardRange(split, low, high, _digest(chosen), chosen[0], chosen[-1])
                )
            offset += len(found)
        if ranges:
            pieces.append(tuple(ranges))
    return [
        ShardSpec(
            index=index, shards=len(pieces), source=str(layout.root),
            is_categorized=layout.is_categorized, ranges=ranges, target_format=target_format,
            class_ids=dict(class_ids), pose=pose, staging=str(staging),
        )  # fmt: skip
        for index, ranges in enumerate(pieces)
    ]


class InProcessShards:
    """Runs the shards in this process, one after the other, as the merge asks for them.

    No speed-up: it is the reference the Ray executor is compared with, and what tests use to
    prove that any split into shards merges to the single-process output.
    """

    def __init__(self, task: ShardTask = convert_shard) -> None:
        """``task`` is what each shard runs (:func:`convert_shard`; tests wrap it)."""
        self.task = task

    def start(
        self, specs: Sequence[ShardSpec], on_done: Callable[[ShardReport], None]
    ) -> ShardRun:
        """Return a run that computes shard ``i`` (and those before it) when asked for it."""
        return _SequentialRun(list(specs), self.task, on_done)


class _SequentialRun:
    def __init__(
        self, specs: list[ShardSpec], task: ShardTask, on_done: Callable[[ShardReport], None]
    ) -> None:
        self._specs = specs
        self._task = task
        self._on_done = on_done
        self._reports: list[ShardReport] = []

    def result(self, index: int) -> ShardReport:
        while len(self._reports) <= index:
            report = self._task(self._specs[len(self._reports)])
            self._reports.append(report)
            self._on_done(report)
        return self._reports[index]

    def cancel(self) -> None:
        pass  # nothing runs between two calls


class RayShards:
    """Runs each shard as a Ray task (``steprail[ray]``), all submitted at once; the merge
    starts with the first shard as soon as it is done, while the others run.

    Connects with ``ray.init(address=address)`` unless this process is connected already
    (``address=None``: ``RAY_ADDRESS``, else a new local cluster). Every worker must reach the
    dataset and the output's folder at the same paths (shared storage).
    """

    def __init__(
        self,
        *,
        address: str | None = None,
        num_cpus: float = 1.0,
        task: ShardTask = convert_shard,
    ) -> None:
        """``num_cpus``: the CPUs each task asks for; ``task``: what it runs (tests wrap
        :func:`convert_shard` to inject faults)."""
        if num_cpus <= 0:
            raise ValueError(f"RayShards(num_cpus={num_cpus}): must be positive")
        self.address = address
        self.num_cpus = num_cpus
        self.task = task

    def start(
        self, specs: Sequence[ShardSpec], on_done: Callable[[ShardReport], None]
    ) -> ShardRun:
        """Submit one task per shard (not retried: a failure is reported, never hidden)."""
        from .._extras import require_extra

        require_extra("ray", "steprail.datasets.RayShards")
        import ray

        if not ray.is_initialized():
            _init_keeping_sigterm(ray.init, self.address)
        remote = ray.remote(self.task).options(
            num_cpus=self.num_cpus, max_retries=0, retry_exceptions=False
        )
        refs = [remote.remote(spec) for spec in specs]
        return _RayRun(list(specs), refs, on_done)


def _init_keeping_sigterm(init: Callable[..., object], address: str | None) -> None:
    # ray.init puts its own SIGTERM handler (sys.exit(15), no message) in place of the one the
    # conversion installed to clean up and exit with 143 as a single-process run does: the
    # handler in place before is put back.
    main = threading.current_thread() is threading.main_thread()
    before = signal.getsignal(signal.SIGTERM) if main else None
    init(address=address)
    if main and before is not None and signal.getsignal(signal.SIGTERM) is not before:
        signal.signal(signal.SIGTERM, before)


class _RayRun:
    def __init__(
        self,
        specs: list[ShardSpec],
        refs: list[ObjectRef[ShardReport]],
        on_done: Callable[[ShardReport], None],
    ) -> None:
        self._specs = specs
        self._refs = refs
        self._on_done = on_done
        self._reports: dict[int, ShardReport] = {}

    def result(self, index: int) -> ShardReport:
        import ray

        while index not in self._reports:
            pending = [ref for i, ref in enumerate(self._refs) if i not in self._reports]
            try:
                ready, _ = ray.wait(pending, num_returns=1, fetch_local=True)
            except SystemExit as exc:
                # Ray runs signal handlers while it waits and turns the TerminatedError of a
                # SIGTERM into SystemExit(1): the run would exit 1, not 143.
                raise (raised_termination() or exc) from None
            for ref in ready:
                done = self._refs.index(ref)
                try:
                    report = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    raise ShardFailedError(_failure(self._specs[done], exc)) from exc
                self._reports[done] = report
                self._on_done(report)
        return self._reports[index]

    def cancel(self) -> None:
        import ray

        pending = [ref for i, ref in enumerate(self._refs) if i not in self._reports]
        for ref in pending:
            try:
                ray.cancel(ref, force=True)
            except (ray.exceptions.RayError, ValueError):
                pass  # finished meanwhile
        # Wait for them to stop, so none writes into the staging folder as it is removed.
        if pending:
            ray.wait(pending, num_returns=len(pending), timeout=30.0, fetch_local=False)


def _failure(spec: ShardSpec, exc: Exception) -> str:
    cause = getattr(exc, "cause", None)
    if isinstance(cause, ShardFailedError):
        return str(cause)
    if cause is not None:
        return f"{spec.describe()} failed: {type(cause).__name__}: {cause}"
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{spec.describe()} failed: its worker stopped ({type(exc).__name__}: {first_line})"


_DIR_FLAGS: Final = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
_SHARD_FILE_FLAGS: Final = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)


class _Staging:
    """The staging folder: made by this process (mode 0700, a new name, never one that was
    there), held open while the run lasts, and read only through that handle. Someone else who
    can write in its parent can rename it away or put another folder at its name, but cannot
    get a file of theirs read by the merge."""

    def __init__(self, parent: Path) -> None:
        # A short name of its own (not the output's name lengthened past the name limit).
        self.path = parent / f".steprail-shards-{uuid.uuid4().hex[:12]}"
        self._fd = -1
        try:
            os.mkdir(self.path, 0o700)
        except FileExistsError:
            # The name is new and random: something already there was put in wait for it.
            raise ShardFailedError(
                f"staging folder {str(self.path)!r} exists already: refused, a folder this run "
                "did not make is never used"
            ) from None
        try:
            self._fd = os.open(self.path, _DIR_FLAGS)
        except OSError:
            os.rmdir(self.path)
            raise
        try:
            found = os.fstat(self._fd)
            if (
                not stat.S_ISDIR(found.st_mode)
                or found.st_uid != os.geteuid()
                or stat.S_IMODE(found.st_mode) & 0o077
            ):
                raise ShardFailedError(
                    f"staging folder {str(self.path)!r} is not the private folder this run "
                    "made (someone replaced it): refused"
                )
        except BaseException:
            self.remove()
            raise

    def open_shard_file(self, spec: ShardSpec) -> IO[bytes]:
        """The shard's file, opened inside the folder this process made; a symlink, or a file
        someone else owns, is refused."""
        name = spec.output_path.name
        try:
            fd = os.open(name, _SHARD_FILE_FLAGS, dir_fd=self._fd)
        except OSError as exc:
            raise ShardFailedError(
                f"{spec.describe()}: its file {name!r} cannot be opened in the staging folder "
                f"{str(self.path)!r} ({exc.strerror or exc}): was the folder moved, or do the "
                "workers see another folder at its path?"
            ) from exc
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode) or found.st_uid != os.geteuid():
            os.close(fd)
            raise ShardFailedError(
                f"{spec.describe()}: its file {name!r} is not a file this user wrote: refused"
            )
        return io.open(fd, "rb")  # noqa: SIM115 (closed by the merge)

    def remove(self) -> None:
        """Remove the folder (what is at its path, if it is still the one made) and close its
        handle; once."""
        if self._fd < 0:
            return
        try:
            if os.path.samestat(os.fstat(self._fd), os.lstat(self.path)):
                shutil.rmtree(self.path, ignore_errors=True)
        except OSError:
            pass  # gone, or replaced by someone else's: theirs is not removed
        finally:
            os.close(self._fd)
            self._fd = -1


def _make_staging(output: Path) -> tuple[_Staging, str | None]:
    # Beside the output; inside it when it exists and its parent refuses new entries (a mount
    # point, a folder an admin made under a read-only one), since the single-process run only
    # writes inside it too. The second value: its name when inside (the writer lets it be).
    try:
        return _Staging(output.parent), None
    except OSError as exc:
        if not output.is_dir() or exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
    staging = _Staging(output)
    return staging, staging.path.name


def _checked_shards(shards: object) -> int:
    # An int and not a bool (True would mean one shard); a float or a string is refused here,
    # not half-way through the run.
    if isinstance(shards, bool) or not isinstance(shards, int):
        raise ValueError(
            f"convert_in_shards(shards={shards!r}): the number of shards must be an int, "
            f"not {type(shards).__name__}"
        )
    if shards < 1:
        raise ValueError(f"convert_in_shards(shards={shards}): need at least one shard")
    return shards


def convert_in_shards(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    target_format: ShardTarget,
    *,
    shards: int,
    executor: ShardExecutor | None = None,
    splits: Sequence[str] | None = None,
    class_map: Mapping[str, int] | None = None,
    progress: ProgressCallback | None = None,
) -> ConversionResult:
    """Convert the DM v2 dataset at ``source`` to YOLO or COCO at ``output`` in ``shards``
    shards, run by ``executor`` (:class:`InProcessShards` by default, :class:`RayShards` for a
    cluster), merged on this process into the output :func:`~steprail.datasets.dmv2_to_yolo`
    or :func:`~steprail.datasets.dmv2_to_coco` would write, byte for byte.

    The shards write to a staging folder private to this user (mode 0700) beside ``output``
    (``.steprail-shards-<id>``; inside ``output`` when it is an existing empty folder whose
    parent refuses new entries), removed once merged and in any case when the call returns or
    fails; ``output`` appears as with the single-process converters (claimed atomically,
    removed again on failure). A dataset changed during the run fails it. ``progress(done,
    total)`` is
    called as shards finish and as items are merged (``total`` is twice the item count); the
    numbers only grow and end at ``total``.

    Raises:
        ValueError: ``shards`` is not an int, or is below 1.
        ShardFailedError: a shard failed (named, with its item where known); nothing is left.
        DatasetInputError, NoUsableItemsError, OutputExistsError: as the converters.
    """
    shards = _checked_shards(shards)
    # The writers get ``source`` as given (their audit.json records it so); the plan and the
    # workers get it absolute.
    given_source = Path(os.fspath(source))
    source_path = given_source.absolute()
    output_path = Path(os.fspath(output)).absolute()
    layout = detect_layout(source_path, splits)
    refuse_output_inside(output_path, layout.root)
    refuse_used_output(output_path)
    if target_format == "yolo":
        resolved = resolve_class_map(layout, first_id=0, class_map=class_map)
        class_ids, _ = yolo_ids(
            resolved.ids, resolved.categories, class_map is not None,
            _RecordingAudit(output_path.parent),
        )  # fmt: skip
        manifest = read_manifest(layout.root)
        pose = manifest.keypoints if manifest is not None and manifest.keypoints else None
    elif target_format == "coco":
        class_ids = resolve_class_map(layout, first_id=1, class_map=class_map).ids
        pose = None
    else:
        raise ValueError(f"convert_in_shards writes 'yolo' or 'coco', not {target_format!r}")
    run_with = executor if executor is not None else InProcessShards()
    made: list[Path] = []
    parent = output_path.parent
    while not parent.exists():
        made.append(parent)
        parent = parent.parent
    with _sigterm_cleans_up():
        staging: _Staging | None = None
        try:
            output_path.parent.mkdir(parents=True, exist_ok=True)
            staging, tolerated = _make_staging(output_path)
            for split in layout.splits:
                _refuse_several_images(layout, split)
            names = _listed(layout)
            specs = _plan(layout, shards, target_format, class_ids, pose, staging.path, names)
            counter = _Progress(2 * sum(spec.items for spec in specs), progress)
            run = run_with.start(specs, lambda report: counter.add(report.items))
            merge = _Merge(specs, run, counter, staging, (source_path, splits, names))
            try:
                if target_format == "yolo":
                    result = write_yolo(
                        given_source, output_path, splits=splits, class_map=class_map,
                        prepared=merge.yolo(class_ids, pose), tolerated=tolerated,
                    )  # fmt: skip
                else:
                    result = write_coco(
                        given_source, output_path, splits=splits, class_map=class_map,
                        checked=merge.coco(class_ids), tolerated=tolerated,
                    )  # fmt: skip
            except BaseException:
                run.cancel()
                raise
            finally:
                merge.close()
            counter.finish()
            return result
        finally:
            if staging is not None:
                staging.remove()
            if not output_path.exists():
                for folder in made:
                    try:
                        folder.rmdir()
                    except OSError:
                        break
