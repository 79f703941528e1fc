"""inject_faults and fault_points on a real registry."""

from __future__ import annotations

import pytest

from steprail import BaseStepContext, RuntimeContext, StepFailedError, StepRegistry
from steprail.testing import (
    FaultPlan,
    InjectedFault,
    ScriptLedger,
    StepScript,
    WorkflowScript,
    fault_points,
    inject_faults,
    record_run,
)

SCRIPT = WorkflowScript((StepScript("a", 0.5, undos=1), StepScript("b", 0.5, skip=True), StepScript("c", 0.5)))


def _context() -> BaseStepContext:
    return BaseStepContext(runtime_ctx=RuntimeContext())


def test_the_original_registry_is_left_alone() -> None:
    registry: StepRegistry[BaseStepContext] = SCRIPT.build()
    faulty = inject_faults(registry, FaultPlan("c"))
    assert [s.name for s in faulty] == ["a", "b", "c"]
    assert [s.progress_weight for s in faulty] == [0.5, 0.5, 0.5]
    assert all(x is not y for x, y in zip(faulty, registry))
    record = record_run(registry, _context())
    assert record.succeeded


def test_unknown_steps_in_a_plan_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"unknown step\(s\) \['nope', 'zz'\]; the workflow has \['a', 'b', 'c'\]"):
        inject_faults(SCRIPT.build(), FaultPlan("nope", failing_rollbacks=frozenset({"zz"})))


def test_fault_points_list_each_boundary_and_optionally_after_the_work() -> None:
    assert fault_points(SCRIPT.build()) == [FaultPlan("a"), FaultPlan("b"), FaultPlan("c")]
    assert fault_points(SCRIPT.build(), after_side_effects=True, kind="result") == [
        FaultPlan(name, point, "result") for name in "abc" for point in ("before", "after")
    ]


def test_failing_before_does_nothing_and_after_does_the_work() -> None:
    ledger = ScriptLedger()
    record = record_run(inject_faults(SCRIPT.build(ledger), FaultPlan("c", "before")), _context())
    assert isinstance(record.error, StepFailedError)
    assert isinstance(record.error.__cause__, InjectedFault)
    assert str(record.error) == "Step 'c' failed: InjectedFault: injected fault in step 'c' (before)"
    assert ledger.state == set()

    ledger = ScriptLedger()
    record = record_run(inject_faults(SCRIPT.build(ledger), FaultPlan("c", "after")), _context())
    assert record.failed_step == "c"
    assert ledger.state == {"c"}  # its work is done and, having failed, it is not rolled back


def test_a_skipped_step_still_fails_at_its_fault_point() -> None:
    for point in ("before", "after"):
        record = record_run(inject_faults(SCRIPT.build(), FaultPlan("b", point)), _context())
        assert record.failed_step == "b"
        assert record.rolled_back == ["a"]


def test_a_failed_result_and_an_interrupt() -> None:
    record = record_run(inject_faults(SCRIPT.build(), FaultPlan("c", "after", "result")), _context())
    assert isinstance(record.error, StepFailedError)
    assert record.error.__cause__ is None
    assert record.error.result.data == {"step": "c"}  # what the step returned is kept
    record = record_run(inject_faults(SCRIPT.build(), FaultPlan("c", kind="interrupt")), _context())
    assert type(record.error) is KeyboardInterrupt
    assert "injected interrupt in step 'c'" in str(record.error)


def test_rollbacks_made_to_fail_are_reported() -> None:
    ledger = ScriptLedger()
    plan = FaultPlan("c", failing_rollbacks=frozenset({"a"}))
    record = record_run(inject_faults(SCRIPT.build(ledger), plan), _context())
    assert isinstance(record.error, StepFailedError)
    assert [(e.step, e.kind, e.error) for e in record.error.rollback_report.failures] == [
        ("a", "rollback", "InjectedFault: injected fault in step 'a' (rollback)")
    ]
    assert ledger.state == {"a"}  # the real rollback did not run; the undo action did
    assert plan.describe() == "step 'c' fails before it runs; rollback raises in ['a']"
    assert FaultPlan().describe() == "no fault"


def test_a_step_failing_by_itself_keeps_its_own_failure() -> None:
    script = WorkflowScript((StepScript("a", 0.5), StepScript("b", 0.5, outcome="fail")))
    record = record_run(inject_faults(script.build(), FaultPlan("b", "after")), _context())
    assert isinstance(record.error, StepFailedError)
    assert str(record.error) == "Step 'b' failed: scripted failure in 'b'"
