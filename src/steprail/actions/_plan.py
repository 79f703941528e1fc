"""An action's plan: its steps with normalised weights, before anything runs."""

from __future__ import annotations

import inspect
from collections.abc import Sequence

from .._context import BaseStepContext
from .._step import BaseStep
from .._wrappers import WrapperStep
from ..jobs import PlannedStep

__all__ = ["can_roll_back", "mermaid", "plan_steps"]


def _registers_undo(step: object) -> bool:
    """Whether the step's ``execute`` source calls ``on_rollback`` (best effort, no false alarms
    for steps without source: those count as not registering)."""
    execute = getattr(type(step), "execute", None)
    try:
        source = inspect.getsource(execute) if execute is not None else ""
    except (OSError, TypeError):
        return False
    return "on_rollback(" in source


def can_roll_back(step: object) -> bool:
    """Whether ``step`` can undo its work when the run fails.

    A step says so itself with a boolean ``can_roll_back`` class attribute; otherwise it can when
    it overrides ``rollback``, or when its ``execute`` registers undo actions with
    ``context.on_rollback`` (found in its source; a call hidden in a helper is not seen). A
    wrapper step answers for the step it wraps unless it declares otherwise.
    """
    current: object = step
    while True:
        declared = getattr(type(current), "can_roll_back", None)
        if isinstance(declared, bool):
            return declared
        if isinstance(current, WrapperStep):
            # Wrappers delegate rollback (LoggingStep only logs around it): ask the wrapped step.
            current = current.wrapped
            continue
        if not isinstance(current, BaseStep):
            return False
        return type(current).rollback is not BaseStep.rollback or _registers_undo(current)


def plan_steps[C: BaseStepContext](steps: Sequence[BaseStep[C]]) -> list[PlannedStep]:
    """Describe ``steps`` in run order, with each one's share of progress as the orchestrator
    computes it (weights over their sum; equal shares when every weight is 0)."""
    weights = [float(step.progress_weight) for step in steps]
    total = sum(weights)
    count = len(steps)
    return [
        PlannedStep(
            order=order,
            name=step.name,
            weight=weight,
            share=(weight / total) if total > 0 else 1.0 / count,
            can_roll_back=can_roll_back(step),
            kind=type(step).__name__,
        )
        for order, (step, weight) in enumerate(zip(steps, weights, strict=True))
    ]


def _label(text: str) -> str:
    # Mermaid labels are quoted; a double quote inside would end them early.
    return text.replace('"', "#quot;")


def mermaid(plan: Sequence[PlannedStep], title: str | None = None) -> str:
    """A Mermaid flowchart of ``plan``: the steps in order with their shares, and a dotted
    rollback path back through the steps that can roll back."""
    lines = ["flowchart TD"]
    if title:
        lines.insert(0, f"---\ntitle: {_label(title)}\n---")
    ids = [f"s{step.order}" for step in plan]
    lines.append('    start(["start"])')
    for node, step in zip(ids, plan, strict=True):
        suffix = " ↺" if step.can_roll_back else ""
        lines.append(f'    {node}["{_label(step.name)}<br/>{step.share:.0%}{suffix}"]')
    lines.append('    done(["success"])')
    chain = ["start", *ids, "done"]
    for left, right in zip(chain, chain[1:]):
        lines.append(f"    {left} --> {right}")
    undoable = [node for node, step in zip(ids, plan, strict=True) if step.can_roll_back]
    if undoable:
        lines.append('    failed{{"a step fails"}}')
        previous = "failed"
        for node in reversed(undoable):
            lines.append(f"    {previous} -. rollback .-> {node}")
            previous = node
    return "\n".join(lines)

