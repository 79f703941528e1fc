"""Tables the command line prints: a run's steps, a plan, the job list, one job."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from rich.console import Console
from rich.table import Table

from ..actions import ActionOutcome
from ..jobs import JobRecord, PlannedStep, format_metrics

__all__ = ["job_detail", "jobs_table", "outcome_table", "plan_table", "shown_step_status"]

_STATUS_STYLE = {
    "success": "green",
    "failed": "red",
    "cancelled": "yellow",
    "interrupted": "magenta",
    "running": "cyan",
    "pending": "dim",
    "skipped": "dim",
    "not run": "dim",
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


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}s"


def _when(value: datetime | None) -> str:
    return "" if value is None else value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def outcome_table(outcome: ActionOutcome, job_id: int | None) -> Table:
    """The run's steps: status, duration, weight (share of progress) and rollback."""
    title = f"job {job_id}: " if job_id is not None else ""
    table = Table(title=f"{title}{outcome.action} - {outcome.status} in {outcome.duration:.2f}s")
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
            _status(shown_step_status(step.status if step else "pending", outcome.status)),
            _seconds(step.duration if step else None),
            f"{planned.share:.0%}",
            rollback,
        )
    return table


def plan_table(title: str, plan: Sequence[PlannedStep]) -> Table:
    """A plan: each step's weight, normalised share and whether it can roll back."""
    table = Table(title=title)
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
        )
    return table


def job_detail(console: Console, job: JobRecord) -> None:
    """Print everything recorded about one job."""
    console.print(f"[bold]job {job.id}[/bold]: {job.action}", highlight=False, soft_wrap=True)
    status = _status(job.status)
    if job.status != job.recorded_status:
        status += f" (recorded as {job.recorded_status}; its process {job.pid} on {job.host} is gone)"
    console.print(f"status: {status}   progress: {job.progress}%", highlight=False, soft_wrap=True)
    console.print(
        f"created: {_when(job.created_at)}   started: {_when(job.started_at)}   "
        f"finished: {_when(job.finished_at)}   duration: {_seconds(job.duration)}",
        highlight=False,
        soft_wrap=True,
    )
    console.print(f"params: {json.dumps(job.params, sort_keys=True)}", markup=False, highlight=False, soft_wrap=True)
    if job.error:
        console.print("error:", job.error, markup=False, highlight=False, soft_wrap=True)
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
    if job.rollback:
        console.print("rollback:")
        for entry in job.rollback:
            result = "ok" if entry.error is None else f"FAILED: {entry.error}"
            what = f"{entry.step}.rollback()" if entry.kind == "rollback" else f"undo {entry.label!r} of {entry.step}"
            console.print(f"  {what}: {result}", markup=False, highlight=False, soft_wrap=True)
    if job.summary:
        console.print(f"summary: {json.dumps(job.summary, sort_keys=True)}", markup=False, highlight=False, soft_wrap=True)
