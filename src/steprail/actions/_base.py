"""Actions: a job's unit of work, with validated params, a recorded lifecycle and cancellation.

:class:`BaseAction` validates its params before anything runs, tells its runtime about the job
(created, started, each step, each rollback, finished), wires the orchestrator's progress
callback itself, and turns SIGTERM / Ctrl-C into a cancelled job when asked to.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, cast

from pydantic import BaseModel

from .._checkpoint import CheckpointDeltas
from .._context import BaseStepContext
from .._errors import RollbackEntry, StepFailedError
from .._orchestrator import STOPPED, FailurePolicy, Orchestrator, ProgressCallback, RunSummary, checked_policy
from .._registry import StepRegistry
from .._result import StepResult
from .._retry import RetryPolicy
from .._runtime import RuntimeContext
from .._step import BaseStep
from .._wrappers import WrapperStep
from ..jobs import ActionRuntime, JobOutcome, JobRecord, JobStore, PlannedStep, StepOutcome, StepStatus
from .._logging import get_logger
from ..jobs._failure import failure_traceback
from ..jobs._secrets import masked_params
from ._cancel import CancellationGuard, JobCancelled, cancellation_signals
from ._executor import Resources
from ._params import InvalidParamsError, validate_params
from ._plan import plan_steps

__all__ = ["ActionOutcome", "BaseAction", "Workflow"]

type FinalStatus = Literal["success", "failed", "cancelled"]

# The library's own account of a run (DEBUG start/end, WARNING for a failed step or rollback).
# Applications that want every event as a log record attach steprail.jobs.LoggingRuntime.
_log = get_logger("steprail.actions")


def _describe(error: BaseException) -> str:
    try:
        text = str(error)
    except Exception as broken:  # an exception whose __str__ raises is still reported
        return f"{type(error).__name__} (its message could not be read: {type(broken).__name__})"
    return text or type(error).__name__


def _typed(error: BaseException) -> str:
    """``KeyError: 'a'``: the text of an exception a step raised, led by its type (``'a'`` alone
    says nothing)."""
    text, name = _describe(error), type(error).__name__
    return text if text.startswith(name) else f"{name}: {text}"


def _interruption(error: BaseException) -> str:
    """``interrupted by SystemExit(3)``, ``interrupted by CancelledError: why``, ..."""
    name = type(error).__name__
    if isinstance(error, SystemExit):
        return f"interrupted by SystemExit({error.code!r})"
    text = _describe(error)
    return f"interrupted by {name}" + ("" if text == name else f": {text}")


def _interruption_status(error: BaseException) -> FinalStatus:
    # A task or generator being closed is someone stopping the job: cancelled. SystemExit (and
    # any other BaseException) is the step ending the program: the job failed.
    if isinstance(error, KeyboardInterrupt | asyncio.CancelledError | GeneratorExit):
        return "cancelled"
    return "failed"


@dataclass
class ActionOutcome:
    """How a run of an action ended.

    Attributes:
        action: The action's name (``module:Class``).
        status: ``success``, ``failed`` or ``cancelled``.
        error: Why it failed or was cancelled, ``None`` on success.
        exception: The exception behind ``error``, if any.
        plan: The steps the run planned (empty when the params were invalid).
        steps: How each step that started ended, in order.
        rollback: Every rollback attempt, in order.
        summary: The orchestrator's summary, or what ``execute()`` returned.
        duration: Wall-clock seconds.
        context: The workflow's context after the run (``None`` for ``execute()``-based actions).
        resumable: The run failed or was cancelled under the ``keep`` failure policy: the
            completed steps' work is in place (see :meth:`BaseAction.roll_back_job`).
        restored: For a resume, how many steps at the start of :attr:`plan` completed in an
            earlier attempt and were restored rather than run (they have no entry in
            :attr:`steps`); 0 for a first run.
    """

    action: str
    status: FinalStatus
    error: str | None = None
    exception: BaseException | None = None
    plan: list[PlannedStep] = field(default_factory=list)
    steps: list[StepOutcome] = field(default_factory=list)
    rollback: list[RollbackEntry] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    duration: float = 0.0
    context: BaseStepContext | None = None
    resumable: bool = False
    restored: int = 0

    @property
    def ok(self) -> bool:
        """Whether the run succeeded."""
        return self.status == "success"

    def raise_for_status(self) -> None:
        """Raise what stopped the run (:class:`InvalidParamsError`, ``StepFailedError``,
        :class:`JobCancelled`, ...); do nothing after a success."""
        if self.status == "success":
            return
        if self.exception is not None:
            raise self.exception
        raise RuntimeError(self.error or f"{self.action} {self.status}")


class _Tracker:
    """Turns what tracked steps see into runtime hooks and the outcome's step list."""

    def __init__(self, hooks: ActionRuntime | None, guard: CancellationGuard, checkpoints: bool = False) -> None:
        self.hooks = hooks
        self.guard = guard
        # Take a checkpoint of the context with each success (only when a sink keeps them).
        self.checkpoints = checkpoints
        # Each checkpoint saves only the fields changed since the one recorded before it.
        self.deltas = CheckpointDeltas()
        self.retries: list[tuple[str, int, str]] = []  # (step, failed attempt, its error)
        self.planned: dict[str, PlannedStep] = {}
        self.steps: list[StepOutcome] = []
        self.rollback: list[RollbackEntry] = []
        self._started: dict[int, float] = {}

    # Hooks run with signals held: a signal must not cut a record in half. One that arrives
    # meanwhile is delivered at the next check (a step's start, a progress report).

    def begin(self, planned: PlannedStep) -> None:
        self.planned[planned.name] = planned
        self._started[planned.order] = time.perf_counter()
        if self.hooks is not None:
            with self.guard.deferring():
                self.hooks.step_started(planned)

    def end(
        self,
        planned: PlannedStep,
        status: StepStatus,
        *,
        data: dict[str, Any] | None = None,
        error: str | None = None,
        rollback_data: dict[str, Any] | None = None,
        checkpoint: dict[str, Any] | None = None,
    ) -> None:
        began = self._started.pop(planned.order, None)
        duration = 0.0 if began is None else time.perf_counter() - began
        outcome = StepOutcome(
            planned.order, planned.name, status, duration, dict(data or {}), error, rollback_data, checkpoint
        )
        self.steps.append(outcome)
        if status == "failed":
            _log.warning("step %s failed: %s", planned.name, error)
        if self.hooks is not None:
            with self.guard.deferring():
                self.hooks.step_finished(outcome)

    def retrying(self, name: str, attempt: int, error: BaseException, wait: float) -> None:
        """An attempt of step ``name`` failed and will be retried: tell the runtime."""
        self.retries.append((name, attempt, _typed(error)))
        _log.info("step %s: attempt %d failed (%s); retrying in %.3fs", name, attempt, _typed(error), wait)
        planned = self.planned.get(name)
        if self.hooks is not None and planned is not None:
            with self.guard.deferring():
                self.hooks.step_retrying(planned, attempt, _typed(error), wait)

    def rolled_back(self, name: str, entries: list[RollbackEntry], finished: bool) -> None:
        """One step's rollback ended (its ``rollback`` and its undo actions): keep every entry
        for the job's report and record the step once, ``rolled back`` only if it finished."""
        self.rollback.extend(entries)
        failures = [entry for entry in entries if entry.error is not None]
        for entry in failures:
            _log.warning("rollback of step %s failed: %s", name, _entry_text(entry))
        if self.hooks is None:
            return
        if not finished:
            stopped = [entry for entry in failures if (entry.error or "").startswith(STOPPED)]
            error: str | None = STOPPED + (_entry_text(stopped[-1]) if stopped else "(interrupted)")
        elif failures:
            error = "; ".join(_entry_text(entry) for entry in failures)
        else:
            error = None
        with self.guard.deferring():
            self.hooks.step_rolled_back(RollbackEntry(name, "rollback", name, error))


def _checked_summary(action: str, returned: object) -> dict[str, Any]:
    """``execute()``'s return value as the summary; anything but ``None`` or a mapping with text
    keys and no container inside itself is refused with a message naming the action (the job
    then fails, instead of failing later inside steprail's encoder)."""
    if returned is None:
        return {}
    if not isinstance(returned, Mapping):
        raise TypeError(
            f"{action}.execute() returned {type(returned).__name__}; return a dict of JSON values (or None)"
        )
    problem = _json_shape_problem(returned, "result", set())
    if problem is not None:
        raise TypeError(f"{action}.execute() returned a dict that JSON cannot hold: {problem}")
    return dict(returned)


def _json_shape_problem(value: object, where: str, open_containers: set[int]) -> str | None:
    """Where ``value`` has a non-text key or holds itself (values JSON cannot hold are fine:
    they are recorded as text)."""
    if not isinstance(value, Mapping | list | tuple):
        return None
    if id(value) in open_containers:
        return f"{where} contains itself"
    open_containers.add(id(value))
    try:
        if isinstance(value, Mapping):
            for key, item in value.items():
                if not isinstance(key, str):
                    return f"{where} has the key {key!r} ({type(key).__name__}); keys must be text"
                problem = _json_shape_problem(item, f"{where}[{key!r}]", open_containers)
                if problem is not None:
                    return problem
        else:
            for index, item in enumerate(value):
                problem = _json_shape_problem(item, f"{where}[{index}]", open_containers)
                if problem is not None:
                    return problem
    except RecursionError:
        return f"{where} nests too deeply"
    finally:
        open_containers.discard(id(value))
    return None


def _entry_text(entry: RollbackEntry) -> str:
    """``rollback(): OSError: ...`` or ``undo 'label': OSError: ...`` (without a ``stopped:``)."""
    error = entry.error or ""
    if error.startswith(STOPPED):
        error = error[len(STOPPED) :]
    return f"rollback(): {error}" if entry.kind == "rollback" else f"undo {entry.label!r}: {error}"


class _TrackedStep[C: BaseStepContext](WrapperStep[C]):
    """Runs a user's step unchanged (same name) and reports its start, end and rollback."""

    prefix = ""

    def __init__(self, step: BaseStep[C], planned: PlannedStep, tracker: _Tracker) -> None:
        super().__init__(step)
        self._planned = planned
        self._tracker = tracker

    def can_skip(self, context: C) -> bool:
        try:
            self._tracker.begin(self._planned)
            # A signal held while the step was announced, or one a step swallowed: stop here.
            self._tracker.guard.check()
            skip = self._wrapped.can_skip(context)
        except JobCancelled as error:
            self._tracker.guard.acknowledged = True
            self._tracker.end(self._planned, "cancelled", error=_describe(error))
            raise
        except Exception as error:
            self._tracker.end(self._planned, "failed", error=f"can_skip raised: {_typed(error)}")
            raise
        if skip:
            self._tracker.end(self._planned, "skipped")
        return skip

    def execute(self, context: C) -> StepResult:
        try:
            result = self._wrapped.execute(context)
        except JobCancelled as error:
            self._tracker.guard.acknowledged = True
            self._tracker.end(self._planned, "cancelled", error=_describe(error))
            raise
        except Exception as error:
            self._tracker.end(self._planned, "failed", error=_typed(error))
            raise
        except BaseException as interrupt:
            self._tracker.end(self._planned, _interruption_status(interrupt), error=_interruption(interrupt))
            raise
        returned: object = result
        if not isinstance(returned, StepResult):
            self._tracker.end(
                self._planned, "failed", error=f"execute() returned {type(returned).__name__}, expected a StepResult"
            )
            return result
        if result.success:
            try:
                checkpoint = self._tracker.deltas.take(context) if self._tracker.checkpoints else None
                self._tracker.end(
                    self._planned, "success", data=result.data, rollback_data=result.rollback_data, checkpoint=checkpoint
                )
                if checkpoint is not None:
                    self._tracker.deltas.recorded()
            except BaseException:
                # The step's work is done but its success could not be recorded (a full disk):
                # the run fails here, and this step's own rollback must still undo that work.
                context.on_rollback(
                    lambda: self.rollback(context, result), label=f"{self.name} (done, but not recorded)"
                )
                raise
        else:
            self._tracker.end(self._planned, "failed", data=result.data, error=result.error or "failed")
        return result

    def rollback(self, context: C, result: StepResult) -> None:
        # Reported by the orchestrator's rollback listener, once this step's undos ran too.
        self._wrapped.rollback(context, result)

    @property
    def retry_policy(self) -> RetryPolicy | None:
        """The user's step's own policy, if it declares one."""
        policy = getattr(self._wrapped, "retry_policy", None)
        return policy if isinstance(policy, RetryPolicy) else None


class Workflow[C: BaseStepContext]:
    """A registry and the context its steps run on: what a step-based action runs."""

    def __init__(
        self,
        registry: StepRegistry[C],
        context: C,
        *,
        retries: Mapping[str, RetryPolicy] | None = None,
        time_limits: Mapping[str, float] | None = None,
    ) -> None:
        self.registry = registry
        self.context = context
        #: Retry policies and time limits (seconds) by step name (see :class:`~steprail.Orchestrator`).
        self.retries: dict[str, RetryPolicy] = dict(retries or {})
        self.time_limits: dict[str, float] = dict(time_limits or {})

    def plan(self) -> list[PlannedStep]:
        """The registry's steps, described."""
        return plan_steps(self.registry.get_steps())

    def run(
        self,
        progress_callback: ProgressCallback,
        tracker: _Tracker,
        commit: Callable[[RunSummary], None] | None = None,
        on_failure: FailurePolicy = "rollback",
        restored: Sequence[StepResult | None] = (),
    ) -> RunSummary:
        """Run every step through the orchestrator, each one tracked; ``commit`` records the
        success inside the run's protection (see :meth:`Orchestrator.execute`); ``on_failure``
        is the orchestrator's failure policy; ``restored`` the results of the steps an earlier
        attempt completed (see :meth:`BaseAction.resume`)."""
        steps, names, weights = self.registry.snapshot()
        tracked: list[BaseStep[C]] = [
            _TrackedStep(step, planned, tracker) for planned, step in zip(plan_steps(steps), steps, strict=True)
        ]
        # The steps were checked when they were registered: wrap them without registering again.
        registry = StepRegistry[C]._from_checked(tracked, names, weights, self.registry.inputs)
        orchestrator = Orchestrator(
            registry,
            self.context,
            progress_callback,
            on_failure=on_failure,
            retries=self.retries,
            time_limits=self.time_limits,
        )
        return orchestrator.execute(
            commit=commit, rollback_listener=tracker.rolled_back, restored=restored, retry_listener=tracker.retrying
        )


@dataclass
class _Resumption:
    """What :meth:`BaseAction.resume` prepared: the claimed job, the workflow with its context
    restored, and the restored results of the steps before the first one to run."""

    job: JobRecord
    workflow: Workflow[Any]
    restored: list[StepResult | None]


def _params_model_of(cls: type) -> type[BaseModel] | None:
    """The pydantic model given as the first type argument of a ``BaseAction`` base, if any."""
    for base in getattr(cls, "__orig_bases__", ()):
        origin = typing.get_origin(base)
        if isinstance(origin, type) and issubclass(origin, BaseAction):
            args = typing.get_args(base)
            if args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
                return args[0]
    return None


class BaseAction[P: BaseModel]:
    """An action whose params are the pydantic model ``P``.

    Subclass it as ``class MyAction(BaseAction[MyParams])`` and implement :meth:`execute`, or
    use :class:`~steprail.actions.BaseTrainAction` for step-based work. :meth:`run` validates
    the params first: invalid params end the job ``failed`` with one error listing every bad
    field, and nothing else runs.

    Args:
        params: The raw params (a mapping) or an instance of ``P``; validated by :meth:`run`.
        runtime: Where logs, progress, metrics and (for an :class:`~steprail.jobs.ActionRuntime`)
            the job's lifecycle go. An in-memory ``RuntimeContext()`` by default.
        handle_signals: Turn SIGTERM and Ctrl-C into a ``cancelled`` job while :meth:`run` runs
            (main thread only). Without it a ``KeyboardInterrupt`` still rolls back and is
            recorded as ``cancelled``, then re-raised.
        on_failure: The failure policy of this run (the class's :attr:`on_failure` by default).
        checkpoints: Whether this run takes checkpoints (the class's :attr:`checkpoints` by default).

    Attributes:
        params_model: ``P`` itself, found from the class's generic base.
        action_name: ``module:ClassName``, how jobs and the command line name the action.
        on_failure: What a failed or cancelled step-based run does with its completed steps'
            work: ``'rollback'`` (the default) rolls it back; ``'keep'`` keeps it and records the
            job resumable (see docs/resume.md). Set it on a subclass to change the default.
        checkpoints: Save the context's fields with each completed step when the runtime keeps
            checkpoints (a :class:`~steprail.jobs.JobRuntime`): what :meth:`resume` restores.
            True by default; set it (class or constructor) to ``False`` to take none.
        resources: What one run needs (CPUs, GPUs, memory), for executors that place the action
            on a cluster (:class:`steprail.ray.RayExecutor`); one CPU by default.

    Raises:
        ValueError: ``on_failure`` is not ``'rollback'`` or ``'keep'``.
    """

    params_model: ClassVar[type[BaseModel]] = BaseModel
    action_name: ClassVar[str] = "steprail.actions:BaseAction"
    on_failure: FailurePolicy = "rollback"
    checkpoints: bool = True
    resources: ClassVar[Resources] = Resources()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        found = _params_model_of(cls)
        if found is not None:
            cls.params_model = found
        if "action_name" not in cls.__dict__:
            cls.action_name = f"{cls.__module__}:{cls.__qualname__}"

    def __init__(
        self,
        params: P | Mapping[str, Any] | None = None,
        *,
        runtime: RuntimeContext | None = None,
        handle_signals: bool = False,
        on_failure: FailurePolicy | None = None,
        checkpoints: bool | None = None,
    ) -> None:
        self.on_failure = checked_policy(type(self).on_failure if on_failure is None else on_failure)
        self.checkpoints = type(self).checkpoints if checkpoints is None else checkpoints
        self._resuming: _Resumption | None = None
        self._raw: P | Mapping[str, Any] = params if params is not None else {}
        self._params: P | None = None
        self.runtime: RuntimeContext = runtime if runtime is not None else RuntimeContext()
        self.handle_signals = handle_signals
        self._reported = -1
        self._guard: CancellationGuard | None = None

    # -- params ---------------------------------------------------------------------------------

    @property
    def params(self) -> P:
        """The validated params (validated on first use).

        Raises:
            InvalidParamsError: listing every bad field.
        """
        if self._params is None:
            self._params = self.validate_params(self._raw)
        return self._params

    @classmethod
    def validate_params(cls, raw: P | Mapping[str, Any]) -> P:
        """Validate ``raw`` as this action's params model.

        Raises:
            InvalidParamsError: listing every bad field.
        """
        return cast(P, validate_params(cls.params_model, raw, cls.action_name))

    def _raw_params(self) -> dict[str, Any]:
        raw: object = self._raw
        if isinstance(raw, BaseModel):
            return raw.model_dump(mode="json")
        if isinstance(raw, Mapping):
            # Not validated yet (perhaps invalid): secret fields are masked here, the one place
            # raw params go out to the runtime (store, JSON-lines log, steprail.job logger).
            return masked_params(self.params_model, raw)
        return {"(params)": repr(raw)}  # recorded as given; validation reports the problem

    # -- reporting ------------------------------------------------------------------------------

    def set_progress(self, current: int, total: int) -> None:
        """Report the job's overall progress. The orchestrator's callback is this method.

        While a run handles signals, this is also where a held (or swallowed) cancellation is
        delivered, so a long step that reports progress stops promptly.
        """
        if self._guard is not None:
            self._guard.check()
        if total > 0:
            self._reported = max(self._reported, current * 100 // total)
        self.runtime.set_progress(current, total)

    def set_metrics(self, value: dict[str, Any], step: str) -> None:
        """Report metrics for ``step``."""
        self.runtime.set_metrics(value, step)

    def log(self, event: str, data: dict[str, Any], file: str | None = None) -> None:
        """Log an event."""
        self.runtime.log(event, data, file)

    # -- what runs ------------------------------------------------------------------------------

    def execute(self) -> dict[str, Any] | None:
        """Do the action's work when it runs no steps; the return value becomes the summary."""
        raise NotImplementedError(
            f"{type(self).__name__} registers no steps and does not implement execute()"
        )

    def build_workflow(self) -> Workflow[Any] | None:
        """The steps to run and their context, or ``None`` (the default) to call :meth:`execute`.

        Called once per run, after the params were validated. Override it to run steps from any
        action (``return Workflow(registry, context)``); :class:`BaseTrainAction` builds it from
        ``setup_steps``. The context type differs per action, hence ``Any`` here; an override
        may return the precise ``Workflow[MyContext]``.
        """
        return None

    def plan(self) -> list[PlannedStep]:
        """The steps a run would take, without running any.

        Uses the validated params when they are valid, else the model's defaults unvalidated,
        so a plan can be shown before params are chosen.
        """
        if self._params is None:
            try:
                self._params = self.validate_params(self._raw)
            except InvalidParamsError:
                self._params = cast(P, self.params_model.model_construct(**self._raw_params()))
        workflow = self.build_workflow()
        return self._plan_of(workflow)

    def _plan_of(self, workflow: Workflow[Any] | None) -> list[PlannedStep]:
        if workflow is not None:
            return workflow.plan()
        return [PlannedStep(0, "execute", 1.0, 1.0, False, type(self).__name__)]

    def _run_execute(self, planned: PlannedStep, tracker: _Tracker) -> dict[str, Any]:
        try:
            tracker.begin(planned)
            tracker.guard.check()
            returned = self.execute()
            summary = _checked_summary(type(self).__name__, returned)
        except JobCancelled as error:
            tracker.guard.acknowledged = True
            tracker.end(planned, "cancelled", error=_describe(error))
            raise
        except Exception as error:
            tracker.end(planned, "failed", error=_typed(error))
            raise
        except BaseException as interrupt:
            tracker.end(planned, _interruption_status(interrupt), error=_interruption(interrupt))
            raise
        if self._reported < 100:
            self.set_progress(100, 100)
        tracker.end(planned, "success", data=summary)
        return summary

    def run(self) -> ActionOutcome:
        """Validate the params, run the workflow (or :meth:`execute`), and record the outcome.

        Returns the outcome whatever happened; call :meth:`ActionOutcome.raise_for_status` to
        turn a failure into its exception. Every ending is recorded: a step's exception, a
        signal, and ``BaseException``\\s raised in a step (``KeyboardInterrupt``,
        ``SystemExit``, ``asyncio.CancelledError``, ``GeneratorExit``), each after the rollback.
        Such a ``BaseException`` is re-raised after it is recorded unless ``handle_signals``
        was set.

        The success is recorded inside the run's protection (the orchestrator's commit): a
        signal that arrived before it rolls the run back and records ``cancelled``; one that
        arrives after it is only noted. If the success record cannot be written, the run is
        rolled back and recorded ``failed``.

        Raises:
            steprail.jobs.JobStoreError: the runtime could not record the job. When the job had
                started, its notes say how the run ended (it was rolled back unless it succeeded).
        """
        started = time.monotonic()
        _log.debug("action %s: run started", self.action_name)
        hooks = self.runtime if isinstance(self.runtime, ActionRuntime) else None
        outcome = ActionOutcome(action=self.action_name, status="failed")
        reraise: BaseException | None = None
        recorded = False
        with cancellation_signals(self.handle_signals) as guard:
            self._guard = guard
            resuming = self._resuming
            checkpoints = self.checkpoints and hooks is not None and hooks.records_checkpoints
            tracker = _Tracker(hooks, guard, checkpoints)
            created = False

            def commit(summary: Mapping[str, Any]) -> None:
                # Runs inside the orchestrator's protection, after the last step: the success
                # decision. From the next instruction on, signals are only noted.
                nonlocal recorded
                guard.deferred = True
                guard.deliver_pending()  # a signal that came before: cancelled, rolled back
                outcome.summary = dict(summary)
                outcome.status = "success"
                self._record_final(hooks, outcome, tracker, started)
                recorded = True

            try:
                if hooks is not None:
                    if resuming is None:
                        hooks.job_created(self.action_name, self._raw_params())  # signals still held
                    else:
                        hooks.job_resumed(resuming.job)
                created = True
                guard.deferred = False
                guard.check()  # a signal that came while the job was being created
                self._params = self.validate_params(self._raw)
                workflow = self.build_workflow() if resuming is None else resuming.workflow
                outcome.plan = self._plan_of(workflow)
                if hooks is not None:
                    with guard.deferring():
                        hooks.job_started(self._params.model_dump(mode="json"), outcome.plan)
                if workflow is None:
                    commit(self._run_execute(outcome.plan[0], tracker))
                else:
                    outcome.context = workflow.context
                    # Kept work exists only once steps could run: set before the first one.
                    outcome.resumable = self.on_failure == "keep"
                    restored = () if resuming is None else resuming.restored
                    outcome.restored = len(restored)
                    workflow.run(self.set_progress, tracker, commit, self.on_failure, restored)
            except StepFailedError as error:
                cause = error.__cause__
                cancelled = isinstance(cause, JobCancelled)
                outcome.status = "cancelled" if cancelled else "failed"
                outcome.error = _describe(cause) if cancelled and cause else _describe(error)
                outcome.exception = cause if cancelled else error
                outcome.rollback = list(error.rollback_report.entries)
            except JobCancelled as error:
                outcome.status, outcome.error, outcome.exception = "cancelled", _describe(error), error
                outcome.rollback = list(tracker.rollback)
            except Exception as error:
                if not created:
                    raise  # the runtime could not even record the job: nothing to finish
                # Invalid params are the user's input, told as such; anything else names its type.
                text = _describe(error) if isinstance(error, InvalidParamsError) else _typed(error)
                outcome.status, outcome.error, outcome.exception = "failed", text, error
                outcome.rollback = list(tracker.rollback)
            except BaseException as interrupt:
                # KeyboardInterrupt (or a second signal), SystemExit, CancelledError,
                # GeneratorExit...: the orchestrator rolled back before letting it through.
                outcome.status, outcome.exception = _interruption_status(interrupt), interrupt
                outcome.error = (
                    _describe(interrupt)
                    if isinstance(interrupt, KeyboardInterrupt) and guard.rollback_stopped
                    else _interruption(interrupt)
                )
                outcome.rollback = list(tracker.rollback)
                if not self.handle_signals:
                    reraise = interrupt
            finally:
                # From here on a signal is remembered, not raised: the final record must land.
                guard.deferred = True
                self._guard = None
            if not recorded:
                if outcome.status == "success":  # the success record itself failed
                    outcome.status = "failed"
                if guard.during_rollback and not guard.rollback_stopped and guard.signum is not None:
                    outcome.error = (
                        f"{outcome.error} ({signal.Signals(guard.signum).name} arrived during the rollback;"
                        " the rollback went on to the end)"
                    )
                if created:
                    try:
                        self._record_final(hooks, outcome, tracker, started)
                    except BaseException as error:
                        error.add_note(
                            f"steprail: job {outcome.status} ({outcome.error}); "
                            + ("its completed steps were rolled back; " if outcome.rollback and not outcome.resumable else "")
                            + "its final record could not be written"
                        )
                        raise
                else:
                    outcome.steps, outcome.duration = list(tracker.steps), time.monotonic() - started
            outcome.resumable = outcome.resumable and outcome.status != "success"
        _log.log(
            logging.DEBUG if outcome.status == "success" else logging.INFO,
            "action %s: run %s in %.3fs%s",
            self.action_name,
            outcome.status,
            time.monotonic() - started,
            f": {outcome.error}" if outcome.error else "",
        )
        if reraise is not None:
            raise reraise
        return outcome

    def resume(self, job_id: int, *, force: bool = False) -> ActionOutcome:
        """Run job ``job_id`` again from the first step that did not complete, as a new attempt.

        The job must have failed or been cancelled under the ``keep`` policy, or be
        ``interrupted`` (its process died). Build the action with the job's params
        (``MyAction(store.get(job_id).params, runtime=JobRuntime(store))``): the runtime's job
        store is where the job is read and claimed. Then:

        1. :meth:`build_workflow` builds the steps and a new context; the recorded plan (each
           step's position, name, class name and weight) and params are the job's
           fingerprint: if they differ, :class:`~steprail.actions.WorkflowChangedError` shows
           how and nothing is changed, unless ``force`` (the differences are then recorded
           with the attempt).
        2. The context gets the fields saved by the last completed step's checkpoint; the
           completed steps' results are restored (``context.step_results``) and they are not
           run again. Steps that completed without a checkpoint run again.
        3. The job is claimed (``running`` in this process, attempt ``n + 1``) and the run goes
           on like :meth:`run`: the same failure policy, progress picking up where it was.

        Undo actions the completed steps registered in the earlier process are gone: a failure
        of this attempt under the ``rollback`` policy rolls the restored steps back with their
        ``rollback`` method only.

        Raises:
            WorkflowChangedError: the steps or params differ (without ``force``).
            steprail.jobs.JobStoreError: the job cannot be resumed, or the runtime records into
                no job store.
            InvalidParamsError: the params are invalid.
        """
        from ._resume import prepare_resume

        self._resuming = prepare_resume(self, job_id, force=force)
        try:
            return self.run()
        finally:
            self._resuming = None

    def roll_back_job(self, store: JobStore, job_id: int) -> list[RollbackEntry]:
        """Roll back the work that job ``job_id`` kept (it ran under the ``keep`` policy and
        failed, was cancelled, or was interrupted), typically from another process.

        Build the action from the job's params first (``MyAction(store.get(job_id).params)``,
        with the same client as the run): its :meth:`build_workflow` rebuilds the steps, which
        must be the ones the job ran. Then each completed step that was not rolled back gets its
        ``rollback(context, result)``, newest first, with ``result`` rebuilt from the stored
        ``data`` and ``rollback_data`` and ``context`` a new one from :meth:`build_workflow`.
        Each step's rollback is recorded as it ends, the report is appended to the job's, and
        the job is no longer resumable. Undo actions registered with ``context.on_rollback`` in
        the run's process are gone and do not run.

        Returns:
            One entry per step rolled back, newest first (``error`` set where it raised).

        Raises:
            KeptWorkError: another action, other params, or changed steps; nothing was done.
            steprail.jobs.JobStoreError: the job has no kept work (see
                :meth:`~steprail.jobs.JobStore.claim_kept_work`).
        """
        from ._kept import roll_back_job

        return roll_back_job(self, store, job_id)

    @staticmethod
    def _record_final(
        hooks: ActionRuntime | None, outcome: ActionOutcome, tracker: _Tracker, started: float
    ) -> None:
        outcome.steps = list(tracker.steps)
        outcome.duration = time.monotonic() - started
        if hooks is not None:
            hooks.job_finished(
                JobOutcome(
                    status=outcome.status,
                    error=outcome.error,
                    rollback=tuple(outcome.rollback),
                    summary=outcome.summary,
                    duration=outcome.duration,
                    traceback=(
                        failure_traceback(outcome.exception)
                        if outcome.status == "failed" and not isinstance(outcome.exception, InvalidParamsError)
                        else None
                    ),
                    resumable=outcome.resumable and outcome.status != "success",
                )
            )
