"""A runtime sink that hands a job's events to stdlib :mod:`logging`.

Whatever the application attached to its loggers then sees every event: a file handler, a JSON
formatter, structlog's stdlib integration, an OpenTelemetry log bridge on the root logger.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from .._errors import RollbackEntry
from .._logging import get_logger
from ._events import ActionRuntime, JobOutcome, PlannedStep, StepOutcome

__all__ = ["LoggingRuntime"]

_STEP_LEVELS = {"failed": logging.ERROR, "cancelled": logging.WARNING}
_JOB_LEVELS = {"failed": logging.ERROR, "cancelled": logging.WARNING}


class LoggingRuntime(ActionRuntime):
    """Forwards every event to a :class:`logging.Logger` (``steprail.job`` by default).

    Levels: a failed step, a failed rollback and a failed job are ``ERROR``; a cancelled step or
    job is ``WARNING``; the job's start and end, each step's end, each rollback, ``log`` events
    and metrics are ``INFO``; a step's start and progress reports are ``DEBUG``.

    Every record carries its details as attributes (through ``extra``), for formatters and
    bridges that read them: ``steprail_event`` (``job_created``, ``job_started``,
    ``step_started``, ``step_finished``, ``step_rolled_back``, ``job_finished``, ``log``,
    ``progress`` or ``metrics``), and where they apply ``steprail_action``, ``steprail_step``,
    ``steprail_status``, ``steprail_duration``, ``steprail_error``, ``steprail_data`` (the
    event's data, a step's result data, metrics or the job's summary), ``steprail_file`` and
    ``steprail_progress`` (``(current, total)``). The traceback of the exception that ended a
    failed job is in ``steprail_traceback``; the message itself stays one line.

    Args:
        logger: The logger, or its name (which must start with ``steprail``, so that the
            library's ``NullHandler`` and the user's configuration of ``steprail`` apply).
    """

    def __init__(self, logger: logging.Logger | str = "steprail.job") -> None:
        super().__init__()
        self.logger = get_logger(logger) if isinstance(logger, str) else logger
        self._action = ""

    def _emit(self, level: int, message: str, event: str, **details: object) -> None:
        if not self.logger.isEnabledFor(level):
            return  # building the extra fields costs more than the check
        extra: dict[str, object] = {"steprail_event": event, "steprail_action": self._action}
        extra.update({f"steprail_{key}": value for key, value in details.items()})
        self.logger.log(level, message, extra=extra)

    def job_created(self, action: str, params: Mapping[str, Any]) -> None:
        """``INFO`` job created, with the raw params."""
        self._action = action
        self._emit(logging.INFO, f"job {action} created", "job_created", data=dict(params))

    def job_started(self, params: Mapping[str, Any], steps: Sequence[PlannedStep]) -> None:
        """``INFO`` job started, with its steps."""
        names = [step.name for step in steps]
        self._emit(
            logging.INFO, f"job {self._action} started: {' -> '.join(names)}", "job_started", data=dict(params), steps=names
        )

    def step_started(self, step: PlannedStep) -> None:
        """``DEBUG`` step started."""
        self._emit(logging.DEBUG, f"step {step.name} started", "step_started", step=step.name)

    def step_finished(self, outcome: StepOutcome) -> None:
        """``ERROR`` when the step failed, ``WARNING`` when cancelled, else ``INFO``."""
        error = f": {outcome.error}" if outcome.error else ""
        self._emit(
            _STEP_LEVELS.get(outcome.status, logging.INFO),
            f"step {outcome.name} {outcome.status} in {outcome.duration:.3f}s{error}",
            "step_finished",
            step=outcome.name,
            status=outcome.status,
            duration=outcome.duration,
            error=outcome.error,
            data=outcome.data,
        )

    def step_rolled_back(self, entry: RollbackEntry) -> None:
        """``ERROR`` when the rollback failed, else ``INFO``."""
        if entry.error is None:
            self._emit(logging.INFO, f"step {entry.step} rolled back", "step_rolled_back", step=entry.step, error=None)
        else:
            self._emit(
                logging.ERROR,
                f"rollback of step {entry.step} failed: {entry.error}",
                "step_rolled_back",
                step=entry.step,
                error=entry.error,
            )

    def job_finished(self, outcome: JobOutcome) -> None:
        """``ERROR`` when the job failed, ``WARNING`` when cancelled, else ``INFO``."""
        error = f": {outcome.error}" if outcome.error else ""
        self._emit(
            _JOB_LEVELS.get(outcome.status, logging.INFO),
            f"job {self._action} {outcome.status} in {outcome.duration:.3f}s{error}",
            "job_finished",
            status=outcome.status,
            duration=outcome.duration,
            error=outcome.error,
            data=outcome.summary,
            traceback=outcome.traceback,
        )

    def log(self, event: str, data: dict[str, Any], file: str | None = None) -> None:
        """``INFO`` with the event's name as the message."""
        self._emit(logging.INFO, event, "log", data=data, file=file)

    def set_progress(self, current: int, total: int, step: str | None = None) -> None:
        """``DEBUG`` progress."""
        where = f"step {step}" if step is not None else "job"
        self._emit(logging.DEBUG, f"{where} progress {current}/{total}", "progress", step=step, progress=(current, total))

    def set_metrics(self, value: dict[str, Any], step: str | None = None) -> None:
        """``INFO`` metrics."""
        shown = " ".join(f"{key}={item}" for key, item in value.items())
        self._emit(logging.INFO, f"metrics {step or '(job)'}: {shown}", "metrics", step=step, data=value)
