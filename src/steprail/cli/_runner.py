"""Running an action from the command line: sinks, store, backend, signals, exit code."""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from ..actions import ActionOutcome, BaseAction, BaseTrainAction, Executor, InProcessExecutor, InvalidParamsError, KeptWorkError
from ..actions._cancel import CANCEL_SIGNALS
from ..datasets import LocalBackend
from ..jobs import (
    ActionRuntime,
    ConsoleRuntime,
    FanOutRuntime,
    JobOutcome,
    JobRuntime,
    JobStore,
    JobStoreDamagedError,
    JobStoreError,
    JobStoreFullError,
    JobStoreLockedError,
    JobStoreReadOnlyError,
    JsonLinesRuntime,
    LoggingRuntime,
)
from .._errors import RollbackEntry
from .._orchestrator import FailurePolicy
from .._runtime import RuntimeContext
from .._logging import get_logger
from ._errors import (
    EXIT_BAD_INPUT,
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_STORE_FAILED,
    JobInterrupted,
    StoreFailedDuringJob,
    UsageProblem,
)
from ._signals import KEEP_NOTING_AFTER_THE_JOB

_log = get_logger("steprail.cli")

__all__ = [
    "RunResult",
    "LateSignals",
    "choose_executor",
    "StoreFailedDuringJob",
    "late_signals_noted",
    "open_backend",
    "open_store",
    "resolve_home",
    "run_action",
    "store_path",
    "store_problem",
]

#: The job store's file name under the home folder, unless ``--store`` names another file.
STORE_FILE_NAME = "jobs.sqlite3"


def resolve_home(home: Path | None) -> Path:
    """``--home``, else ``$STEPRAIL_HOME``, else ``./.steprail`` (absolute).

    Raises:
        UsageProblem: the chosen path exists and is not a folder.
    """
    option = "--home"
    if home is None:
        env = os.environ.get("STEPRAIL_HOME")
        option = "$STEPRAIL_HOME" if env else "the default home"
        home = Path(env) if env else Path.cwd() / ".steprail"
    # Checked up front: a file here would otherwise surface as a FileExistsError traceback
    # from mkdir, or as "no jobs recorded yet" from the read-only commands.
    if home.exists() and not home.is_dir():
        raise UsageProblem(f"{option} {str(home)!r} is not a folder")
    return home.absolute()


def store_path(home: Path, store: Path | None) -> Path:
    """``--store``, else ``<home>/jobs.sqlite3``.

    Raises:
        UsageProblem: ``--store`` names a folder.
    """
    if store is None:
        return home / STORE_FILE_NAME
    if store.is_dir():
        raise UsageProblem(f"{str(store)!r} is a folder; --store needs a file")
    return store.absolute()


def store_problem(error: JobStoreError) -> UsageProblem:
    """``error`` with what the user can do about it on the command line."""
    hint = ""
    if isinstance(error, JobStoreDamagedError):
        hint = "; move it aside (it was left untouched) or pass another file with --store"
    elif isinstance(error, JobStoreLockedError):
        hint = "; wait for that process to finish, or pass another file with --store"
    elif isinstance(error, JobStoreFullError):
        hint = "; free some space (the store itself is intact) or pass a file on another disk with --store"
    elif isinstance(error, JobStoreReadOnlyError):
        hint = "; jobs list/show still work; pass a writable file with --store to run jobs"
    return UsageProblem(f"{error}{hint}")


class LateSignals(ActionRuntime):
    """A sink that learns when the job has recorded its end (see :func:`late_signals_noted`)."""

    def __init__(self) -> None:
        super().__init__()
        self.job_ended = False
        self.noted: list[int] = []

    def job_finished(self, outcome: JobOutcome) -> None:
        self.job_ended = True

    def job_lost(self, cause: str) -> None:
        self.job_ended = True


#: The executors ``--executor`` accepts.
EXECUTORS = ("in-process", "ray")


def choose_executor(name: str, address: str | None, *, quiet: bool = False, check: bool = False) -> Executor:
    """The executor ``--executor NAME`` (``$STEPRAIL_EXECUTOR``) names; ``address`` is the Ray
    cluster's (``--address`` / ``$RAY_ADDRESS``). ``quiet`` keeps the workers' output off stdout;
    ``check`` refuses now a cluster address that cannot be reached (``submit``).

    Raises:
        UsageProblem: an unknown name, ``--address`` without Ray, or Ray not installed.
    """
    if name not in EXECUTORS:
        raise UsageProblem(f"--executor: {name!r} is not an executor; use one of: {', '.join(EXECUTORS)}")
    if name == "in-process":
        return InProcessExecutor()
    try:
        from ..ray import ClusterUnreachableError, RayExecutor
        from ..ray._executor import check_reachable
    except ModuleNotFoundError as error:
        raise UsageProblem(f"--executor ray: {error}") from error
    if check:
        try:
            check_reachable(address)
        except ClusterUnreachableError as error:
            raise UsageProblem(str(error)) from error
    return RayExecutor(address, log_to_driver=not quiet)


@contextmanager
def late_signals_noted() -> Iterator[LateSignals]:
    """Around ``steprail run``'s job: a SIGTERM/SIGINT/SIGHUP/SIGQUIT that comes once the job has recorded how
    it ended (while the summary prints) is noted rather than killing the process, so the exit
    code is the job's. Before the job starts a signal acts as usual; during the job the
    action's own handlers take over (and hand these back)."""
    late = LateSignals()
    if threading.current_thread() is not threading.main_thread():
        yield late
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        if late.job_ended:
            late.noted.append(signum)
            return
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        signal.signal(signum, signal.SIG_DFL)  # what SIGTERM would have done: end the process
        os.kill(os.getpid(), signum)

    previous = {number: signal.getsignal(number) for number in CANCEL_SIGNALS}
    for number in previous:
        signal.signal(number, handle)
    try:
        yield late
    finally:
        # The console script keeps noting them until the interpreter is gone: a signal while
        # it exits would otherwise replace the job's exit code with the signal's.
        if not (KEEP_NOTING_AFTER_THE_JOB[0] and late.job_ended):
            for number, handler in previous.items():
                signal.signal(number, handler)




def _store_fault(error: BaseException | None) -> JobStoreError | None:
    """The job store error behind ``error`` (itself, or a cause of a step's failure), if any."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, JobStoreError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def open_store(
    path: Path,
    timeout: float = 5.0,
    *,
    read_only: bool = False,
    write_timeout: float | None = None,
    signals: bool = False,
) -> JobStore:
    """Open (or create) the job store; any problem becomes a :class:`UsageProblem`.
    ``read_only`` opens it for reading only (it works on a read-only file or mount).

    ``timeout`` bounds every wait for another process's lock: opening (and upgrading) it,
    creating the job and each of the job's writes, unless ``write_timeout`` sets the last two
    apart (``steprail demo`` keeps the store's default). ``signals``: this command runs the
    jobs it records and cancels them on SIGTERM (``run``, ``drive``, ``jobs resume``)."""
    try:
        return JobStore(
            path,
            timeout=timeout,
            write_timeout=timeout if write_timeout is None else write_timeout,
            read_only=read_only,
            signals=signals and threading.current_thread() is threading.main_thread(),
        )
    except JobStoreError as error:
        raise store_problem(error) from error


class _WorkDirPerJob(ActionRuntime):
    """Points a training action's work folder at ``<home>/work/job-<id>`` once the job has an id."""

    def __init__(self, jobs: JobRuntime, home: Path) -> None:
        super().__init__()
        self.action: BaseTrainAction[Any, Any] | None = None
        self._jobs = jobs
        self._home = home

    def job_created(self, action: str, params: Mapping[str, Any]) -> None:
        if self.action is not None:
            self.action.work_dir = self._home / "work" / f"job-{self._jobs.job_id}"


def open_backend(root: Path) -> LocalBackend:
    """Open (or create) the local backend; a damaged one becomes a :class:`UsageProblem`."""
    try:
        return LocalBackend(root)
    except (OSError, sqlite3.Error) as error:
        raise UsageProblem(
            f"cannot open the local backend at {str(root)!r} ({error}); "
            "move it aside or pick another folder with --home"
        ) from error


def roll_back_kept_work(action_class: type[BaseAction[Any]], store: JobStore, job_id: int, home: Path) -> list[RollbackEntry]:
    """``steprail jobs rollback``: rebuild job ``job_id``'s action from its recorded params (a
    training action with the local backend under ``home`` and the job's work folder, as
    :func:`run_action` gave it) and roll back the work the job kept."""
    params = store.get(job_id).params
    if not issubclass(action_class, BaseTrainAction):
        return action_class(params).roll_back_job(store, job_id)
    backend = open_backend(home / "backend")
    try:
        work_dir = home / "work" / f"job-{job_id}"
        return action_class(params, client=backend, work_dir=work_dir).roll_back_job(store, job_id)
    finally:
        backend.close()


@dataclass
class RunResult:
    """What :func:`run_action` did."""

    outcome: ActionOutcome
    job_id: int | None
    exit_code: int
    work_dir: Path | None


def run_action(
    action_class: type[BaseAction[Any]],
    params: dict[str, Any],
    *,
    home: Path,
    store: JobStore,
    console: Console,
    plain: bool | None,
    json_log: Path | None,
    late: LateSignals | None = None,
    show_traceback: bool = False,
    on_failure: FailurePolicy | None = None,
    resume: int | None = None,
    force: bool = False,
    executor: Executor | None = None,
    adopted: int | None = None,
) -> RunResult:
    """Run ``action_class`` with ``params``: recorded in ``store``, shown on ``console``,
    cancellable with SIGTERM / Ctrl-C. A training action gets the local backend under ``home``
    and a work folder ``<home>/work/job-<id>``. ``show_traceback`` prints the traceback of a
    step's exception as soon as the job fails; ``on_failure`` overrides the action's failure
    policy. With ``resume`` (a job id), the run is a new attempt of that job (``force`` accepts
    a changed workflow): see :meth:`BaseAction.resume`. ``executor`` runs a new job (in this
    process by default; a resume always runs in this process). ``adopted``: the id of a job
    created beforehand (``steprail submit``) that this process adopted and records into."""
    jobs = JobRuntime(store, adopted=adopted)
    work_dirs = _WorkDirPerJob(jobs, home)
    console_sink = ConsoleRuntime(console, plain=plain, show_traceback=show_traceback)
    # The job's events also go to the steprail.job logger: nothing is built unless the user's
    # logging configuration (or $STEPRAIL_LOG_LEVEL) lets them through.
    sinks: list[RuntimeContext] = [jobs, work_dirs, console_sink, LoggingRuntime()]
    if late is not None:
        sinks.append(late)
    if json_log is not None:
        try:
            sinks.append(JsonLinesRuntime(json_log))
        except OSError as error:
            raise UsageProblem(f"cannot write the JSON-lines log {str(json_log)!r}: {error}") from error
    runtime = FanOutRuntime(*sinks, keep=False)  # the store keeps everything; memory need not
    backend: LocalBackend | None = None
    action: BaseAction[Any]
    if issubclass(action_class, BaseTrainAction):
        backend = open_backend(home / "backend")
        # A resumed job goes on in the folder of its earlier attempts (its steps are built before
        # the job is claimed, so the folder is known now rather than from job_created).
        work_dir = None if resume is None else home / "work" / f"job-{resume}"
        work_dirs.action = action_class(
            params, runtime=runtime, client=backend, work_dir=work_dir, handle_signals=True, on_failure=on_failure
        )
        action = work_dirs.action
    else:
        action = action_class(params, runtime=runtime, handle_signals=True, on_failure=on_failure)
    try:
        if resume is None:
            outcome = (executor or InProcessExecutor()).run(action)
        else:
            outcome = action.resume(resume, force=force)
    except KeptWorkError as error:  # a changed workflow, another action: nothing was done
        raise UsageProblem(str(error)) from error
    except JobStoreError as error:
        if jobs.job_id is None:  # nothing was recorded and no step ran: bad input
            if type(error) is JobStoreError:  # the job cannot be resumed: the user's choice of job
                raise UsageProblem(str(error)) from error
            raise store_problem(error) from error
        notes = "; ".join(note.removeprefix("steprail: ") for note in getattr(error, "__notes__", ()))
        raise StoreFailedDuringJob(
            f"{store_problem(error)}\njob {jobs.job_id}: {notes or 'its final record could not be written'}"
            "; until a final record is written it reads as interrupted",
            jobs.job_id,
        ) from error
    except Exception as error:
        ray_package = sys.modules.get("steprail.ray")  # WorkerLostError exists only with ray
        if ray_package is not None and isinstance(error, ray_package.ClusterUnreachableError | ray_package.CodeNotShippableError):
            if adopted is not None:  # queued by submit: the record says why it never ran
                store.finish_job(adopted, "failed", error=str(error))
            raise UsageProblem(str(error)) from error
        if ray_package is None or not isinstance(error, ray_package.WorkerLostError):
            raise
        raise JobInterrupted(f"job {jobs.job_id} interrupted: {getattr(error, 'cause', error)}", jobs.job_id) from error
    finally:
        console_sink.close()
        if backend is not None:
            backend.close()
    if outcome.status == "success":
        code = EXIT_OK
    elif outcome.status == "cancelled":
        code = EXIT_CANCELLED
    elif isinstance(outcome.exception, InvalidParamsError):
        code = EXIT_BAD_INPUT
    elif _store_fault(outcome.exception) is not None:
        # The store failed (disk full, read-only, lock held past write_timeout) after the job
        # was created: rolled back, and the final record could still say so (failed).
        code = EXIT_STORE_FAILED
    else:
        code = EXIT_FAILED
    work_dir = home / "work" / f"job-{jobs.job_id}" if work_dirs.action is not None else None
    return RunResult(outcome, jobs.job_id, code, work_dir)
