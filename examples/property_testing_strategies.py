"""Hypothesis-driven checks: generated fault plans against the real export workflow, and
generated workflows against your own progress sink. Needs ``steprail[testing]`` (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given

from steprail import BaseStepContext, RuntimeContext
from steprail.testing import (
    FaultPlan,
    WorkflowScript,
    check_invariants,
    fault_plans,
    inject_faults,
    record_run,
    snapshot_tree,
    workflows,
)

from property_testing import ExportContext, build_registry

STEP_NAMES = [step.name for step in build_registry()]


@given(plan=fault_plans(STEP_NAMES))
def test_any_fault_plan_keeps_the_invariants_and_the_folder(
    tmp_path_factory: pytest.TempPathFactory, plan: FaultPlan
) -> None:
    out = tmp_path_factory.mktemp("export")  # hypothesis runs many examples: one folder each
    context = ExportContext(runtime_ctx=RuntimeContext(), out_dir=str(out))

    record = record_run(inject_faults(build_registry(), plan), context)

    check_invariants(record)
    assert record.failed_step == plan.step
    # Even when a rollback() raises, the undo actions the steps registered still run.
    assert snapshot_tree(out) == {".": "dir"}


class PercentSink:
    """Your own progress sink, such as a job-status writer."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def __call__(self, current: int, total: int) -> None:
        self.seen.append(round(100 * current / total))


@given(script=workflows(max_steps=5))
def test_my_progress_sink_reaches_100_exactly_when_a_run_succeeds(script: WorkflowScript) -> None:
    sink = PercentSink()
    context = BaseStepContext(runtime_ctx=RuntimeContext())

    record = record_run(script.build(), context, progress_callback=sink)

    check_invariants(record)
    assert (sink.seen[-1:] == [100]) == record.succeeded
