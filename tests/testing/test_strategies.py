"""The hypothesis strategies make valid workflows and fault plans, and refuse bad arguments."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from steprail import BaseStepContext, StepRegistry
from steprail.testing import (
    FaultPlan,
    StepScript,
    WorkflowScript,
    fault_plans,
    step_names,
    step_scripts,
    step_weights,
    workflows,
)


@given(workflows(max_steps=8, callback_failures=True))
def test_workflows_build_into_valid_registries(script: WorkflowScript) -> None:
    assert len(script.steps) <= 8
    assert len(set(script.names)) == len(script.names)
    registry: StepRegistry[BaseStepContext] = script.build()
    assert [step.name for step in registry] == script.names
    for step in script.steps:
        assert 0.0 <= step.weight <= 1.0 and math.isfinite(step.weight)
        assert all(current >= 0 and total >= 0 for current, total in step.progress)
    if script.callback_raises_at is not None:
        assert 1 <= script.callback_raises_at <= 100


@given(workflows(min_steps=2, max_steps=3, failures=False, interrupts=False, failing_rollbacks=False,
                 progress=False, skips=False, undos=False))
def test_switched_off_behaviours_are_never_drawn(script: WorkflowScript) -> None:
    assert 2 <= len(script.steps) <= 3
    for step in script.steps:
        assert step == StepScript(step.name, step.weight)
    assert script.callback_raises_at is None


@given(st.data())
def test_fault_plans_name_existing_steps_and_earlier_rollbacks(data: st.DataObject) -> None:
    names = data.draw(st.lists(step_names(), min_size=1, max_size=5, unique=True))
    plan = data.draw(fault_plans(names, points=["after"], kinds=["interrupt"]))
    assert isinstance(plan, FaultPlan)
    assert plan.step in names and plan.point == "after" and plan.kind == "interrupt"
    assert plan.step is not None
    assert plan.failing_rollbacks <= set(names[: names.index(plan.step) + 1])
    assert data.draw(fault_plans(names, failing_rollbacks=False)).failing_rollbacks == frozenset()


@given(step_scripts("fixed"), step_weights())
def test_step_scripts_and_weights(script: StepScript, weight: float) -> None:
    assert script.name == "fixed"
    assert 0.0 <= weight <= 1.0


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="min_steps <= max_steps, got 3, 1"):
        workflows(min_steps=3, max_steps=1)
    with pytest.raises(ValueError, match="at least one step name"):
        fault_plans([])
