"""Fault injection: make a chosen step of a real workflow fail, without changing the steps.

:func:`inject_faults` returns a new registry whose steps wrap the user's steps (same names, same
weights) and fail where a :class:`FaultPlan` says. :func:`fault_points` lists the plans that
:func:`~steprail.testing.assert_rollback_restores` explores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .._context import BaseStepContext
from .._registry import StepRegistry
from .._result import StepResult
from .._step import BaseStep
from .._wrappers import WrapperStep

__all__ = ["FaultKind", "FaultPlan", "FaultPoint", "InjectedFault", "fault_points", "inject_faults"]

type FaultPoint = Literal["before", "after"]
"""``"before"``: the step fails before doing anything. ``"after"``: it fails after its own work."""

type FaultKind = Literal["raise", "result", "interrupt"]
"""How the injected failure shows: an :class:`InjectedFault` raised, a failed
:class:`~steprail.StepResult` returned, or a ``KeyboardInterrupt`` raised."""


class InjectedFault(Exception):
    """The exception an injected fault raises (also from a rollback made to fail).

    Attributes:
        step: The step the fault was injected into.
        where: ``"before"``, ``"after"`` or ``"rollback"``.
    """

    def __init__(self, step: str, where: str) -> None:
        super().__init__(f"injected fault in step {step!r} ({where})")
        self.step = step
        self.where = where


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """Where and how a workflow should fail.

    Attributes:
        step: The step that fails; ``None`` for no failing step.
        point: Whether it fails before doing anything or after its own side effects. A step that
            fails "after" has done its work but its ``rollback`` is not called (it failed), so
            only the undo actions it registered with ``context.on_rollback`` can undo that work.
            When the step would have been skipped, it fails instead of being skipped.
        kind: How it fails (see :data:`FaultKind`).
        failing_rollbacks: Steps whose ``rollback`` raises :class:`InjectedFault` instead of
            running.
    """

    step: str | None = None
    point: FaultPoint = "before"
    kind: FaultKind = "raise"
    failing_rollbacks: frozenset[str] = frozenset()

    def describe(self) -> str:
        """A short sentence for messages, such as ``step 'b' fails before it runs``."""
        parts: list[str] = []
        if self.step is not None:
            how = {"raise": "fails", "result": "returns a failed result", "interrupt": "is interrupted"}
            when = "before it runs" if self.point == "before" else "after its own work"
            parts.append(f"step {self.step!r} {how[self.kind]} {when}")
        if self.failing_rollbacks:
            parts.append(f"rollback raises in {sorted(self.failing_rollbacks)!r}")
        return "; ".join(parts) or "no fault"


class _FaultyStep[C: BaseStepContext](WrapperStep[C]):
    """Delegates to the wrapped step, failing where the plan says (same name and weight)."""

    def __init__(self, step: BaseStep[C], plan: FaultPlan) -> None:
        super().__init__(step)
        self._plan = plan
        self._step_name = step.name
        self._fails = plan.step == self._step_name
        self._would_skip = False

    def can_skip(self, context: C) -> bool:
        if not self._fails:
            return self._wrapped.can_skip(context)
        if self._plan.point == "after":
            # A skipped step does nothing; failing right after that keeps every fault point reachable.
            self._would_skip = self._wrapped.can_skip(context)
        return False

    def execute(self, context: C) -> StepResult:
        if not self._fails:
            return self._wrapped.execute(context)
        if self._plan.point == "before" or self._would_skip:
            return self._fire(None)
        result = self._wrapped.execute(context)
        returned: object = result
        if isinstance(returned, StepResult) and not result.success:
            return result  # the step failed by itself: keep its own failure
        return self._fire(result)

    def rollback(self, context: C, result: StepResult) -> None:
        if self._step_name in self._plan.failing_rollbacks:
            raise InjectedFault(self._step_name, "rollback")
        self._wrapped.rollback(context, result)

    def _fire(self, result: StepResult | None) -> StepResult:
        name, plan = self._step_name, self._plan
        if plan.kind == "interrupt":
            raise KeyboardInterrupt(f"steprail.testing: injected interrupt in step {name!r} ({plan.point})")
        if plan.kind == "raise":
            raise InjectedFault(name, plan.point)
        # Keep what the step returned so the failed result still carries its data.
        base = result if isinstance(result, StepResult) else StepResult()
        return StepResult(
            success=False,
            error=str(InjectedFault(name, plan.point)),
            data=base.data,
            rollback_data=base.rollback_data,
        )


def inject_faults[C: BaseStepContext](registry: StepRegistry[C], plan: FaultPlan) -> StepRegistry[C]:
    """Return a copy of ``registry`` whose steps fail as ``plan`` says.

    The original registry and its steps are not changed; the copy's steps have the same names
    and weights and delegate everything else to the originals.

    Raises:
        ValueError: ``plan`` names a step the registry does not have.
    """
    names = [step.name for step in registry.get_steps()]
    wanted = ({plan.step} if plan.step is not None else set()) | set(plan.failing_rollbacks)
    unknown = sorted(wanted - set(names))
    if unknown:
        raise ValueError(f"fault plan names unknown step(s) {unknown!r}; the workflow has {names!r}")
    faulty: StepRegistry[C] = StepRegistry()
    for step in registry.get_steps():
        faulty.register(_FaultyStep(step, plan))
    return faulty


def fault_points[C: BaseStepContext](
    registry: StepRegistry[C], *, after_side_effects: bool = False, kind: FaultKind = "raise"
) -> list[FaultPlan]:
    """Every fault point of ``registry``, in run order.

    By default one per step boundary: step *k* fails before doing anything, so steps before it
    must be rolled back. With ``after_side_effects`` each step also fails after its own work
    (listed right after its "before" point), which checks that a step undoes its partial work.
    """
    points: list[FaultPlan] = []
    for step in registry.get_steps():
        points.append(FaultPlan(step.name, "before", kind))
        if after_side_effects:
            points.append(FaultPlan(step.name, "after", kind))
    return points
