"""The ``steprail`` command: run, plan, jobs list/show, demo.

Only typer is imported up front: ``steprail --help``, ``--version`` and shell completion must
answer at once, so each command imports the library (pydantic, rich, the job store, the
datasets) when it runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext, redirect_stdout
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, EXIT_STORE_FAILED, JobInterrupted, StoreFailedDuringJob, UsageProblem

if TYPE_CHECKING:
    from rich.console import Console

    from .._orchestrator import FailurePolicy
    from ..actions import ActionOutcome
    from ..jobs import JobRecord, JobStore, PlannedStep

__all__ = ["ENVIRONMENT_VARIABLES", "MAX_LOCK_TIMEOUT", "app", "error_json", "main"]

#: The environment variables the common options read, and the option each one stands for.
ENVIRONMENT_VARIABLES: dict[str, str] = {
    "STEPRAIL_HOME": "--home",
    "STEPRAIL_STORE": "--store",
    "STEPRAIL_LOCK_TIMEOUT": "--lock-timeout",
    "STEPRAIL_PLAIN": "--plain",
    "STEPRAIL_JSON_LOG": "--json-log",
    "STEPRAIL_TRACEBACK": "--traceback",
    "STEPRAIL_EXECUTOR": "--executor",
}
#: Not an option: a logging level (``DEBUG``, ``INFO``, ...) that shows the library's
#: ``steprail.*`` log records on stderr.
LOG_LEVEL_VARIABLE = "STEPRAIL_LOG_LEVEL"

def _flag_help(option: typer.core.TyperOption | None) -> typer.core.TyperOption | None:
    """``--help`` is a flag: without this, the help lists it with a ``<bool>`` value."""
    if option is not None:
        option.metavar = ""
    return option


class _Command(typer.core.TyperCommand):
    """A command whose ``--help`` shows no ``<bool>`` type."""

    def get_help_option(self, ctx: Any) -> typer.core.TyperOption | None:
        return _flag_help(super().get_help_option(ctx))


class _Group(typer.core.TyperGroup):
    """A command group whose ``--help`` shows no ``<bool>`` type."""

    def get_help_option(self, ctx: Any) -> typer.core.TyperOption | None:
        return _flag_help(super().get_help_option(ctx))


app = typer.Typer(
    name="steprail",
    cls=_Group,
    help="Run typed step workflows as recorded jobs: run, submit, plan, jobs, demo.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    # Plain click help: typer's rich help imports rich's markdown, syntax and traceback modules,
    # which alone take longer than the 0.3 s `steprail --help` may take.
    rich_markup_mode=None,
    # Help lines as wide as the terminal, up to 120 columns (click stops at 80 by default).
    context_settings={"max_content_width": 120},
)
jobs_app = typer.Typer(
    cls=_Group, help="Job history from the job store.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(jobs_app, name="jobs")

HomeOption = Annotated[
    Path | None,
    typer.Option(
        "--home",
        help="Folder for the job store, the local backend and work files [default: $STEPRAIL_HOME or ./.steprail].",
        show_default=False,
    ),
]
StoreOption = Annotated[
    Path | None,
    typer.Option(
        "--store",
        envvar="STEPRAIL_STORE",
        show_envvar=True,
        help="The job store file [default: <home>/jobs.sqlite3].",
        show_default=False,
    ),
]
ParamsFileOption = Annotated[
    Path | None,
    typer.Option("--params", "-f", help="A file of params: JSON, or TOML / YAML (.toml, .yaml, .yml).", show_default=False),
]
ParamOption = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        "-p",
        metavar="KEY=VALUE",
        help="Repeatable; VALUE is read by the field's type: text for a str field, JSON for lists, dicts and models.",
        show_default=False,
    ),
]
PlainOption = Annotated[
    bool,
    typer.Option(
        "--plain",
        metavar="",
        envvar="STEPRAIL_PLAIN",
        show_envvar=True,
        help="Plain lines instead of live progress bars (automatic off a terminal or with CI).",
    ),
]
JsonLogOption = Annotated[
    Path | None,
    typer.Option(
        "--json-log",
        envvar="STEPRAIL_JSON_LOG",
        show_envvar=True,
        help="Also write every event to this JSON-lines file.",
        show_default=False,
    ),
]
#: The longest ``--lock-timeout``: SQLite counts its busy timeout in milliseconds in a 32-bit int.
MAX_LOCK_TIMEOUT = 2_147_483.0


def _checked_lock_timeout(value: float) -> float:
    """Refuse a lock timeout SQLite cannot wait for (NaN, infinite, negative, too long)."""
    if not 0 <= value <= MAX_LOCK_TIMEOUT:  # also false for NaN
        raise typer.BadParameter(f"{value!r} is not a number of seconds from 0 to {MAX_LOCK_TIMEOUT:g}")
    return value


LockTimeoutOption = Annotated[
    float,
    typer.Option(
        "--lock-timeout",
        envvar="STEPRAIL_LOCK_TIMEOUT",
        show_envvar=True,
        callback=_checked_lock_timeout,
        help="Seconds to wait for a job store locked by another process: when opening it, creating the job, and at each write.",
    ),
]
TracebackOption = Annotated[
    bool,
    typer.Option(
        "--traceback",
        "-v",
        metavar="",
        envvar="STEPRAIL_TRACEBACK",
        show_envvar=True,
        help="Print the traceback of a step's exception as soon as the job fails.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", metavar="", help="Print JSON instead of text.")]
ExecutorOption = Annotated[
    str,
    typer.Option(
        "--executor",
        metavar="in-process|ray",
        envvar="STEPRAIL_EXECUTOR",
        show_envvar=True,
        help="Where the action runs: in this process, or in a Ray worker (needs the [ray] extra; see --address).",
    ),
]
AddressOption = Annotated[
    str | None,
    typer.Option(
        "--address",
        envvar="RAY_ADDRESS",
        show_envvar=True,
        help="With --executor ray: the Ray cluster to connect to [default: a new local cluster].",
        show_default=False,
    ),
]
OnFailureOption = Annotated[
    str | None,
    typer.Option(
        "--on-failure",
        metavar="rollback|keep",
        help="On a failure or cancellation, roll completed steps back, or keep their work to resume or "
        "roll back later (steprail jobs rollback) [default: the action's, normally rollback].",
        show_default=False,
    ),
]


def _stdout() -> Console:
    return _console(stderr=False)


def _stderr() -> Console:
    return _console(stderr=True)


def _console(*, stderr: bool) -> Console:
    """A console for tables and lines. Off a terminal (a pipe, a file) it is as wide as the
    text needs: a table never wraps a path in the middle for lack of a width nobody set."""
    from ._pipe import PipeTolerantConsole

    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return PipeTolerantConsole(stderr=stderr)
    return PipeTolerantConsole(stderr=stderr, width=_UNWRAPPED_WIDTH)


# Wide enough for any path or message; rich only pads tables to their content's width.
_UNWRAPPED_WIDTH = 100_000


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"steprail {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", metavar="", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Run typed step workflows as recorded jobs: run, submit, plan, jobs, demo."""


@contextmanager
def _bad_input(*, as_json: bool = False) -> Iterator[None]:
    """Report a :class:`UsageProblem` on stderr and exit with code 2 (a
    :class:`StoreFailedDuringJob`: code 3). With ``as_json``, stdout also gets a JSON error
    object (:func:`error_json`), so a script reading it always gets JSON."""
    try:
        yield
    except UsageProblem as problem:
        _report(str(problem), None, EXIT_BAD_INPUT, as_json=as_json)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except StoreFailedDuringJob as failure:
        _report(str(failure), failure.job_id, EXIT_STORE_FAILED, as_json=as_json)
        raise typer.Exit(EXIT_STORE_FAILED) from None
    except JobInterrupted as interrupted:
        _report(str(interrupted), interrupted.job_id, EXIT_FAILED, as_json=as_json)
        raise typer.Exit(EXIT_FAILED) from None


def error_json(error: str, job_id: int | None, exit_code: int) -> dict[str, Any]:
    """What ``steprail run --json`` prints when no outcome can be shown (bad input, a store
    that cannot be opened or written): ``status`` is ``"error"``."""
    return {"job_id": job_id, "status": "error", "exit_code": exit_code, "error": error}


def _report(error: str, job_id: int | None, exit_code: int, *, as_json: bool) -> None:
    _stderr().print(f"error: {error}", markup=False, highlight=False, soft_wrap=True)
    if as_json:
        typer.echo(json.dumps(error_json(error, job_id, exit_code), indent=2))


@app.command(cls=_Command)
def run(
    target: Annotated[str, typer.Argument(metavar="MODULE:ACTION", help="The action, e.g. steprail.actions.anchors:AnchorBoxTrainAction or path/to/file.py:MyAction.")],
    params_file: ParamsFileOption = None,
    param: ParamOption = None,
    home: HomeOption = None,
    store: StoreOption = None,
    json_log: JsonLogOption = None,
    plain: PlainOption = False,
    lock_timeout: LockTimeoutOption = 5.0,
    show_traceback: TracebackOption = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", metavar="", help="Print the outcome as JSON on stdout (progress lines go to stderr)."
        ),
    ] = False,
    on_failure: OnFailureOption = None,
    executor: ExecutorOption = "in-process",
    address: AddressOption = None,
) -> None:
    """Run an action as a recorded job. Exit code: 0 success, 1 failed (or its Ray worker was lost),
    2 bad input, 3 job store failed during the job, 130 cancelled."""
    from ..actions import InvalidParamsError
    from ._loading import load_action
    from ._params import collect_params
    from ._render import failure_lines, outcome_json, outcome_table, result_line
    from ._runner import choose_executor, late_signals_noted, open_store, resolve_home, run_action, store_path

    with _bad_input(as_json=as_json):
        policy = _failure_policy(on_failure)
        chosen = choose_executor(executor, address, quiet=as_json)
        action_class = load_action(target)
        params = collect_params(params_file, param or [], action_class.params_model)
        root = resolve_home(home)
        # With --json, stdout holds the JSON alone: the live lines go to stderr, and so does
        # what a step prints (Python's sys.stdout; a subprocess writing to file descriptor 1
        # is not redirected).
        console = _stderr() if as_json else _stdout()
        step_output = redirect_stdout(sys.stderr) if as_json else nullcontext()
        with late_signals_noted() as late:
            with open_store(store_path(root, store), lock_timeout, signals=True) as job_store, step_output:
                result = run_action(
                    action_class,
                    params,
                    home=root,
                    store=job_store,
                    console=console,
                    plain=True if plain else None,
                    json_log=json_log,
                    late=late,
                    show_traceback=show_traceback,
                    on_failure=policy,
                    executor=chosen,
                )
            outcome = result.outcome
            if as_json:
                # Also for invalid params (exit code 2): the job was recorded, so its id is printed.
                typer.echo(json.dumps(outcome_json(outcome, result.job_id, result.exit_code), indent=2))
            if isinstance(outcome.exception, InvalidParamsError):
                _stderr().print(
                    f"error: {outcome.exception}\n(recorded as failed job {result.job_id})",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )
                raise typer.Exit(result.exit_code)
            if as_json:
                raise typer.Exit(result.exit_code)
            console.print(outcome_table(outcome, result.job_id))
            if outcome.summary and outcome.status == "success":
                console.print(result_line(outcome.summary), markup=False, highlight=False, soft_wrap=True)
            for line in failure_lines(outcome, result.job_id, traceback_shown=show_traceback):
                console.print(line, markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(result.exit_code)


#: Where ``steprail submit`` hands each job's params to the process that drives it.
_SUBMITTED = "submitted"
#: How long ``steprail submit`` waits for each job's process to take the job over.
_ADOPTION_SECONDS = 60.0


@app.command(cls=_Command)
def submit(
    target: Annotated[str, typer.Argument(metavar="MODULE:ACTION", help="The action, as for run.")],
    params_files: Annotated[
        list[Path] | None,
        typer.Option("--params", "-f", help="A params file per job (repeatable); the -p values apply to every job.", show_default=False),
    ] = None,
    param: ParamOption = None,
    home: HomeOption = None,
    store: StoreOption = None,
    lock_timeout: LockTimeoutOption = 5.0,
    executor: ExecutorOption = "in-process",
    address: AddressOption = None,
    as_json: JsonOption = False,
) -> None:
    """Queue one job per --params file (one job without any) and print their ids at once. Every job's
    params are validated first: one bad set queues nothing. Each job is then driven by a detached
    steprail process (its output in <home>/submitted/job-<id>.log) that records it like run; follow
    them with jobs list, stop one with jobs cancel. Exit code: 0 queued, 2 bad input."""
    import subprocess

    from ..actions import InvalidParamsError
    from ..jobs._secrets import masked_params
    from ._loading import load_action
    from ._params import collect_params
    from ._runner import choose_executor, open_store, resolve_home, store_path

    with _bad_input(as_json=as_json):
        choose_executor(executor, address, check=True)  # unknown, ray missing, cluster unreachable: refused now
        action_class = load_action(target)
        files: list[Path | None] = list(params_files) if params_files else [None]
        sets = []
        for number, file in enumerate(files, start=1):
            raw = collect_params(file, param or [], action_class.params_model)
            try:
                action_class.validate_params(raw)
            except InvalidParamsError as error:
                which = f" ({file})" if file is not None else ""
                raise UsageProblem(f"job {number} of {len(files)}{which}: {error}\nnothing was queued") from error
            sets.append(raw)
        root = resolve_home(home)
        path = store_path(root, store)
        hand_off = root / _SUBMITTED
        hand_off.mkdir(mode=0o700, parents=True, exist_ok=True)
        drivers: dict[int, subprocess.Popen[bytes]] = {}
        logs: dict[int, Path] = {}
        with open_store(path, lock_timeout) as job_store:
            for raw in sets:
                job_id = job_store.create_job(action_class.action_name, masked_params(action_class.params_model, raw))
                # Raw params (secrets unmasked) for the driving process only, which deletes the
                # file; its name is unguessable and made here (never an existing file or link).
                params_path = hand_off / f"{_hand_off_stem(path, job_id)}-{secrets.token_hex(16)}.json"
                _write_private(params_path, json.dumps(raw).encode("utf-8"))
                logs[job_id] = hand_off / f"{_hand_off_stem(path, job_id)}.log"
                command = [
                    sys.executable, "-m", "steprail.cli", "drive", str(job_id), "--from-pid", str(os.getpid()),
                    "--params-file", str(params_path),
                    "--home", str(root), "--store", str(path), "--executor", executor,
                    *(["--address", address] if address else []),
                ]  # fmt: skip
                log_fd = os.open(logs[job_id], os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
                try:
                    drivers[job_id] = subprocess.Popen(
                        command, stdin=subprocess.DEVNULL, stdout=log_fd, stderr=subprocess.STDOUT, start_new_session=True
                    )
                except OSError:
                    params_path.unlink(missing_ok=True)
                    raise
                finally:
                    os.close(log_fd)
            _wait_for_adoption(job_store, drivers, logs)
        ids = list(drivers)
        if as_json:
            typer.echo(json.dumps({"job_ids": ids}))
        else:
            for job_id in ids:
                typer.echo(str(job_id))
    raise typer.Exit(EXIT_OK)


def _hand_off_stem(store: Path, job_id: int) -> str:
    """``job-<id>-<store key>``: the key (from the store file's full path) keeps the hand-off
    files of two stores under one home apart, though both number their jobs from 1."""
    key = hashlib.sha256(str(store.resolve()).encode("utf-8")).hexdigest()[:10]
    return f"job-{job_id}-{key}"


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file ``path`` that only this user can read (refused if the path
    exists, a symbolic link included)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)


def _wait_for_adoption(job_store: JobStore, drivers: Mapping[int, Any], logs: Mapping[int, Path]) -> None:
    """Return once every job's process owns its job (so it never reads as interrupted when this
    command ends); a process that ended before is reported with its log."""
    import time

    deadline = time.monotonic() + _ADOPTION_SECONDS
    waiting = dict(drivers)
    while waiting:
        for job_id, process in list(waiting.items()):
            job = job_store.get(job_id)
            if job.pid == process.pid or job.recorded_status != "pending":  # taken over, or cancelled meanwhile
                del waiting[job_id]
            elif process.poll() is not None:
                log = logs[job_id].read_text(errors="replace").strip()
                job_store.finish_job(job_id, "failed", error=f"its process could not start: {log}")
                raise UsageProblem(f"job {job_id}: the process to drive it ended with exit code {process.returncode}:\n{log}")
        if waiting and time.monotonic() > deadline:
            raise UsageProblem(f"jobs {sorted(waiting)}: their processes did not start within {_ADOPTION_SECONDS:g}s")
        time.sleep(0.05)


@app.command("drive", cls=_Command, hidden=True)
def drive(
    job_id: Annotated[int, typer.Argument(metavar="ID")],
    from_pid: Annotated[int, typer.Option("--from-pid", help="The submitting process.")],
    params_file: Annotated[Path, typer.Option("--params-file", help="The job's raw params (deleted once read).")],
    home: HomeOption = None,
    store: StoreOption = None,
    executor: ExecutorOption = "in-process",
    address: AddressOption = None,
) -> None:
    """Drive job ID that steprail submit queued (internal: submit starts it)."""
    from ..jobs import JobStoreError
    from ._loading import load_action
    from ._runner import choose_executor, late_signals_noted, open_store, resolve_home, run_action, store_path

    with _bad_input():
        root = resolve_home(home)
        try:
            params = json.loads(params_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise UsageProblem(f"job {job_id}: cannot read its params from {str(params_file)!r}: {error}") from error
        finally:
            params_file.unlink(missing_ok=True)
        chosen = choose_executor(executor, address)
        from ..actions._cancel import CANCEL_SIGNALS

        # From the adoption on, jobs cancel signals this process: a signal before the run's own
        # handlers are in place stays pending (blocked) and cancels the job once they are.
        signal.pthread_sigmask(signal.SIG_BLOCK, CANCEL_SIGNALS)
        with late_signals_noted() as late:
            with open_store(store_path(root, store), signals=True) as job_store:
                action_class = load_action(job_store.get(job_id).action)  # before adopting: see submit
                try:
                    job_store.adopt_job(job_id, from_pid)
                except JobStoreError as error:
                    raise UsageProblem(str(error)) from error
                result = run_action(
                    action_class, params, home=root, store=job_store, console=_stdout(), plain=True,
                    json_log=None, late=late, executor=chosen, adopted=job_id,
                )  # fmt: skip
    raise typer.Exit(result.exit_code)


def _failure_policy(value: str | None) -> FailurePolicy | None:
    from .._orchestrator import checked_policy

    if value is None:
        return None
    try:
        return checked_policy(value)
    except ValueError as error:
        raise UsageProblem(f"--on-failure: {error}".replace("on_failure must be", "must be")) from None


@app.command(cls=_Command)
def plan(
    target: Annotated[str, typer.Argument(metavar="MODULE:ACTION", help="The action to describe.")],
    params_file: ParamsFileOption = None,
    param: ParamOption = None,
    show_mermaid: Annotated[bool, typer.Option("--mermaid", metavar="", help="Print a Mermaid flowchart instead of the table.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Show an action's steps with normalised weights and rollback support, and the declared
    data flow (requires/provides, unmet and unused fields); runs nothing."""
    from .._orchestrator import error_text
    from ..actions import BaseAction, InvalidParamsError, mermaid
    from ._loading import load_action
    from ._params import collect_params
    from ._flow import flow_json, flow_mermaid_edges, flow_rows, flow_rows_table
    from ._render import plan_json, plan_table

    with _bad_input():
        action_class = load_action(target)
        params = collect_params(params_file, param or [], action_class.params_model)
        action: BaseAction[Any] = action_class(params)
        problem: InvalidParamsError | None = None
        try:
            action.validate_params(params)
        except InvalidParamsError as error:
            if params_file is not None or param:
                raise UsageProblem(str(error)) from error
            problem = error  # no params given: try the plan on the defaults
        try:
            steps: list[PlannedStep] = action.plan()
        except Exception as error:
            if problem is not None:
                raise UsageProblem(
                    f"the plan of {target!r} depends on its params, and these are missing or invalid:\n"
                    + "\n".join(f"  - {where}: {message}" for where, message in problem.problems)
                    + "\npass them with -p KEY=VALUE or --params FILE"
                ) from error
            raise UsageProblem(f"building the plan of {target!r} raised {error_text(error)}") from error
        flow = flow_rows(action)  # declared data flow (docs/data-flow.md); None: nothing declared
        if as_json:
            typer.echo(json.dumps({**plan_json(action_class.action_name, steps), "flow": flow_json(flow)}, indent=2))
        elif show_mermaid:
            typer.echo("\n".join([mermaid(steps, title=action_class.action_name), *flow_mermaid_edges(flow or [])]))
        else:
            _stdout().print(plan_table(action_class.action_name, steps))
            if flow is not None:
                _stdout().print(flow_rows_table(flow))
    raise typer.Exit(EXIT_OK)


def _read_jobs[T](
    home: Path | None, store: Path | None, read: Callable[[JobStore], T], *, quiet: bool = False
) -> T | None:
    from ..jobs import JobNotFoundError, JobStoreError
    from ._runner import open_store, resolve_home, store_path, store_problem

    path = store_path(resolve_home(home), store)
    if not path.exists():
        if not quiet:
            _stdout().print(f"no jobs recorded yet: {path} does not exist", markup=False, highlight=False)
        return None
    # Read-only: works on a read-only file or mount, and never takes the write lock, so a
    # reader cannot hold up a running job.
    with open_store(path, read_only=True) as job_store:
        try:
            return read(job_store)
        except JobNotFoundError as error:
            raise UsageProblem(f"{error}; list the jobs with: steprail jobs list") from error
        except JobStoreError as error:
            raise store_problem(error) from error


def job_json(job: JobRecord) -> dict[str, Any]:
    """A job as ``steprail jobs show --json`` prints it."""
    from ..jobs._store import rollback_report

    return {
        "id": job.id,
        "action": job.action,
        "status": job.status,
        "recorded_status": job.recorded_status,
        "progress": job.progress,
        "params": job.params,
        "error": job.error,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "metrics": job.metrics,
        "summary": job.summary,
        "rollback": rollback_report(job.rollback),
        "steps": [
            {
                "order": s.order,
                "name": s.name,
                "status": s.status,
                "duration": s.duration,
                "share": s.share,
                "can_roll_back": s.can_roll_back,
                "rolled_back": s.rolled_back,
                "rollback_error": s.rollback_error,
                "error": s.error,
                "data": s.data,
                # Whether a resume can restore the context after this step; the checkpoint itself
                # is left out (it can be large): a resume reads it from the store.
                "checkpointed": s.has_checkpoint,
            }
            for s in job.steps
        ],
        "traceback": job.traceback,
        "resumable": job.resumable,
        # The process that records the job (the one jobs cancel signals, when it may).
        "host": job.host,
        "pid": job.pid,
        "signals": job.signals,
        "executor": job.executor,
        "node": job.node,
        "worker_pid": job.worker_pid,
        "lost": job.lost,
        "attempts": [
            {
                "number": a.number,
                "started_at": a.started_at.isoformat(),
                "from_step": a.from_step,
                "previous_status": a.previous_status,
                "previous_error": a.previous_error,
                "forced": a.forced,
                "previous_where": a.previous_where,
                "previous_lost": a.previous_lost,
            }
            for a in job.attempts
        ],
    }


@jobs_app.command("list", cls=_Command)
def jobs_list(
    home: HomeOption = None,
    store: StoreOption = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Show at most this many jobs.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", metavar="", help="Print JSON instead of a table.")] = False,
) -> None:
    """List recorded jobs, newest first."""
    from ._render import jobs_table

    with _bad_input():
        jobs = _read_jobs(home, store, lambda s: s.list_jobs(limit), quiet=as_json)
        if as_json:  # no store yet: an empty JSON list, so scripts always get JSON
            typer.echo(json.dumps([job_json(job) for job in jobs or []], indent=2))
        elif jobs is not None:
            _stdout().print(jobs_table(jobs))


@jobs_app.command("show", cls=_Command)
def jobs_show(
    job_id: Annotated[int, typer.Argument(metavar="ID", help="The job's id (see steprail jobs list).")],
    home: HomeOption = None,
    store: StoreOption = None,
    logs: Annotated[int, typer.Option("--logs", min=0, help="Also print the last N log events.")] = 0,
    show_traceback: Annotated[
        bool, typer.Option("--traceback", "-v", metavar="", help="Also print the traceback of the exception that ended the job.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Show one job: status, params, steps, metrics, errors, rollback (and the traceback)."""
    from ._render import job_detail

    with _bad_input():
        found = _read_jobs(home, store, lambda s: (s.get(job_id), s.logs(job_id), s.schema_version))
        if found is None:
            raise UsageProblem(f"there is no job {job_id}: nothing has been recorded yet")
        job, events, schema_version = found
        if as_json:
            typer.echo(json.dumps(job_json(job), indent=2))
            return
        console = _stdout()
        job_detail(console, job, traceback_shown=show_traceback, schema_version=schema_version)
        if logs > 0:
            console.print(f"last {min(logs, len(events))} of {len(events)} log events:")
            for event in events[-logs:]:
                step = f" [{event.step}]" if event.step else ""
                console.print(
                    f"  {event.at.astimezone().strftime('%H:%M:%S')}{step} {event.kind} {event.event}: "
                    f"{json.dumps(event.data, sort_keys=True)}",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )


@jobs_app.command("cancel", cls=_Command)
def jobs_cancel(
    job_id: Annotated[int, typer.Argument(metavar="ID", help="A pending or running job.")],
    home: HomeOption = None,
    store: StoreOption = None,
    wait: Annotated[
        float, typer.Option("--wait", min=0, help="Seconds to wait for the job to end (its rollback included).")
    ] = 60.0,
) -> None:
    """Cancel a running job from another shell: SIGTERM to the process that runs it (a Ray job's
    driver, which cancels its Ray task); the job rolls back and ends cancelled. Exit code: 0 the
    job ended, 1 it had not ended after --wait seconds, 2 bad input."""
    import socket
    import time

    from ._runner import open_store, resolve_home, store_path

    with _bad_input():
        job = _read_jobs(home, store, lambda s: s.get(job_id), quiet=True)
        if job is None:
            raise UsageProblem(f"there is no job {job_id}: nothing has been recorded yet")
        if job.status not in ("pending", "running"):
            raise UsageProblem(f"job {job_id} is {job.status}: only a pending or running job can be cancelled")
        if job.status == "pending" and not job.signals:
            # Queued by submit and not taken over yet: cancelled in the store, and the process
            # about to take it over then finds it cancelled. (Taken over meanwhile: signal it.)
            with open_store(store_path(resolve_home(home), store)) as job_store:
                cancelled = job_store.cancel_pending(job_id, "cancelled before it started (steprail jobs cancel)")
                job = job_store.get(job_id)
            if cancelled:
                _stdout().print(f"job {job_id}: cancelled before it started", markup=False, highlight=False)
                raise typer.Exit(EXIT_OK)
        if job.host != socket.gethostname():
            raise UsageProblem(
                f"job {job_id} is driven by process {job.pid} on host {job.host!r}: run steprail jobs cancel there"
            )
        if not job.signals:
            raise UsageProblem(
                f"job {job_id} runs inside another program (process {job.pid}), which does not cancel it on a "
                "signal: cancel it there (steprail jobs cancel signals only the steprail commands that run jobs)"
            )
        try:
            os.kill(job.pid, signal.SIGTERM)
        except ProcessLookupError:
            raise UsageProblem(f"job {job_id}: its process {job.pid} is gone (the job is interrupted)") from None
        except PermissionError:
            raise UsageProblem(
                f"job {job_id}: its process {job.pid} belongs to another user; cancel it as that user"
            ) from None
        console = _stdout()
        console.print(f"job {job_id}: SIGTERM sent to its process {job.pid}", markup=False, highlight=False)
        deadline = time.monotonic() + wait
        while True:
            current = _read_jobs(home, store, lambda s: s.get(job_id), quiet=True)
            assert current is not None  # it was read above; jobs are never deleted
            if current.status not in ("pending", "running"):
                console.print(f"job {job_id}: {current.status}", markup=False, highlight=False)
                raise typer.Exit(EXIT_OK)
            if time.monotonic() >= deadline:
                console.print(f"job {job_id}: still {current.status} after {wait:g}s", markup=False, highlight=False)
                raise typer.Exit(EXIT_FAILED)
            time.sleep(0.1)


@jobs_app.command("rollback", cls=_Command)
def jobs_rollback(
    job_id: Annotated[int, typer.Argument(metavar="ID", help="A job that kept its work (run with --on-failure keep).")],
    home: HomeOption = None,
    store: StoreOption = None,
    lock_timeout: LockTimeoutOption = 5.0,
) -> None:
    """Roll back the work a failed, cancelled or interrupted job kept: each completed step's rollback,
    newest first. Exit code: 0 all rolled back, 1 some rollback failed, 2 bad input."""
    from ..actions import KeptWorkError
    from ..jobs import JobNotFoundError, JobStoreError
    from ._loading import load_action
    from ._runner import open_store, resolve_home, roll_back_kept_work, store_path, store_problem

    with _bad_input():
        root = resolve_home(home)
        path = store_path(root, store)
        if not path.exists():
            raise UsageProblem(f"there is no job {job_id}: {path} does not exist")
        with open_store(path, lock_timeout) as job_store:
            try:
                action_class = load_action(job_store.get(job_id).action)
                entries = roll_back_kept_work(action_class, job_store, job_id, root)
            except JobNotFoundError as error:
                raise UsageProblem(f"{error}; list the jobs with: steprail jobs list") from error
            except KeptWorkError as error:
                raise UsageProblem(str(error)) from error
            except JobStoreError as error:
                if type(error) is JobStoreError:  # the job has no kept work: the user's choice of job
                    raise UsageProblem(str(error)) from error
                raise store_problem(error) from error
        console = _stdout()
        for entry in entries:
            result = "ok" if entry.error is None else f"FAILED: {entry.error}"
            console.print(f"{entry.step}.rollback(): {result}", markup=False, highlight=False, soft_wrap=True)
        failed = sum(entry.error is not None for entry in entries)
        console.print(
            f"job {job_id}: rolled back {len(entries) - failed} of {len(entries)} kept step(s)",
            markup=False,
            highlight=False,
        )
    raise typer.Exit(1 if failed else EXIT_OK)


@jobs_app.command("resume", cls=_Command)
def jobs_resume(
    job_id: Annotated[int, typer.Argument(metavar="ID", help="A job that kept its work (--on-failure keep) or was interrupted.")],
    force: Annotated[
        bool, typer.Option("--force", metavar="", help="Resume even though the action's steps or params changed (recorded).")
    ] = False,
    home: HomeOption = None,
    store: StoreOption = None,
    json_log: JsonLogOption = None,
    plain: PlainOption = False,
    lock_timeout: LockTimeoutOption = 5.0,
    show_traceback: TracebackOption = False,
    on_failure: OnFailureOption = None,
) -> None:
    """Continue a job from the first step that did not complete, as a new attempt of the same job.
    Exit codes as for run."""
    from ..jobs import JobNotFoundError, JobStoreError
    from ._loading import load_action
    from ._render import failure_lines, outcome_table, result_line
    from ._runner import late_signals_noted, open_store, resolve_home, run_action, store_path, store_problem

    with _bad_input():
        policy = _failure_policy(on_failure)
        root = resolve_home(home)
        path = store_path(root, store)
        if not path.exists():
            raise UsageProblem(f"there is no job {job_id}: {path} does not exist")
        console = _stdout()
        with late_signals_noted() as late:
            with open_store(path, lock_timeout, signals=True) as job_store:
                try:
                    job = job_store.get(job_id)
                except JobNotFoundError as error:
                    raise UsageProblem(f"{error}; list the jobs with: steprail jobs list") from error
                except JobStoreError as error:
                    raise store_problem(error) from error
                action_class = load_action(job.action)
                result = run_action(
                    action_class,
                    job.params,
                    home=root,
                    store=job_store,
                    console=console,
                    plain=True if plain else None,
                    json_log=json_log,
                    late=late,
                    show_traceback=show_traceback,
                    on_failure=policy,
                    resume=job_id,
                    force=force,
                )
            outcome = result.outcome
            console.print(outcome_table(outcome, result.job_id))
            if outcome.summary and outcome.status == "success":
                console.print(result_line(outcome.summary), markup=False, highlight=False, soft_wrap=True)
            for line in failure_lines(outcome, result.job_id, traceback_shown=show_traceback):
                console.print(line, markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(result.exit_code)


@app.command(cls=_Command)
def demo(
    home: HomeOption = None,
    store: StoreOption = None,
    items: Annotated[int, typer.Option("--items", min=3, help="Items in the generated sample dataset.")] = 40,
    clusters: Annotated[int, typer.Option("--clusters", min=1, help="Anchor boxes to fit.")] = 5,
    iterations: Annotated[int, typer.Option("--iterations", min=1, help="Most k-means iterations.")] = 30,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the sample dataset and of k-means.")] = 0,
    json_log: JsonLogOption = None,
    plain: PlainOption = False,
) -> None:
    """The main job: sample dataset, import, export, convert to YOLO, fit anchors, upload.

    The first run makes a sample DM v2 dataset and imports it into the local backend; every run
    then exports it, converts it to YOLO, fits anchor boxes and uploads the model, as a
    recorded job.
    """
    from ..jobs._store import WRITE_TIMEOUT_SECONDS
    from ._demo import DemoSettings, run_demo
    from ._runner import open_store, resolve_home, store_path

    with _bad_input():
        root = resolve_home(home)
        settings = DemoSettings(items=items, clusters=clusters, iterations=iterations, seed=seed)
        with open_store(store_path(root, store), write_timeout=WRITE_TIMEOUT_SECONDS) as job_store:
            result = run_demo(
                root, job_store, _stdout(), settings, plain=True if plain else None, json_log=json_log
            )
    raise typer.Exit(result.exit_code)


def _log_to_stderr(level: str) -> None:
    """Show ``steprail.*`` log records of ``level`` and above on stderr (nothing when empty)."""
    if not level.strip():
        return
    import logging

    name = level.strip().upper()
    if not isinstance(logging.getLevelNamesMapping().get(name), int):
        typer.echo(f"error: ${LOG_LEVEL_VARIABLE} is {level!r}; use DEBUG, INFO, WARNING or ERROR", err=True)
        raise SystemExit(EXIT_BAD_INPUT)
    from ._logs import NotShownTwice, TerminalFormatter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(TerminalFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(NotShownTwice())
    logger = logging.getLogger("steprail")
    logger.addHandler(handler)
    logger.setLevel(name)


_COMPLETION_OPTIONS = ("--install-completion", "--show-completion")


def _refuse_a_named_completion_shell(args: list[str]) -> None:
    """``steprail --install-completion zsh`` would ignore ``zsh`` and install for the shell it
    detects from its parent process (typer's behaviour when shellingham is installed): say so
    and how to choose, rather than install completion for another shell."""
    if len(args) >= 2 and args[0] in _COMPLETION_OPTIONS and not args[1].startswith("-"):
        typer.echo(
            f"error: {args[0]} takes no shell name: it uses the shell steprail runs from (found from its"
            f" parent process); for another shell run it from that shell, e.g. {args[1]} -c 'steprail {args[0]}'",
            err=True,
        )
        raise SystemExit(EXIT_BAD_INPUT)


def main() -> None:
    """Entry point of the ``steprail`` console script (and of ``python -m steprail``)."""
    from . import _signals

    _signals.KEEP_NOTING_AFTER_THE_JOB[0] = True  # this process ends with the command
    _log_to_stderr(os.environ.get(LOG_LEVEL_VARIABLE, ""))
    _refuse_a_named_completion_shell(sys.argv[1:])
    try:
        app(prog_name="steprail")
    finally:
        # The command is done; the interpreter now shuts down, and its shutdown puts the default
        # handlers back: a SIGTERM then would kill the process and replace the exit code the job
        # earned. Blocked signals stay pending and die with the process.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})

