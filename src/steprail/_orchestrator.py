"""Runs a registry's steps in order over one context: :class:`Orchestrator`.

Progress: each step owns a share of 100 proportional to its weight (equal shares when every
weight is 0). The callback hears the cumulative figure after each step and while a step reports
its own progress; figures never go down, never repeat, stay below 100 until the run has
succeeded, and a successful run ends with exactly one ``(100, 100)``.

Failure: the failed step's registered undo actions run, then every completed (not skipped) step
is rolled back in reverse order, best effort, and :class:`StepFailedError` is raised.
``BaseException``\\s such as ``KeyboardInterrupt`` are rolled back the same way and re-raised
unchanged. With the failure policy ``'keep'`` only the failed step's undo actions run: the
completed steps' work stays in place, to be resumed or rolled back later (see docs/resume.md).
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from itertools import accumulate, islice
from typing import Final, Literal, TypedDict

from ._context import BaseStepContext, Undo
from ._errors import RollbackEntry, RollbackReport, StepFailedError
from ._flow import check_flow
from ._registry import StepRegistry
from ._result import StepResult
from ._retry import RetryListener, RetryPolicy
from ._step import BaseStep
from ._timeout import ROLLBACK_CODES as _TIME_LIMIT_SPARES
from ._timeout import TimeLimitStep, check_time_limit

__all__ = ["FAILURE_POLICIES", "FailurePolicy", "Orchestrator", "ProgressCallback", "RollbackListener", "RunSummary"]

type FailurePolicy = Literal["rollback", "keep"]
"""What a failed or cancelled run does with the work of its completed steps: ``'rollback'`` (the
default) rolls every completed step back, newest first; ``'keep'`` leaves it in place and undoes
only the failed step's own partial work (its undo actions)."""

#: Every :data:`FailurePolicy`, for validating a value that comes from outside the type checker.
FAILURE_POLICIES: Final[tuple[FailurePolicy, ...]] = ("rollback", "keep")

type ProgressCallback = Callable[[int, int], None]
"""Receives the run's overall progress as ``(current, 100)``."""

type RollbackListener = Callable[[str, list[RollbackEntry], bool], None]
"""Hears each step's rollback once it ended: ``(step name, its entries, finished)``; ``finished``
is false when a ``BaseException`` (a second signal) stopped it part way."""

#: How a rollback entry cut short by a ``BaseException`` starts its error text.
STOPPED: Final = "stopped: "

_TOTAL = 100
# Cumulative shares are float sums; this keeps 0.7 + 0.1 from flooring to 79.
_EPSILON = 1e-7


class RunSummary(TypedDict):
    """What :meth:`Orchestrator.execute` returns after a successful run.

    ``steps_executed`` and ``steps_skipped`` count the steps of this run only: in a resumed run
    (``restored``), the steps restored from the earlier attempt are in neither, so
    ``steps_total - steps_executed - steps_skipped`` is how many were restored.
    """

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
        on_failure: ``'rollback'`` (default): a failure or an interruption rolls every completed
            step back. ``'keep'``: only the failed step's undo actions run; the completed steps'
            work (and their undo actions, which are not run) stays as it is.
        retries: A :class:`~steprail.RetryPolicy` per step name. A step may also carry its own
            as a ``retry_policy`` attribute; the one given here wins. A step whose attempt raises
            an exception its policy retries is tried again (``can_skip`` then ``execute``) after
            the attempt's undo actions ran, until an attempt returns or the policy gives up;
            only the last exception fails the step.
        time_limits: Seconds per step name: the step's ``execute`` runs under a
            :class:`~steprail.TimeLimitStep` and fails with ``StepTimeoutError`` past it (see
            there for how a running step is interrupted, and the guarantee).

    Raises:
        ValueError: ``on_failure`` is not a :data:`FailurePolicy`.
        TypeError: a value of ``retries`` is not a ``RetryPolicy``.
        ValueError: a time limit is not a finite number of seconds > 0.
    """

    def __init__(
        self,
        registry: StepRegistry[C],
        context: C,
        progress_callback: ProgressCallback,
        *,
        check_fields: bool = False,
        on_failure: FailurePolicy = "rollback",
        retries: Mapping[str, RetryPolicy] | None = None,
        time_limits: Mapping[str, float] | None = None,
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
        self.on_failure: FailurePolicy = checked_policy(on_failure)
        self.retries: dict[str, RetryPolicy] = dict(retries or {})
        for name, policy in self.retries.items():
            if not isinstance(policy, RetryPolicy):
                raise TypeError(f"retries[{name!r}] must be a RetryPolicy, got {type(policy).__name__}")
        self.time_limits: dict[str, float] = {}
        for name, seconds in (time_limits or {}).items():
            try:
                self.time_limits[name] = check_time_limit(seconds)
            except ValueError as error:
                raise ValueError(f"time_limits[{name!r}]: {error}") from None
        self._running = False

    def execute(
        self,
        *,
        commit: Callable[[RunSummary], None] | None = None,
        rollback_listener: RollbackListener | None = None,
        restored: Sequence[StepResult | None] = (),
        retry_listener: RetryListener | None = None,
    ) -> RunSummary:
        """Run every step once, in order.

        Each call starts from clean bookkeeping: a second run neither counts nor rolls back the
        steps of an earlier one. Calling it while the same orchestrator is running is refused.
        Another orchestrator may run on the same context from inside a step (a nested run): the
        outer step gets its name, position, undo ledger and progress back when the inner run ends.

        Args:
            commit: Called with the summary after the last step, still inside the run's
                protection: the run succeeds only if it returns. If it raises an ``Exception``,
                every step is rolled back and :class:`StepFailedError` names the last step with
                ``the run could not be committed: ...``; a ``BaseException`` is rolled back and
                re-raised. Actions record the job's success here, so the record and the
                decision cannot disagree.
            rollback_listener: Called once per step whose rollback ended, after its ``rollback``
                AND its undo actions: ``(name, entries, finished)``. ``finished`` is false for the
                step a ``BaseException`` (a second signal) cut short; its last entry's error
                starts with ``stopped: ``. Actions record each step's rollback from it.
            restored: To resume a run: the results of the first ``len(restored)`` steps, which
                completed in an earlier attempt (``None`` for one that was skipped). They are not
                run again; their results go to ``context.step_results``, progress starts after
                them, and a failure rolls them back (under the ``rollback`` policy) with these
                results, like steps of this run. Their undo actions are not known here.
            retry_listener: Called after each failed attempt that will be retried, once its
                undo actions ran: ``(name, attempt number, its exception, seconds to wait)``.

        Returns:
            ``{'success': True, 'steps_executed': ..., 'steps_total': ..., 'steps_skipped': ...}``.

        Raises:
            StepFailedError: a step failed; completed steps were rolled back first.
            RuntimeError: the orchestrator is already running.
            FlowError: a step requires a context field that no earlier step provides and that
                is not an input (see docs/data-flow.md); raised before the first step runs.
        """
        if self._running:
            raise RuntimeError("this orchestrator is already running; execute() is not re-entrant")
        self._running = True
        try:
            # The snapshot is not kept in locals: the weights list is garbage once the run has
            # its cumulative shares, and every live list of N items lengthens each GC pass.
            steps, names, plan = self.registry._for_run(_ProgressPlan)
            # The declared data flow of exactly the steps that will run, checked before any of
            # them does: nothing to roll back (FlowError).
            check_flow(steps, type(self.context), self.registry.inputs, kinds=plan.kinds)
            if self.retries or self.time_limits:
                steps = self._with_limits(steps, names)
            run = _Run(steps, names, plan, self.context, self.progress_callback, self.check_fields)
            run.rollback_listener = rollback_listener
            run.keep_completed = self.on_failure == "keep"
            run.retries = self.retries
            run.retry_listener = retry_listener
            if restored:
                run.restore(restored)
            return run.run(commit)
        finally:
            self._running = False


    def _with_limits(self, steps: list[BaseStep[C]], names: tuple[str, ...]) -> list[BaseStep[C]]:
        """``steps`` with the time-limited ones wrapped; names given for no step are refused."""
        unknown = sorted((self.retries.keys() | self.time_limits.keys()) - set(names))
        if unknown:
            raise ValueError(f"retries or time limits name steps this registry does not have: {', '.join(unknown)}")
        if not self.time_limits:
            return steps
        order_of = {name: order for order, name in enumerate(names)}
        for name, seconds in self.time_limits.items():
            steps[order_of[name]] = TimeLimitStep(steps[order_of[name]], seconds)
        return steps


class _StepFailure(Exception):
    """Internal: the current step failed with ``result`` (and maybe an exception)."""

    def __init__(self, result: StepResult, cause: BaseException | None) -> None:
        self.result = result
        self.cause = cause


# What a retried attempt that skipped the step returns as its result (never recorded).
_SKIPPED: Final = StepResult(skipped=True)


def _name_of(error: BaseException) -> str:
    """``SystemExit(3)`` for an exit with a code, else the exception's type name."""
    if isinstance(error, SystemExit) and error.code is not None:
        return f"SystemExit({error.code!r})"
    return type(error).__name__


def _describe(error: BaseException) -> str:
    """The exception's text, or its type name when it has none or its ``__str__`` raises."""
    try:
        text = str(error)
    except Exception as broken:
        return f"{type(error).__name__} (its message could not be read: {type(broken).__name__})"
    return text or type(error).__name__


class _ProgressPlan:
    """What a run needs to report weighted progress, computed from the weights alone, and the
    steps' classes in order of first occurrence (for the data-flow check, see ``check_flow``).

    Read-only once made, so the registry keeps one per state of its steps and every run until
    the next change shares it (see ``StepRegistry._for_run``): at 1 000 steps, computing
    it cost about as much as running the steps.
    """

    __slots__ = ("accumulated", "kinds", "milestones", "total")

    def __init__(self, steps: Sequence[object], weights: list[float]) -> None:
        self.kinds: tuple[type, ...] = tuple(dict.fromkeys(map(type, steps)))
        self.total = math.fsum(weights)
        cumulative: list[float]
        if self.total > 0:
            cumulative = list(accumulate(weights))
        else:  # every weight is 0: equal shares
            cumulative = [float(order) for order in range(1, len(weights) + 1)]
            self.total = float(len(weights))
        # The list is searched (bisect compares list items without boxing) and dropped; the plan
        # keeps an array, which is not a GC container, so the collections that a run's
        # allocations trigger do not walk N floats (read by step_progress).
        self.milestones = self._milestones(cumulative)
        self.accumulated = array("d", cumulative)

    def _milestones(self, cumulative: list[float]) -> tuple[tuple[int, int], ...]:
        """``(order, percent)`` pairs: after step ``order`` the overall figure reaches ``percent``.

        At most 100 pairs, so the run loop compares one integer per step instead of computing a
        percentage per step.
        """
        count = len(cumulative)
        if count == 0:
            return ()
        last = count - 1
        by_order: dict[int, int] = {}
        if count <= _TOTAL:
            for order, reached in enumerate(cumulative[:last]):
                by_order[order] = min(int(reached / self.total * _TOTAL + _EPSILON), _TOTAL - 1)
        else:  # one search per percent beats one percentage per step
            for percent in range(1, _TOTAL):
                order = bisect_left(cumulative, (percent - _EPSILON) * self.total / _TOTAL)
                if order < last:
                    by_order[order] = percent
        by_order[last] = _TOTAL  # only a finished run reports 100
        return tuple(sorted((order, percent) for order, percent in by_order.items() if percent > 0))


def _typed(error: BaseException) -> str:
    """``KeyError: 'a'``: what a step raised, led by its type (``'a'`` alone says nothing)."""
    text, name = _describe(error), type(error).__name__
    return text if text.startswith(name) else f"{name}: {text}"


class _Run[C: BaseStepContext]:
    """The bookkeeping of one ``execute()``; also what the context calls while a step runs."""

    def __init__(
        self,
        steps: list[BaseStep[C]],
        names: tuple[str, ...],
        plan: _ProgressPlan,
        context: C,
        callback: ProgressCallback,
        check_fields: bool,
    ) -> None:
        self.steps = steps
        self.names = names
        self.context = context
        self.callback = callback
        self.check_fields = check_fields
        self.total = plan.total
        self.accumulated = plan.accumulated
        self.milestones = plan.milestones
        self.reported = 0
        self.reporting_overall = False
        # One slot per step that ran or was skipped: its result, or None when skipped.
        self.completed: list[StepResult | None] = []
        self.undos: dict[int, list[tuple[str, Undo]]] = {}
        self.rollback_listener: RollbackListener | None = None
        # The 'keep' failure policy: a failure undoes only the failed step's own partial work.
        self.keep_completed = False
        # A resumed run starts at this position; the steps before it were restored.
        self.start = 0
        # Retry policies by step name, and who hears of each retry.
        self.retries: Mapping[str, RetryPolicy] | None = None
        self.retry_listener: RetryListener | None = None

    # -- the context's view of the run (see _context._ActiveRun) --------------------------------

    def step_progress(self, current: int, total: int) -> None:
        order = self.context.current_step_order
        if total <= 0 or order is None:
            return
        before = self.accumulated[order - 1] if order > 0 else 0.0
        share = self.accumulated[order] - before
        fraction = 1.0 if current >= total else current / total  # no float overflow for huge counts
        percent = int((before + share * fraction) / self.total * _TOTAL + _EPSILON)
        self._report(min(percent, _TOTAL - 1))

    def add_undo(self, undo: Undo, label: str) -> None:
        order = self.context.current_step_order
        assert order is not None  # the context only lends the run while a step executes
        self.undos.setdefault(order, []).append((label, undo))

    def restore(self, restored: Sequence[StepResult | None]) -> None:
        """Take the first ``len(restored)`` steps as completed by an earlier attempt."""
        if len(restored) > len(self.steps):
            raise ValueError(f"{len(restored)} restored results for a run of {len(self.steps)} steps")
        self.start = len(restored)
        self.completed.extend(restored)
        self.context.step_results.extend(StepResult(skipped=True) if r is None else r for r in restored)

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

    def run(self, commit: Callable[[RunSummary], None] | None = None) -> RunSummary:
        # The hot loop: per step it does only what the contract needs, with look-ups hoisted
        # into locals (measured by benchmarks/bench_orchestrator.py).
        #
        # Everything from the first step to the commit sits inside one ``try``: whatever is
        # raised at whichever instruction (a step's exception, the progress callback, a signal
        # landing between two steps or after the last one) rolls back every completed step.
        context = self.context
        # Bookkeeping is not a user assignment: write the instance dict, skipping validation.
        fields = context.__dict__
        # A nested run (an inner orchestrator on the same context, started by a step) hands the
        # outer step its run, name and position back when it ends.
        outer = (fields.get("_active_run"), fields.get("current_step"), fields.get("current_step_order"))
        names = self.names
        results = context.step_results
        add_result = results.append
        add_completed = self.completed.append
        check_fields = self.check_fields
        milestones = iter(self.milestones)
        next_order, next_percent = next(milestones, (-1, 0))
        start = self.start
        skipped = self.completed.count(None)  # restored skipped steps (none in a first run)
        skipped_before = skipped
        order = max(start - 1, 0)  # names the last restored step if the loop has nothing to run
        passed = 0  # a resumed run: progress picks up after the restored steps
        while -1 < next_order < start:
            passed = next_percent
            next_order, next_percent = next(milestones, (-1, 0))
        fields["_active_run"] = self
        try:
            try:
                if passed:
                    self._report(passed)
                for order, step in islice(enumerate(self.steps), start, None):
                    fields["current_step"] = names[order]
                    fields["current_step_order"] = order
                    try:
                        skip = step.can_skip(context)
                        if not skip:
                            result = step.execute(context)
                    except Exception as error:
                        # The failure path alone looks for a retry policy: a run without
                        # failures pays nothing for retries.
                        policy = self._retry_policy(order, step, error)
                        if policy is None:
                            failed = StepResult(success=False, error=_typed(error))
                            add_result(failed)
                            raise _StepFailure(failed, error) from error
                        try:
                            skip, result = self._attempt_again(order, step, error, policy)
                        except Exception as last:
                            failed = StepResult(success=False, error=_typed(last))
                            add_result(failed)
                            raise _StepFailure(failed, last) from last
                        except BaseException as interrupt:
                            add_result(StepResult(success=False, error=f"interrupted: {_name_of(interrupt)}"))
                            raise
                    except BaseException as interrupt:
                        add_result(StepResult(success=False, error=f"interrupted: {_name_of(interrupt)}"))
                        raise
                    if skip:
                        add_result(StepResult(skipped=True))
                        add_completed(None)
                        skipped += 1
                    elif type(result) is StepResult and result._more is None and not check_fields:
                        # The common case, without a call: a plain success (see _result).
                        add_result(result)
                        add_completed(result)
                    else:
                        self._check_result(result, results)
                        add_completed(result)
                    if order == next_order:
                        self._report(next_percent)
                        next_order, next_percent = next(milestones, (-1, 0))
                if not self.steps:
                    self._report(_TOTAL)
                summary: RunSummary = {
                    "success": True,
                    # This attempt's steps only: a resume's restored steps are in neither count.
                    "steps_executed": len(self.steps) - start - (skipped - skipped_before),
                    "steps_total": len(self.steps),
                    "steps_skipped": skipped - skipped_before,
                }
                if commit is not None:
                    try:
                        commit(summary)
                    except Exception as error:
                        raise _StepFailure(
                            StepResult(success=False, error=f"the run could not be committed: {_describe(error)}"),
                            error,
                        ) from error
                return summary
            except _StepFailure as failure:
                raise self._fail(order, failure) from failure.cause
            except Exception as error:  # the progress callback raised
                if not self.steps:
                    raise  # nothing to roll back and no step to name: documented as passed through
                callback_failure = _StepFailure(
                    StepResult(success=False, error=f"progress callback raised: {_describe(error)}"), error
                )
                raise self._fail(order, callback_failure) from error
            except BaseException as interrupt:
                report = self._roll_back(order)
                interrupt.add_note(_interrupt_note(self._name_at(order), report))
                raise
        finally:
            fields["_active_run"], fields["current_step"], fields["current_step_order"] = outer

    def _retry_policy(self, order: int, step: BaseStep[C], error: Exception) -> RetryPolicy | None:
        """The policy under which ``error`` gets the step another attempt, if any: the run's
        policy for the step's name, else the step's own ``retry_policy`` (looked for through
        wrapper steps)."""
        policy = self.retries.get(self.names[order]) if self.retries else None
        found: object = step
        while policy is None and found is not None:
            declared = getattr(found, "retry_policy", None)
            if isinstance(declared, RetryPolicy):
                policy = declared
            found = getattr(found, "_wrapped", None)
        if policy is None or policy.attempts < 2 or not policy.retries(error):
            return None
        return policy

    def _attempt_again(
        self, order: int, step: BaseStep[C], first: Exception, policy: RetryPolicy
    ) -> tuple[bool, StepResult]:
        """Attempts 2 and later of step ``order`` after its first attempt raised ``first``:
        ``(skip, result)`` of the attempt that returned, or the last attempt's exception. Each
        attempt is ``can_skip`` then ``execute``; between two, the failed attempt's undo actions
        run (an undo that fails stops the retries) and the listener hears of the retry."""
        from ._retry import run_attempts

        context = self.context
        fields = context.__dict__
        unseen: list[Exception] = [first]  # tenacity counts the first attempt: it re-raises this

        def attempt() -> tuple[bool, StepResult]:
            if unseen:
                raise unseen.pop()
            fields["current_step"] = self.names[order]
            fields["current_step_order"] = order
            skip = step.can_skip(context)
            return skip, _SKIPPED if skip else step.execute(context)

        def between(number: int, error: BaseException, wait: float) -> None:
            report = RollbackReport()
            self._run_undos(order, report)
            if report.failures:
                raise RuntimeError(f"an undo action failed between attempts: {report.failures[0].error}")
            if self.retry_listener is not None:
                self.retry_listener(self.names[order], number, error, wait)

        return run_attempts(policy, attempt, between)

    def _name_at(self, order: int) -> str:
        return self.names[order] if self.names else "(no steps)"

    def _check_result(self, result: StepResult, results: list[StepResult]) -> None:
        """Record what ``execute`` returned; raise _StepFailure unless it is a successful result."""
        returned: object = result  # untyped callers can return anything
        if not isinstance(returned, StepResult):
            failed = StepResult(
                success=False,
                error=f"execute() returned {type(returned).__name__}, expected a StepResult",
            )
            results.append(failed)
            raise _StepFailure(failed, None)
        results.append(result)
        if not result.success:
            raise _StepFailure(result, None)
        if self.check_fields:
            try:
                self.context.check_fields()
            except Exception as error:
                failed = StepResult(
                    success=False,
                    error=f"context check after the step: {_describe(error)}",
                    data=result.data,
                    rollback_data=result.rollback_data,
                )
                results[-1] = failed
                raise _StepFailure(failed, error) from error

    def _fail(self, order: int, failure: _StepFailure) -> StepFailedError:
        name = self._name_at(order)
        error = failure.result.error or "returned a failed StepResult without an error message"
        self.context.errors.append(f"Step '{name}' failed: {error}")
        report = self._roll_back(order)
        failed_result = failure.result
        if failed_result.error is None:
            failed_result = StepResult(
                success=False, error=error, data=failed_result.data, rollback_data=failed_result.rollback_data
            )
        return StepFailedError(name, failed_result, report)

    def _roll_back(self, failed_order: int) -> RollbackReport:
        """Undo the failed step's registered work, then every completed step, newest first.

        A ``BaseException`` (a second signal) that stops it is recorded as a ``stopped: ...``
        entry of the step it cut short, told to the listener, and re-raised.
        """
        report = RollbackReport()
        items = report._items
        note_rolled_back = items.append  # a name stands for a rollback that worked
        listener = self.rollback_listener
        completed = self.completed
        undos = self.undos
        if len(completed) <= failed_order and failed_order in undos:  # the failed step did not complete
            first = len(items)
            finished = False
            try:
                self._run_undos(failed_order, report)
                finished = True
            except BaseException as stop:
                self._note_stop(report, self.names[failed_order], first, stop)
                raise
            finally:  # finished or stopped, the listener hears what was done
                if listener is not None:
                    self._tell(listener, failed_order, report, first, finished)
        if self.keep_completed:
            return report
        # A tight loop: a failure's rollback is measured (benchmarks/bench_orchestrator.py).
        context = self.context
        fields = context.__dict__
        names = self.names
        steps = self.steps
        for order in range(len(completed) - 1, -1, -1):
            result = completed[order]
            if result is None:  # skipped steps did nothing to undo
                continue
            name = names[order]
            fields["current_step"] = name
            fields["current_step_order"] = order
            first = len(items)
            # Set only once the step's rollback and every undo of it ran: a signal landing
            # anywhere before (in the step's code or in this loop's) leaves the step not rolled back.
            finished = False
            try:
                try:
                    steps[order].rollback(context, result)
                except Exception as error:
                    self._record(report, RollbackEntry(name, "rollback", name, error_text(error)))
                else:
                    note_rolled_back(name)
                if undos and order in undos:
                    self._run_undos(order, report)
                finished = True
            except BaseException as stop:
                self._note_stop(report, name, first, stop)
                raise
            finally:
                if listener is not None:
                    self._tell(listener, order, report, first, finished)
        return report

    def _note_stop(self, report: RollbackReport, name: str, first: int, stop: BaseException) -> None:
        """Record that ``stop`` cut step ``name``'s rollback short, unless an undo already said so."""
        if not any(entry.error is not None and entry.error.startswith(STOPPED) for entry in report.entries[first:]):
            self._record(report, RollbackEntry(name, "rollback", name, f"{STOPPED}{error_text(stop)}"))

    def _tell(
        self, listener: RollbackListener, order: int, report: RollbackReport, first: int, finished: bool
    ) -> None:
        listener(self.names[order], report.entries[first:], finished)

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
                self._record(report, RollbackEntry(name, "undo", label, error_text(error)))
            except BaseException as stop:
                self._record(report, RollbackEntry(name, "undo", label, f"{STOPPED}{error_text(stop)}"))
                raise
            else:
                report._items.append(RollbackEntry(name, "undo", label))  # not ``entries``: no read

    def _enter(self, order: int) -> None:
        fields = self.context.__dict__
        fields["current_step"] = self.names[order]
        fields["current_step_order"] = order

    def _record(self, report: RollbackReport, entry: RollbackEntry) -> None:
        report._items.append(entry)
        what = "Rollback" if entry.kind == "rollback" else f"Undo {entry.label!r}"
        self.context.errors.append(f"{what} of step '{entry.step}' failed: {entry.error}")


def checked_policy(value: object) -> FailurePolicy:
    """``value`` if it is a :data:`FailurePolicy`, else a ``ValueError`` naming the choices."""
    for policy in FAILURE_POLICIES:
        if value == policy:
            return policy
    raise ValueError(f"on_failure must be one of {', '.join(map(repr, FAILURE_POLICIES))}, got {value!r}")


def error_text(error: BaseException) -> str:
    """``'<ExceptionType>: <text>'``, even for an exception whose ``__str__`` raises."""
    try:
        text = str(error)
    except Exception:
        text = "(its message could not be read)"
    return f"{type(error).__name__}: {text}"


def _interrupt_note(step_name: str, report: RollbackReport) -> str:
    failures = len(report.failures)
    return (
        f"steprail: interrupted during step '{step_name}'; rolled back "
        f"{len(report.rolled_back_steps)} completed step(s), {failures} rollback error(s)"
    )




#: The code of the orchestrator's rollback: a signal handler that finds it on the stack knows a
#: rollback is under way (see ``steprail.actions.CancellationGuard``).
ROLLBACK_CODES: Final = frozenset({_Run._roll_back.__code__})
# A time limit lets these finish (a failed run's rollback, the undo actions between attempts).
_TIME_LIMIT_SPARES.update({_Run._roll_back.__code__, _Run._run_undos.__code__})
