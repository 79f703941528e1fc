"""assert_rollback_restores on the built-in wrapper steps around file-writing steps."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from steprail import (
    BaseStep,
    BaseStepContext,
    LoggingStep,
    RuntimeContext,
    StepRegistry,
    StepResult,
    TimingStep,
    ValidationStep,
)
from steprail.testing import (
    FaultKind,
    FaultPlan,
    InvariantViolation,
    RollbackLeak,
    assert_rollback_restores,
    check_fault_point,
    snapshot_sqlite,
    snapshot_tree,
)

from ._file_steps import (
    FilesContext,
    LeakyWriteFile,
    RaisingRollbackWriteFile,
    WriteFile,
    WriteFileUndoneByRollback,
    files_context,
)


def _has_file(name: str) -> ValidationStep[FilesContext]:
    def validator(context: FilesContext) -> tuple[bool, str | None]:
        present = (Path(context.root) / name).exists()
        return present, None if present else f"{name} is missing"

    return ValidationStep(validator, name=f"check_{name}", progress_weight=0.1)


def wrapped_workflow(*middle: BaseStep[FilesContext]) -> StepRegistry[FilesContext]:
    """LoggingStep, TimingStep and ValidationStep around file-writing steps."""
    registry: StepRegistry[FilesContext] = StepRegistry()
    registry.register(LoggingStep(WriteFile("a.txt")))
    registry.register(TimingStep(WriteFile("b.txt", 0.3)))
    registry.register(_has_file("a.txt"))
    for step in middle:
        registry.register(step)
    registry.register(LoggingStep(TimingStep(WriteFile("c.txt", 0.0))))
    registry.register(TimingStep(WriteFileUndoneByRollback("d.txt")))
    return registry


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "keep.txt").write_text("was here before")
    return folder


def test_every_fault_point_of_the_wrapper_steps_restores_the_folder(root: Path) -> None:
    explored = assert_rollback_restores(
        wrapped_workflow, lambda: files_context(root), lambda: snapshot_tree(root)
    )
    names = ["logged_a_txt", "timed_b_txt", "check_a.txt", "logged_timed_c_txt", "timed_d_txt"]
    assert explored == [FaultPlan(name, "before") for name in names]
    assert snapshot_tree(root) == {".": "dir", "keep.txt": snapshot_tree(root)["keep.txt"]}


@pytest.mark.parametrize("kind", ["raise", "result", "interrupt"])
def test_failing_after_side_effects_is_undone_by_on_rollback_actions(root: Path, kind: FaultKind) -> None:
    # d.txt is undone by rollback() only, so it is left out here (see the next test).
    def build() -> StepRegistry[FilesContext]:
        registry = wrapped_workflow()
        registry.unregister("timed_d_txt")
        return registry

    explored = assert_rollback_restores(
        build,
        lambda: files_context(root),
        lambda: snapshot_tree(root),
        after_side_effects=True,
        kind=kind,
    )
    assert len(explored) == 8
    assert {plan.kind for plan in explored} == {kind}


def test_a_step_that_only_undoes_in_rollback_is_caught_when_it_fails_after_its_work(root: Path) -> None:
    with pytest.raises(RollbackLeak) as caught:
        assert_rollback_restores(
            wrapped_workflow, lambda: files_context(root), lambda: snapshot_tree(root), after_side_effects=True
        )
    leak = caught.value
    assert leak.step == "timed_d_txt"
    assert leak.plan == FaultPlan("timed_d_txt", "after")
    message = str(leak)
    assert "step 'timed_d_txt' failed after its own work and did not undo it" in message
    assert "context.on_rollback()" in message
    assert "added (1):\n  'd.txt': 'sha256:" in message
    assert "run trace:" in message and "rollback        'logged_a_txt'" in message


def test_a_deliberately_broken_rollback_is_caught_named_and_shown(root: Path) -> None:
    with pytest.raises(RollbackLeak) as caught:
        assert_rollback_restores(
            lambda: wrapped_workflow(LoggingStep(LeakyWriteFile("leaky.txt"))),
            lambda: files_context(root),
            lambda: snapshot_tree(root),
        )
    leak = caught.value
    # The first fault point after the leaky step shows the leak, and the leaky step gets the blame
    # even though the step that failed is the next one.
    assert leak.plan == FaultPlan("logged_timed_c_txt", "before")
    assert leak.step == "logged_leaky_txt"
    assert leak.difference == f"added (1):\n  'leaky.bak': {snapshot_tree(root)['leaky.bak']!r}"
    message = str(leak)
    assert message.startswith("rollback of step 'logged_leaky_txt' left state behind\n")
    assert "fault point: step 'logged_timed_c_txt' fails before it runs" in message
    assert "outcome: raised StepFailedError: Step 'logged_timed_c_txt' failed: InjectedFault: injected fault" in message


def test_the_leak_is_pinned_on_the_right_step_when_later_steps_roll_back_fine(root: Path) -> None:
    # The leaky step is the first one; steps after it roll back correctly. The blame must not move.
    def build() -> StepRegistry[FilesContext]:
        registry: StepRegistry[FilesContext] = StepRegistry()
        registry.register(LeakyWriteFile("first.txt"))
        for name in ("x.txt", "y.txt", "z.txt"):
            registry.register(WriteFile(name))
        return registry

    for failing in ("x_txt", "y_txt", "z_txt"):
        with pytest.raises(RollbackLeak) as caught:
            check_fault_point(build, lambda: files_context(root), lambda: snapshot_tree(root), FaultPlan(failing))
        assert caught.value.step == "first_txt"
        for leftover in root.glob("*.bak"):
            leftover.unlink()


def test_a_rollback_that_raises_is_reported_with_its_step(root: Path) -> None:
    with pytest.raises(RollbackLeak) as caught:
        assert_rollback_restores(
            lambda: wrapped_workflow(RaisingRollbackWriteFile("stuck.txt")),
            lambda: files_context(root),
            lambda: snapshot_tree(root),
        )
    assert caught.value.step == "stuck_txt"
    assert str(caught.value).startswith(
        "rollback of step 'stuck_txt' raised: PermissionError: cannot remove stuck.txt"
    )


def test_a_workflow_failing_before_the_fault_is_reported_not_blamed_on_rollback(root: Path) -> None:
    def build() -> StepRegistry[FilesContext]:
        registry = wrapped_workflow()
        registry.insert_before("check_a.txt", _has_file("never.txt"))
        return registry

    with pytest.raises(AssertionError, match=r"failed at step 'check_never.txt' .* before the injected fault"):
        assert_rollback_restores(build, lambda: files_context(root), lambda: snapshot_tree(root))


def test_a_sample_of_fault_points_is_explored_and_a_leak_is_still_named(root: Path) -> None:
    def correct() -> StepRegistry[FilesContext]:
        registry: StepRegistry[FilesContext] = StepRegistry()
        for index in range(8):
            registry.register(WriteFile(f"f{index}.txt"))
        return registry

    explored = assert_rollback_restores(
        correct, lambda: files_context(root), lambda: snapshot_tree(root), max_fault_points=3
    )
    assert 1 <= len(explored) <= 3
    assert len(set(explored)) == len(explored)

    def leaky_first() -> StepRegistry[FilesContext]:
        registry = correct()
        registry.insert_before("f0_txt", LeakyWriteFile("leak.txt"))
        return registry

    # Every point but the first leaks. The leak stays on disk, as it would in a user's test, so
    # the sample must not be replayed: the first leak found is raised with where it was.
    for _ in range(3):
        with pytest.raises(RollbackLeak) as caught:
            assert_rollback_restores(
                leaky_first, lambda: files_context(root), lambda: snapshot_tree(root), max_fault_points=6
            )
        assert caught.value.step == "leak_txt"
        assert caught.value.plan != FaultPlan("leak_txt")
        notes = getattr(caught.value, "__notes__", [])
        assert len(notes) == 1
        found = re.fullmatch(r"steprail.testing: fault point (\d) of 9; (\d) point\(s\) sampled by hypothesis \(6 allowed\)", notes[0])
        assert found is not None and found.group(1) != "1" and 1 <= int(found.group(2)) <= 6
        (root / "leak.bak").unlink()


def test_invariants_are_checked_on_every_fault_point(root: Path) -> None:
    class ClearsCurrentStepBadly(WriteFile):
        def execute(self, context: FilesContext) -> StepResult:
            # A step that corrupts the run's bookkeeping: the check must notice.
            context.step_results.clear()
            return super().execute(context)

    with pytest.raises(InvariantViolation) as caught:
        assert_rollback_restores(
            lambda: wrapped_workflow(ClearsCurrentStepBadly("bad.txt")),
            lambda: files_context(root),
            lambda: snapshot_tree(root),
        )
    assert caught.value.invariant == "results"


class InsertRow(BaseStep[BaseStepContext]):
    """Inserts one row into a SQLite table; ``forget`` makes its rollback leave the row."""

    progress_weight = 0.5

    def __init__(self, database: Path, key: str, *, forget: bool = False) -> None:
        self.database = database
        self.key = key
        self.forget = forget

    @property
    def name(self) -> str:
        return f"insert_{self.key}"

    def execute(self, context: BaseStepContext) -> StepResult:
        with sqlite3.connect(self.database) as connection:
            connection.execute("INSERT INTO items (key) VALUES (?)", (self.key,))
        return StepResult(rollback_data={"key": self.key})

    def rollback(self, context: BaseStepContext, result: StepResult) -> None:
        if self.forget:
            return
        with sqlite3.connect(self.database) as connection:
            connection.execute("DELETE FROM items WHERE key = ?", (result.rollback_data["key"],))


def test_sqlite_rows_are_restored_and_a_leaked_row_is_shown(tmp_path: Path) -> None:
    database = tmp_path / "items.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE items (key TEXT PRIMARY KEY)")
        connection.execute("INSERT INTO items VALUES ('existing')")

    def build(forget: str = "") -> StepRegistry[BaseStepContext]:
        registry: StepRegistry[BaseStepContext] = StepRegistry()
        for key in ("a", "b", "c"):
            registry.register(LoggingStep(InsertRow(database, key, forget=key == forget)))
        return registry

    def context() -> BaseStepContext:
        return BaseStepContext(runtime_ctx=RuntimeContext())

    assert len(assert_rollback_restores(build, context, lambda: snapshot_sqlite(database))) == 3
    with pytest.raises(RollbackLeak) as caught:
        assert_rollback_restores(lambda: build(forget="b"), context, lambda: snapshot_sqlite(database))
    assert caught.value.step == "logged_insert_b"
    # Compared with the state before step b ran (row a already there), row b was left behind.
    assert caught.value.difference == (
        "changed (1):\n  'items': (('a',), ('existing',)) -> (('a',), ('b',), ('existing',))"
    )
