"""Runs a registry's steps in order over one context: :class:`Orchestrator`.

Progress: each step owns a share of 100 proportional to its weight (equal shares when every
weight is 0). The callback hears the cumulative figure after each step and while a step reports
its own progress; figures never go down, never repeat, stay below 100 until the run has
succeeded, and a successful run ends with exactly one ``(100, 100)``.

Failure: the failed step's registered undo actions run, then every completed (not skipped) step
is rolled back in reverse order, best effort, and :class:`StepFailedError` is raised.
``BaseException``\\s such as ``KeyboardInterrupt`` are rolled back the same way and re-raised
unchanged.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from itertools import accumulate
from typing import TypedDict

from ._context import BaseStepContext, Undo
from ._errors import RollbackEntry, RollbackReport, StepFailedError
from ._registry import StepRegistry
from ._result import StepResult
from ._step import BaseStep, checked_weight

__all__ = ["Orchestrator", "ProgressCallback", "RunSummary"]

type ProgressCallback = Callable[[int, int], None]
"""Receives the run's overall progress as ``(current, 100)``."""

_TOTAL = 100
# Cumulative shares are float sums; this keeps 0.7 + 0.1 from flooring to 79.
_EPSILON = 1e-7


class RunSummary(TypedDict):
    """What :meth:`Orchestrator.execute` returns after a successful run."""

    success: bool
    steps_executed: int
    steps_total: int
    steps_skipped: int


class Orchestrator[C: BaseStepContext]:
    """Runs every step of ``registry`` over ``context``, reporting progress to ``progress_callback``.

    Args:
        registry: The steps, in run order. The order is read when :meth:`execute` starts.
        context: The state shared by the steps.
        progress_callback: Called with ``(current, 100)`` as the run advances. It is required:
            it is how a job's status learns that the run progressed and finished.
        check_fields: Validate the whole context after each step (see
            :meth:`BaseStepContext.check_fields`), which catches in-place changes that assignment
            validation cannot see. Off by default because it costs a full validation per step.
    """

    def __init__(
        self,
        registry: StepRegistry[C],
        context: C,
        progress_callback: ProgressCallback,
        *,
        check_fields: bool = False,
    ) -> None:
        if not isinstance(registry, StepRegistry):
            raise TypeError(f"registry must be a StepRegistry, got {type(registry).__name__}")
        if not isinstance(context, BaseStepContext):
            raise TypeError(
                f"context must be an instance of a BaseStepContext subclass, got {type(context).__name__}"
            )
        if not callable(progress_callback):
            raise TypeError(
                f"progress_callback must be callable as callback(current, total), "
                f"got {type(progress_callback).__name__}"
            )
        self.registry = registry
        self.context = context
        self.progress_callback = progress_callback
        self.check_fields = check_fields
        self._running = False

    def execute(self) -> RunSummary:
        """Run every step once, in order.

        Each call starts from clean bookkeeping: a second run neither counts nor rolls back the
        steps of an earlier one. Calling it while the same orchestrator is running is refused.

        Returns:
            ``{'success': True, 'steps_executed': ..., 'steps_total': ..., 'steps_skipped': ...}``.

        Raises:
            StepFailedError: a step failed; completed steps were rolled back first.
            RuntimeError: the orchestrator is already running.
        """
        if self._running:
            raise RuntimeError("this orchestrator is already running; execute() is not re-entrant")
        self._running = True
        try:
            return _Run(self.registry.get_steps(), self.context, self.progress_callback, self.check_fields).run()
        finally:
            self._running = False


class _StepFailure(Exception):
    """Internal: the current step failed with ``result`` (and maybe an exception)."""

    def __init__(self, result: StepResult, cause: BaseException | None) -> None:
        self.result = result
        self.cause = cause


def _describe(error: BaseException) -> str:
    return str(error) or type(error).__name__


class _Run[C: BaseStepContext]:
    """The bookkeeping of one ``execute()``; also what the context calls while a step runs."""

    def __init__(
        self, steps: list[BaseStep[C]], context: C, callback: ProgressCallback, check_fields: bool
    ) -> None:
        self.steps = steps
        self.names = [step.name for step in steps]
        self.context = context
        self.callback = callback
        self.check_fields = check_fields
        weights = [checked_weight(name, step.progress_weight) for name, step in zip(self.names, steps)]
        total = sum(weights)
        shares = [w / total for w in weights] if total > 0 else [1.0 / len(steps)] * len(steps) if steps else []
        self.shares = array("d", shares)
        self.cumulative = array("d", accumulate(shares))
        self.reported = 0
        self.reporting_overall = False
        self.order = -1
        self.completed_steps: list[BaseStep[C]] = []
        self.completed_results: list[StepResult] = []
        self.completed_orders: list[int] = []
        self.undos: dict[int, list[tuple[str, Undo]]] = {}

    # -- the context's view of the run (see _context._ActiveRun) --------------------------------

    def step_progress(self, current: int, total: int) -> None:
        if total <= 0 or self.order < 0:
            return
        fraction = min(current / total, 1.0)
        before = self.cumulative[self.order] - self.shares[self.order]
        self._report(min(int((before + self.shares[self.order] * fraction) * _TOTAL + _EPSILON), _TOTAL - 1))

    def add_undo(self, undo: Undo, label: str) -> None:
        self.undos.setdefault(self.order, []).append((label, undo))

    # -- running --------------------------------------------------------------------------------

    def _report(self, value: int) -> None:
        if value <= self.reported:
            return
        self.reported = value
        self.reporting_overall = True
        try:
            self.callback(value, _TOTAL)
        finally:
            self.reporting_overall = False

    def run(self) -> RunSummary:
        context = self.context
        set_field = object.__setattr__  # bookkeeping is not a user assignment: skip validation
        results = context.step_results
        last = len(self.steps) - 1
        skipped = 0
        set_field(context, "_active_run", self)
        try:
            for order, step in enumerate(self.steps):
                self.order = order
                set_field(context, "current_step", self.names[order])
                set_field(context, "current_step_order", order)
                try:
                    if self._run_step(step, order, results):
                        skipped += 1
                    if order == last:
                        self._report(_TOTAL)
                    else:
                        self._report(min(int(self.cumulative[order] * _TOTAL + _EPSILON), _TOTAL - 1))
                except _StepFailure as failure:
                    raise self._fail(failure) from failure.cause
                except Exception as error:  # the progress callback raised
                    callback_failure = _StepFailure(
                        StepResult(success=False, error=f"progress callback raised: {_describe(error)}"), error
                    )
                    raise self._fail(callback_failure) from error
                except BaseException as interrupt:
                    report = self._roll_back()
                    interrupt.add_note(_interrupt_note(self.names[order], report))
                    raise
            if not self.steps:
                self._report(_TOTAL)
            return {
                "success": True,
                "steps_executed": len(self.steps) - skipped,
                "steps_total": len(self.steps),
                "steps_skipped": skipped,
            }
        finally:
            set_field(context, "_active_run", None)
            set_field(context, "current_step", None)
            set_field(context, "current_step_order", None)

    def _run_step(self, step: BaseStep[C], order: int, results: list[StepResult]) -> bool:
        """Run one step; return whether it was skipped. Raise _StepFailure when it fails."""
        context = self.context
        try:
            if step.can_skip(context):
                results.append(StepResult(skipped=True))
                return True
            result = step.execute(context)
        except Exception as error:
            failed = StepResult(success=False, error=_describe(error))
            results.append(failed)
            raise _StepFailure(failed, error) from error
        except BaseException as interrupt:
            results.append(StepResult(success=False, error=f"interrupted: {type(interrupt).__name__}"))
            raise
        returned: object = result  # untyped callers can return anything
        if not isinstance(returned, StepResult):
            failed = StepResult(
                success=False,
                error=f"execute() returned {type(result).__name__}, expected a StepResult",
            )
            results.append(failed)
            raise _StepFailure(failed, None)
        results.append(result)
        if not result.success:
            raise _StepFailure(result, None)
        if self.check_fields:
            try:
                context.check_fields()
            except Exception as error:
                failed = StepResult(
                    success=False,
                    error=f"context check after the step: {_describe(error)}",
                    data=result.data,
                    rollback_data=result.rollback_data,
                )
                results[-1] = failed
                raise _StepFailure(failed, error) from error
        self.completed_steps.append(step)
        self.completed_results.append(result)
        self.completed_orders.append(order)
        return False

    def _fail(self, failure: _StepFailure) -> StepFailedError:
        name = self.names[self.order]
        error = failure.result.error or "returned a failed StepResult without an error message"
        self.context.errors.append(f"Step '{name}' failed: {error}")
        report = self._roll_back()
        failed_result = failure.result
        if failed_result.error is None:
            failed_result = StepResult(
                success=False, error=error, data=failed_result.data, rollback_data=failed_result.rollback_data
            )
        return StepFailedError(name, failed_result, report)

    def _roll_back(self) -> RollbackReport:
        """Undo the failed step's registered work, then every completed step, newest first."""
        report = RollbackReport()
        failed_order = self.order
        if not self.completed_orders or self.completed_orders[-1] != failed_order:
            self._run_undos(failed_order, report)
        for step, result, order in zip(
            reversed(self.completed_steps), reversed(self.completed_results), reversed(self.completed_orders)
        ):
            self._enter(order)
            try:
                step.rollback(self.context, result)
            except Exception as error:
                self._record(report, RollbackEntry(self.names[order], "rollback", self.names[order], _text(error)))
            else:
                report.entries.append(RollbackEntry(self.names[order], "rollback", self.names[order]))
            self._run_undos(order, report)
        return report

    def _run_undos(self, order: int, report: RollbackReport) -> None:
        undos = self.undos.pop(order, None)
        if not undos:
            return
        self._enter(order)
        name = self.names[order]
        for label, undo in reversed(undos):
            try:
                undo()
            except Exception as error:
                self._record(report, RollbackEntry(name, "undo", label, _text(error)))
            else:
                report.entries.append(RollbackEntry(name, "undo", label))

    def _enter(self, order: int) -> None:
        object.__setattr__(self.context, "current_step", self.names[order])
        object.__setattr__(self.context, "current_step_order", order)

    def _record(self, report: RollbackReport, entry: RollbackEntry) -> None:
        report.entries.append(entry)
        what = "Rollback" if entry.kind == "rollback" else f"Undo {entry.label!r}"
        self.context.errors.append(f"{what} of step '{entry.step}' failed: {entry.error}")


def _text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _interrupt_note(step_name: str, report: RollbackReport) -> str:
    failures = len(report.failures)
    return (
        f"steprail: interrupted during step '{step_name}'; rolled back "
        f"{len(report.rolled_back_steps)} completed step(s), {failures} rollback error(s)"
    )
