"""Each invariant check passes on real runs and fails, by name, when its invariant is broken."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from steprail import BaseStepContext, RuntimeContext, StepResult
from steprail.testing import (
    INVARIANTS,
    InvariantViolation,
    RunRecord,
    StepScript,
    TraceEvent,
    WorkflowScript,
    check_invariants,
    record_run,
)

type Tamper = Callable[[RunRecord[BaseStepContext]], None]


def _record(*steps: StepScript) -> RunRecord[BaseStepContext]:
    script = WorkflowScript(steps)
    record = record_run(script.build(), BaseStepContext(runtime_ctx=RuntimeContext()))
    check_invariants(record)  # the untouched run is fine
    return record


def _failed_run() -> RunRecord[BaseStepContext]:
    return _record(
        StepScript("a", 0.3, undos=1),
        StepScript("b", 0.2, rollback_fails=True),
        StepScript("c", 0.5, outcome="raise"),
    )


def _ok_run() -> RunRecord[BaseStepContext]:
    return _record(StepScript("a", 0.3), StepScript("b", 0.2, skip=True), StepScript("c", 0.5))


def _drop_event(kind: str, step: str) -> Tamper:
    def tamper(record: RunRecord[BaseStepContext]) -> None:
        index = next(i for i, e in enumerate(record.events) if e.kind == kind and e.step == step)
        del record.events[index]

    return tamper


def _append(event: TraceEvent) -> Tamper:
    return lambda record: record.events.append(event)


def _swap_first(kind: str) -> Tamper:
    def tamper(record: RunRecord[BaseStepContext]) -> None:
        indexes = [i for i, e in enumerate(record.events) if e.kind == kind][:2]
        first, second = indexes
        record.events[first], record.events[second] = record.events[second], record.events[first]

    return tamper


def _set_current_step(record: RunRecord[BaseStepContext]) -> None:
    object.__setattr__(record.context, "current_step", "a")


def _repeat_progress(record: RunRecord[BaseStepContext]) -> None:
    record.progress.insert(1, record.progress[0])


def _progress_over_100(record: RunRecord[BaseStepContext]) -> None:
    record.progress.append((101, 100))


def _forget_error(record: RunRecord[BaseStepContext]) -> None:
    record.context.errors.pop()


def _extra_result(record: RunRecord[BaseStepContext]) -> None:
    record.context.step_results.append(StepResult())


def _replace_result(record: RunRecord[BaseStepContext]) -> None:
    record.context.step_results[0] = StepResult()


def _wrong_share(record: RunRecord[BaseStepContext]) -> None:
    index = next(i for i, e in enumerate(record.events) if e.kind == "progress")
    record.events[index] = TraceEvent("progress", "a", value=31)


def _wrong_summary(record: RunRecord[BaseStepContext]) -> None:
    assert record.summary is not None
    record.summary["steps_skipped"] = 0


CASES: list[tuple[str, Callable[[], RunRecord[BaseStepContext]], Tamper, str]] = [
    ("order", _failed_run, _swap_first("can_skip"), "steps started in order ['b', 'a', 'c']"),
    ("order", _ok_run, _drop_event("can_skip", "c"), "only started"),
    ("rollback", _failed_run, _append(TraceEvent("rollback", "a")), "rolled back more than once: ['a']"),
    ("rollback", _failed_run, _drop_event("rollback", "b"), "rolled back ['a'], expected ['b', 'a']"),
    ("rollback", _failed_run, _swap_first("rollback"), "expected ['b', 'a']"),
    ("rollback", _ok_run, _append(TraceEvent("rollback", "a")), "the run succeeded; rolled back ['a']"),
    ("rollback", _failed_run, _drop_event("undo", "a"), "compensation ran as"),
    ("progress", _ok_run, _repeat_progress, "progress repeated: 30 then 30"),
    ("progress", _ok_run, _progress_over_100, "values outside [0, 100]: [101]"),
    ("progress", _failed_run, lambda r: r.progress.append((100, 100)), "a failed run reported 100"),
    ("progress", _ok_run, _wrong_share, "31 reported during step 'a', outside its share [0, 30]"),
    ("results", _ok_run, _extra_result, "4 step result(s) for 3 started step(s)"),
    ("results", _ok_run, _replace_result, "result of 'a' is not the StepResult its execute returned"),
    ("errors", _failed_run, _forget_error, "failed rollbacks [('rollback', 'b')]"),
    ("errors", _ok_run, lambda r: r.context.errors.append("boom"), "a successful run recorded errors"),
    ("errors", _ok_run, _wrong_summary, "execute() returned"),
    ("current_step", _ok_run, _set_current_step, "current_step='a'"),
]


@pytest.mark.parametrize(("invariant", "run", "tamper", "detail"), CASES)
def test_a_broken_invariant_is_named_with_the_trace(
    invariant: str, run: Callable[[], RunRecord[BaseStepContext]], tamper: Tamper, detail: str
) -> None:
    record = run()
    tamper(record)
    with pytest.raises(InvariantViolation) as caught:
        check_invariants(record)
    violation = caught.value
    assert violation.invariant == invariant
    assert detail in violation.detail
    message = str(violation)
    assert message.startswith(f"invariant {invariant!r} broken: ")
    assert INVARIANTS[invariant][0] in message
    assert "run trace:\nworkflow: ['a', 'b', 'c']\n    1. can_skip" in message
    with pytest.raises(InvariantViolation):
        INVARIANTS[invariant][1](record)  # the named check alone catches it too


def test_every_invariant_has_a_case_that_breaks_it() -> None:
    assert {case[0] for case in CASES} == set(INVARIANTS)


def test_skipping_an_invariant_and_unknown_names() -> None:
    record = _ok_run()
    _set_current_step(record)
    check_invariants(record, skip=["current_step"])
    with pytest.raises(ValueError, match=r"unknown invariant\(s\) \['nope'\]; known: \["):
        check_invariants(record, skip=["nope"])


def test_an_interrupt_must_come_back_unchanged() -> None:
    record = _record(StepScript("a", 0.5), StepScript("b", 0.5, outcome="interrupt"))
    assert isinstance(record.error, KeyboardInterrupt)
    record.error = KeyboardInterrupt("a different one")
    with pytest.raises(InvariantViolation, match="step 'b' raised KeyboardInterrupt") as caught:
        check_invariants(record)
    assert caught.value.invariant == "errors"


def test_the_record_describes_the_run() -> None:
    record = _failed_run()
    assert record.attempted == ["a", "b", "c"]
    assert record.completed == ["a", "b"]
    assert record.rolled_back == ["b", "a"]
    assert record.failed_step == "c"
    assert record.progress_values == [30, 50]
    assert repr(record) == "<RunRecord ['a', 'b', 'c'] failed at 'c', 18 events>"
    with pytest.raises(RuntimeError, match="Step 'c' failed: ScriptedError: scripted exception in 'c'"):
        record.reraise()
    ok = _ok_run()
    assert ok.succeeded and ok.failed_step is None and ok.skipped == ["b"]
    ok.reraise()  # nothing to raise
    assert "outcome: succeeded {'success': True" in ok.format_trace()


def test_a_step_failing_the_context_check_after_it_returned_is_not_rolled_back() -> None:
    from dataclasses import dataclass, field

    from steprail import BaseStep, StepFailedError, StepRegistry

    @dataclass
    class Items(BaseStepContext):
        items: list[str] = field(default_factory=list)

    class Sneaky(BaseStep[Items]):
        name = "sneaky"
        progress_weight = 0.5

        def execute(self, context: Items) -> StepResult:
            context.items.append(3)  # type: ignore[arg-type]  # the in-place change check_fields must catch
            return StepResult()

    registry: StepRegistry[Items] = WorkflowScript((StepScript("first", 0.5),)).build()
    registry.register(Sneaky())
    record = record_run(registry, Items(runtime_ctx=RuntimeContext()), check_fields=True)
    check_invariants(record)
    assert record.completed == ["first", "sneaky"]  # it returned a successful result...
    assert record.rolled_back == ["first"]  # ...but failed the check, so it is the failed step
    assert isinstance(record.error, StepFailedError) and record.error.step_name == "sneaky"
