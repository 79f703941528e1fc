"""Invariant checks over a recorded run.

Each check reads a :class:`~steprail.testing.RunRecord` and raises :class:`InvariantViolation`
(an ``AssertionError``) naming the invariant that broke, what was expected, what happened, and the
run's full trace. :func:`check_invariants` runs them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import accumulate
from typing import Final

from .._context import BaseStepContext
from .._errors import StepFailedError
from .._result import StepResult
from ._trace import RunRecord

__all__ = [
    "INVARIANTS",
    "InvariantViolation",
    "check_current_step",
    "check_errors",
    "check_invariants",
    "check_order",
    "check_progress",
    "check_results",
    "check_rollback",
]

_TOTAL = 100
_EPSILON = 1e-7  # the orchestrator's allowance for float sums such as 0.7 + 0.1


class InvariantViolation(AssertionError):
    """A recorded run broke an invariant.

    Attributes:
        invariant: The invariant's name (a key of :data:`INVARIANTS`).
        detail: What was expected and what happened.
        record: The run.
    """

    def __init__(self, invariant: str, detail: str, record: RunRecord[BaseStepContext]) -> None:
        super().__init__(
            f"invariant {invariant!r} broken: {detail}\n"
            f"({INVARIANTS[invariant][0]})\nrun trace:\n{record.format_trace()}"
        )
        self.invariant = invariant
        self.detail = detail
        self.record = record


def _fail(invariant: str, detail: str, record: RunRecord[BaseStepContext]) -> InvariantViolation:
    return InvariantViolation(invariant, detail, record)


def check_order(record: RunRecord[BaseStepContext]) -> None:
    """Steps start in registry order, each at most once, and none starts after the failed one.

    A successful run starts every step; a step that is not skipped is executed right after it
    was asked whether to skip.
    """
    attempted = record.attempted
    names = list(record.step_names)
    if attempted != names[: len(attempted)]:
        raise _fail("order", f"steps started in order {attempted!r}, expected a prefix of {names!r}", record)
    if record.succeeded and attempted != names:
        raise _fail("order", f"the run succeeded but only started {attempted!r} of {names!r}", record)
    executed = [e.step for e in record.events if e.kind == "execute"]
    expected = [name for name in attempted if name not in record.skipped]
    failed = record.failed_step
    if any(e.kind == "raised" and e.step == failed and e.detail.startswith("from can_skip") for e in record.events):
        expected = expected[:-1]  # the failed step's can_skip raised, so it never executed
    if executed != expected:
        raise _fail("order", f"executed {executed!r}, expected every started, unskipped step {expected!r}", record)


def _callback_failed_after_step(record: RunRecord[BaseStepContext], step: str) -> bool:
    """Whether the progress callback raised after ``step`` had finished (returned a successful
    result or was skipped): the run fails at that step, but the step itself did not fail."""
    finished = False
    for event in record.events:
        if event.step != step:
            continue
        if event.kind == "returned":
            finished = event.ok
        elif event.kind == "skipped":
            finished = True
        elif event.kind == "callback_raised" and finished:
            return True
    return False


def _expected_rolled_back(record: RunRecord[BaseStepContext]) -> list[str]:
    if record.succeeded:
        return []
    failed = record.failed_step
    completed = [name for name in record.completed if name != failed]
    if failed in record.completed and _callback_failed_after_step(record, failed):
        completed.append(failed)  # it completed; the run failed afterwards, in the callback
    return completed[::-1]


def check_rollback(record: RunRecord[BaseStepContext]) -> None:
    """On failure exactly the completed, not skipped steps are rolled back, once each, newest first.

    Nothing is rolled back after a success, the failed step's ``rollback`` is not called, and
    every undo action a step registered runs exactly once, newest first: the failed step's
    before any rollback, a completed step's right after its ``rollback``.
    """
    expected = _expected_rolled_back(record)
    actual = record.rolled_back
    if actual != expected:
        seen: dict[str, int] = {}
        for name in actual:
            seen[name] = seen.get(name, 0) + 1
        twice = sorted(name for name, count in seen.items() if count > 1)
        why = f" (rolled back more than once: {twice!r})" if twice else ""
        outcome = "succeeded" if record.succeeded else f"failed at {record.failed_step!r}"
        raise _fail(
            "rollback",
            f"the run {outcome}; rolled back {actual!r}{why}, expected {expected!r} "
            "(the completed steps, newest first)",
            record,
        )
    registered: dict[str | None, list[str]] = {}
    for event in record.events:
        if event.kind == "undo_registered":
            registered.setdefault(event.step, []).append(event.detail)
    plan: list[tuple[str, str | None, str]] = []
    if not record.succeeded:
        failed = record.failed_step
        if failed not in expected:
            plan += [("undo", failed, label) for label in reversed(registered.get(failed, []))]
        for name in expected:
            plan.append(("rollback", name, ""))
            plan += [("undo", name, label) for label in reversed(registered.get(name, []))]
    done = [
        (e.kind, e.step, e.detail if e.kind == "undo" else "")
        for e in record.events
        if e.kind in ("rollback", "undo")
    ]
    if done != plan:
        raise _fail("rollback", f"compensation ran as {done!r}, expected {plan!r}", record)


def _boundaries(weights: tuple[float, ...]) -> list[int]:
    """The overall value reported once each step is done (the same arithmetic as the run)."""
    total = sum(weights)
    if not weights:
        return []
    shares = [w / total for w in weights] if total > 0 else [1.0 / len(weights)] * len(weights)
    values = [min(int(c * _TOTAL + _EPSILON), _TOTAL - 1) for c in accumulate(shares)]
    values[-1] = _TOTAL
    return values


def check_progress(record: RunRecord[BaseStepContext]) -> None:
    """Progress is ``(current, 100)``, rises strictly within [0, 100], and ends at one ``(100, 100)``
    exactly when the run succeeds.

    Each step moves it only within its own share (weights normalised by their total, equal shares
    when it is 0), and once a step is done the figure is exactly the end of its share.
    """
    values = record.progress_values
    totals = sorted({total for _, total in record.progress})
    if totals and totals != [_TOTAL]:
        raise _fail("progress", f"totals {totals!r} reported, expected only {_TOTAL}", record)
    outside = [v for v in values if not 0 <= v <= _TOTAL]
    if outside:
        raise _fail("progress", f"values outside [0, 100]: {outside!r}", record)
    for before, after in zip(values, values[1:]):
        if after <= before:
            what = "repeated" if after == before else "went down"
            raise _fail("progress", f"progress {what}: {before} then {after} in {values!r}", record)
    hundreds = values.count(_TOTAL)
    if record.succeeded and (not values or values[-1] != _TOTAL or hundreds != 1):
        raise _fail("progress", f"a successful run reported {values!r}; it must end with one 100", record)
    if not record.succeeded and hundreds:
        callback_refused = any(e.kind == "callback_raised" for e in record.events)
        if not (callback_refused and values[-1] == _TOTAL and hundreds == 1):
            raise _fail("progress", f"a failed run reported 100: {values!r}", record)
    _check_shares(record)


def _check_shares(record: RunRecord[BaseStepContext]) -> None:
    boundaries = _boundaries(record.weights)
    order = {name: index for index, name in enumerate(record.step_names)}
    done: set[str] = set(record.completed) | set(record.skipped)
    reached = 0
    current_step: str | None = None
    for event in record.events:
        if event.kind in ("can_skip", "rollback") and current_step is not None:
            _check_step_end(record, current_step, reached, boundaries[order[current_step]], done)
            current_step = None
        if event.kind == "can_skip" and event.step is not None:
            current_step = event.step
        if event.kind == "progress" and event.value is not None and event.step in order:
            index = order[event.step]
            low = boundaries[index - 1] if index else 0
            if not low <= event.value <= boundaries[index]:
                raise _fail(
                    "progress",
                    f"{event.value} reported during step {event.step!r}, outside its share "
                    f"[{low}, {boundaries[index]}]",
                    record,
                )
            reached = event.value
    if current_step is not None and record.succeeded:
        _check_step_end(record, current_step, reached, boundaries[order[current_step]], done)


def _check_step_end(
    record: RunRecord[BaseStepContext], step: str, reached: int, boundary: int, done: set[str]
) -> None:
    if step != record.failed_step and step in done and reached != boundary and boundary > 0:
        raise _fail(
            "progress",
            f"after step {step!r} the run reported {reached}, expected exactly {boundary} "
            "(the end of its share of the total weight)",
            record,
        )


def check_results(record: RunRecord[BaseStepContext]) -> None:
    """``context.step_results`` has one entry per started step, in order: ``skipped`` for a
    skipped step, the very result a completed step returned, a failed result for the failed step."""
    results = record.context.step_results[record.results_before :]
    attempted = record.attempted
    if len(results) != len(attempted):
        raise _fail(
            "results",
            f"{len(results)} step result(s) for {len(attempted)} started step(s) {attempted!r}",
            record,
        )
    skipped = set(record.skipped)
    failed = record.failed_step
    for name, result in zip(attempted, results):
        if result.skipped != (name in skipped):
            raise _fail("results", f"result of {name!r} has skipped={result.skipped}", record)
        if name == failed and not _callback_failed_after_step(record, failed):
            if result.success:
                raise _fail("results", f"the failed step {name!r} has a successful result", record)
        elif name not in skipped and record.returned.get(name) is not result:
            raise _fail("results", f"result of {name!r} is not the StepResult its execute returned", record)


def _rollback_failures(record: RunRecord[BaseStepContext]) -> list[tuple[str, str]]:
    return [
        ("rollback" if e.kind == "rollback_raised" else "undo", e.step or "")
        for e in record.events
        if e.kind in ("rollback_raised", "undo_raised")
    ]


def check_errors(record: RunRecord[BaseStepContext]) -> None:
    """A failure raises :class:`~steprail.StepFailedError` naming the step (``BaseException``\\s
    such as ``KeyboardInterrupt`` are re-raised unchanged instead); ``context.errors`` gets the
    failure and one line per failed rollback, which the error's rollback report lists too.
    A successful run adds no error. A workflow without steps has no step to blame: when its
    progress callback raises, that exception comes through unchanged."""
    context = record.context
    new_errors = context.errors[record.errors_before :]
    if record.succeeded:
        summary: dict[str, object] = dict(record.summary or {})
        if new_errors:
            raise _fail("errors", f"a successful run recorded errors {new_errors!r}", record)
        executed = len(record.step_names) - len(record.skipped)
        wanted = {"success": True, "steps_executed": executed, "steps_total": len(record.step_names),
                  "steps_skipped": len(record.skipped)}
        if summary != wanted:
            raise _fail("errors", f"execute() returned {summary!r}, expected {wanted!r}", record)
        return
    error, failed = record.error, record.failed_step
    failures = _rollback_failures(record)
    step_error = record.raised.get(failed) if failed is not None else None
    if not record.step_names:
        # No step to name: the orchestrator lets the progress callback's error through as is.
        if error is None or error is not record.callback_error:
            raise _fail("errors", f"a run without steps failed with {error!r}, not its callback's error", record)
    elif isinstance(error, StepFailedError):
        _check_step_failed(record, error, failed, step_error, new_errors, failures)
    elif step_error is not None and not isinstance(step_error, Exception):
        if error is not step_error:
            raise _fail("errors", f"step {failed!r} raised {step_error!r} but the run raised {error!r}", record)
        if len(new_errors) != len(failures):
            raise _fail(
                "errors",
                f"{len(failures)} rollback failure(s) but context.errors got {new_errors!r}",
                record,
            )
    else:
        raise _fail("errors", f"the failed run raised {error!r}, expected a StepFailedError", record)


def _check_step_failed(
    record: RunRecord[BaseStepContext],
    error: StepFailedError,
    failed: str | None,
    step_error: BaseException | None,
    new_errors: list[str],
    failures: list[tuple[str, str]],
) -> None:
    if error.step_name != failed:
        raise _fail("errors", f"StepFailedError names {error.step_name!r}, the run failed at {failed!r}", record)
    result: StepResult = error.result
    message = f"Step '{failed}' failed: {result.error}"
    if str(error) != message or result.success or not result.error:
        raise _fail("errors", f"error message {str(error)!r}, expected {message!r} with a failed result", record)
    if step_error is not None and isinstance(step_error, Exception) and error.__cause__ is not step_error:
        raise _fail("errors", f"__cause__ is {error.__cause__!r}, expected the step's {step_error!r}", record)
    if not new_errors or new_errors[0] != message:
        raise _fail("errors", f"context.errors got {new_errors!r}; its first new entry must be {message!r}", record)
    reported = [(entry.kind, entry.step) for entry in error.rollback_report.failures]
    if reported != failures:
        raise _fail("errors", f"rollback report lists failures {reported!r}, the trace shows {failures!r}", record)
    extra = new_errors[1:]
    if len(extra) != len(failures) or any(f"step '{step}'" not in line for (_, step), line in zip(failures, extra)):
        raise _fail("errors", f"failed rollbacks {failures!r} but context.errors got {extra!r}", record)


def check_current_step(record: RunRecord[BaseStepContext]) -> None:
    """``context.current_step`` and ``current_step_order`` are ``None`` after the run."""
    context = record.context
    if context.current_step is not None or context.current_step_order is not None:
        raise _fail(
            "current_step",
            f"after the run current_step={context.current_step!r}, "
            f"current_step_order={context.current_step_order!r}",
            record,
        )


type _Check = Callable[[RunRecord[BaseStepContext]], None]

INVARIANTS: Final[dict[str, tuple[str, _Check]]] = {
    "order": ("steps start in registry order, each at most once, none after the failed one", check_order),
    "rollback": (
        "on failure exactly the completed, unskipped steps are rolled back once each, newest first; "
        "nothing after success",
        check_rollback,
    ),
    "progress": (
        "progress rises strictly within [0, 100] inside each step's share and ends at one "
        "(100, 100) exactly when the run succeeds",
        check_progress,
    ),
    "results": ("context.step_results holds one result per started step", check_results),
    "errors": (
        "a failure raises StepFailedError (interrupts re-raised unchanged) and every error and failed "
        "rollback is recorded",
        check_errors,
    ),
    "current_step": ("context.current_step is None after the run", check_current_step),
}
"""Every invariant by name: its one-line meaning and its check."""


def check_invariants(record: RunRecord[BaseStepContext], *, skip: Iterable[str] = ()) -> None:
    """Run every check in :data:`INVARIANTS` (except those named in ``skip``) on ``record``.

    Raises:
        InvariantViolation: the first invariant that broke.
        ValueError: ``skip`` names an unknown invariant.
    """
    skipped = set(skip)
    unknown = sorted(skipped - INVARIANTS.keys())
    if unknown:
        raise ValueError(f"unknown invariant(s) {unknown!r}; known: {sorted(INVARIANTS)!r}")
    for name, (_, check) in INVARIANTS.items():
        if name not in skipped:
            check(record)
