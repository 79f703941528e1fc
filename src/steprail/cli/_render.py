"""Tables the command line prints: a run's steps, a plan, the job list, one job."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

from ..actions import ActionOutcome
from ..actions._cancel import JobCancelled
from ..jobs import JobRecord, PlannedStep, format_metrics
from ..jobs._failure import (
    failure_traceback,
    is_library_file,
    raised_at,
    shown_path,
    step_exception,
    terminal_text,
)
from ..jobs._store import capped_text, json_value, rollback_report

__all__ = [
    "failure_lines",
    "job_detail",
    "jobs_table",
    "outcome_json",
    "outcome_table",
    "plan_json",
    "plan_table",
    "result_line",
    "shown_step_status",
    "traceback_origin",
]

_STATUS_STYLE = {
    "success": "green",
    "failed": "red",
    "cancelled": "yellow",
    "interrupted": "magenta",
    "running": "cyan",
    "pending": "dim",
    "skipped": "dim",
    "not run": "dim",
    "restored": "green",
}


def _status(text: str) -> str:
    style = _STATUS_STYLE.get(text)
    return f"[{style}]{text}[/{style}]" if style else text


def shown_step_status(status: str, job_status: str) -> str:
    """How the tables name a step's status: the record's wording, except that a step still
    ``pending`` in a job that has ended (success, failed, cancelled, interrupted) is shown as
    ``not run``, since it never will. The one place this mapping is made: the record and
    ``--json`` keep ``pending``."""
    if status == "pending" and job_status not in ("pending", "running"):
        return "not run"
    return status


class _Titled(Table):
    """A table whose title (often a path) is printed on its own line above it: rich would wrap
    a title to the table's width, splitting the path."""

    def __init__(self, heading: str) -> None:
        super().__init__()
        self.heading = heading

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text(self.heading, style="italic")
        yield from super().__rich_console__(console, options)


def _titled(title: str) -> Table:
    return _Titled(title)


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}s"


def _when(value: datetime | None) -> str:
    return "" if value is None else value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def outcome_table(outcome: ActionOutcome, job_id: int | None) -> Table:
    """The run's steps: status, duration, weight (share of progress) and rollback."""
    title = f"job {job_id}: " if job_id is not None else ""
    table = _titled(f"{title}{outcome.action} - {outcome.status} in {outcome.duration:.2f}s")
    table.add_column("#", justify="right")
    table.add_column("step")
    table.add_column("status")
    table.add_column("duration", justify="right")
    table.add_column("weight", justify="right")
    table.add_column("rollback")
    ended = {step.order: step for step in outcome.steps}
    rolled = {entry.step: entry for entry in outcome.rollback if entry.kind == "rollback"}
    undone = {entry.step for entry in outcome.rollback if entry.kind == "undo"}
    for planned in outcome.plan:
        step = ended.get(planned.order)
        entry = rolled.get(planned.name)
        rollback = ""
        if entry is not None:
            rollback = "done" if entry.error is None else f"FAILED: {entry.error}"
        elif planned.name in undone:
            rollback = "undone"
        table.add_row(
            str(planned.order + 1),
            planned.name,
            _status(
                "restored"  # completed in an earlier attempt of the job: not run again
                if step is None and planned.order < outcome.restored
                else shown_step_status(step.status if step else "pending", outcome.status)
            ),
            _seconds(step.duration if step else None),
            f"{planned.share:.0%}",
            rollback,
        )
    return table


def result_line(summary: dict[str, Any]) -> str:
    """What the action returned, as ``steprail run`` prints it after the table: encoded as the
    job store records it (text for what JSON cannot hold, ``"nan"`` for NaN), non-ASCII text
    kept as it is."""
    return f"result: {json.dumps(json_value(summary), sort_keys=True, ensure_ascii=False)}"


def failure_lines(outcome: ActionOutcome, job_id: int | None, *, traceback_shown: bool) -> list[str]:
    """What ``steprail run`` prints under the table when the job did not succeed: the error
    (naming the exception's type), where the step's exception was raised, and how to see the
    traceback."""
    if outcome.error is None:
        return []
    # Cut and neutralised for the terminal (the record keeps the text); continuation lines of a
    # multi-line message are indented under the first.
    lines = [f"{outcome.status}: " + terminal_text(outcome.error).replace("\n", "\n  ")]
    raised = None if outcome.exception is None else step_exception(outcome.exception)
    where = None if raised is None or outcome.status != "failed" else raised_at(raised)
    if where is not None:
        lines.append(f"  raised at {where}")
    if outcome.status == "failed" and not traceback_shown and failure_traceback(outcome.exception):
        shown_id = job_id if job_id is not None else "ID"
        lines.append(f"  the traceback: steprail jobs show {shown_id} --traceback (or run again with --traceback)")
    if outcome.resumable and job_id is not None:
        # A step whose success was recorded and which then failed (it swallowed its time-limit
        # alarm and returned late) was rolled back: its work is not kept.
        undone = {entry.step for entry in outcome.rollback}
        kept = [step.name for step in outcome.steps if step.status == "success" and step.name not in undone]
        lines.extend(kept_work_lines(job_id, kept))
    return lines


def kept_work_lines(job_id: int, kept: list[str]) -> list[str]:
    """What a job's kept work is and how to act on it (a job that ran under ``--on-failure keep``)."""
    what = ", ".join(kept) if kept else "none (no step completed)"
    return [
        f"kept work of completed steps: {what}",
        f"  resume it: steprail jobs resume {job_id}",
        f"  roll it back: steprail jobs rollback {job_id}",
    ]


def outcome_json(outcome: ActionOutcome, job_id: int | None, exit_code: int) -> dict[str, Any]:
    """A run as ``steprail run --json`` prints it."""
    raised = None if outcome.exception is None else step_exception(outcome.exception)
    if isinstance(raised, JobCancelled):
        raised = None  # a signal cancelled the job: no exception of the step's to show
    where = None if raised is None else raised_at(raised)
    exception = None
    if raised is not None:
        exception = {
            "type": type(raised).__name__,
            "message": capped_text(_text(raised)),
            "file": where.file if where else None,
            "line": where.line if where else None,
            "function": where.function if where else None,
        }
    return {
        "job_id": job_id,
        "action": outcome.action,
        "status": outcome.status,
        "exit_code": exit_code,
        # Texts capped as the record caps them (MAX_ERROR_CHARS): --json says what the store keeps.
        "error": capped_text(outcome.error),
        "exception": exception,
        "traceback": capped_text(failure_traceback(outcome.exception)) if outcome.status == "failed" else None,
        "duration": outcome.duration,
        # As the job store records them: one encoder, so --json and the record agree and
        # datetimes, decimals, sets or NaN never make the output fail or invalid JSON.
        "result": json_value(outcome.summary),
        "steps": [
            {
                "order": step.order,
                "name": step.name,
                "status": step.status,
                "duration": step.duration,
                "error": capped_text(step.error),
                "data": json_value(step.data),
            }
            for step in outcome.steps
        ],
        "rollback": rollback_report(outcome.rollback),
    }


def _text(error: BaseException) -> str:
    try:
        return str(error)
    except Exception:
        return "(its message could not be read)"


def plan_json(action: str, plan: Sequence[PlannedStep]) -> dict[str, Any]:
    """A plan as ``steprail plan --json`` prints it."""
    return {
        "action": action,
        "steps": [
            {
                "order": step.order,
                "name": step.name,
                "kind": step.kind,
                "weight": step.weight,
                "share": step.share,
                "can_roll_back": step.can_roll_back,
            }
            for step in plan
        ],
    }


# A traceback's frame line: '  File "path", line 12, in function'.
_FRAME = re.compile(r'^  File "(?P<file>.*)", line (?P<line>\d+), in (?P<function>.*)$')


def traceback_origin(text: str) -> str | None:
    """``path:12, in function`` for where the last exception of a formatted traceback was
    raised (in a chain, the step's own exception comes last), chosen as :func:`raised_at`
    chooses, if the text shows it."""
    frames: list[re.Match[str]] = []
    origin = None
    for line in text.splitlines():
        match = _FRAME.match(line)
        if match is not None:
            frames.append(match)
        elif line and not line.startswith((" ", "Traceback ", "The above exception", "During handling")):
            # An exception's own line: it was raised in the frames listed since the last one.
            ours = [m for m in frames if not is_library_file(m["file"])]
            if frames:
                found = (ours or frames)[-1]
                origin = f"{shown_path(found['file'])}:{found['line']}, in {found['function']}"
            frames = []
    return origin


def plan_table(title: str, plan: Sequence[PlannedStep]) -> Table:
    """A plan: each step's weight, normalised share and whether it can roll back."""
    table = _titled(title)
    table.add_column("#", justify="right")
    table.add_column("step")
    table.add_column("kind")
    table.add_column("weight", justify="right")
    table.add_column("share", justify="right")
    table.add_column("can roll back")
    for step in plan:
        table.add_row(
            str(step.order + 1),
            step.name,
            step.kind,
            f"{step.weight:g}",
            f"{step.share:.1%}",
            "yes" if step.can_roll_back else "no",
        )
    return table


def jobs_table(jobs: Sequence[JobRecord]) -> Table:
    """One row per job, newest first."""
    table = Table(title="jobs")
    table.add_column("id", justify="right")
    table.add_column("action", overflow="fold")
    table.add_column("status")
    table.add_column("progress", justify="right")
    table.add_column("created")
    table.add_column("duration", justify="right")
    table.add_column("error")
    table.add_column("ran on")
    for job in jobs:
        error = job.error.splitlines()[0] if job.error else ""
        table.add_row(
            str(job.id),
            job.action,
            _status(job.status),
            f"{job.progress}%",
            job.created_at.astimezone().strftime("%m-%d %H:%M:%S"),
            _seconds(job.duration),
            error[:32] + ("..." if len(error) > 32 else ""),
            _ran_on(job),
        )
    return table


def _ran_on(job: JobRecord) -> str:
    """``in-process``, or ``ray 10.0.0.7:4242`` (the node and the worker's pid)."""
    return job.executor if job.node is None else job.where


#: The first job store schema that records tracebacks.
_TRACEBACKS_SINCE_SCHEMA = 2


def job_detail(
    console: Console, job: JobRecord, *, traceback_shown: bool = False, schema_version: int | None = None
) -> None:
    """Print everything recorded about one job (with its traceback when ``traceback_shown``;
    ``schema_version`` is the store's, to say why an older store has none)."""
    console.print(f"[bold]job {job.id}[/bold]: {job.action}", highlight=False, soft_wrap=True)
    status = _status(job.status)
    if job.lost is not None and job.status != job.recorded_status:
        status += f" (recorded as {job.recorded_status}; its worker was lost)"
    elif job.status != job.recorded_status:
        status += f" (recorded as {job.recorded_status}; its process {job.pid} on {job.host} is gone)"
    console.print(f"status: {status}   progress: {job.progress}%", highlight=False, soft_wrap=True)
    if job.node is not None:  # in-process jobs ran where they were recorded (host, pid)
        console.print(
            f"ran on: {job.where} (recorded by pid {job.pid} on {job.host})", markup=False, highlight=False, soft_wrap=True
        )
    console.print(
        f"created: {_when(job.created_at)}   started: {_when(job.started_at)}   "
        f"finished: {_when(job.finished_at)}   duration: {_seconds(job.duration)}",
        highlight=False,
        soft_wrap=True,
    )
    console.print(f"params: {json.dumps(job.params, sort_keys=True)}", markup=False, highlight=False, soft_wrap=True)
    if job.error:
        # In full (this is where the record is read), but with control characters neutralised.
        console.print("error:", terminal_text(job.error, len(job.error)), markup=False, highlight=False, soft_wrap=True)
        origin = traceback_origin(job.traceback) if job.traceback else None
        if origin is not None:
            console.print(f"  raised at {origin}", markup=False, highlight=False, soft_wrap=True)
        if job.traceback and not traceback_shown:
            console.print(
                f"  the traceback: steprail jobs show {job.id} --traceback", markup=False, highlight=False, soft_wrap=True
            )
    if job.steps:
        table = Table(title="steps")
        table.add_column("#", justify="right")
        table.add_column("step")
        table.add_column("status")
        table.add_column("duration", justify="right")
        table.add_column("weight", justify="right")
        table.add_column("progress", justify="right")
        table.add_column("rolled back")
        for step in job.steps:
            progress = f"{step.progress[0]}/{step.progress[1]}" if step.progress else ""
            rolled = ""
            if step.rolled_back:
                rolled = "yes" if step.rollback_error is None else f"FAILED: {step.rollback_error}"
            table.add_row(
                str(step.order + 1),
                step.name,
                _status(shown_step_status(step.status, job.status)),
                _seconds(step.duration),
                f"{step.share:.0%}",
                progress,
                rolled,
            )
        console.print(table)
    for step_name, metrics in job.metrics.items():
        console.print(f"metrics {step_name or '(job)'}: {format_metrics(metrics)}", markup=False, highlight=False, soft_wrap=True)
    if job.resumable:
        for line in kept_work_lines(job.id, [step.name for step in job.kept_steps]):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
    for attempt in job.attempts:
        start = job.steps[attempt.from_step].name if attempt.from_step < len(job.steps) else "(the end)"
        line = (
            f"attempt {attempt.number}: resumed {_when(attempt.started_at)} from step {attempt.from_step + 1}"
            f" ({start}) after {attempt.previous_status}"
            + (f": {attempt.previous_error}" if attempt.previous_error else "")
        )
        console.print(line, markup=False, highlight=False, soft_wrap=True)
        if attempt.forced:
            console.print("  forced despite: " + attempt.forced.replace("\n", "; "), markup=False, highlight=False, soft_wrap=True)
    if job.rollback:
        console.print("rollback:")
        for entry in job.rollback:
            result = "ok" if entry.error is None else f"FAILED: {entry.error}"
            what = f"{entry.step}.rollback()" if entry.kind == "rollback" else f"undo {entry.label!r} of {entry.step}"
            console.print(f"  {what}: {result}", markup=False, highlight=False, soft_wrap=True)
    if job.summary:
        console.print(f"summary: {json.dumps(job.summary, sort_keys=True)}", markup=False, highlight=False, soft_wrap=True)
    if traceback_shown:
        if job.traceback:
            text = terminal_text(job.traceback.rstrip("\n"), len(job.traceback))
        elif schema_version is not None and schema_version < _TRACEBACKS_SINCE_SCHEMA:
            text = (
                f"(no traceback: this job store is of schema version {schema_version}, older than"
                f" version {_TRACEBACKS_SINCE_SCHEMA}, the first to keep tracebacks)"
            )
        else:
            text = "(no traceback recorded: no exception ended this job)"
        console.print(text, markup=False, highlight=False, soft_wrap=True)
