"""Properties of the real Orchestrator over generated workflows (steprail.testing strategies).

Every run is recorded by ``steprail.testing.record_run`` and checked with ``check_invariants``;
on top of that, the scripted steps keep their side effects in a ledger, so the tests also check
what rollback left behind, entry by entry.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from steprail import BaseStepContext, RuntimeContext, StepFailedError
from steprail.testing import (
    FaultPlan,
    RunRecord,
    ScriptLedger,
    StepScript,
    WorkflowScript,
    check_invariants,
    fault_plans,
    inject_faults,
    record_run,
    workflows,
)


def _context() -> BaseStepContext:
    return BaseStepContext(runtime_ctx=RuntimeContext())


def _run(script: WorkflowScript, ledger: ScriptLedger) -> RunRecord[BaseStepContext]:
    return record_run(script.build(ledger), _context(), progress_callback=script.progress_callback())


def _left_behind_by_failed_compensation(record: RunRecord[BaseStepContext]) -> set[str]:
    """Ledger entries a failed rollback (the step's name) or undo (its label) could not remove."""
    left: set[str] = set()
    for event in record.events:
        if event.kind == "rollback_raised" and event.step is not None:
            left.add(event.step)
        elif event.kind == "undo_raised":
            left.add(event.detail.split(": ", 1)[0])
    return left


@given(workflows(callback_failures=True))
def test_every_generated_workflow_keeps_the_invariants(script: WorkflowScript) -> None:
    ledger = ScriptLedger()
    record = _run(script, ledger)
    check_invariants(record)
    if record.succeeded:
        done = [s for s in script.steps if not s.skip]
        assert ledger.state == {s.name for s in done} | {s.partial_key(i) for s in done for i in range(s.undos)}
    else:
        # Best effort rollback: only what a failing rollback or undo could not remove is left.
        assert ledger.state == _left_behind_by_failed_compensation(record)


@given(workflows())
def test_steps_run_in_registry_order_and_the_failed_step_is_never_rolled_back(script: WorkflowScript) -> None:
    record = _run(script, ScriptLedger())
    assert record.attempted == script.names[: len(record.attempted)]
    if record.succeeded:
        assert record.attempted == script.names
        assert record.rolled_back == []
        return
    failed = record.failed_step
    assert failed not in record.rolled_back
    before_failure = record.attempted[:-1]
    expected = [name for name in before_failure if name not in record.skipped]
    assert record.rolled_back == expected[::-1]
    assert len(set(record.rolled_back)) == len(record.rolled_back)


@given(workflows(callback_failures=True))
def test_progress_is_monotonic_bounded_and_complete_exactly_on_success(script: WorkflowScript) -> None:
    record = _run(script, ScriptLedger())
    values = record.progress_values
    assert all(total == 100 for _, total in record.progress)
    assert all(0 <= v <= 100 for v in values)
    assert all(a < b for a, b in zip(values, values[1:]))
    if record.succeeded:
        assert values[-1] == 100 and values.count(100) == 1
    elif not any(e.kind == "callback_raised" for e in record.events):
        assert 100 not in values


@given(workflows())
def test_one_step_result_per_attempted_step_and_current_step_cleared(script: WorkflowScript) -> None:
    record = _run(script, ScriptLedger())
    context = record.context
    assert len(context.step_results) == len(record.attempted)
    assert [r.skipped for r in context.step_results] == [n in record.skipped for n in record.attempted]
    assert context.current_step is None
    assert context.current_step_order is None


@given(workflows(interrupts=False, callback_failures=True))
def test_every_failed_rollback_is_in_context_errors_and_in_the_report(script: WorkflowScript) -> None:
    record = _run(script, ScriptLedger())
    if record.succeeded:
        assert record.context.errors == []
        return
    error = record.error
    if not script.steps:
        # Nothing ran, so no step can be named: the callback's own error comes through (see report).
        assert error is not None and error is record.callback_error and record.context.errors == []
        return
    assert isinstance(error, StepFailedError)
    failed_compensations = [e for e in record.events if e.kind in ("rollback_raised", "undo_raised")]
    assert len(error.rollback_report.failures) == len(failed_compensations)
    assert record.context.errors[0] == str(error) == f"Step '{error.step_name}' failed: {error.result.error}"
    assert len(record.context.errors) == 1 + len(failed_compensations)
    for entry, line in zip(error.rollback_report.failures, record.context.errors[1:]):
        assert f"step '{entry.step}'" in line and entry.error is not None and entry.error in line


def test_weights_point_three_point_two_point_five_report_30_50_100() -> None:
    script = WorkflowScript((StepScript("a", 0.3), StepScript("b", 0.2), StepScript("c", 0.5)))
    record = _run(script, ScriptLedger())
    check_invariants(record)
    assert record.progress == [(30, 100), (50, 100), (100, 100)]


@given(
    workflows(min_steps=1, failures=False, interrupts=False, failing_rollbacks=False, skips=True),
    st.data(),
)
def test_keyboard_interrupt_at_step_k_is_reraised_unchanged_after_rolling_back_earlier_steps(
    script: WorkflowScript, data: st.DataObject
) -> None:
    k = data.draw(st.integers(0, len(script.steps) - 1), label="k")
    steps = list(script.steps)
    steps[k] = StepScript(steps[k].name, steps[k].weight, outcome="interrupt", undos=steps[k].undos)
    ledger = ScriptLedger()
    record = _run(WorkflowScript(tuple(steps)), ledger)
    check_invariants(record)
    interrupt = ledger.raised[-1]
    assert type(interrupt) is KeyboardInterrupt
    assert record.error is interrupt  # the very object, not a wrapper
    assert interrupt.args == (f"scripted interrupt in {steps[k].name!r}",)
    earlier = [s.name for s in steps[:k] if not s.skip]
    assert record.rolled_back == earlier[::-1]
    assert ledger.state == set()


@given(
    workflows(min_steps=1, failures=False, interrupts=False, failing_rollbacks=False, callback_failures=False),
    st.data(),
)
def test_injected_faults_on_generated_workflows(script: WorkflowScript, data: st.DataObject) -> None:
    plan: FaultPlan = data.draw(fault_plans(script.names), label="plan")
    ledger = ScriptLedger()
    record = record_run(inject_faults(script.build(ledger), plan), _context())
    check_invariants(record)
    assert record.failed_step == plan.step
    if plan.kind == "interrupt":
        assert isinstance(record.error, KeyboardInterrupt)
    else:
        assert isinstance(record.error, StepFailedError) and record.error.step_name == plan.step
    # A rollback made to fail leaves its step's entry; a step failing after its own work leaves
    # its main entry (its rollback is not called), while its undo actions clear its partial work.
    expected = {name for name in record.rolled_back if name in plan.failing_rollbacks}
    by_name = {s.name: s for s in script.steps}
    assert plan.step is not None
    if plan.point == "after" and not by_name[plan.step].skip:
        expected.add(plan.step)
    assert ledger.state == expected
