"""Orchestrator: documented behaviour and every failure path (example tests)."""

from __future__ import annotations

import functools
import pytest

from steprail import (
    LoggingStep,
    Orchestrator,
    RollbackEntry,
    StepFailedError,
    StepRegistry,
    StepResult,
)

from ._steps import ItemsContext, Scripted, failing, new_context, raising


def registry_of(*steps: Scripted | LoggingStep[ItemsContext]) -> StepRegistry[ItemsContext]:
    registry = StepRegistry[ItemsContext]()
    for step in steps:
        registry.register(step)
    return registry


def run(
    registry: StepRegistry[ItemsContext], context: ItemsContext | None = None
) -> tuple[ItemsContext, list[int]]:
    context = context if context is not None else new_context()
    reported: list[int] = []

    def record(current: int, total: int) -> None:
        assert total == 100
        reported.append(current)

    Orchestrator(registry=registry, context=context, progress_callback=record).execute()
    return context, reported


def run_failing(registry: StepRegistry[ItemsContext]) -> tuple[ItemsContext, StepFailedError]:
    context = new_context()
    with pytest.raises(StepFailedError) as caught:
        run(registry, context)
    return context, caught.value


def test_successful_run_returns_the_summary() -> None:
    registry = registry_of(Scripted("load_data", 0.3), Scripted("create_files", 0.2), Scripted("process", 0.5))
    orchestrator = Orchestrator(registry=registry, context=new_context(), progress_callback=lambda c, t: None)
    assert orchestrator.execute() == {
        "success": True,
        "steps_executed": 3,
        "steps_total": 3,
        "steps_skipped": 0,
    }


def test_weighted_progress_matches_the_page() -> None:
    _, reported = run(registry_of(Scripted("a", 0.3), Scripted("b", 0.2), Scripted("c", 0.5)))
    assert reported == [30, 50, 100]


def test_float_sums_do_not_lose_a_percent() -> None:
    _, reported = run(registry_of(Scripted("a", 0.7), Scripted("b", 0.1), Scripted("c", 0.2)))
    assert reported == [70, 80, 100]


def test_weights_are_normalised_by_their_total() -> None:
    _, reported = run(registry_of(Scripted("a", 0.1), Scripted("b", 0.1)))
    assert reported == [50, 100]


def test_all_zero_weights_share_equally() -> None:
    _, reported = run(registry_of(Scripted("a", 0.0), Scripted("b", 0.0), Scripted("c", 0.0), Scripted("d", 0.0)))
    assert reported == [25, 50, 75, 100]


def test_progress_stays_below_100_until_the_last_step_is_done() -> None:
    _, reported = run(registry_of(Scripted("a", 1.0), Scripted("b", 0.0)))
    assert reported == [99, 100]


def test_in_step_progress_moves_within_the_steps_share() -> None:
    def epochs(context: ItemsContext) -> StepResult:
        for epoch in range(4):
            context.set_progress(epoch + 1, 4)
        context.set_progress(1, 4)  # going back inside the step never lowers the overall figure
        return StepResult()

    _, reported = run(registry_of(Scripted("load", 0.2), Scripted("train", 0.8, action=epochs)))
    # 4/4 inside the last step is capped at 99: 100 means the whole run succeeded.
    assert reported == [20, 40, 60, 80, 99, 100]


def test_in_step_progress_never_reaches_100_before_success() -> None:
    def finish_early(context: ItemsContext) -> StepResult:
        context.set_progress(10, 10)
        return StepResult()

    _, reported = run(registry_of(Scripted("only", 1.0, action=finish_early)))
    assert reported == [99, 100]


def test_empty_registry_succeeds_with_one_final_report() -> None:
    context, reported = run(StepRegistry[ItemsContext]())
    assert reported == [100]
    assert context.step_results == []


def test_skipped_steps_count_as_done_and_are_not_executed() -> None:
    context, reported = run(registry_of(Scripted("a", 0.5), Scripted("cache", 0.25, skip=True), Scripted("c", 0.25)))
    assert reported == [50, 75, 100]
    assert context.journal == ["execute a", "execute c"]
    assert [r.skipped for r in context.step_results] == [False, True, False]


def test_rollback_runs_in_reverse_and_skips_the_failed_and_skipped_steps() -> None:
    registry = registry_of(
        Scripted("step1"),
        Scripted("skipped", skip=True),
        Scripted("step2"),
        Scripted("step3", action=failing("Something went wrong")),
    )
    context, error = run_failing(registry)
    assert str(error) == "Step 'step3' failed: Something went wrong"
    assert context.journal == ["execute step1", "execute step2", "execute step3", "rollback step2", "rollback step1"]
    assert error.step_name == "step3"
    assert error.result.error == "Something went wrong"
    assert error.rollback_report.rolled_back_steps == ["step2", "step1"]
    assert error.__cause__ is None
    assert context.errors == ["Step 'step3' failed: Something went wrong"]


def test_an_exception_becomes_a_failed_result_and_the_cause() -> None:
    cause = ValueError("Invalid input")
    context, error = run_failing(registry_of(Scripted("ok"), Scripted("risky", action=raising(cause))))
    assert str(error) == "Step 'risky' failed: ValueError: Invalid input"
    assert error.__cause__ is cause
    assert isinstance(error, RuntimeError)
    assert context.step_results[-1].success is False
    assert context.step_results[-1].error == "ValueError: Invalid input"
    assert context.journal[-1] == "rollback ok"


def test_a_failed_result_without_a_message_still_explains_itself() -> None:
    _, error = run_failing(registry_of(Scripted("quiet", action=failing(None))))
    assert "failed StepResult without an error message" in str(error)


def test_returning_something_else_fails_the_step() -> None:
    def wrong(context: ItemsContext) -> StepResult:
        return {"success": True}  # type: ignore[return-value]  # the runtime check under test

    context, error = run_failing(registry_of(Scripted("first"), Scripted("sloppy", action=wrong)))
    assert "execute() returned dict, expected a StepResult" in str(error)
    assert context.journal[-1] == "rollback first"


def test_can_skip_raising_fails_the_step() -> None:
    class BadSkip(Scripted):
        def can_skip(self, context: ItemsContext) -> bool:
            raise LookupError("no cache index")

    context, error = run_failing(registry_of(Scripted("first"), BadSkip("cache")))
    assert str(error) == "Step 'cache' failed: LookupError: no cache index"
    assert context.journal == ["execute first", "rollback first"]


def test_progress_callback_raising_rolls_back_including_the_step_just_done() -> None:
    context = new_context()

    def explode(current: int, total: int) -> None:
        if current >= 50:
            raise ConnectionError("backend down")

    registry = registry_of(Scripted("a", 0.25), Scripted("b", 0.25), Scripted("c", 0.5))
    with pytest.raises(StepFailedError) as caught:
        Orchestrator(registry, context, explode).execute()
    assert caught.value.step_name == "b"
    assert "progress callback raised: backend down" in str(caught.value)
    assert isinstance(caught.value.__cause__, ConnectionError)
    assert context.journal == ["execute a", "execute b", "rollback b", "rollback a"]


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt(), SystemExit(3)])
def test_base_exceptions_roll_back_and_propagate_unchanged(interrupt: BaseException) -> None:
    context = new_context()
    registry = registry_of(Scripted("a"), Scripted("b"), Scripted("stop", action=raising(interrupt)), Scripted("d"))
    with pytest.raises(type(interrupt)) as caught:
        Orchestrator(registry, context, lambda c, t: None).execute()
    assert caught.value is interrupt
    assert context.journal == ["execute a", "execute b", "execute stop", "rollback b", "rollback a"]
    assert context.current_step is None
    assert len(context.step_results) == 3
    assert "rolled back 2 completed step(s)" in "".join(getattr(interrupt, "__notes__", []))


def test_rollback_is_best_effort_and_records_each_error() -> None:
    registry = registry_of(
        Scripted("a"),
        Scripted("b", rollback_error=OSError("disk gone")),
        Scripted("c", rollback_error=KeyError("k")),
        Scripted("d", action=failing("boom")),
    )
    context, error = run_failing(registry)
    assert context.journal[-3:] == ["rollback c", "rollback b", "rollback a"]
    assert context.errors == [
        "Step 'd' failed: boom",
        "Rollback of step 'c' failed: KeyError: 'k'",
        "Rollback of step 'b' failed: OSError: disk gone",
    ]
    assert error.rollback_report.failures == [
        RollbackEntry("c", "rollback", "c", "KeyError: 'k'"),
        RollbackEntry("b", "rollback", "b", "OSError: disk gone"),
    ]
    assert not error.rollback_report.ok


def test_undo_actions_compensate_partial_work_of_the_failed_step() -> None:
    def partial(context: ItemsContext) -> StepResult:
        for item in ("x", "y", "z"):
            context.items.append(item)
            context.on_rollback(functools.partial(context.items.remove, item), label=f"remove {item}")
            if item == "y":
                raise OSError("disk full")
        return StepResult()

    context, error = run_failing(registry_of(Scripted("first"), Scripted("writer", action=partial)))
    assert context.items == []
    assert [(e.step, e.kind, e.label) for e in error.rollback_report.entries] == [
        ("writer", "undo", "remove y"),
        ("writer", "undo", "remove x"),
        ("first", "rollback", "first"),
    ]


def test_undo_actions_of_completed_steps_run_after_their_rollback() -> None:
    def register_undo(context: ItemsContext) -> StepResult:
        context.on_rollback(lambda: context.journal.append("undo early"))
        return StepResult()

    def undo_fails() -> None:
        raise RuntimeError("cannot undo")

    def failing_undo(context: ItemsContext) -> StepResult:
        context.on_rollback(undo_fails, label="broken undo")
        return StepResult()

    context, error = run_failing(
        registry_of(Scripted("early", action=register_undo), Scripted("mid", action=failing_undo), Scripted("last", action=failing("no")))
    )
    assert context.journal[-2:] == ["rollback early", "undo early"]
    assert "Undo 'broken undo' of step 'mid' failed: RuntimeError: cannot undo" in context.errors
    assert error.rollback_report.failures[0].label == "broken undo"


def test_current_step_names_the_step_running_and_rolling_back() -> None:
    seen: list[tuple[str | None, int | None]] = []

    class Watching(Scripted):
        def execute(self, context: ItemsContext) -> StepResult:
            seen.append((context.current_step, context.current_step_order))
            return super().execute(context)

        def rollback(self, context: ItemsContext, result: StepResult) -> None:
            seen.append((context.current_step, context.current_step_order))

    context, _ = run_failing(registry_of(Watching("a"), Watching("b"), Scripted("c", action=failing("x"))))
    assert seen == [("a", 0), ("b", 1), ("b", 1), ("a", 0)]
    assert (context.current_step, context.current_step_order) == (None, None)


def test_a_second_run_starts_from_clean_bookkeeping() -> None:
    context = new_context()
    reported: list[int] = []
    registry = registry_of(Scripted("a", 0.5), Scripted("b", 0.5))
    orchestrator = Orchestrator(registry, context, lambda c, t: reported.append(c))
    first = orchestrator.execute()
    registry.register(Scripted("c", 0.0, action=failing("late")))
    with pytest.raises(StepFailedError):
        orchestrator.execute()
    assert first["steps_executed"] == 2
    assert reported == [50, 100, 50, 99]
    # Only the second run's steps are rolled back, once each.
    assert context.journal.count("rollback a") == 1
    assert context.journal.count("rollback b") == 1


def test_execute_is_not_reentrant() -> None:
    holder: list[Orchestrator[ItemsContext]] = []

    def reenter(context: ItemsContext) -> StepResult:
        holder[0].execute()
        return StepResult()

    context = new_context()
    orchestrator = Orchestrator(registry_of(Scripted("again", action=reenter)), context, lambda c, t: None)
    holder.append(orchestrator)
    with pytest.raises(StepFailedError, match="already running"):
        orchestrator.execute()


def test_registry_is_read_when_the_run_starts() -> None:
    registry = registry_of(Scripted("a"))

    def grow(context: ItemsContext) -> StepResult:
        registry.register(Scripted("late"))
        return StepResult()

    registry.register(Scripted("grower", action=grow))
    context, _ = run(registry)
    assert context.journal == ["execute a", "execute grower"]


def test_name_and_weight_are_read_once_at_registration() -> None:
    class Drifting(Scripted):
        reads = 0

        @property
        def progress_weight(self) -> float:
            Drifting.reads += 1
            return 0.5 if Drifting.reads == 1 else 2.0

    registry = registry_of(Scripted("first", 0.5), Drifting("drift"))
    assert registry.total_weight == 1.0
    context, reported = run(registry)
    assert reported == [50, 100]
    assert Drifting.reads == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"registry": [1, 2]}, "registry must be a StepRegistry, got list"),
        ({"context": {"runtime_ctx": None}}, "context must be an instance of a BaseStepContext subclass, got dict"),
        ({"progress_callback": 42}, "progress_callback must be callable"),
    ],
)
def test_bad_constructor_arguments_are_refused(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {
        "registry": StepRegistry[ItemsContext](),
        "context": new_context(),
        "progress_callback": lambda c, t: None,
    }
    arguments.update(kwargs)
    with pytest.raises(TypeError, match=message):
        Orchestrator(**arguments)  # type: ignore[arg-type, type-var]  # the runtime checks under test
