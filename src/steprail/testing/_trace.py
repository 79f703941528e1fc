"""Recording a real run: :func:`record_run` and the :class:`RunRecord` it returns.

The recorder wraps every step of a registry in a transparent wrapper (same name, same weight) and
runs the real :class:`~steprail.Orchestrator`. The wrappers write down every call the orchestrator
makes (``can_skip``, ``execute``, ``rollback``), every undo action a step registers and runs, and
every progress value the callback hears. The invariant checks read nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from .._context import BaseStepContext, Undo, _ActiveRun
from .._orchestrator import Orchestrator, ProgressCallback, RunSummary
from .._registry import StepRegistry
from .._result import StepResult
from .._step import BaseStep
from .._wrappers import WrapperStep

__all__ = ["EventKind", "RunObserver", "RunRecord", "TraceEvent", "record_run"]

type EventKind = Literal[
    "can_skip",
    "skipped",
    "execute",
    "returned",
    "raised",
    "rollback",
    "rollback_done",
    "rollback_raised",
    "undo_registered",
    "undo",
    "undo_done",
    "undo_raised",
    "progress",
    "callback_raised",
]
"""What a :class:`TraceEvent` reports."""


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """One thing that happened during a recorded run.

    Attributes:
        kind: What happened (see :data:`EventKind`).
        step: The step it concerns; for ``progress`` the step running when the callback was called.
        detail: Free text: the undo label, the error, how a step's ``execute`` returned.
        value: The overall progress value, for ``progress`` events.
        ok: For ``returned``: whether ``execute`` returned a successful :class:`~steprail.StepResult`.
    """

    kind: EventKind
    step: str | None
    detail: str = ""
    value: int | None = None
    ok: bool = False

    def __str__(self) -> str:
        if self.kind == "progress":
            where = f" (during {self.step!r})" if self.step is not None else ""
            return f"progress        {self.value}/100{where}"
        text = f"{self.kind:<15} {self.step!r}"
        return f"{text}  {self.detail}" if self.detail else text


type RunObserver[C: BaseStepContext] = Callable[[TraceEvent, C], None]
"""Called with each event as it is recorded (and the context). It must not raise."""


class RunRecord[C: BaseStepContext]:
    """Everything observed during one run of a workflow.

    Attributes:
        step_names: The registry's steps, in order, when the run started.
        weights: Their ``progress_weight``.
        context: The context the run used, in its state after the run.
        events: What happened, in order.
        progress: Every ``(current, total)`` the progress callback was called with.
        summary: What ``execute()`` returned, when the run succeeded.
        error: What ``execute()`` raised, when it failed (a ``KeyboardInterrupt`` included).
        errors_before: ``len(context.errors)`` when the run started.
        results_before: ``len(context.step_results)`` when the run started.
        returned: The object each step's ``execute`` returned, by step name.
        raised: The exception each step's ``can_skip``/``execute`` raised, by step name.
        callback_error: What the progress callback raised, if it did.
    """

    def __init__(self, step_names: tuple[str, ...], weights: tuple[float, ...], context: C) -> None:
        self.step_names = step_names
        self.weights = weights
        # Read-only (a property), which lets a RunRecord[MyContext] be used as a
        # RunRecord[BaseStepContext] by the checks.
        self._context = context
        self.events: list[TraceEvent] = []
        self.progress: list[tuple[int, int]] = []
        self.summary: RunSummary | None = None
        self.error: BaseException | None = None
        self.errors_before = len(context.errors)
        self.results_before = len(context.step_results)
        self.returned: dict[str, object] = {}
        self.raised: dict[str, BaseException] = {}
        self.callback_error: BaseException | None = None

    @property
    def context(self) -> C:
        """The context the run used."""
        return self._context

    def __repr__(self) -> str:
        outcome = "succeeded" if self.succeeded else f"failed at {self.failed_step!r}"
        return f"<RunRecord {list(self.step_names)!r} {outcome}, {len(self.events)} events>"

    @property
    def succeeded(self) -> bool:
        """Whether ``execute()`` returned normally."""
        return self.summary is not None and self.error is None

    @property
    def attempted(self) -> list[str]:
        """Steps the orchestrator started (asked ``can_skip``), in order."""
        return self._steps_with("can_skip")

    @property
    def skipped(self) -> list[str]:
        """Steps that were skipped."""
        return self._steps_with("skipped")

    @property
    def completed(self) -> list[str]:
        """Steps whose ``execute`` returned a successful :class:`~steprail.StepResult`."""
        return [e.step for e in self.events if e.kind == "returned" and e.ok and e.step is not None]

    @property
    def rolled_back(self) -> list[str]:
        """Steps whose ``rollback`` was called, in call order."""
        return self._steps_with("rollback")

    @property
    def failed_step(self) -> str | None:
        """The step the run failed at (the last one started), or ``None`` after success."""
        if self.succeeded:
            return None
        attempted = self.attempted
        return attempted[-1] if attempted else None

    @property
    def progress_values(self) -> list[int]:
        """The ``current`` of every progress callback call."""
        return [current for current, _ in self.progress]

    def reraise(self) -> None:
        """Raise the run's error again, if there was one."""
        if self.error is not None:
            raise self.error

    def format_trace(self) -> str:
        """The run as numbered lines, followed by its outcome and the context's errors."""
        lines = [f"workflow: {list(self.step_names)!r}"]
        lines += [f"  {number:>3}. {event}" for number, event in enumerate(self.events, 1)]
        if self.succeeded:
            lines.append(f"outcome: succeeded {dict(self.summary or {})!r}")
        else:
            error = self.error
            text = f"{type(error).__name__}: {error}" if error is not None else "no error recorded"
            lines.append(f"outcome: raised {text}")
        lines.append(f"context.errors: {self.context.errors[self.errors_before:]!r}")
        lines.append(f"context.current_step: {self.context.current_step!r}")
        return "\n".join(lines)

    def _steps_with(self, kind: EventKind) -> list[str]:
        return [e.step for e in self.events if e.kind == kind and e.step is not None]


class _Recorder[C: BaseStepContext]:
    """Collects events into a record and forwards them to the observer."""

    def __init__(self, record: RunRecord[C], observer: RunObserver[C] | None) -> None:
        self.record = record
        self.observer = observer

    def emit(self, event: TraceEvent) -> None:
        self.record.events.append(event)
        if self.observer is not None:
            self.observer(event, self.record.context)


def _text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


class _UndoRecordingRun[C: BaseStepContext]:
    """Stands in for the orchestrator's run object while one step executes.

    ``context.on_rollback`` hands undo actions to the run lent to the context; this proxy wraps
    each one so that registering and running it shows up in the trace, then passes it on.
    """

    def __init__(self, run: _ActiveRun, recorder: _Recorder[C], step: str) -> None:
        self._run = run
        self._recorder = recorder
        self._step = step

    @property
    def reporting_overall(self) -> bool:
        return self._run.reporting_overall

    def step_progress(self, current: int, total: int) -> None:
        self._run.step_progress(current, total)

    def add_undo(self, undo: Undo, label: str) -> None:
        recorder, step = self._recorder, self._step
        recorder.emit(TraceEvent("undo_registered", step, label))

        def recorded_undo() -> object:
            recorder.emit(TraceEvent("undo", step, label))
            try:
                outcome = undo()
            except Exception as error:
                recorder.emit(TraceEvent("undo_raised", step, f"{label}: {_text(error)}"))
                raise
            recorder.emit(TraceEvent("undo_done", step, label))
            return outcome

        self._run.add_undo(recorded_undo, label)


class _RecordingStep[C: BaseStepContext](WrapperStep[C]):
    """Runs the wrapped step unchanged (same name and weight) and records each call."""

    def __init__(self, step: BaseStep[C], recorder: _Recorder[C]) -> None:
        super().__init__(step)
        self._recorder = recorder
        self._step_name = step.name

    def can_skip(self, context: C) -> bool:
        name = self._step_name
        self._recorder.emit(TraceEvent("can_skip", name))
        try:
            skip = self._wrapped.can_skip(context)
        except BaseException as error:
            self._note_raised(name, error, "can_skip")
            raise
        if skip:
            self._recorder.emit(TraceEvent("skipped", name))
        return skip

    def execute(self, context: C) -> StepResult:
        name = self._step_name
        self._recorder.emit(TraceEvent("execute", name))
        run: _ActiveRun | None = context._active_run
        if run is not None:
            object.__setattr__(context, "_active_run", _UndoRecordingRun(run, self._recorder, name))
        try:
            result = self._wrapped.execute(context)
        except BaseException as error:
            self._note_raised(name, error, "execute")
            raise
        finally:
            if run is not None:
                object.__setattr__(context, "_active_run", run)
        returned: object = result  # an untyped step can return anything
        self._recorder.record.returned[name] = returned
        if isinstance(returned, StepResult):
            detail = "success" if returned.success else f"failed result: {returned.error!r}"
            self._recorder.emit(TraceEvent("returned", name, detail, ok=returned.success))
        else:
            self._recorder.emit(TraceEvent("returned", name, f"not a StepResult: {returned!r}"))
        return result

    def rollback(self, context: C, result: StepResult) -> None:
        name = self._step_name
        self._recorder.emit(TraceEvent("rollback", name))
        try:
            self._wrapped.rollback(context, result)
        except Exception as error:
            self._recorder.emit(TraceEvent("rollback_raised", name, _text(error)))
            raise
        self._recorder.emit(TraceEvent("rollback_done", name))

    def _note_raised(self, name: str, error: BaseException, where: str) -> None:
        self._recorder.record.raised[name] = error
        self._recorder.emit(TraceEvent("raised", name, f"from {where}: {_text(error)}"))


def record_run[C: BaseStepContext](
    registry: StepRegistry[C],
    context: C,
    *,
    progress_callback: ProgressCallback | None = None,
    check_fields: bool = False,
    observer: RunObserver[C] | None = None,
) -> RunRecord[C]:
    """Run ``registry`` over ``context`` with the real orchestrator and record what happens.

    The registry is not changed: its steps are wrapped in a new one. Whatever ``execute()``
    raises, ``KeyboardInterrupt`` and ``SystemExit`` included, is caught and kept in
    :attr:`RunRecord.error` (call :meth:`RunRecord.reraise` to raise it again).

    Args:
        registry: The workflow to run.
        context: The context to run it over.
        progress_callback: Also called with each progress value (after it was recorded).
        check_fields: Passed to the :class:`~steprail.Orchestrator`.
        observer: Called with each event as it happens, for example to take snapshots.
    """
    steps = registry.get_steps()
    record = RunRecord(
        tuple(step.name for step in steps), tuple(step.progress_weight for step in steps), context
    )
    recorder = _Recorder(record, observer)
    wrapped: StepRegistry[C] = StepRegistry()
    for step in steps:
        wrapped.register(_RecordingStep(step, recorder))

    def callback(current: int, total: int) -> None:
        record.progress.append((current, total))
        recorder.emit(TraceEvent("progress", context.current_step, value=current))
        if progress_callback is not None:
            try:
                progress_callback(current, total)
            except BaseException as error:
                record.callback_error = error
                recorder.emit(TraceEvent("callback_raised", context.current_step, _text(error)))
                raise

    orchestrator = Orchestrator(wrapped, context, callback, check_fields=check_fields)
    try:
        record.summary = orchestrator.execute()
    except BaseException as error:  # noqa: BLE001 - the record is the point; reraise() gives it back
        record.error = error
    return record
