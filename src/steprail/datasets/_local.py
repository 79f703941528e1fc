"""The embedded default backend: a folder of files and a SQLite catalogue.

Layout of the backend folder::

    catalog.sqlite3        datasets, their items, and model records (WAL mode)
    datasets/<id>/         each dataset's items in DM v2, plus the import's audit.json
    models/<id>/<file>     each model file
    staging/               work in progress; never referenced by the catalogue

Every change is one transaction. Files are first built under ``staging/``; the catalogue rows are
inserted, the staging folder is renamed into place, and only then is the transaction committed.
If anything fails the transaction is rolled back and the staging folder removed, so a failed
import or upload leaves neither a half record nor an orphan file. A crash between the rename and
the commit can leave a folder the catalogue does not know: opening the backend sweeps those.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal, Self, overload

from pydantic import BaseModel, ConfigDict, JsonValue, TypeAdapter, ValidationError

from ..jobs._store import _process_started, process_alive
from ._audit import AUDIT_FILE_NAME, AuditLog, AuditSummary
from ._backend import (
    BackendError,
    DatasetNotFoundError,
    DatasetRecord,
    DownloadResult,
    ModelNotFoundError,
    ModelRecord,
)
from ._coco import coco_to_dmv2
from ._convert import DatasetFormat, fresh_output
from ._source import (
    DatasetInputError,
    NoUsableItemsError,
    detect_layout,
    iter_checked_items,
    read_manifest,
    refuse_output_inside,
    write_manifest,
)
from ._dmv2 import DMv2Image, DMv2Item
from ._voc import voc_to_dmv2
from ._yolo import yolo_to_dmv2

__all__ = [
    "ImportResult",
    "LocalBackend",
    "default_backend_root",
]

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS datasets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    format TEXT NOT NULL,
    is_categorized INTEGER NOT NULL,
    count INTEGER NOT NULL,
    splits TEXT NOT NULL,
    classes TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    split TEXT NOT NULL,
    stem TEXT NOT NULL,
    image TEXT NOT NULL,
    PRIMARY KEY (dataset_id, split, stem)
);
CREATE TABLE IF NOT EXISTS models (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    file TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    metadata TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""

# Staging folders younger than this may belong to another process's import in progress.
_STALE_STAGING_SECONDS: Final = 3600.0
_FLAT: Final = ""  # the split stored for a flat dataset's items

_metadata_adapter: TypeAdapter[dict[str, JsonValue]] = TypeAdapter(dict[str, JsonValue])

type SourceFormat = DatasetFormat


def _staging_lease_name() -> str:
    """``<host>-<pid>-<process start>-<random>``: a staging folder names the process that owns
    it (a lease, as the job store records), so a sweep can tell a live import from a dead one."""
    started = _process_started(os.getpid()) or "unknown"
    return f"{socket.gethostname()}-{os.getpid()}-{started}-{uuid.uuid4().hex}"


def _staging_abandoned(entry: Path) -> bool:
    """Whether the staging folder ``entry`` belongs to no live process.

    A folder leased by a process on this host is abandoned exactly when that process is gone
    (or its pid now belongs to a later process), however long the import has run. A folder from
    another host, or named before leases existed, can only be judged by its age.
    """
    parts = entry.name.rsplit("-", 3)  # the host name may hold dashes; the rest cannot
    if len(parts) == 4 and parts[0] == socket.gethostname() and parts[1].isdigit():
        pid_started = None if parts[2] == "unknown" else parts[2]
        return not process_alive(parts[0], int(parts[1]), pid_started, datetime.now(UTC))
    try:
        age = time.time() - entry.stat().st_mtime
    except OSError:
        return False  # gone already
    return age > _STALE_STAGING_SECONDS


def default_backend_root() -> Path:
    """``$STEPRAIL_HOME/backend`` when ``STEPRAIL_HOME`` is set, else ``./.steprail/backend``."""
    home = os.environ.get("STEPRAIL_HOME")
    base = Path(home) if home else Path.cwd() / ".steprail"
    return base / "backend"


class ImportResult(BaseModel):
    """The dataset an import created, and what it skipped (also in its ``audit.json``)."""

    model_config = ConfigDict(frozen=True)

    dataset: DatasetRecord
    audit: AuditSummary
    audit_path: str


class LocalBackend:
    """A :class:`~steprail.datasets.Backend` kept in a local folder (see the module docs).

    Args:
        root: The backend folder; made if missing. Defaults to :func:`default_backend_root`
            (resolved now, from the current folder and ``STEPRAIL_HOME``).
        lazy: Open on first use instead of now. A lazy backend creates no file or folder, and
            reports a damaged folder, only when a method first needs the catalogue; this is
            how a :class:`~steprail.datasets.DatasetContext` gets its default client cheaply.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None, *, lazy: bool = False) -> None:
        self.root = Path(os.fspath(root)) if root is not None else default_backend_root()
        self.root = self.root.absolute()
        self._connection: sqlite3.Connection | None = None
        self._opening = threading.Lock()
        if not lazy:
            self._open()

    def _open(self) -> sqlite3.Connection:
        with self._opening:
            if self._connection is not None:  # another thread opened it meanwhile
                return self._connection
            for folder in ("datasets", "models", "staging"):
                (self.root / folder).mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, one transaction per change.
            db = sqlite3.connect(self.root / "catalog.sqlite3", isolation_level=None, timeout=30)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA foreign_keys=ON")
                db.executescript(_SCHEMA)
            except BaseException:
                db.close()
                raise
            self._connection = db
        self._sweep_orphans()
        return db

    @property
    def _db(self) -> sqlite3.Connection:
        connection = self._connection
        return connection if connection is not None else self._open()

    @property
    def opened(self) -> bool:
        """Whether the catalogue is open (always, unless made with ``lazy=True`` and unused)."""
        return self._connection is not None

    # -- plumbing -----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the catalogue connection (a lazy backend that was never used has none)."""
        if self._connection is not None:
            self._connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LocalBackend({str(self.root)!r})"

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    @staticmethod
    @contextmanager
    def _moved_back_on_failure(moved: Callable[[], Path | None]) -> Iterator[None]:
        # Wraps a transaction that renames a staging folder into place: if the transaction (its
        # commit included) fails after the rename, the folder must not outlive it.
        try:
            yield
        except BaseException:
            folder = moved()
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
            raise

    def _staging(self) -> Path:
        if self._connection is None:
            self._open()  # a lazy backend makes its folders, staging/ among them, on first use
        return self.root / "staging" / _staging_lease_name()

    def _sweep_orphans(self) -> None:
        # Under the write lock no other process is between its rename and its commit, so a
        # folder without a row really is orphaned.
        with self._transaction() as db:
            for table, folder in (("datasets", "datasets"), ("models", "models")):
                known = {str(row[0]) for row in db.execute(f"SELECT id FROM {table}")}  # noqa: S608
                for entry in (self.root / folder).iterdir():
                    if entry.name not in known:
                        shutil.rmtree(entry, ignore_errors=True)
        for entry in (self.root / "staging").iterdir():
            if _staging_abandoned(entry):
                shutil.rmtree(entry, ignore_errors=True)

    # -- datasets -----------------------------------------------------------------------------

    def _dataset_from_row(self, row: sqlite3.Row | tuple[object, ...]) -> DatasetRecord:
        id_, name, fmt, categorized, count, splits, classes, created = row
        return DatasetRecord(
            id=int(str(id_)),
            name=str(name),
            format=str(fmt),
            is_categorized=bool(categorized),
            count=int(str(count)),
            splits=json.loads(str(splits)),
            classes=json.loads(str(classes)),
            created_at=datetime.fromisoformat(str(created)),
        )

    _DATASET_COLUMNS: Final = "id, name, format, is_categorized, count, splits, classes, created_at"

    def list_datasets(self) -> list[DatasetRecord]:
        """Every dataset, oldest first."""
        rows = self._db.execute(f"SELECT {self._DATASET_COLUMNS} FROM datasets ORDER BY id")
        return [self._dataset_from_row(row) for row in rows]

    def get_dataset(self, ref: int | str) -> DatasetRecord:
        """The dataset with id ``ref`` (an ``int``, or a ``str`` of digits) or name ``ref``."""
        if isinstance(ref, bool) or not isinstance(ref, int | str):
            raise DatasetNotFoundError(f"dataset {ref!r} not found: expected an id or a name")
        params: tuple[object, ...]
        if isinstance(ref, int):
            query, params = "id = ?", (ref,)
        elif ref.isdigit():
            # A digit string is an id first, then a name (names may be digits too).
            query, params = "id = ? OR name = ?", (int(ref), ref)
        else:
            query, params = "name = ?", (ref,)
        row = self._db.execute(
            f"SELECT {self._DATASET_COLUMNS} FROM datasets WHERE {query} ORDER BY id LIMIT 1",
            params,
        ).fetchone()
        if row is None:
            raise DatasetNotFoundError(f"dataset {ref!r} not found in the backend at {self.root}")
        return self._dataset_from_row(row)

    def get_data_collection(self, dataset_id: int | None) -> dict[str, Any]:
        """The dataset ``dataset_id`` as a plain dict: ``id``, ``name``, ``format``,
        ``is_categorized``, ``count`` (items), ``splits`` (items per split), ``classes`` and
        ``created_at`` (ISO 8601). ``len()`` of it counts these keys; ``["count"]`` the items.

        Raises:
            TypeError: ``dataset_id`` is not an ``int`` (``None`` and ``bool`` are refused too).
            DatasetNotFoundError: no dataset has that id.
        """
        if isinstance(dataset_id, bool) or not isinstance(dataset_id, int):
            hint = " (is params['dataset'] set?)" if dataset_id is None else ""
            raise TypeError(
                f"get_data_collection() takes a dataset id (an int), got {dataset_id!r}{hint}"
            )
        return self.get_dataset(dataset_id).model_dump(mode="json")

    def import_dataset(
        self,
        source: str | os.PathLike[str],
        *,
        name: str | None = None,
        source_format: SourceFormat = "dm_v2",
        images_root: str | os.PathLike[str] | None = None,
    ) -> ImportResult:
        """Import ``source`` (DM v2, YOLO, COCO or Pascal VOC) as a new dataset.

        ``source`` is a folder, or for YOLO its dataset yaml and for COCO one annotations JSON
        (``images_root`` then says where its ``file_name`` entries are; see
        :func:`~steprail.datasets.coco_to_dmv2`). Items are checked as a conversion checks them:
        bad items and annotations are skipped and listed in the dataset's ``audit.json``. The
        dataset is stored in DM v2; its name defaults to the folder's name (for a file, its
        folder's name).

        Raises:
            BackendError: the name is taken.
            DatasetInputError: ``source`` is missing or not of ``source_format``.
            NoUsableItemsError: every item was skipped.
        """
        source_path = Path(os.fspath(source)).absolute()
        if name is None:
            name = source_path.parent.name if source_path.is_file() else source_path.name
        try:
            taken = self._db.execute("SELECT 1 FROM datasets WHERE name = ?", (name,)).fetchone()
        except sqlite3.OperationalError as exc:
            raise BackendError(self._busy_message(name, exc)) from exc
        if taken:
            raise BackendError(f"a dataset named {name!r} already exists")
        staging = self._staging()
        try:
            if source_format == "dm_v2":
                audit = self._stage_dmv2(source_path, staging)
            elif source_format == "yolo":
                audit = yolo_to_dmv2(source_path, staging).audit
            elif source_format == "coco":
                root = Path(os.fspath(images_root)).absolute() if images_root is not None else None
                audit = coco_to_dmv2(source_path, staging, images_root=root).audit
            elif source_format == "voc":
                audit = voc_to_dmv2(source_path, staging).audit
            else:
                raise ValueError(
                    f"source_format {source_format!r} is not one of 'dm_v2', 'yolo', 'coco', "
                    "'voc'"
                )
            layout = detect_layout(staging)
            counts: dict[str, int] = {}
            classes: list[str] = []
            manifest = staging / "dataset.json"
            if manifest.is_file():
                classes = json.loads(manifest.read_text(encoding="utf-8")).get("classes", [])
            created = datetime.now(UTC)
            final = self.root / "datasets" / "?"
            renamed = False
            with self._moved_back_on_failure(lambda: final if renamed else None), self._transaction() as db:
                cursor = db.execute(
                    "INSERT INTO datasets (name, format, is_categorized, count, splits, classes,"
                    " created_at) VALUES (?, 'dm_v2', ?, 0, '{}', ?, ?)",
                    (name, int(layout.is_categorized), json.dumps(classes), created.isoformat()),
                )
                dataset_id = cursor.lastrowid
                assert dataset_id is not None
                for split in layout.splits:
                    key = _FLAT if split is None else split
                    rows = (
                        (dataset_id, key, stem, image)
                        for stem, image in _stored_items(layout.split_dir(split))
                    )
                    before = db.total_changes
                    db.executemany(
                        "INSERT INTO items (dataset_id, split, stem, image) VALUES (?, ?, ?, ?)",
                        rows,
                    )
                    counts[key] = db.total_changes - before
                total = sum(counts.values())
                db.execute(
                    "UPDATE datasets SET count = ?, splits = ? WHERE id = ?",
                    (total, json.dumps(counts), dataset_id),
                )
                final = self.root / "datasets" / str(dataset_id)
                os.rename(staging, final)
                renamed = True
                record = self.get_dataset(dataset_id)
        except sqlite3.IntegrityError as exc:
            if "datasets.name" in str(exc):  # another process imported that name meanwhile
                raise BackendError(
                    f"a dataset named {name!r} already exists (another process imported it "
                    "while this import ran)"
                ) from exc
            raise BackendError(f"cannot import {name!r}: {exc}") from exc
        except sqlite3.OperationalError as exc:
            raise BackendError(self._busy_message(name, exc)) from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return ImportResult(
            dataset=record, audit=audit, audit_path=str(final / AUDIT_FILE_NAME)
        )

    def _busy_message(self, name: str, exc: sqlite3.OperationalError) -> str:
        # SQLite's "database is locked": another process held the catalog past the timeout.
        return (
            f"cannot import {name!r}: the catalog {str(self.root / 'catalog.sqlite3')!r} "
            f"could not be written ({exc}); another process is writing it: try again"
        )

    def _stage_dmv2(self, source: Path, staging: Path) -> AuditSummary:
        layout = detect_layout(source)
        refuse_output_inside(staging, layout.root)
        with fresh_output(staging) as out, AuditLog(
            out, source=str(source), target_format="dm_v2"
        ) as audit:
            names: set[str] = set()
            for item in iter_checked_items(layout, audit):
                parsed = DMv2Item(
                    images=[
                        DMv2Image(
                            width=item.width,
                            height=item.height,
                            bounding_box=item.boxes,
                            polygon=item.polygons,
                        )
                    ],
                    source=item.source,
                )
                folder = out if item.split is None else out / item.split
                (folder / "json").mkdir(parents=True, exist_ok=True)
                (folder / "original_files").mkdir(parents=True, exist_ok=True)
                (folder / "json" / f"{item.stem}.json").write_text(
                    parsed.model_dump_json(exclude_none=True), encoding="utf-8"
                )
                # The store keeps its own copy: a hard link would change with the user's file.
                shutil.copyfile(
                    item.image_path,
                    folder / "original_files" / (item.stem + item.image_name[len(item.stem) :]),
                )
                names.update(b.classification for b in item.boxes)
                names.update(p.classification for p in item.polygons)
                audit.items_written += 1
                audit.annotations_written += len(item.boxes) + len(item.polygons)
            if audit.items_written == 0:
                raise NoUsableItemsError(
                    f"no usable item in {str(source)!r}: {audit.items_total} item(s), "
                    f"all skipped ({dict(audit.reasons)})"
                )
            # The source's class map (ids, unused classes) is kept as it was given.
            manifest = read_manifest(source)
            write_manifest(
                out,
                sorted(names),
                audit.items_written,
                categories=manifest.categories if manifest is not None else (),
                next_image_id=manifest.next_image_id if manifest is not None else None,
                keypoints=manifest.keypoints if manifest is not None else None,
                next_annotation_id=manifest.next_annotation_id if manifest is not None else None,
            )
            return audit.close()

    def download_dataset(
        self,
        ref: int | str,
        destination: str | os.PathLike[str],
        *,
        splits: Sequence[str] | None = None,
    ) -> DownloadResult:
        """Copy the dataset's items (DM v2) into ``destination``, which must be absent or empty.

        Raises:
            DatasetNotFoundError: no dataset ``ref``.
            BackendError: a requested split is not in the dataset.
            OutputExistsError: ``destination`` is not empty.
            DatasetInputError: ``destination`` is inside the backend's folder.
        """
        record = self.get_dataset(ref)
        stored = list(record.splits)
        if splits is not None:
            if not record.is_categorized:
                raise BackendError(
                    f"dataset {record.name!r} is not split; cannot select splits {list(splits)}"
                )
            missing = [s for s in splits if s not in record.splits]
            if missing:
                raise BackendError(
                    f"dataset {record.name!r} has no split(s) {missing} (it has {stored})"
                )
            stored = [s for s in stored if s in splits]
        source = self.root / "datasets" / str(record.id)
        count = 0
        refuse_output_inside(Path(os.fspath(destination)), self.root)
        with fresh_output(Path(os.fspath(destination))) as out:
            for split in stored:
                src = source if split == _FLAT else source / split
                dst = out if split == _FLAT else out / split
                (dst / "json").mkdir(parents=True)
                (dst / "original_files").mkdir(parents=True)
                rows = self._db.execute(
                    "SELECT stem, image FROM items WHERE dataset_id = ? AND split = ?",
                    (record.id, split),
                )
                for stem, image in rows:
                    shutil.copyfile(src / "json" / f"{stem}.json", dst / "json" / f"{stem}.json")
                    shutil.copyfile(
                        src / "original_files" / image, dst / "original_files" / image
                    )
                    count += 1
            # The stored manifest's class map (the source's ids) goes with the items.
            stored_manifest = read_manifest(source)
            write_manifest(
                out,
                record.classes,
                count,
                categories=stored_manifest.categories if stored_manifest is not None else (),
                next_image_id=(
                    stored_manifest.next_image_id if stored_manifest is not None else None
                ),
                keypoints=stored_manifest.keypoints if stored_manifest is not None else None,
                next_annotation_id=(
                    stored_manifest.next_annotation_id if stored_manifest is not None else None
                ),
            )
        return DownloadResult(
            path=str(out),
            format="dm_v2",
            is_categorized=record.is_categorized,
            count=count,
            splits=[s for s in stored if s != _FLAT],
        )

    # -- models -------------------------------------------------------------------------------

    @overload
    def create_model(self, file: Mapping[str, object], /) -> ModelRecord: ...

    @overload
    def create_model(
        self,
        file: str | os.PathLike[str],
        metadata: Mapping[str, JsonValue] | None = None,
        *,
        name: str | None = None,
    ) -> ModelRecord: ...

    def create_model(
        self,
        file: Mapping[str, object] | str | os.PathLike[str],
        metadata: Mapping[str, JsonValue] | None = None,
        *,
        name: str | None = None,
    ) -> ModelRecord:
        """Copy the model file into the backend and record it with its metadata (JSON values).

        ``create_model(path, metadata, name=...)``, or the single mapping
        ``create_model({"file": path, "name": ..., **metadata})``: ``file`` is taken out and
        the rest is the metadata. The record's name is ``name``, else the metadata's ``name``,
        else the file's stem. Nothing is stored when any check fails.

        Raises:
            ValueError: the mapping has no ``file``, or it is ``None``.
            TypeError: ``file`` is not a path, or the mapping form got more arguments.
            FileNotFoundError: the file is not a file.
            BackendError: the metadata is not JSON.
        """
        if isinstance(file, Mapping):
            if metadata is not None or name is not None:
                raise TypeError(
                    "create_model({...}) takes everything in the one mapping: "
                    "no separate metadata or name"
                )
            file, metadata = _split_model_spec(file)
        if not isinstance(file, str | os.PathLike):
            raise TypeError(f"create_model() needs the model file's path, got {file!r}")
        path = Path(os.fspath(file))
        if not path.is_file():
            raise FileNotFoundError(f"model file {str(path)!r} does not exist")
        try:
            meta = _metadata_adapter.validate_python(dict(metadata or {}))
            meta_text = json.dumps(meta, allow_nan=False)
        except (ValidationError, ValueError, TypeError) as exc:
            raise BackendError(f"model metadata is not JSON: {exc}") from exc
        model_name = name if name is not None else str(meta.get("name", path.stem))
        staging = self._staging()
        staging.mkdir()
        try:
            digest = hashlib.sha256()
            size = 0
            with path.open("rb") as src, (staging / path.name).open("wb") as dst:
                while chunk := src.read(1 << 20):
                    digest.update(chunk)
                    dst.write(chunk)
                    size += len(chunk)
            created = datetime.now(UTC)
            final = self.root / "models" / "?"
            renamed = False
            with self._moved_back_on_failure(lambda: final if renamed else None), self._transaction() as db:
                cursor = db.execute(
                    "INSERT INTO models (name, file, size, sha256, metadata, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (model_name, path.name, size, digest.hexdigest(), meta_text, created.isoformat()),
                )
                model_id = cursor.lastrowid
                assert model_id is not None
                final = self.root / "models" / str(model_id)
                os.rename(staging, final)
                renamed = True
            return self.get_model(model_id)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def delete_model(self, model_id: int) -> bool:
        """Delete the model record ``model_id`` and its stored file; ``False`` (and no change)
        when there is no such record, so a rollback may call it more than once.

        The row goes in one transaction; the file right after the commit. A crash between the
        two leaves a folder no row names, which the next opening of the backend sweeps.

        Raises:
            TypeError: ``model_id`` is not an ``int``.
        """
        if isinstance(model_id, bool) or not isinstance(model_id, int):
            raise TypeError(f"delete_model() takes a model id (an int), got {model_id!r}")
        with self._transaction() as db:
            deleted = db.execute("DELETE FROM models WHERE id = ?", (model_id,)).rowcount > 0
        if deleted:
            # Ids are never reused (AUTOINCREMENT), so this folder cannot be a newer model's.
            shutil.rmtree(self.root / "models" / str(model_id), ignore_errors=True)
        return deleted

    def get_model(self, model_id: int) -> ModelRecord:
        """The model record ``model_id``; its ``file`` is the stored copy's absolute path."""
        row = self._db.execute(
            "SELECT id, name, file, size, sha256, metadata, created_at FROM models WHERE id = ?",
            (model_id,),
        ).fetchone()
        if row is None:
            raise ModelNotFoundError(f"model {model_id!r} not found in the backend at {self.root}")
        id_, name, file, size, sha, meta, created = row
        return ModelRecord(
            id=int(id_),
            name=str(name),
            file=str(self.root / "models" / str(id_) / str(file)),
            size=int(size),
            sha256=str(sha),
            metadata=json.loads(meta),
            created_at=datetime.fromisoformat(str(created)),
        )

    def list_models(self) -> list[ModelRecord]:
        """Every model record, oldest first."""
        ids = [int(row[0]) for row in self._db.execute("SELECT id FROM models ORDER BY id")]
        return [self.get_model(i) for i in ids]


def _split_model_spec(spec: Mapping[str, object]) -> tuple[str | os.PathLike[str], dict[str, JsonValue]]:
    """``create_model``'s single-mapping form: the file's path and the rest as metadata."""
    file = spec.get("file")
    if file is None:
        raise ValueError(
            "create_model({...}) needs 'file', the model file's path "
            f"(got {'None' if 'file' in spec else 'no such key'}; keys: {sorted(map(str, spec))})"
        )
    if not isinstance(file, str | os.PathLike):
        raise TypeError(f"create_model({{...}}): 'file' must be a path, got {type(file).__name__}")
    rest = {str(key): value for key, value in spec.items() if key != "file"}
    try:
        return file, _metadata_adapter.validate_python(rest)
    except ValidationError as exc:
        raise BackendError(f"model metadata is not JSON: {exc}") from exc


def _stored_items(folder: Path) -> Iterator[tuple[str, str]]:
    """``(stem, image file name)`` for each item of one split of a staged dataset."""
    images = folder / "original_files"
    with os.scandir(folder / "json") as entries:
        for entry in entries:
            if entry.name.endswith(".json"):
                stem = entry.name[:-5]
                yield stem, _image_name(images, stem)


def _image_name(images: Path, stem: str) -> str:
    from ._source import find_image

    found = find_image(str(images), stem, ".png")
    if found is None:  # staged by our own writers, so this means the staging is corrupt
        raise DatasetInputError(f"staged item {stem!r} has no image")
    return os.path.basename(found)
