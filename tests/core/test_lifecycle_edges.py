"""Orchestrator edges from issue 10: nested runs on one context, BaseExceptions of every kind,
an exception whose text cannot be read, the commit hook, and O(1) registry look-ups."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from steprail import Orchestrator, RunSummary, StepFailedError, StepRegistry, StepResult

from ._steps import ItemsContext, Scripted, new_context, raising


def registry_of(*steps: Scripted) -> StepRegistry[ItemsContext]:
    registry = StepRegistry[ItemsContext]()
    for step in steps:
        registry.register(step)
    return registry


def test_a_nested_run_on_the_same_context_hands_the_outer_step_back_its_run() -> None:
    outer_progress: list[int] = []
    inner_progress: list[int] = []

    def run_inner(context: ItemsContext) -> StepResult:
        context.on_rollback(lambda: context.journal.append("undo outer (before inner)"), label="before")
        Orchestrator(registry_of(Scripted("inner_a"), Scripted("inner_b")), context, lambda c, t: inner_progress.append(c)).execute()
        # Back in the outer step: its name, position, undo ledger and progress are its own again.
        assert context.current_step == "outer" and context.current_step_order == 1
        context.on_rollback(lambda: context.journal.append("undo outer (after inner)"), label="after")
        context.set_progress(1, 2)
        return StepResult()

    context = new_context()
    registry = registry_of(Scripted("first"), Scripted("outer", action=run_inner), Scripted("last", action=raising(OSError("boom"))))
    with pytest.raises(StepFailedError) as caught:
        Orchestrator(registry, context, lambda c, t: outer_progress.append(c)).execute()
    assert inner_progress[-1] == 100
    # The outer step's own progress report moved the outer run (between its share's bounds).
    assert any(0 < value < 100 for value in outer_progress[1:])
    undone = [entry.label for entry in caught.value.rollback_report.entries if entry.kind == "undo"]
    assert undone == ["after", "before"]
    # The inner run succeeded: its steps are the outer step's work, undone by the outer step.
    assert context.journal == [
        "execute first",
        "execute outer",
        "execute inner_a",
        "execute inner_b",
        "execute last",
        "rollback outer",
        "undo outer (after inner)",
        "undo outer (before inner)",
        "rollback first",
    ]
    assert context.current_step is None and context._active_run is None


@pytest.mark.parametrize(
    "interrupt",
    [KeyboardInterrupt(), SystemExit(3), asyncio.CancelledError("stop"), GeneratorExit()],
    ids=lambda error: type(error).__name__,
)
def test_every_base_exception_rolls_back_and_comes_through_unchanged(interrupt: BaseException) -> None:
    context = new_context()
    registry = registry_of(Scripted("a"), Scripted("b", action=raising(interrupt)))
    with pytest.raises(type(interrupt)) as caught:
        Orchestrator(registry, context, lambda c, t: None).execute()
    assert caught.value is interrupt
    assert "rollback a" in context.journal
    assert context.step_results[-1].error is not None and type(interrupt).__name__ in context.step_results[-1].error


def test_an_exception_whose_text_cannot_be_read_is_reported_as_the_steps_failure() -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise ValueError("no text")

    context = new_context()
    with pytest.raises(StepFailedError) as caught:
        Orchestrator(registry_of(Scripted("a", action=raising(Unprintable()))), context, lambda c, t: None).execute()
    assert "progress callback" not in str(caught.value)
    assert "Unprintable (its message could not be read: ValueError)" in str(caught.value)


def test_commit_runs_inside_the_protection_and_its_failure_rolls_everything_back() -> None:
    committed: list[RunSummary] = []
    context = new_context()
    registry = registry_of(Scripted("a"), Scripted("b"))
    summary = Orchestrator(registry, context, lambda c, t: None).execute(commit=committed.append)
    assert committed == [summary]

    def refuse(summary: RunSummary) -> None:
        raise OSError("disk full")

    context = new_context()
    with pytest.raises(StepFailedError, match="the run could not be committed: disk full") as caught:
        Orchestrator(registry_of(Scripted("a"), Scripted("b")), context, lambda c, t: None).execute(commit=refuse)
    assert caught.value.rollback_report.rolled_back_steps == ["b", "a"]


def test_an_interrupt_between_two_steps_rolls_back_the_completed_ones() -> None:
    """A KeyboardInterrupt raised by the progress callback after a step (what a signal at the loop
    top does) rolls back what completed; the old loop let it through with nothing undone."""
    context = new_context()

    def interrupt_after_first(current: int, total: int) -> None:
        if context.journal == ["execute a"]:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Orchestrator(registry_of(Scripted("a", 0.5), Scripted("b", 0.5)), context, interrupt_after_first).execute()
    assert context.journal == ["execute a", "rollback a"]


class _CountedName(str):
    """A step name that counts its equality comparisons (a list scan compares with every name)."""

    comparisons = 0

    def __eq__(self, other: object) -> bool:
        type(self).comparisons += 1
        return str.__eq__(self, other)

    def __hash__(self) -> int:
        return str.__hash__(self)


def test_registration_compares_names_a_constant_number_of_times() -> None:
    """Registration is linear: a duplicate check by list scan would compare each new name with
    every registered one (2 000 000 comparisons here); the index compares almost none."""
    registry = StepRegistry[ItemsContext]()
    _CountedName.comparisons = 0
    for index in range(2000):
        registry.register(Scripted(_CountedName(f"s{index}")))
    registry.insert_before(_CountedName("s1000"), Scripted("in_the_middle"))
    assert _CountedName.comparisons < 2000
    assert registry.get_step_orders()["in_the_middle"] == 1000


class _HashCountedName(str):
    hashes = 0

    def __hash__(self) -> int:
        type(self).hashes += 1
        return str.__hash__(self)


def test_operations_in_the_middle_do_not_rehash_every_name() -> None:
    """insert_before / insert_after / unregister in a big registry shift a list and scan names at
    C speed; they do not rebuild a name index in Python (which hashed all 5 000 names per
    operation: 1 500 000 hashes here)."""
    registry = StepRegistry[ItemsContext]()
    for index in range(5000):
        registry.register(Scripted(_HashCountedName(f"s{index}")))
    _HashCountedName.hashes = 0
    for index in range(100):
        registry.insert_after(f"s{index * 40}", Scripted(f"after{index}"))
        registry.insert_before(f"s{index * 40 + 1}", Scripted(f"before{index}"))
        registry.unregister(f"after{index}")
    assert _HashCountedName.hashes < 1000
    _, names, _ = registry.snapshot()
    assert len(names) == 5100 and names[:4] == ["s0", "before0", "s1", "s2"]


def test_insertions_and_removals_keep_the_name_index_right() -> None:
    registry = registry_of(Scripted("a"), Scripted("c"))
    registry.insert_before("c", Scripted("b"))
    registry.insert_after("c", Scripted("d"))
    registry.unregister("a")
    registry.insert_before("b", Scripted("a2"))
    assert registry.get_step_orders() == {"a2": 0, "b": 1, "c": 2, "d": 3}
    assert "a" not in registry and "d" in registry
    registry.register(Scripted("a"))  # the removed name is free again
    with pytest.raises(ValueError, match="already registered"):
        registry.register(Scripted("b"))
    with pytest.raises(ValueError, match="no step named 'zz'"):
        registry.insert_after("zz", Scripted("e"))
    assert [step.name for step in registry] == ["a2", "b", "c", "d", "a"]


_operations = st.lists(
    st.tuples(st.sampled_from(["register", "before", "after", "unregister"]), st.integers(0, 30), st.integers(0, 30)),
    max_size=40,
)


@given(_operations)
def test_the_registry_keeps_the_order_of_a_plain_list_under_any_operations(
    operations: list[tuple[str, int, int]],
) -> None:
    """Whatever mix of register/insert_before/insert_after/unregister, the registry's order,
    positions, membership and refusals match a plain list of names."""
    registry = StepRegistry[ItemsContext]()
    model: list[str] = []
    for operation, new, anchor in operations:
        name, target = f"s{new}", f"s{anchor}"
        fresh = name not in model
        if operation == "register":
            if fresh:
                registry.register(Scripted(name))
                model.append(name)
            else:
                with pytest.raises(ValueError, match="already registered"):
                    registry.register(Scripted(name))
        elif operation in ("before", "after"):
            insert = registry.insert_before if operation == "before" else registry.insert_after
            if target not in model:
                with pytest.raises(ValueError, match="no step named"):
                    insert(target, Scripted(name))
            elif not fresh:
                with pytest.raises(ValueError, match="already registered"):
                    insert(target, Scripted(name))
            else:
                insert(target, Scripted(name))
                model.insert(model.index(target) + (operation == "after"), name)
        elif target in model:
            registry.unregister(target)
            model.remove(target)
        else:
            with pytest.raises(ValueError, match="no step named"):
                registry.unregister(target)
        assert [step.name for step in registry] == model
        assert registry.snapshot()[1] == model  # the names, kept apart from the steps
    steps, names, weights = registry.snapshot()
    assert names == model == [step.name for step in steps] and len(weights) == len(model)
    assert registry.get_step_orders() == {name: order for order, name in enumerate(model)}
    assert all(name in registry for name in model) and "absent" not in registry
