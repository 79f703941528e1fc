"""Runtime sinks: where a job's logs, progress, metrics and lifecycle go.

- :class:`JobRuntime` records everything in a :class:`~steprail.jobs.JobStore`;
- :class:`ConsoleRuntime` draws an overall bar, the current step's bar and its latest metrics
  with rich, or prints plain lines when the output is not a terminal or ``CI`` is set;
- :class:`JsonLinesRuntime` writes one JSON object per event;
- :class:`FanOutRuntime` sends every call to several sinks at once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

from .._errors import RollbackEntry
from .._extras import missing_extra_error
from .._orchestrator import STOPPED
from .._runtime import RuntimeContext
from ._events import ActionRuntime, JobOutcome, PlannedStep, StepOutcome
from ._failure import TERMINAL_TEXT_LIMIT, terminal_text
from ._store import JobRecord, JobStore, rollback_report, to_json

if TYPE_CHECKING:
    # rich comes with the steprail[cli] extra: only ConsoleRuntime imports it, when it is made.
    from rich.console import Console
    from rich.progress import Progress, TaskID

__all__ = [
    "ConsoleRuntime",
    "FanOutRuntime",
    "JobRuntime",
    "JsonLinesRuntime",
    "format_metrics",
    "plain_output_wanted",
]

# Plain mode prints a step's first metrics reports, then at most one per interval (the step's end
# line always has the latest).
_PLAIN_METRICS_EVERY: Final = 30
_PLAIN_METRICS_INTERVAL: Final = 0.5


def format_metrics(value: Mapping[str, Any]) -> str:
    """``{'loss': 0.123456, 'epoch': 3}`` -> ``'loss=0.1235 epoch=3'``."""
    parts = []
    for key, item in value.items():
        if isinstance(item, float):
            parts.append(f"{key}={item:.4g}")
        else:
            parts.append(f"{key}={item}")
    return " ".join(parts)


def plain_output_wanted(console: Console) -> bool:
    """Plain lines instead of live bars: the output is not a terminal, or ``CI`` is set."""
    ci = os.environ.get("CI", "").strip().lower()
    return not console.is_terminal or ci not in ("", "0", "false", "no")


class JobRuntime(ActionRuntime):
    """Records a job in a :class:`JobStore`: one transaction per change.

    The job is created when the action reports ``job_created`` (or was created beforehand and
    is passed as ``adopted``); :attr:`job_id` is its id. A
    step's own progress is written when its integer percentage changes, so a step that reports
    every item does not turn into one transaction per item.
    """

    def __init__(self, store: JobStore, *, adopted: int | None = None) -> None:
        super().__init__()
        self.store = store
        #: ``adopted``: a job created ``pending`` beforehand (``steprail submit``) and adopted by
        #: this process (:meth:`JobStore.adopt_job`); the run records into it instead of a new one.
        self.job_id: int | None = adopted
        self._adopted = adopted is not None
        self._orders: dict[str, int] = {}
        self._current: str | None = None
        self._step_percent: dict[int, int] = {}
        self._resumed = False

    @property
    def records_checkpoints(self) -> bool:
        """True: checkpoints are written with each step's success."""
        return True

    def job_store(self) -> JobStore:
        """The store this runtime writes."""
        return self.store

    def job_resumed(self, job: JobRecord) -> None:
        """Record into ``job`` (claimed by the resume) instead of a new job."""
        self.job_id = job.id
        self._resumed = True

    def _job(self) -> int:
        if self.job_id is None:
            raise RuntimeError("JobRuntime records a job only after job_created(); run it through an action")
        return self.job_id

    def job_created(self, action: str, params: Mapping[str, Any]) -> None:
        """Create the job record (``pending``), unless the job was created beforehand."""
        if not self._adopted:
            self.job_id = self.store.create_job(action, params)

    def job_started(self, params: Mapping[str, Any], steps: Sequence[PlannedStep]) -> None:
        """Mark the job ``running`` and record its plan (a resumed job was marked by its claim)."""
        self._orders = {step.name: step.order for step in steps}
        if not self._resumed:
            self.store.start_job(self._job(), steps, params)

    def step_started(self, step: PlannedStep) -> None:
        """Mark the step ``running``."""
        self._current = step.name
        self.store.step_started(self._job(), step.order)

    def step_finished(self, outcome: StepOutcome) -> None:
        """Record the step's status, duration, result data and error."""
        self.store.step_finished(
            self._job(),
            outcome.order,
            outcome.status,
            outcome.duration,
            outcome.data,
            outcome.error,
            outcome.rollback_data,
            outcome.checkpoint,
        )
        self._current = None

    def step_retrying(self, step: PlannedStep, attempt: int, error: str, wait: float) -> None:
        """Log the retry in the job's events (``step_retry``, with the attempt and its error)."""
        self.store.add_log(
            self._job(), "step_retry", {"attempt": attempt, "error": error, "wait": round(wait, 3)}, None, step.name
        )

    def step_rolled_back(self, entry: RollbackEntry) -> None:
        """Record that the step's rollback ended (one cut short stays not rolled back)."""
        order = self._orders.get(entry.step)
        if order is not None:
            finished = entry.error is None or not entry.error.startswith(STOPPED)
            self.store.step_rolled_back(self._job(), order, entry.error, finished=finished)

    def job_placed(self, executor: str, node: str, pid: int) -> None:
        """Record where the action runs."""
        self.store.set_placement(self._job(), executor, node, pid)

    def job_lost(self, cause: str) -> None:
        """Record the job as lost: it reads ``interrupted``, with ``cause`` as its error."""
        self.store.mark_lost(self._job(), cause)

    def job_finished(self, outcome: JobOutcome) -> None:
        """Record the final status, error, rollback report, summary and traceback."""
        self.store.finish_job(
            self._job(),
            outcome.status,
            error=outcome.error,
            rollback=outcome.rollback,
            summary=outcome.summary,
            traceback=outcome.traceback,
            resumable=outcome.resumable,
        )

    def log(self, event: str, data: dict[str, Any], file: str | None = None) -> None:
        """Append the event to the job's logs."""
        self.store.add_log(self._job(), event, data, file, self._current)

    def set_progress(self, current: int, total: int, step: str | None = None) -> None:
        """Record overall progress, or the step's own progress when its percentage changed."""
        if step is None:
            self.store.set_progress(self._job(), current, total)
            return
        order = self._orders.get(step)
        if order is None:
            return  # progress for something that is not a planned step: nothing to attach it to
        percent = current * 100 // total if total > 0 else 0
        if self._step_percent.get(order) == percent and current != total:
            return
        self._step_percent[order] = percent
        self.store.set_progress(self._job(), current, total, order)

    def set_metrics(self, value: dict[str, Any], step: str | None = None) -> None:
        """Append the metrics and keep them as the step's latest."""
        self.store.add_metrics(self._job(), value, step)


# A traceback printed live may be longer than one message, but not without end.
_TRACEBACK_LIMIT: Final = 20 * TERMINAL_TEXT_LIMIT


class ConsoleRuntime(ActionRuntime):
    """Shows a job on the console.

    On a terminal: an overall bar, a bar for the current step with its latest metrics, and one
    line per finished step. Otherwise (a pipe, a file, ``CI=true``): plain lines only, with
    overall progress every 10%.

    Args:
        console: Where to draw; a stderr console by default would hide output from pipes, so
            stdout is the default.
        plain: Force plain lines (``True``) or live bars (``False``); ``None`` decides from the
            console and ``CI``.
        show_traceback: Print the traceback of the exception that ended a failed job, as soon
            as the job fails.
    """

    def __init__(
        self, console: Console | None = None, *, plain: bool | None = None, show_traceback: bool = False
    ) -> None:
        super().__init__()
        self.show_traceback = show_traceback
        if console is None:
            try:
                from rich.console import Console
            except ModuleNotFoundError as error:
                raise missing_extra_error("cli", "ConsoleRuntime", "rich") from error
            console = Console()
        self.console = console
        self.plain = plain_output_wanted(self.console) if plain is None else plain
        self._steps: list[PlannedStep] = []
        self._progress: Progress | None = None
        self._overall: TaskID | None = None
        self._step_task: TaskID | None = None
        self._current: PlannedStep | None = None
        self._metrics: dict[str, dict[str, Any]] = {}
        self._printed_decile = -1
        self._metrics_printed_at = 0.0
        self._metrics_lines = 0

    def _line(self, text: str, limit: int = TERMINAL_TEXT_LIMIT) -> None:
        # A step's message may be megabytes long or carry ANSI escapes: cut and neutralised here
        # (the job record keeps the text).
        text = terminal_text(text, limit)
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
        else:
            self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def job_created(self, action: str, params: Mapping[str, Any]) -> None:
        """Print which action runs."""
        self._line(f"job: {action}")

    def step_retrying(self, step: PlannedStep, attempt: int, error: str, wait: float) -> None:
        """Print that the step is tried again."""
        self._line(f"  {step.name}: attempt {attempt} failed ({error}); retrying in {wait:.1f}s")

    def job_resumed(self, job: JobRecord) -> None:
        """Print which job resumes, and from which step."""
        start = job.attempts[-1].from_step if job.attempts else 0
        where = f"step {start + 1} ({job.steps[start].name})" if start < len(job.steps) else "the end"
        self._line(f"job {job.id}: {job.action}, attempt {job.attempt}, resumed from {where}")

    def job_started(self, params: Mapping[str, Any], steps: Sequence[PlannedStep]) -> None:
        """Start the bars (or print the plan in plain mode)."""
        self._steps = list(steps)
        self._line(f"steps: {' -> '.join(step.name for step in steps) or '(execute)'}")
        if self.plain:
            return
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("{task.description}", style="bold"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[info]}"),
            console=self.console,
            transient=False,
        )
        self._overall = self._progress.add_task("overall", total=100, info="")
        self._step_task = self._progress.add_task("", total=100, info="", visible=False)
        self._progress.start()

    def step_started(self, step: PlannedStep) -> None:
        """Reset the step bar for ``step``."""
        self._current = step
        self._metrics_printed_at = 0.0
        self._metrics_lines = 0
        label = f"{step.order + 1}/{len(self._steps)} {step.name}"
        if self._progress is not None and self._step_task is not None:
            self._progress.reset(self._step_task, total=100, description=label, info="", visible=True)
        elif self.plain:
            self._line(f"[{label}] started")

    def step_finished(self, outcome: StepOutcome) -> None:
        """Print the step's end, with its latest metrics."""
        metrics = self._metrics.get(outcome.name)
        tail = f"  {format_metrics(metrics)}" if metrics else ""
        error = f": {outcome.error}" if outcome.error else ""
        self._line(
            f"[{outcome.order + 1}/{len(self._steps)} {outcome.name}] {outcome.status}"
            f" in {outcome.duration:.2f}s{error}{tail}"
        )
        self._current = None

    def step_rolled_back(self, entry: RollbackEntry) -> None:
        """Print each rollback."""
        result = "ok" if entry.error is None else f"FAILED: {entry.error}"
        self._line(f"rolled back {entry.step}: {result}")

    def job_placed(self, executor: str, node: str, pid: int) -> None:
        """Print where the action runs."""
        self._line(f"running on {executor}: node {node}, pid {pid}")

    def job_lost(self, cause: str) -> None:
        """Stop the bars and print why the job was interrupted."""
        self.close()
        self._line(f"job interrupted: {cause}")

    def job_finished(self, outcome: JobOutcome) -> None:
        """Stop the bars and print the outcome."""
        if self._progress is not None:
            if outcome.status == "success" and self._overall is not None:
                self._progress.update(self._overall, completed=100)
            if self._step_task is not None:
                self._progress.update(self._step_task, visible=False)
            self._progress.stop()
            self._progress = None
        error = f": {outcome.error}" if outcome.error else ""
        self._line(f"job {outcome.status} in {outcome.duration:.2f}s{error}")
        if self.show_traceback and outcome.traceback:
            self._line(outcome.traceback.rstrip("\n"), _TRACEBACK_LIMIT)

    def close(self) -> None:
        """Stop the live display if it is still up (a run that ended without ``job_finished``)."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def log(self, event: str, data: dict[str, Any], file: str | None = None) -> None:
        """Logs are for the job store and JSON lines; the console shows progress and metrics."""

    def set_progress(self, current: int, total: int, step: str | None = None) -> None:
        """Move the overall bar or the current step's bar."""
        if self._progress is not None:
            task = self._overall if step is None else self._step_task
            if task is not None and total > 0:
                self._progress.update(task, completed=current, total=total)
            return
        if self.plain and step is None and total > 0:
            decile = current * 10 // total
            if decile > self._printed_decile:
                self._printed_decile = decile
                self._line(f"progress {current * 100 // total}%")

    def set_metrics(self, value: dict[str, Any], step: str | None = None) -> None:
        """Show the latest metrics beside the step bar (plain: at most every half second)."""
        key = step if step is not None else ""
        self._metrics[key] = dict(value)
        text = format_metrics(value)
        if self._progress is not None and self._step_task is not None:
            self._progress.update(self._step_task, info=text)
            return
        if self.plain:
            # Every report while there are few (a readable transcript), then at most twice a second.
            self._metrics_lines += 1
            now = time.monotonic()
            if self._metrics_lines <= _PLAIN_METRICS_EVERY or now - self._metrics_printed_at >= _PLAIN_METRICS_INTERVAL:
                self._metrics_printed_at = now
                self._line(f"  metrics {key}: {text}")


class JsonLinesRuntime(ActionRuntime):
    """Writes one JSON object per event, each flushed as it is written.

    Every line has ``ts`` (ISO 8601, UTC) and ``type`` (``log``, ``progress``, ``metrics``,
    ``job_created``, ``job_started``, ``step_started``, ``step_finished``, ``step_rolled_back``,
    ``job_finished``; ``job_placed`` and ``job_lost`` for a run on another executor) plus the
    event's fields.

    Args:
        target: A path (opened for appending, closed at ``job_finished``) or an open text stream.
    """

    def __init__(self, target: str | os.PathLike[str] | IO[str]) -> None:
        super().__init__()
        if isinstance(target, str | os.PathLike):
            path = Path(target)
            path.parent.mkdir(parents=True, exist_ok=True)
            self._stream: IO[str] = path.open("a", encoding="utf-8")
            self._owned = True
        else:
            self._stream = target
            self._owned = False

    def _write(self, kind: str, **fields: object) -> None:
        line = to_json({"ts": datetime.now(UTC).isoformat(), "type": kind, **fields})
        self._stream.write(line + "\n")
        self._stream.flush()

    def job_created(self, action: str, params: Mapping[str, Any]) -> None:
        """Write ``job_created``."""
        self._write("job_created", action=action, params=dict(params))

    def job_resumed(self, job: JobRecord) -> None:
        """Write ``job_resumed`` (job id, attempt, first step run)."""
        start = job.attempts[-1].from_step if job.attempts else 0
        self._write("job_resumed", action=job.action, job_id=job.id, attempt=job.attempt, from_step=start)

    def job_started(self, params: Mapping[str, Any], steps: Sequence[PlannedStep]) -> None:
        """Write ``job_started`` with the plan."""
        plan = [
            {"order": s.order, "name": s.name, "weight": s.weight, "share": s.share, "can_roll_back": s.can_roll_back}
            for s in steps
        ]
        self._write("job_started", params=dict(params), steps=plan)

    def step_started(self, step: PlannedStep) -> None:
        """Write ``step_started``."""
        self._write("step_started", order=step.order, step=step.name)

    def step_finished(self, outcome: StepOutcome) -> None:
        """Write ``step_finished``."""
        self._write(
            "step_finished",
            order=outcome.order,
            step=outcome.name,
            status=outcome.status,
            duration=outcome.duration,
            data=outcome.data,
            error=outcome.error,
        )

    def step_rolled_back(self, entry: RollbackEntry) -> None:
        """Write ``step_rolled_back``."""
        self._write("step_rolled_back", step=entry.step, error=entry.error)

    def job_placed(self, executor: str, node: str, pid: int) -> None:
        """Write ``job_placed``."""
        self._write("job_placed", executor=executor, node=node, pid=pid)

    def job_lost(self, cause: str) -> None:
        """Write ``job_lost`` and close a file this sink opened."""
        self._write("job_lost", cause=cause)
        if self._owned:
            self._stream.close()

    def job_finished(self, outcome: JobOutcome) -> None:
        """Write ``job_finished`` and close a file this sink opened."""
        self._write(
            "job_finished",
            status=outcome.status,
            error=outcome.error,
            duration=outcome.duration,
            summary=outcome.summary,
            rollback=rollback_report(outcome.rollback),
            traceback=outcome.traceback,
        )
        if self._owned:
            self._stream.close()

    def log(self, event: str, data: dict[str, Any], file: str | None = None) -> None:
        """Write ``log``."""
        self._write("log", event=event, data=data, file=file)

    def set_progress(self, current: int, total: int, step: str | None = None) -> None:
        """Write ``progress``."""
        self._write("progress", current=current, total=total, step=step)

    def set_metrics(self, value: dict[str, Any], step: str | None = None) -> None:
        """Write ``metrics``."""
        self._write("metrics", value=value, step=step)


class FanOutRuntime(ActionRuntime):
    """Sends every call to each of ``sinks``, in order.

    Lifecycle hooks reach only the sinks that are :class:`ActionRuntime`\\s; logs, progress and
    metrics reach every sink. With ``keep=True`` (the default) the calls are also kept in memory,
    like ``RuntimeContext()``; a long-running job can pass ``keep=False``.
    """

    def __init__(self, *sinks: RuntimeContext, keep: bool = True) -> None:
        super().__init__()
        self.sinks: tuple[RuntimeContext, ...] = sinks
        self.keep = keep
        self._listeners = tuple(sink for sink in sinks if isinstance(sink, ActionRuntime))

    @property
    def records_checkpoints(self) -> bool:
        """Whether any sink keeps checkpoints."""
        return any(sink.records_checkpoints for sink in self._listeners)

    def job_store(self) -> JobStore | None:
        """The first sink's job store, if one has a store."""
        for sink in self._listeners:
            store = sink.job_store()
            if store is not None:
                return store
        return None

    def job_created(self, action: str, params: Mapping[str, Any]) -> None:
        """Forward."""
        for sink in self._listeners:
            sink.job_created(action, params)

    def job_resumed(self, job: JobRecord) -> None:
        """Forward."""
        for sink in self._listeners:
            sink.job_resumed(job)

    def job_started(self, params: Mapping[str, Any], steps: Sequence[PlannedStep]) -> None:
        """Forward."""
        for sink in self._listeners:
            sink.job_started(params, steps)

    def step_started(self, step: PlannedStep) -> None:
        """Forward."""
        for sink in self._listeners:
            sink.step_started(step)

    def step_finished(self, outcome: StepOutcome) -> None:
        """Forward."""
        for sink in self._listeners:
            sink.step_finished(outcome)

    def step_retrying(self, step: PlannedStep, attempt: int, error: str, wait: float) -> None:
        """Forward."""
        for sink in self._listeners:
            sink.step_retrying(step, attempt, error, wait)

    def step_rolled_back(self, entry: RollbackEntry) -> None:
        """Forward."""
        for sink in self._listeners:
            sink.step_rolled_back(entry)

    def job_placed(self, executor: str, node: str, pid: int) -> None:
        """Forward."""
        for sink in self._listeners:
            sink.job_placed(executor, node, pid)

    def job_lost(self, cause: str) -> None:
        """Forward."""
        for sink in self._listeners:
            sink.job_lost(cause)

    def job_finished(self, outcome: JobOutcome) -> None:
        """Forward."""
        for sink in self._listeners:
            sink.job_finished(outcome)

    def log(self, event: str, data: dict[str, Any], file: str | None = None) -> None:
        """Forward (and keep, unless ``keep=False``)."""
        if self.keep:
            super().log(event, data, file)
        for sink in self.sinks:
            sink.log(event, data, file)

    def set_progress(self, current: int, total: int, step: str | None = None) -> None:
        """Forward (and keep, unless ``keep=False``)."""
        if self.keep:
            super().set_progress(current, total, step)
        for sink in self.sinks:
            sink.set_progress(current, total, step)

    def set_metrics(self, value: dict[str, Any], step: str | None = None) -> None:
        """Forward (and keep, unless ``keep=False``)."""
        if self.keep:
            super().set_metrics(value, step)
        for sink in self.sinks:
            sink.set_metrics(value, step)
