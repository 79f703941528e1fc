"""The job store: one SQLite file holding every job's record.

Written with the standard library's ``sqlite3`` in WAL mode, one transaction per change, so a
reader (``steprail jobs list``) never waits for a running job and a process that dies mid-run
leaves every record written so far intact. A job whose process is gone reads back as
``interrupted`` (see :func:`process_alive`); nothing has to clean it up.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import socket
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, cast

from .._errors import RollbackEntry
from .._logging import get_logger
from ._events import JOB_TRANSITIONS, JobState, JobStatus, PlannedStep, StepStatus

__all__ = [
    "JobAttempt",
    "JobLog",
    "JobNotFoundError",
    "JobRecord",
    "JobStore",
    "JobStoreDamagedError",
    "JobStoreError",
    "JobStoreFullError",
    "JobStoreLockedError",
    "JobStoreReadOnlyError",
    "ParamsTooLargeError",
    "StepRecord",
    "process_alive",
]

#: The schema this code writes (``PRAGMA user_version``). A store of an older version this code
#: knows is migrated in place when opened for writing (and read as it is when opened read-only);
#: any other version is refused. Version 2 added ``jobs.traceback``; version 3 added what keeping
#: and resuming work needs: ``jobs.resumable``, ``jobs.attempts`` and
#: ``steps.rollback_data``, ``steps.checkpoint``; version 4 added where a job ran and whether its
#: worker was lost: ``jobs.executor``, ``jobs.node``, ``jobs.worker_pid``, ``jobs.lost``;
#: version 5 added whether the job's process cancels it on SIGTERM: ``jobs.signals``.
SCHEMA_VERSION: Final = 5
# Each migration takes a store from the version before it to the key's version, in one
# transaction. Only columns are ever added, so code of the older version can still read it.
_MIGRATIONS: Final[Mapping[int, tuple[str, ...]]] = {
    2: ("ALTER TABLE jobs ADD COLUMN traceback TEXT",),
    3: (
        "ALTER TABLE jobs ADD COLUMN resumable INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE jobs ADD COLUMN attempts TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE steps ADD COLUMN rollback_data TEXT",
        "ALTER TABLE steps ADD COLUMN checkpoint TEXT",
    ),
    4: (
        "ALTER TABLE jobs ADD COLUMN executor TEXT NOT NULL DEFAULT 'in-process'",
        "ALTER TABLE jobs ADD COLUMN node TEXT",
        "ALTER TABLE jobs ADD COLUMN worker_pid INTEGER",
        "ALTER TABLE jobs ADD COLUMN lost TEXT",
    ),
    5: ("ALTER TABLE jobs ADD COLUMN signals INTEGER NOT NULL DEFAULT 0",),
}
#: A job on another host is presumed dead when it has not written anything for this long.
REMOTE_STALE_SECONDS: Final = 3600.0
#: The largest params a job records, as JSON text (1 MiB); larger ones are refused up front.
MAX_PARAMS_BYTES: Final = 1024 * 1024
#: The most characters of one error text or traceback a record keeps (64 Ki): a longer one keeps
#: its first and last halves around a note of how much was left out.
MAX_ERROR_CHARS: Final = 64 * 1024
#: How long a running job's writes wait for another process's write lock, by default.
WRITE_TIMEOUT_SECONDS: Final = 60.0
# SQLite stores integers in 64 bits: larger figures (a step's progress) are clamped, not refused.
_SQLITE_INT_MAX: Final = 2**63 - 1

_SCHEMA: Final = """
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    action TEXT NOT NULL,
    params TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'success', 'failed', 'cancelled')),
    progress INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    rollback TEXT NOT NULL DEFAULT '[]',
    summary TEXT NOT NULL DEFAULT '{}',
    metrics TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    updated_at TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    pid_started TEXT,
    traceback TEXT,
    resumable INTEGER NOT NULL DEFAULT 0,
    attempts TEXT NOT NULL DEFAULT '[]',
    executor TEXT NOT NULL DEFAULT 'in-process',
    node TEXT,
    worker_pid INTEGER,
    lost TEXT,
    signals INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE steps (
    job_id INTEGER NOT NULL REFERENCES jobs (id),
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    weight REAL NOT NULL,
    share REAL NOT NULL,
    can_roll_back INTEGER NOT NULL,
    status TEXT NOT NULL,
    progress_current INTEGER,
    progress_total INTEGER,
    started_at TEXT,
    finished_at TEXT,
    duration REAL,
    data TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    rolled_back INTEGER NOT NULL DEFAULT 0,
    rollback_error TEXT,
    rollback_data TEXT,
    checkpoint TEXT,
    PRIMARY KEY (job_id, position)
);
CREATE TABLE logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id INTEGER NOT NULL REFERENCES jobs (id),
    at TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('log', 'metrics')),
    step TEXT,
    event TEXT NOT NULL,
    data TEXT NOT NULL,
    file TEXT
);
CREATE INDEX logs_by_job ON logs (job_id, id);
"""
_TABLES: Final = frozenset({"jobs", "steps", "logs"})


_log = get_logger("steprail.jobs.store")

# Below this much free space, an I/O error while writing the store is a full disk.
_LOW_SPACE_BYTES: Final = 1 << 20


def _free_bytes(folder: Path) -> int:
    try:
        stats = os.statvfs(folder)
    except (OSError, AttributeError):  # no statvfs (Windows) or the folder is gone
        return _LOW_SPACE_BYTES
    return stats.f_bavail * stats.f_frsize


def _writable(path: Path) -> bool:
    """Whether the store file (or, when it does not exist, its folder) can be written: not on a
    read-only mount, not marked immutable, permissions allowing it."""
    target = path if path.exists() else path.parent
    try:
        if os.statvfs(target).f_flag & os.ST_RDONLY:
            return False
    except (OSError, AttributeError):
        pass
    if not os.access(target, os.W_OK):
        return False
    if target == path:
        try:  # an immutable file (chattr +i) passes access() for root: try opening it
            with open(path, "r+b"):
                pass
        except OSError:
            return False
    return True


class JobStoreError(RuntimeError):
    """The job store cannot be used; the message says which file and what is wrong."""


class JobStoreLockedError(JobStoreError):
    """Another process holds the job store's write lock for longer than the timeout."""


class JobStoreDamagedError(JobStoreError):
    """The file is not a steprail job store, or it is corrupt. It is never overwritten."""


class JobStoreFullError(JobStoreError):
    """The disk (or file system) holding the job store is full: nothing more can be written.
    What was committed before stays readable."""


class JobStoreReadOnlyError(JobStoreError):
    """The job store can be read but not written (a read-only file, folder or mount, or a store
    opened with ``read_only=True``)."""


class ParamsTooLargeError(JobStoreError, ValueError):
    """A job's params are larger than :data:`MAX_PARAMS_BYTES` as JSON; nothing was stored."""


class JobNotFoundError(JobStoreError, LookupError):
    """No job has the requested id."""


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One step of a recorded job."""

    order: int
    name: str
    kind: str
    weight: float
    share: float
    can_roll_back: bool
    status: StepStatus
    progress: tuple[int, int] | None
    started_at: datetime | None
    finished_at: datetime | None
    duration: float | None
    data: dict[str, Any]
    error: str | None
    rolled_back: bool
    rollback_error: str | None
    #: What the step's ``rollback`` needs (its result's ``rollback_data``, as JSON), for a
    #: success recorded by schema version 3 or later; ``None`` otherwise.
    rollback_data: dict[str, Any] | None = None
    #: The context's fields that changed with this step (see docs/resume.md), when the run wrote
    #: checkpoints: ``{"fields": {...}, "not_saved": [...]}``. Read only by
    #: ``JobStore.get(job_id, checkpoints=True)`` (a resume); ``None`` otherwise.
    checkpoint: dict[str, Any] | None = None
    #: Whether the store holds a checkpoint for this step (read even when ``checkpoint`` is not).
    has_checkpoint: bool = False

    @property
    def kept(self) -> bool:
        """Whether the step's work is in place: it succeeded and was not rolled back."""
        return self.status == "success" and not self.rolled_back


@dataclass(frozen=True, slots=True)
class JobAttempt:
    """One run of a job after the first: a resume.

    Attributes:
        number: 2 for the first resume, and so on (the first run is attempt 1).
        started_at: When the resume claimed the job.
        from_step: The position of the first step it ran (the steps before were restored).
        previous_status: How the attempt before it ended (``failed``, ``cancelled`` or
            ``interrupted``) and ``previous_error`` its error.
        forced: The workflow differences accepted with ``force``, ``None`` when there were none.
        host: Where it ran; ``pid`` its process.
        previous_where: Where the attempt before it ran its action, as :attr:`JobRecord.where`
            read then (``ray 10.0.0.7:4242`` for a Ray worker); ``None`` in records made before
            it was kept.
        previous_lost: Why the attempt before it lost its worker (:attr:`JobRecord.lost`).
    """

    number: int
    started_at: datetime
    from_step: int
    previous_status: str
    previous_error: str | None
    forced: str | None
    host: str
    pid: int
    previous_where: str | None = None
    previous_lost: str | None = None


@dataclass(frozen=True, slots=True)
class JobLog:
    """One log event or metrics report of a job."""

    at: datetime
    kind: str
    step: str | None
    event: str
    data: dict[str, Any]
    file: str | None


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A job as read back from the store.

    Attributes:
        status: The recorded status, or ``interrupted`` when the job was left ``pending`` or
            ``running`` by a process that no longer exists.
        recorded_status: What the file says, whatever became of the process.
        progress: Overall progress, 0 to 100.
        metrics: The latest metrics reported by each step, keyed by step name.
        rollback: Every rollback attempt made when the job failed or was cancelled.
        steps: Each planned step (empty until the params were valid and the run started).
        traceback: The formatted traceback of the exception that ended the job, when one did
            (``None`` for a success, a step that returned a failed result, or a job recorded
            before the store kept tracebacks).
        resumable: The job ended ``failed`` or ``cancelled`` under the ``keep`` failure policy
            and its completed steps' work was neither rolled back nor resumed since.
        executor: Where the action ran: ``in-process`` (in the process that recorded the job,
            :attr:`host` / :attr:`pid`) or ``ray`` (a Ray worker, see :attr:`node` and
            :attr:`worker_pid`).
        node: The node the action ran on (a Ray node's address), ``None`` for in-process.
        worker_pid: The pid of the process the action ran in, ``None`` for in-process (it is
            :attr:`pid`).
        lost: Why the job's worker was lost (it died, or its node did), as recorded by the
            process that drove it; such a job reads ``interrupted``. ``None`` otherwise.
        signals: The job's process (:attr:`host` / :attr:`pid`) cancels the job when it gets
            SIGTERM (a ``steprail`` command that runs it: ``run``, the process ``submit``
            starts, ``jobs resume``), so ``steprail jobs cancel`` may signal it. ``False`` for a
            job recorded by another program (the process may be a whole application) and for
            a job ``submit`` has queued but no process has taken over yet.
    """

    id: int
    action: str
    params: dict[str, Any]
    status: JobState
    recorded_status: JobStatus
    progress: int
    error: str | None
    rollback: list[RollbackEntry]
    summary: dict[str, Any]
    metrics: dict[str, dict[str, Any]]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime
    host: str
    pid: int
    steps: list[StepRecord]
    traceback: str | None = None
    resumable: bool = False
    attempts: list[JobAttempt] = field(default_factory=list)
    executor: str = "in-process"
    node: str | None = None
    worker_pid: int | None = None
    lost: str | None = None
    signals: bool = False

    @property
    def where(self) -> str:
        """Where the action ran, for people: ``in-process host:pid`` or ``ray node:pid``."""
        if self.executor == "in-process" or self.node is None:
            return f"{self.executor} {self.host}:{self.pid}"
        return f"{self.executor} {self.node}:{self.worker_pid}"

    @property
    def attempt(self) -> int:
        """The number of the latest run of the job: 1, or 1 + how many times it was resumed."""
        return 1 + len(self.attempts)

    @property
    def kept_steps(self) -> list[StepRecord]:
        """The steps whose work is in place (succeeded, not rolled back), in run order."""
        return [step for step in self.steps if step.kept]

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish (to the last write for an unfinished job)."""
        if self.started_at is None:
            return None
        end = self.finished_at or self.updated_at
        return (end - self.started_at).total_seconds()


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _json_default(value: object) -> object:
    # Logs carry whatever steps hand them; a value JSON cannot hold is kept as text, never lost.
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    # numpy scalars and other numbers JSON can hold are stored as numbers, not as their repr.
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else str(number)
    item = getattr(value, "item", None)  # a numpy bool_ (not registered as a number)
    if callable(item) and type(value).__module__ == "numpy":
        try:
            plain: object = item()
        except Exception:
            return repr(value)
        if isinstance(plain, bool | int | float | str):
            return plain
    return repr(value)


def _clean(value: object, open_containers: set[int]) -> object:
    # JSON has no NaN/Infinity (stored as strings, so the text stays standard JSON), only text
    # keys (others become their str()), and no container inside itself (it becomes "<cycle>").
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict | list | tuple | set | frozenset):
        if id(value) in open_containers:
            return "<cycle>"
        open_containers.add(id(value))
        try:
            if isinstance(value, dict):
                return {k if isinstance(k, str) else str(k): _clean(v, open_containers) for k, v in value.items()}
            return [_clean(v, open_containers) for v in value]
        finally:
            open_containers.discard(id(value))
    return value


def to_json(value: object) -> str:
    """Encode ``value`` as standard JSON, turning what JSON cannot hold into text.

    The one encoder of everything recorded (params, results, step data, logs, metrics); the
    command line prints results through :func:`json_value`, so output and record agree.
    """
    try:
        return json.dumps(value, default=_json_default, allow_nan=False, sort_keys=True)
    except (ValueError, TypeError, RecursionError):
        return json.dumps(_clean(value, set()), default=_json_default, allow_nan=False, sort_keys=True)


def json_value(value: object) -> Any:
    """``value`` as the job store records it: plain JSON values (``dict``, ``list``, ``str``,
    finite numbers, ``bool``, ``None``), what JSON cannot hold turned into text by :func:`to_json`."""
    return json.loads(to_json(value))


def capped_text(text: str | None) -> str | None:
    """``text`` cut to :data:`MAX_ERROR_CHARS`: its start and its end (a traceback ends with the
    exception), with the number of characters left out between them."""
    if text is None or len(text) <= MAX_ERROR_CHARS:
        return text
    half = MAX_ERROR_CHARS // 2
    return f"{text[:half]}\n... ({len(text) - 2 * half} characters left out) ...\n{text[-half:]}"


def rollback_report(entries: Iterable[RollbackEntry]) -> list[dict[str, str | None]]:
    """``entries`` as JSON objects (``step``, ``kind``, ``label``, ``error``), the one form the
    store, the JSON-lines sink and ``steprail jobs show --json`` write."""
    return [{"step": e.step, "kind": e.kind, "label": e.label, "error": e.error} for e in entries]


def _process_started(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux), to detect pid reuse."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def process_alive(host: str, pid: int, pid_started: str | None, updated_at: datetime) -> bool:
    """Whether the process that owns a job may still be running.

    On this host: the pid exists and (where ``/proc`` tells) started when the job's process did.
    On another host nothing can be asked, so a job silent for :data:`REMOTE_STALE_SECONDS` is
    presumed dead.
    """
    if host != socket.gethostname():
        return (datetime.now(UTC) - updated_at).total_seconds() < REMOTE_STALE_SECONDS
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists but belongs to someone else
    if pid_started is not None:
        current = _process_started(pid)
        if current is not None and current != pid_started:
            return False  # the pid was reused by a later process
    return True


class JobStore:
    """Every job's record in one SQLite file.

    Args:
        path: The database file; its folder is created if needed.
        timeout: Seconds to wait for another process's write lock before giving up with
            :class:`JobStoreLockedError`.
        signals: This process cancels the jobs it records when it gets SIGTERM (as the
            ``steprail`` commands do): recorded with each job it creates, adopts or resumes
            (:attr:`JobRecord.signals`), so that ``steprail jobs cancel`` may signal it. Leave
            it ``False`` in any other program: ``jobs cancel`` then refuses to signal it.

    Raises:
        JobStoreDamagedError: the file exists but is not a steprail job store (or is corrupt).
        JobStoreLockedError: the store is locked by another process.
        JobStoreError: ``path`` is a folder, or its folder cannot be created.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float = 5.0,
        write_timeout: float = WRITE_TIMEOUT_SECONDS,
        read_only: bool = False,
        signals: bool = False,
    ) -> None:
        self.path = Path(path)
        self.signals = signals
        self.timeout = timeout
        self.write_timeout = max(timeout, write_timeout)
        self.read_only = read_only
        self._host = socket.gethostname()
        self._pid = os.getpid()
        self._pid_started = _process_started(self._pid)
        # The schema version of the open store: an older one opened read-only is read as it is.
        self._version = SCHEMA_VERSION
        # Both would otherwise reach the caller as sqlite's "unable to open database file" or a
        # bare FileExistsError from mkdir, naming neither the path nor the problem.
        if self.path.is_dir():
            raise JobStoreError(f"job store {str(self.path)!r} is a folder, not a file")
        if read_only:
            self._conn = self._connect_read_only()
            try:
                with self._guard():
                    self._check_schema()
            except BaseException:
                self._conn.close()
                raise
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            why = "a file is in the way" if isinstance(error, FileExistsError | NotADirectoryError) else error
            raise JobStoreError(
                f"job store {str(self.path)!r}: cannot create its folder {str(self.path.parent)!r} ({why})"
            ) from error
        # A file this call creates and cannot initialise (a full disk, a read-only folder) is
        # removed again: left behind, an empty file would read as a damaged store.
        creating = not self.path.exists()
        try:
            self._conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        except sqlite3.Error as error:
            if creating:
                self._remove_unmade()
            raise self._translate(error) from error
        try:
            with self._guard():
                self._prepare()
                # Opening waits ``timeout`` for a lock; a running job's writes wait longer, so
                # that a slow writer elsewhere does not fail a job halfway (readers never lock).
                self._conn.execute(f"PRAGMA busy_timeout = {int(self.write_timeout * 1000)}")
        except BaseException as error:
            self._conn.close()
            if creating and not isinstance(error, JobStoreLockedError):  # locked: another process made it
                self._remove_unmade()
            raise

    def _remove_unmade(self) -> None:
        """Remove the store file this call created but could not initialise (and its WAL files),
        unless another process initialised it meanwhile."""
        try:
            with sqlite3.connect(f"{self.path.absolute().as_uri()}?mode=ro", uri=True) as probe:
                if probe.execute("SELECT 1 FROM sqlite_master WHERE name = 'jobs'").fetchone():
                    return
        except sqlite3.Error:
            pass  # unreadable or absent: ours, never initialised
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            except OSError:
                pass  # best effort: the error being raised says what is wrong

    def _connect_read_only(self) -> sqlite3.Connection:
        """A connection that never writes: ``mode=ro``, or ``immutable=1`` when even the WAL
        index cannot be opened (a read-only folder or mount without the ``-shm`` file)."""
        if not self.path.exists():
            raise JobStoreError(f"job store {str(self.path)!r} does not exist")
        uri = self.path.absolute().as_uri()
        errors: list[str] = []
        for flags in ("mode=ro", "mode=ro&immutable=1"):
            try:
                conn = sqlite3.connect(f"{uri}?{flags}", uri=True, timeout=self.timeout, isolation_level=None)
                conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            except sqlite3.Error as error:
                errors.append(str(error))
                continue
            return conn
        raise self._translate(sqlite3.OperationalError(errors[-1]))

    def _prepare(self) -> None:
        """Check that the file is ours (or new), switch to WAL, create the schema if new."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                # Look before changing anything: a file that is not ours must stay byte for byte.
                version = self._check_schema()
                self._conn.execute("PRAGMA foreign_keys = ON")
                mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()
                break
            except sqlite3.OperationalError as error:
                # Two connections switching a new file to WAL at once both hold a shared lock
                # and want the exclusive one: SQLite refuses one straight away (waiting would
                # deadlock) instead of calling the busy handler. Look again: the winner may
                # have made the store meanwhile.
                if "locked" not in str(error) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.005)
        if mode is None or str(mode[0]).lower() != "wal":
            raise JobStoreDamagedError(f"job store {str(self.path)!r}: cannot switch to WAL mode")
        # WAL with synchronous=NORMAL survives a crash of the process (not of the OS).
        self._conn.execute("PRAGMA synchronous = NORMAL")
        if version is None:
            self._create_schema()
        elif version < SCHEMA_VERSION:
            self._migrate()

    # -- plumbing -------------------------------------------------------------------------------

    def _translate(self, error: sqlite3.Error) -> JobStoreError:
        text = str(error)
        where = str(self.path)
        if isinstance(error, sqlite3.OperationalError) and "locked" in text:
            waited = self.write_timeout if getattr(self, "_conn", None) is not None else self.timeout
            return JobStoreLockedError(f"job store {where!r} is locked by another process (waited {waited:g}s)")
        if "database or disk is full" in text or getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
            return JobStoreFullError(f"job store {where!r}: the disk is full, nothing more can be written ({text})")
        if "readonly" in text or "read-only" in text:
            return JobStoreReadOnlyError(f"job store {where!r} is read-only: it can be read but not written ({text})")
        code = getattr(error, "sqlite_errorcode", None)
        if "disk I/O error" in text or (code is not None and code & 0xFF == sqlite3.SQLITE_IOERR):
            # SQLite reports a full disk met while growing its WAL index as an I/O error.
            if _free_bytes(self.path.parent) < _LOW_SPACE_BYTES:
                return JobStoreFullError(
                    f"job store {where!r}: the disk is full, nothing more can be written ({text})"
                )
            return JobStoreError(f"job store {where!r}: the disk could not be read or written ({text})")
        if "unable to open database file" in text or code == sqlite3.SQLITE_CANTOPEN:
            if not _writable(self.path):
                if not self.path.exists():
                    return JobStoreReadOnlyError(
                        f"job store {where!r} cannot be created: its folder is read-only ({text})"
                    )
                return JobStoreReadOnlyError(
                    f"job store {where!r} is read-only: it can be read but not written ({text})"
                )
            return JobStoreError(f"job store {where!r} cannot be opened ({text})")
        if isinstance(error, sqlite3.DatabaseError) and not isinstance(error, sqlite3.IntegrityError):
            return JobStoreDamagedError(
                f"job store {where!r} is damaged or is not a steprail job store ({text})"
            )
        return JobStoreError(f"job store {where!r}: {text}")

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except JobStoreError:
            raise
        except sqlite3.Error as error:
            raise self._translate(error) from error

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One change, committed whole or not at all."""
        if self.read_only:
            raise JobStoreReadOnlyError(f"job store {str(self.path)!r} was opened read-only: it cannot be written")
        with self._guard():
            conn = self._conn
            if conn.in_transaction:
                # A signal raised between an earlier BEGIN and its end: drop that half change.
                conn.execute("ROLLBACK")
            try:
                conn.execute("BEGIN IMMEDIATE")
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _check_schema(self) -> int | None:
        """The store's schema version, or ``None`` when the database is empty (new); raise if it
        is something other than our store (or a version this code does not know)."""
        # One read transaction for both reads: another process creating the schema in between
        # would otherwise show its tables with the version read before (a "foreign" file).
        self._conn.execute("BEGIN")
        try:
            version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
            tables = {
                row[0]
                for row in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            } - {"sqlite_sequence"}
        finally:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")  # it only read
        if 1 <= version <= SCHEMA_VERSION and _TABLES <= tables:
            self._version = version
            return version
        if version == 0 and not tables:
            return None
        raise JobStoreDamagedError(
            f"job store {str(self.path)!r} is not a steprail job store of schema version "
            f"1 to {SCHEMA_VERSION} (found version {version}, tables {sorted(tables)})"
        )

    def _migrate(self) -> None:
        """Bring an older store up to :data:`SCHEMA_VERSION`, one version per transaction."""
        with self._transaction() as conn:
            # Another process may have migrated it since we looked: read the version again.
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[target]:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {target}")
                _log.info("job store %s migrated from schema version %d to %d", self.path, target - 1, target)
        self._version = SCHEMA_VERSION

    def _create_schema(self) -> None:
        with self._transaction() as conn:
            # Another process may have created it since we looked.
            if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'jobs'").fetchone():
                return
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        self._version = SCHEMA_VERSION
        _log.info("job store %s created (schema version %d)", self.path, SCHEMA_VERSION)

    @property
    def schema_version(self) -> int:
        """The schema version of the open store: :data:`SCHEMA_VERSION`, or an older one when
        an older store was opened read-only (it is then read as it is)."""
        return self._version

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> JobStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing --------------------------------------------------------------------------------

    def create_job(self, action: str, params: Mapping[str, Any]) -> int:
        """Record a new ``pending`` job and return its id."""
        now = _now()
        encoded = _checked_params(to_json(dict(params)))
        with self._transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO jobs (action, params, status, created_at, updated_at, host, pid, pid_started, signals)"
                " VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?)",
                (action, encoded, now, now, self._host, self._pid, self._pid_started, int(self.signals)),
            )
            job_id = cursor.lastrowid
        assert job_id is not None  # an INSERT into a rowid table always sets it
        return job_id

    def start_job(self, job_id: int, steps: Sequence[PlannedStep], params: Mapping[str, Any]) -> None:
        """Mark the job ``running`` with its validated ``params`` and its planned steps."""
        now = _now()
        with self._transaction() as conn:
            self._move(conn, job_id, "running")
            self._touch(
                conn, job_id, "status = 'running', started_at = ?, params = ?", now, _checked_params(to_json(dict(params)))
            )
            conn.executemany(
                "INSERT INTO steps (job_id, position, name, kind, weight, share, can_roll_back, status)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')",
                [
                    (job_id, s.order, s.name, s.kind, s.weight, s.share, int(s.can_roll_back))
                    for s in steps
                ],
            )

    def step_started(self, job_id: int, order: int) -> None:
        """Mark step ``order`` ``running``."""
        now = _now()
        with self._transaction() as conn:
            conn.execute(
                "UPDATE steps SET status = 'running', started_at = ? WHERE job_id = ? AND position = ?",
                (now, job_id, order),
            )
            self._touch(conn, job_id)

    def step_finished(
        self,
        job_id: int,
        order: int,
        status: StepStatus,
        duration: float,
        data: Mapping[str, Any],
        error: str | None,
        rollback_data: Mapping[str, Any] | None = None,
        checkpoint: Mapping[str, Any] | None = None,
    ) -> None:
        """Record how step ``order`` ended; for a success also what its ``rollback`` needs and
        the ``checkpoint`` of the context, in the same transaction."""
        now = _now()
        kept = None if rollback_data is None else to_json(dict(rollback_data))
        saved = None if checkpoint is None else to_json(dict(checkpoint))
        with self._transaction() as conn:
            conn.execute(
                "UPDATE steps SET status = ?, finished_at = ?, duration = ?, data = ?, error = ?,"
                " rollback_data = ?, checkpoint = ?, started_at = COALESCE(started_at, ?)"
                " WHERE job_id = ? AND position = ?",
                (status, now, duration, to_json(dict(data)), capped_text(error), kept, saved, now, job_id, order),
            )
            self._touch(conn, job_id)

    def step_rolled_back(self, job_id: int, order: int, error: str | None, *, finished: bool = True) -> None:
        """Record that step ``order``'s rollback (its ``rollback`` and its undo actions) ended.

        ``error`` says what failed; ``finished=False`` records a rollback that was cut short
        (the step stays ``rolled_back = False``, its work may still be in place).
        """
        with self._transaction() as conn:
            conn.execute(
                "UPDATE steps SET rolled_back = ?, rollback_error = ? WHERE job_id = ? AND position = ?",
                (int(finished), capped_text(error), job_id, order),
            )
            self._touch(conn, job_id)

    def set_progress(self, job_id: int, current: int, total: int, step_order: int | None = None) -> None:
        """Record overall progress (``step_order`` is ``None``) or a step's own progress."""
        with self._transaction() as conn:
            if step_order is None:
                percent = 0 if total <= 0 else max(0, min(100, current * 100 // total))
                self._touch(conn, job_id, "progress = MAX(progress, ?)", percent)
            else:
                conn.execute(
                    "UPDATE steps SET progress_current = ?, progress_total = ? WHERE job_id = ? AND position = ?",
                    (_clamped(current), _clamped(total), job_id, step_order),
                )
                self._touch(conn, job_id)

    def add_log(
        self, job_id: int, event: str, data: Mapping[str, Any], file: str | None, step: str | None
    ) -> None:
        """Append a log event."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO logs (job_id, at, kind, step, event, data, file) VALUES (?, ?, 'log', ?, ?, ?, ?)",
                (job_id, _now(), step, event, to_json(dict(data)), file),
            )
            self._touch(conn, job_id)

    def add_metrics(self, job_id: int, value: Mapping[str, Any], step: str | None) -> None:
        """Append a metrics report and make it the step's latest metrics."""
        encoded = to_json(dict(value))
        key = step if step is not None else ""
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO logs (job_id, at, kind, step, event, data) VALUES (?, ?, 'metrics', ?, 'metrics', ?)",
                (job_id, _now(), step, encoded),
            )
            self._touch(conn, job_id, "metrics = json_set(metrics, ?, json(?))", _json_path(key), encoded)

    def adopt_job(self, job_id: int, from_pid: int) -> JobRecord:
        """Make this process the owner of job ``job_id``, created ``pending`` by process
        ``from_pid`` on this host (``steprail submit``): its ``host`` and ``pid`` become this
        process's, so the job reads ``interrupted`` if this process dies and ``steprail jobs
        cancel`` signals this process. Checked and changed in one transaction: one adopter wins.

        Raises:
            JobNotFoundError: there is no such job.
            JobStoreError: the job is not ``pending`` or not ``from_pid``'s; nothing was changed.
        """
        with self._transaction() as conn:
            job = self._read_job(conn, job_id)
            if job.recorded_status != "pending" or job.pid != from_pid or job.host != self._host:
                raise JobStoreError(
                    f"job {job_id} ({job.status}, process {job.pid} on {job.host}) cannot be adopted: "
                    f"only a pending job of process {from_pid} on this host can"
                )
            self._touch(
                conn, job_id, "pid = ?, pid_started = ?, signals = ?", self._pid, self._pid_started, int(self.signals)
            )
            return self._read_job(conn, job_id)

    def cancel_pending(self, job_id: int, why: str) -> bool:
        """Cancel job ``job_id`` if it is still ``pending`` with no process that cancels it on a
        signal (queued by ``steprail submit``, not taken over yet): it ends ``cancelled`` with
        ``why``, and the process about to take it over then cannot. Checked and changed in one
        transaction. Returns whether it was cancelled here (``False``: signal its process).

        Raises:
            JobNotFoundError: there is no such job.
        """
        with self._transaction() as conn:
            job = self._read_job(conn, job_id)
            if job.recorded_status != "pending" or job.signals:
                return False
            self._touch(conn, job_id, "status = 'cancelled', error = ?, finished_at = ?", capped_text(why), _now())
            return True

    def set_placement(self, job_id: int, executor: str, node: str, worker_pid: int) -> None:
        """Record where job ``job_id``'s action runs: the ``executor`` (``ray``), the ``node``
        and the ``worker_pid`` of the process it runs in (the job's own ``host``/``pid`` stay
        those of the process that records it)."""
        with self._transaction() as conn:
            self._touch(conn, job_id, "executor = ?, node = ?, worker_pid = ?", executor, node, worker_pid)

    def mark_lost(self, job_id: int, cause: str) -> None:
        """Record that job ``job_id``'s worker was lost (it died, or its node did) before the
        job ended: the job reads ``interrupted`` from now on, with ``cause`` as its error. It
        can be resumed like any interrupted job. A job that already ended is left as it is.

        Raises:
            JobNotFoundError: there is no such job.
        """
        with self._transaction() as conn:
            row = conn.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise JobNotFoundError(f"job store {str(self.path)!r} has no job {job_id}")
            if row[0] not in ("pending", "running"):
                return
            # No finished time: the job did not finish (its record stays running), as for any
            # interrupted job.
            self._touch(conn, job_id, "lost = ?, error = ?", capped_text(cause), capped_text(cause))

    def finish_job(
        self,
        job_id: int,
        status: JobStatus,
        *,
        error: str | None = None,
        rollback: Sequence[RollbackEntry] = (),
        summary: Mapping[str, Any] | None = None,
        traceback: str | None = None,
        resumable: bool = False,
    ) -> None:
        """Record the job's final status, error, rollback report, summary, (when an exception
        ended it) the formatted ``traceback``, and whether its kept work can be resumed or rolled
        back later (``resumable``, only for ``failed`` or ``cancelled``)."""
        if status not in ("success", "failed", "cancelled"):
            raise ValueError(f"a job finishes as success, failed or cancelled, not {status!r}")
        if resumable and status == "success":
            raise ValueError("a job that succeeded has nothing to resume")
        extra = ", progress = 100" if status == "success" else ""
        extra += ", resumable = 1" if resumable else ""
        with self._transaction() as conn:
            self._move(conn, job_id, status)
            if not resumable:  # nothing can resume the job: its checkpoints are dead weight
                conn.execute(
                    "UPDATE steps SET checkpoint = NULL WHERE job_id = ? AND checkpoint IS NOT NULL", (job_id,)
                )
            self._touch(
                conn,
                job_id,
                f"status = ?, error = ?, rollback = ?, summary = ?, finished_at = ?, traceback = ?{extra}",
                status,
                capped_text(error),
                to_json(rollback_report(rollback)),
                to_json(dict(summary or {})),
                _now(),
                capped_text(traceback),
            )

    def claim_kept_work(self, job_id: int) -> JobRecord:
        """Take job ``job_id``'s kept work to roll it back: the job is read and its ``resumable``
        flag cleared in one transaction, so that two processes cannot both act on it.

        Raises:
            JobNotFoundError: there is no such job.
            JobStoreError: the job has no kept work (it succeeded, is still running, was rolled
                back or ran under the ``rollback`` policy).
        """
        with self._transaction() as conn:
            job = self._read_job(conn, job_id)
            if job.status not in ("failed", "cancelled", "interrupted") or not job.kept_steps:
                why = (
                    "it is still running"
                    if job.status in ("pending", "running")
                    else "it succeeded"
                    if job.status == "success"
                    else "none of its steps' work is in place (it was rolled back, or no step completed)"
                )
                raise JobStoreError(f"job {job_id} ({job.status}) has no kept work to roll back: {why}")
            self._touch(conn, job_id, "resumable = 0")
        return job

    def resume_job(
        self,
        job_id: int,
        *,
        params: Mapping[str, Any],
        plan: Sequence[PlannedStep],
        forced: str | None = None,
    ) -> JobRecord:
        """Claim job ``job_id`` for a new attempt, in one transaction, and return it as claimed.

        The job must be resumable (it failed or was cancelled under the ``keep`` policy) or
        ``interrupted`` (its process is gone). The first step to run is the first one that is
        not kept with a checkpoint (a success that was not rolled back and saved the context,
        or a skipped step); it and every later step are reset to ``pending``. The job becomes
        ``running`` in this process with ``params`` and the steps of ``plan`` (which differ from
        the recorded ones only when a resume was forced), and the attempt is appended to
        :attr:`JobRecord.attempts`.

        Raises:
            JobNotFoundError: there is no such job.
            JobStoreError: the job is not resumable; nothing was changed.
        """
        with self._transaction() as conn:
            job = self._read_job(conn, job_id)
            why = not_resumable(job)
            if why is not None:
                raise JobStoreError(f"job {job_id} ({job.status}) cannot be resumed: {why}")
            start = resume_point(job.steps)
            attempt = {
                "number": job.attempt + 1,
                "started_at": _now(),
                "from_step": start,
                "previous_status": job.status,
                "previous_error": job.error,
                "forced": forced,
                "host": self._host,
                "pid": self._pid,
                # The claim below resets where the job runs: keep where the last attempt ran.
                "previous_where": job.where,
                "previous_lost": job.lost,
            }
            attempts = json.loads(conn.execute("SELECT attempts FROM jobs WHERE id = ?", (job_id,)).fetchone()[0])
            self._touch(
                conn,
                job_id,
                "status = 'running', resumable = 0, error = NULL, traceback = NULL, finished_at = NULL,"
                " params = ?, attempts = ?, host = ?, pid = ?, pid_started = ?, signals = ?,"
                " executor = 'in-process', node = NULL, worker_pid = NULL, lost = NULL",
                _checked_params(to_json(dict(params))),
                to_json([*attempts, attempt]),
                self._host,
                self._pid,
                self._pid_started,
                int(self.signals),
            )
            conn.execute(
                "UPDATE steps SET status = 'pending', progress_current = NULL, progress_total = NULL,"
                " started_at = NULL, finished_at = NULL, duration = NULL, data = '{}', error = NULL,"
                " rolled_back = 0, rollback_error = NULL, rollback_data = NULL, checkpoint = NULL"
                " WHERE job_id = ? AND position >= ?",
                (job_id, start),
            )
            # A forced resume runs another plan: the rows describe the steps that run now.
            conn.execute("DELETE FROM steps WHERE job_id = ? AND position >= ?", (job_id, len(plan)))
            for s in plan:
                conn.execute(
                    "INSERT INTO steps (job_id, position, name, kind, weight, share, can_roll_back, status)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, 'pending') ON CONFLICT (job_id, position) DO UPDATE SET"
                    " name = excluded.name, kind = excluded.kind, weight = excluded.weight,"
                    " share = excluded.share, can_roll_back = excluded.can_roll_back",
                    (job_id, s.order, s.name, s.kind, s.weight, s.share, int(s.can_roll_back)),
                )
            return self._read_job(conn, job_id)

    def _read_job(self, conn: sqlite3.Connection, job_id: int) -> JobRecord:
        row = conn.execute(f"SELECT {self._job_columns()} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFoundError(f"job store {str(self.path)!r} has no job {job_id}")
        steps = conn.execute(
            f"SELECT {self._step_columns()} FROM steps WHERE job_id = ? ORDER BY position", (job_id,)
        ).fetchall()
        return self._job(row, [self._step(s) for s in steps])

    def add_rollback(self, job_id: int, entries: Sequence[RollbackEntry]) -> None:
        """Append ``entries`` to job ``job_id``'s rollback report (a later rollback of kept work)."""
        with self._transaction() as conn:
            row = conn.execute("SELECT rollback FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise JobNotFoundError(f"job store {str(self.path)!r} has no job {job_id}")
            report = json.loads(row[0]) + rollback_report(entries)
            self._touch(conn, job_id, "rollback = ?", to_json(report))

    def _move(self, conn: sqlite3.Connection, job_id: int, status: JobStatus) -> None:
        """Refuse a transition :data:`JOB_TRANSITIONS` does not allow (inside the change, so the
        check and the write are one atomic step)."""
        row = conn.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFoundError(f"job store {str(self.path)!r} has no job {job_id}")
        current = cast(JobStatus, row[0])
        if status not in JOB_TRANSITIONS[current]:
            raise JobStoreError(
                f"job store {str(self.path)!r}: job {job_id} is {current}; it cannot become {status}"
            )

    def _touch(self, conn: sqlite3.Connection, job_id: int, assignments: str = "", *values: object) -> None:
        sql = "UPDATE jobs SET updated_at = ?" + (", " + assignments if assignments else "") + " WHERE id = ?"
        cursor = conn.execute(sql, (_now(), *values, job_id))
        if cursor.rowcount == 0:
            raise JobNotFoundError(f"job store {str(self.path)!r} has no job {job_id}")

    # -- reading --------------------------------------------------------------------------------

    def get(self, job_id: int, *, checkpoints: bool = False) -> JobRecord:
        """Return job ``job_id`` with its steps (and their checkpoints only if ``checkpoints``:
        they can be large, and only a resume needs them).

        Raises:
            JobNotFoundError: there is no such job.
        """
        with self._guard():
            row = self._conn.execute(f"SELECT {self._job_columns()} FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise JobNotFoundError(f"job store {str(self.path)!r} has no job {job_id}")
            steps = self._conn.execute(
                f"SELECT {self._step_columns(checkpoints)} FROM steps WHERE job_id = ? ORDER BY position", (job_id,)
            ).fetchall()
        return self._job(row, [self._step(s) for s in steps])

    def list_jobs(self, limit: int | None = None) -> list[JobRecord]:
        """Return jobs newest first (without their steps), at most ``limit`` of them."""
        with self._guard():
            rows = self._conn.execute(
                f"SELECT {self._job_columns()} FROM jobs ORDER BY id DESC LIMIT ?",
                (-1 if limit is None else limit,),
            ).fetchall()
        return [self._job(row, []) for row in rows]

    def logs(self, job_id: int, *, kind: str | None = None) -> list[JobLog]:
        """Return a job's log events and metrics reports (only one ``kind`` if given), oldest first."""
        query = "SELECT at, kind, step, event, data, file FROM logs WHERE job_id = ?"
        args: tuple[object, ...] = (job_id,)
        if kind is not None:
            query += " AND kind = ?"
            args = (job_id, kind)
        with self._guard():
            rows = self._conn.execute(query + " ORDER BY id", args).fetchall()
        return [
            JobLog(datetime.fromisoformat(at), k, step, event, json.loads(data), file)
            for at, k, step, event, data, file in rows
        ]

    def _job_columns(self) -> str:
        # An older store opened read-only lacks the later columns: read them as their defaults.
        return (
            _JOB_COLUMNS
            + (", traceback" if self._version >= 2 else ", NULL")
            + (", resumable, attempts" if self._version >= 3 else ", 0, '[]'")
            + (", executor, node, worker_pid, lost" if self._version >= 4 else ", 'in-process', NULL, NULL, NULL")
            + (", signals" if self._version >= 5 else ", 0")
        )

    def _step_columns(self, checkpoints: bool = False) -> str:
        if self._version < 3:
            return _STEP_COLUMNS + ", NULL, 0, NULL"
        return _STEP_COLUMNS + ", rollback_data, checkpoint IS NOT NULL" + (", checkpoint" if checkpoints else ", NULL")

    def _job(self, row: tuple[Any, ...], steps: list[StepRecord]) -> JobRecord:
        (
            job_id, action, params, status, progress, error, rollback, summary, metrics,
            created, started, finished, updated, host, pid, pid_started, traceback, resumable, attempts,
            executor, node, worker_pid, lost, signals,
        ) = row  # fmt: skip
        updated_at = datetime.fromisoformat(updated)
        state: JobState = status
        if status in ("pending", "running") and (
            lost is not None or not process_alive(host, pid, pid_started, updated_at)
        ):
            state = "interrupted"
        return JobRecord(
            id=job_id,
            action=action,
            params=json.loads(params),
            status=state,
            recorded_status=cast(JobStatus, status),
            progress=progress,
            error=error,
            rollback=[RollbackEntry(e["step"], e["kind"], e["label"], e["error"]) for e in json.loads(rollback)],
            summary=json.loads(summary),
            metrics=json.loads(metrics),
            created_at=datetime.fromisoformat(created),
            started_at=_when(started),
            finished_at=_when(finished),
            updated_at=updated_at,
            host=host,
            pid=pid,
            steps=steps,
            traceback=traceback,
            resumable=bool(resumable),
            attempts=[_attempt(entry) for entry in json.loads(attempts)],
            executor=executor,
            node=node,
            worker_pid=worker_pid,
            lost=lost,
            signals=bool(signals),
        )

    @staticmethod
    def _step(row: tuple[Any, ...]) -> StepRecord:
        (
            order, name, kind, weight, share, can_roll_back, status, current, total,
            started, finished, duration, data, error, rolled_back, rollback_error, rollback_data,
            has_checkpoint, checkpoint,
        ) = row  # fmt: skip
        return StepRecord(
            order=order,
            name=name,
            kind=kind,
            weight=weight,
            share=share,
            can_roll_back=bool(can_roll_back),
            status=status,
            progress=None if current is None else (current, total),
            started_at=_when(started),
            finished_at=_when(finished),
            duration=duration,
            data=json.loads(data),
            error=error,
            rolled_back=bool(rolled_back),
            rollback_error=rollback_error,
            rollback_data=None if rollback_data is None else json.loads(rollback_data),
            checkpoint=None if checkpoint is None else json.loads(checkpoint),
            has_checkpoint=bool(has_checkpoint),
        )


def not_resumable(job: JobRecord) -> str | None:
    """Why ``job`` cannot be resumed, or ``None`` when it can."""
    if job.resumable or job.status == "interrupted":
        return None
    if job.status == "success":
        return "it succeeded"
    if job.status in ("pending", "running"):
        return "it is still running"
    return "it ran under the rollback failure policy, or its kept work was rolled back or resumed since"


def resume_point(steps: Sequence[StepRecord]) -> int:
    """The position of the first step a resume runs: the first that is not kept with a
    checkpoint (skipped steps count as kept: they changed nothing)."""
    for step in steps:
        if step.status == "skipped" and not step.rolled_back:
            continue
        if not (step.kept and step.has_checkpoint):
            return step.order
    return len(steps)


def _attempt(entry: Mapping[str, Any]) -> JobAttempt:
    return JobAttempt(
        number=int(entry["number"]),
        started_at=datetime.fromisoformat(entry["started_at"]),
        from_step=int(entry["from_step"]),
        previous_status=str(entry["previous_status"]),
        previous_error=entry.get("previous_error"),
        forced=entry.get("forced"),
        host=str(entry["host"]),
        pid=int(entry["pid"]),
        previous_where=entry.get("previous_where"),
        previous_lost=entry.get("previous_lost"),
    )


def _checked_params(encoded: str) -> str:
    size = len(encoded.encode("utf-8"))
    if size > MAX_PARAMS_BYTES:
        raise ParamsTooLargeError(
            f"params are {size} bytes as JSON, more than the job store's limit of {MAX_PARAMS_BYTES} bytes;"
            " pass large data by reference (a path or an id), not inline"
        )
    return encoded


def _clamped(value: int) -> int:
    """``value`` as an integer SQLite can hold (64-bit), saturating at the bounds."""
    return max(-_SQLITE_INT_MAX - 1, min(_SQLITE_INT_MAX, int(value)))


def _json_path(key: str) -> str:
    # A JSON path member with the key quoted, so step names with dots or spaces stay one key.
    return "$." + json.dumps(key)


_JOB_COLUMNS: Final = (
    "id, action, params, status, progress, error, rollback, summary, metrics, created_at,"
    " started_at, finished_at, updated_at, host, pid, pid_started"
)
_STEP_COLUMNS: Final = (
    "position, name, kind, weight, share, can_roll_back, status, progress_current, progress_total,"
    " started_at, finished_at, duration, data, error, rolled_back, rollback_error"
)
