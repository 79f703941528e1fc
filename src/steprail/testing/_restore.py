"""Proving that rollback restores state: :func:`assert_rollback_restores`.

For each fault point the user's real workflow runs with a failure injected; a snapshot is taken
before each step runs and again once each step has been compensated (its ``rollback`` and its undo
actions), so a leak is pinned on the one step whose compensation left state behind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .._context import BaseStepContext
from .._orchestrator import ProgressCallback
from .._registry import StepRegistry
from ._faults import FaultKind, FaultPlan, fault_points, inject_faults
from ._invariants import check_invariants
from ._snapshots import diff_snapshots
from ._trace import RunRecord, TraceEvent, record_run

__all__ = ["RollbackLeak", "assert_rollback_restores", "check_fault_point"]


class RollbackLeak(AssertionError):
    """A fault point's rollback did not restore the snapshot.

    Attributes:
        plan: The fault point.
        step: The step whose compensation left state behind (``None`` if no single step could be
            blamed).
        difference: How the state differs (see :func:`~steprail.testing.diff_snapshots`).
        record: The run.
    """

    def __init__(
        self,
        plan: FaultPlan,
        step: str | None,
        difference: str,
        record: RunRecord[BaseStepContext],
        *,
        headline: str | None = None,
    ) -> None:
        if headline is None:
            if step is None:
                headline = "the state after rollback differs from the state before the run"
            elif step == plan.step and plan.point == "after":
                headline = (
                    f"step {step!r} failed after its own work and did not undo it: a failed step's "
                    "rollback() is not called, so its undo must be registered with context.on_rollback()"
                )
            else:
                headline = f"rollback of step {step!r} left state behind"
        super().__init__(
            f"{headline}\nfault point: {plan.describe()}\n"
            f"difference:\n{difference}\nrun trace:\n{record.format_trace()}"
        )
        self.plan = plan
        self.step = step
        self.difference = difference
        self.record = record


@dataclass(slots=True)
class _Watch[S]:
    """Snapshots taken while one fault point runs."""

    snapshot: Callable[[], S]
    before_step: dict[str, S]
    pending: str | None = None  # the step being compensated (or the last one started)
    leak: tuple[str, S, S] | None = None
    problem: str | None = None

    def settle(self) -> None:
        """The pending step is compensated: the state must be as it was before that step ran."""
        if self.pending is None or self.leak is not None:
            return
        expected = self.before_step[self.pending]
        now = self.snapshot()
        if now != expected:
            self.leak = (self.pending, expected, now)

    def observe(self, event: TraceEvent, context: BaseStepContext) -> None:
        if self.problem is not None or event.step is None:
            return
        try:
            if event.kind == "can_skip":
                self.before_step[event.step] = self.snapshot()
                self.pending = event.step
            elif event.kind == "rollback" and event.step != self.pending:
                self.settle()
                self.pending = event.step
        except Exception as error:  # noqa: BLE001 - raising here would look like a rollback failure
            self.problem = f"snapshot() raised {type(error).__name__}: {error} (at: {event})"


def check_fault_point[C: BaseStepContext, S](
    build_registry: Callable[[], StepRegistry[C]],
    make_context: Callable[[], C],
    snapshot: Callable[[], S],
    plan: FaultPlan,
    *,
    invariants: bool = True,
    progress_callback: ProgressCallback | None = None,
) -> RunRecord[C]:
    """Run one fault point and check that rollback restored ``snapshot()``.

    Returns:
        The run's record, when everything held.

    Raises:
        RollbackLeak: the state after rollback differs, or a rollback raised.
        InvariantViolation: the run broke an invariant (with ``invariants=True``).
        AssertionError: the workflow failed before the fault was reached, or ``snapshot`` raised.
    """
    registry = build_registry()
    context = make_context()
    initial = snapshot()
    watch: _Watch[S] = _Watch(snapshot, {})
    record = record_run(
        inject_faults(registry, plan), context, observer=watch.observe, progress_callback=progress_callback
    )
    if watch.problem is None:
        try:
            watch.settle()
            final = snapshot()
        except Exception as error:  # noqa: BLE001 - reported below with the fault point
            watch.problem = f"snapshot() raised {type(error).__name__}: {error} (after the run)"
    if watch.problem is not None:
        raise AssertionError(f"{watch.problem}\nfault point: {plan.describe()}")
    if record.succeeded or record.failed_step != plan.step:
        what = "succeeded" if record.succeeded else f"failed at step {record.failed_step!r} ({record.error!r})"
        raise AssertionError(
            f"the workflow {what} before the injected fault was reached\nfault point: {plan.describe()}\n"
            f"run trace:\n{record.format_trace()}"
        )
    if invariants:
        check_invariants(record)
    for event in record.events:
        if event.kind in ("rollback_raised", "undo_raised") and event.step not in plan.failing_rollbacks:
            raise RollbackLeak(
                plan,
                event.step,
                f"({event.kind.replace('_', ' ')}: {event.detail})",
                record,
                headline=f"rollback of step {event.step!r} raised: {event.detail}",
            )
    if watch.leak is not None:
        step, expected, now = watch.leak
        raise RollbackLeak(plan, step, diff_snapshots(expected, now), record)
    if final != initial:
        raise RollbackLeak(plan, None, diff_snapshots(initial, final), record)
    return record


def assert_rollback_restores[C: BaseStepContext, S](
    build_registry: Callable[[], StepRegistry[C]],
    make_context: Callable[[], C],
    snapshot: Callable[[], S],
    *,
    after_side_effects: bool = False,
    kind: FaultKind = "raise",
    max_fault_points: int | None = None,
    invariants: bool = True,
    progress_callback: ProgressCallback | None = None,
) -> list[FaultPlan]:
    """Assert that, whichever step fails, rollback leaves ``snapshot()`` as it was before the run.

    For every fault point (see :func:`~steprail.testing.fault_points`) a fresh registry and
    context are built, the workflow runs with the fault injected, and the snapshot after rollback
    is compared with the one taken before the run.

    Args:
        build_registry: Makes the workflow (called once per fault point, plus once to list them).
        make_context: Makes a fresh context.
        snapshot: Describes the state the workflow changes (see
            :func:`~steprail.testing.snapshot_tree` and :func:`~steprail.testing.snapshot_sqlite`);
            its values must compare with ``==``.
        after_side_effects: Also fail each step after its own work, to check that a step undoes
            its partial work through ``context.on_rollback``.
        kind: How injected faults show (an exception by default).
        max_fault_points: Explore at most this many fault points, chosen by hypothesis (the
            first failure is raised); ``None`` or 0 explores all. Needs hypothesis; do not call it
            from inside a ``@given`` test.
        invariants: Also check every run's invariants (see :func:`~steprail.testing.check_invariants`).
        progress_callback: Also receives the runs' progress.

    Returns:
        The fault points explored, in the order they ran.

    Raises:
        RollbackLeak: naming the step whose rollback left state behind, with the difference.
    """
    points = fault_points(build_registry(), after_side_effects=after_side_effects, kind=kind)
    explored: list[FaultPlan] = []

    def check(plan: FaultPlan) -> None:
        explored.append(plan)
        check_fault_point(
            build_registry, make_context, snapshot, plan,
            invariants=invariants, progress_callback=progress_callback,
        )

    if max_fault_points is None or max_fault_points <= 0 or max_fault_points >= len(points):
        for plan in points:
            check(plan)
    else:
        from ._sampling import explore_sample  # needs hypothesis, which is optional

        explore_sample(points, max_fault_points, check)
    return explored
