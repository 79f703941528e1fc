"""The ``steprail`` command: run, plan, jobs list/show, demo."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from .._orchestrator import error_text
from ..actions import BaseAction, InvalidParamsError, mermaid
from ..jobs import JobNotFoundError, JobRecord, JobStore, JobStoreError
from ..jobs._store import rollback_report
from ._demo import DemoSettings, run_demo
from ._flow import flow_mermaid_edges, flow_rows, flow_rows_table
from ._errors import EXIT_BAD_INPUT, EXIT_OK, EXIT_STORE_FAILED, UsageProblem
from ._loading import load_action
from ._params import collect_params
from ._render import job_detail, jobs_table, outcome_table, plan_table
from . import _runner
from ._runner import StoreFailedDuringJob, late_signals_noted, open_store, resolve_home, run_action, store_path, store_problem

__all__ = ["app"]

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
    help="Run typed step workflows as recorded jobs: run, plan, jobs, demo.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
jobs_app = typer.Typer(cls=_Group, help="Job history from the job store.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")

HomeOption = Annotated[
    Path | None,
    typer.Option(
        "--home",
        # Help text is rich markup: unescaped, "[default: ...]" would be taken for a style tag.
        help="Folder for the job store, the local backend and work files "
        + escape("[default: $STEPRAIL_HOME or ./.steprail]."),
        show_default=False,
    ),
]
StoreOption = Annotated[
    Path | None,
    typer.Option(
        "--store", help="The job store file " + escape("[default: <home>/jobs.sqlite3]."), show_default=False
    ),
]
ParamsFileOption = Annotated[
    Path | None,
    typer.Option("--params", "-f", help="A JSON (or .toml) file of params.", show_default=False),
]
ParamOption = Annotated[
    list[str] | None,
    typer.Option(
        "--param", "-p", metavar="KEY=VALUE", help="Repeatable; VALUE is read as JSON when it parses.", show_default=False
    ),
]
PlainOption = Annotated[
    bool, typer.Option("--plain", metavar="", help="Plain lines instead of live progress bars (automatic off a terminal or with CI).")
]
JsonLogOption = Annotated[
    Path | None, typer.Option("--json-log", help="Also write every event to this JSON-lines file.", show_default=False)
]
LockTimeoutOption = Annotated[
    float, typer.Option("--lock-timeout", help="Seconds to wait for a job store locked by another process.")
]


def _stdout() -> Console:
    return Console()


def _stderr() -> Console:
    return Console(stderr=True)


@contextmanager
def _bad_input() -> Iterator[None]:
    """Report a :class:`UsageProblem` on stderr and exit with code 2."""
    try:
        yield
    except UsageProblem as problem:
        _stderr().print(f"error: {problem}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except StoreFailedDuringJob as failure:
        _stderr().print(f"error: {failure}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_STORE_FAILED) from None


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
) -> None:
    """Run an action as a recorded job. Exit code: 0 success, 1 failed, 2 bad input, 3 job store failed
    during the job, 130 cancelled."""
    with _bad_input():
        action_class = load_action(target)
        params = collect_params(params_file, param or [])
        root = resolve_home(home)
        console = _stdout()
        with late_signals_noted() as late:
            with open_store(store_path(root, store), lock_timeout) as job_store:
                result = run_action(
                    action_class,
                    params,
                    home=root,
                    store=job_store,
                    console=console,
                    plain=True if plain else None,
                    json_log=json_log,
                    late=late,
                )
            outcome = result.outcome
            if isinstance(outcome.exception, InvalidParamsError):
                raise UsageProblem(f"{outcome.exception}\n(recorded as failed job {result.job_id})")
            console.print(outcome_table(outcome, result.job_id))
            if outcome.error:
                console.print(f"{outcome.status}: {outcome.error}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(result.exit_code)


@app.command(cls=_Command)
def plan(
    target: Annotated[str, typer.Argument(metavar="MODULE:ACTION", help="The action to describe.")],
    params_file: ParamsFileOption = None,
    param: ParamOption = None,
    show_mermaid: Annotated[bool, typer.Option("--mermaid", metavar="", help="Print a Mermaid flowchart instead of the table.")] = False,
) -> None:
    """Show an action's steps with normalised weights and rollback support, and the declared
    data flow (requires/provides, unmet and unused fields); runs nothing."""
    with _bad_input():
        action_class = load_action(target)
        params = collect_params(params_file, param or [])
        action: BaseAction[Any] = action_class(params)
        problem: InvalidParamsError | None = None
        try:
            action.validate_params(params)
        except InvalidParamsError as error:
            if params_file is not None or param:
                raise UsageProblem(str(error)) from error
            problem = error  # no params given: try the plan on the defaults
        try:
            steps = action.plan()
        except Exception as error:
            if problem is not None:
                raise UsageProblem(
                    f"the plan of {target!r} depends on its params, and these are missing or invalid:\n"
                    + "\n".join(f"  - {where}: {message}" for where, message in problem.problems)
                    + "\npass them with -p KEY=VALUE or --params FILE"
                ) from error
            raise UsageProblem(f"building the plan of {target!r} raised {error_text(error)}") from error
        flow = flow_rows(action)  # declared data flow (docs/data-flow.md); None: nothing declared
        if show_mermaid:
            typer.echo("\n".join([mermaid(steps, title=action_class.action_name), *flow_mermaid_edges(flow or [])]))
        else:
            _stdout().print(plan_table(action_class.action_name, steps))
            if flow is not None:
                _stdout().print(flow_rows_table(flow))
    raise typer.Exit(EXIT_OK)


def _read_jobs[T](
    home: Path | None, store: Path | None, read: Callable[[JobStore], T], *, quiet: bool = False
) -> T | None:
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
            }
            for s in job.steps
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
    as_json: Annotated[bool, typer.Option("--json", metavar="", help="Print JSON instead of text.")] = False,
) -> None:
    """Show one job: status, params, steps, metrics, errors, rollback."""
    with _bad_input():
        found = _read_jobs(home, store, lambda s: (s.get(job_id), s.logs(job_id)))
        if found is None:
            raise UsageProblem(f"there is no job {job_id}: nothing has been recorded yet")
        job, events = found
        if as_json:
            typer.echo(json.dumps(job_json(job), indent=2))
            return
        console = _stdout()
        job_detail(console, job)
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


@app.command(cls=_Command)
def demo(
    home: HomeOption = None,
    store: StoreOption = None,
    items: Annotated[int, typer.Option("--items", min=3, help="Items in the generated sample dataset.")] = DemoSettings.items,
    clusters: Annotated[int, typer.Option("--clusters", min=1, help="Anchor boxes to fit.")] = DemoSettings.clusters,
    iterations: Annotated[int, typer.Option("--iterations", min=1, help="Most k-means iterations.")] = DemoSettings.iterations,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the sample dataset and of k-means.")] = DemoSettings.seed,
    json_log: JsonLogOption = None,
    plain: PlainOption = False,
) -> None:
    """The main job: sample dataset, import, export, convert to YOLO, fit anchors, upload.

    The first run makes a sample DM v2 dataset and imports it into the local backend; every run
    then exports it, converts it to YOLO, fits anchor boxes and uploads the model, as a
    recorded job.
    """
    with _bad_input():
        root = resolve_home(home)
        settings = DemoSettings(items=items, clusters=clusters, iterations=iterations, seed=seed)
        with open_store(store_path(root, store)) as job_store:
            result = run_demo(
                root, job_store, _stdout(), settings, plain=True if plain else None, json_log=json_log
            )
    raise typer.Exit(result.exit_code)


def main() -> None:
    """Entry point of the ``steprail`` console script."""
    _runner.KEEP_NOTING_AFTER_THE_JOB[0] = True  # this process ends with the command
    try:
        app(prog_name="steprail")
    finally:
        # The command is done; the interpreter now shuts down, and its shutdown puts the default
        # handlers back: a SIGTERM then would kill the process and replace the exit code the job
        # earned. Blocked signals stay pending and die with the process.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})

