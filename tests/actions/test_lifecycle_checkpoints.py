"""A cancellation at every checkpoint of a job's lifecycle ends in one consistent state.

A reference run is traced line by line through the lifecycle's code (the orchestrator, the
action, the job sinks and the store). Then, for every line event of that trace (each step
boundary, each record write, before and after the final record), the same job runs again with
SIGTERM raised at exactly that event. Each run must end either ``success`` with every file in
place and the record saying so, or ``cancelled`` with every file gone, every completed step
rolled back and the record saying so; never anything in between, never a record left
``running``.
"""

from __future__ import annotations

import signal
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from pydantic import BaseModel

import steprail
from steprail import BaseStep, BaseStepContext, RuntimeContext, StepRegistry, StepResult
from steprail.actions import ActionOutcome, BaseAction, CancellationGuard, Workflow
from steprail.jobs import JobRuntime, JobStore

STEPS = 3
_PACKAGE = Path(steprail.__file__).parent
# Every line of the lifecycle's own code...
_LINES = frozenset(str(_PACKAGE / relative) for relative in ("_orchestrator.py", "actions/_base.py"))
# ...and the entry of every record write (their insides run with signals held).
_CALLS = frozenset(str(_PACKAGE / relative) for relative in ("jobs/_sinks.py", "jobs/_store.py"))


class FolderParams(BaseModel):
    folder: str


@dataclass
class FolderContext(BaseStepContext):
    folder: str = ""


class WriteFile(BaseStep[FolderContext]):
    """Writes ``file-<index>.txt``, then reports progress; an undo action (and rollback) removes it."""

    def __init__(self, index: int) -> None:
        self.index = index

    @property
    def name(self) -> str:
        return f"write_{self.index}"

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: FolderContext) -> StepResult:
        path = Path(context.folder) / f"file-{self.index}.txt"
        # Registered before the work: a cancellation from here on finds the undo in place.
        context.on_rollback(lambda: path.unlink(missing_ok=True), label=f"remove {path.name}")
        path.write_text("work\n")
        context.set_progress(1, 2)
        return StepResult(rollback_data={"path": str(path)})

    def rollback(self, context: FolderContext, result: StepResult) -> None:
        Path(str(result.rollback_data["path"])).unlink(missing_ok=True)


class FolderJob(BaseAction[FolderParams]):
    def build_workflow(self) -> Workflow[FolderContext]:
        registry = StepRegistry[FolderContext]()
        for index in range(STEPS):
            registry.register(WriteFile(index))
        return Workflow(registry, FolderContext(runtime_ctx=RuntimeContext(), folder=self.params.folder))


type Event = tuple[str, int, int]  # file, line, how many times that line had run before


def _guard_installed() -> bool:
    """Whether the action's signal handlers are in place (checkpoints are the lines they cover)."""
    return isinstance(getattr(signal.getsignal(signal.SIGTERM), "__self__", None), CancellationGuard)


def _run(folder: Path, store: JobStore, at: Callable[[Event], bool], signals: int = 1) -> ActionOutcome:
    """Run the job, raising SIGTERM ``signals`` times at the first event ``at`` accepts."""
    seen: Counter[tuple[str, int]] = Counter()
    fired = False

    def trace(frame: FrameType, event: str, arg: object) -> Any:
        nonlocal fired
        filename = frame.f_code.co_filename
        if filename in _CALLS:
            checkpoint = event == "call"
        elif filename in _LINES:
            checkpoint = event == "line"
        else:
            return None
        if checkpoint and not fired and _guard_installed():
            key = (filename, frame.f_lineno)
            if at((filename, frame.f_lineno, seen[key])):
                fired = True
                # Call the installed handler with the traced frame: exactly what Python does
                # when SIGTERM arrives before that line (raise_signal would run the handler in
                # this tracer's frame instead). What it raises enters the frame at that line.
                for _ in range(signals):
                    handler = signal.getsignal(signal.SIGTERM)
                    assert callable(handler)
                    handler(signal.SIGTERM, frame)
            seen[key] += 1
        return trace if filename in _LINES else None

    sys.settrace(trace)
    try:
        return FolderJob({"folder": str(folder)}, runtime=JobRuntime(store), handle_signals=True).run()
    finally:
        sys.settrace(None)


def _at(target: Event) -> Callable[[Event], bool]:
    return lambda event: event == target


def _reference_events(tmp_path: Path) -> list[Event]:
    events: list[Event] = []

    def record(event: Event) -> bool:
        events.append(event)
        return False

    folder = tmp_path / "reference"
    folder.mkdir()
    with JobStore(tmp_path / "reference.sqlite3") as store:
        assert _run(folder, store, record).status == "success"
    return events


def _check_consistent(outcome: ActionOutcome, folder: Path, store: JobStore, where: Event) -> str:
    files = sorted(path.name for path in folder.iterdir())
    record = store.get(store.list_jobs(1)[0].id)
    context = f"signal at {Path(where[0]).name}:{where[1]} (run {where[2] + 1}): {outcome.status} {files}"
    assert record.status == outcome.status, context
    assert record.recorded_status == outcome.status, context
    if outcome.status == "success":
        assert files == [f"file-{index}.txt" for index in range(STEPS)], context
        assert record.progress == 100, context
        assert all(step.status == "success" for step in record.steps), context
    else:
        assert outcome.status == "cancelled", context
        assert files == [], context
        assert record.error == "cancelled by SIGTERM", context
        completed = [step for step in record.steps if step.status == "success"]
        assert all(step.rolled_back for step in completed), context
    return outcome.status


def test_a_signal_at_every_checkpoint_ends_consistently(tmp_path: Path) -> None:
    events = _reference_events(tmp_path)
    # Every lifecycle line runs: the orchestrator's loop, each record write, the commit.
    assert len(events) > 100
    endings: Counter[str] = Counter()
    with JobStore(tmp_path / "runs.sqlite3") as store:
        for number, target in enumerate(events):
            folder = tmp_path / f"run-{number}"
            folder.mkdir()
            outcome = _run(folder, store, _at(target))
            endings[_check_consistent(outcome, folder, store, target)] += 1
    # Both endings happen: early signals cancel, signals after the success decision are noted.
    assert endings["cancelled"] > 0 and endings["success"] > 0, endings


def test_two_signals_at_every_step_boundary_stop_honestly(tmp_path: Path) -> None:
    """A double signal may stop the rollback; the record then says the rollback was stopped,
    and every step it says was rolled back really was."""
    events = [event for event in _reference_events(tmp_path) if event[0].endswith("_orchestrator.py")]
    for number, target in enumerate(events[::3]):
        folder = tmp_path / f"double-{number}"
        folder.mkdir()
        with JobStore(tmp_path / f"double-{number}.sqlite3") as store:
            outcome = _run(folder, store, _at(target), signals=2)
            [job] = store.list_jobs()
            record = store.get(job.id)
            assert record.status == outcome.status
            files = {path.name for path in folder.iterdir()}
            if outcome.status == "success":
                assert len(files) == STEPS
                continue
            assert outcome.status == "cancelled"
            for step in record.steps:
                if step.rolled_back and step.rollback_error is None:
                    assert f"file-{step.order}.txt" not in files
            if files:
                assert record.error is not None and "rollback stopped" in record.error


@pytest.mark.parametrize("raised", ["failure", "signal"])
def test_a_signal_during_a_failures_rollback_is_noted_and_the_rollback_finishes(
    tmp_path: Path, raised: str
) -> None:
    """The first signal during a failure's rollback does not stop it (issue 10, item 2)."""

    class Interrupting(WriteFile):
        def rollback(self, context: FolderContext, result: StepResult) -> None:
            signal.raise_signal(signal.SIGTERM)
            super().rollback(context, result)

    class Failing(WriteFile):
        def execute(self, context: FolderContext) -> StepResult:
            if raised == "signal":
                signal.raise_signal(signal.SIGTERM)
            raise OSError("disk gone")

    class Job(FolderJob):
        def build_workflow(self) -> Workflow[FolderContext]:
            registry = StepRegistry[FolderContext]()
            registry.register(WriteFile(0))
            registry.register(Interrupting(1))
            registry.register(Failing(2))
            return Workflow(registry, FolderContext(runtime_ctx=RuntimeContext(), folder=self.params.folder))

    with JobStore(tmp_path / "jobs.sqlite3") as store:
        outcome = Job({"folder": str(tmp_path)}, runtime=JobRuntime(store), handle_signals=True).run()
        record = store.get(store.list_jobs()[0].id)
    files = sorted(path.name for path in tmp_path.glob("file-*"))
    if raised == "failure":
        # One signal: noted, the rollback goes on to the end, the job reads failed and says so.
        assert outcome.status == record.status == "failed"
        assert files == []
        assert record.error is not None and "SIGTERM arrived during the rollback" in record.error
    else:
        # The cancellation was the first signal: the one during rollback is the second and stops it.
        assert outcome.status == record.status == "cancelled"
        assert files == ["file-0.txt", "file-1.txt"]
        assert record.error is not None and "rollback stopped" in record.error
        # Step 1's rollback was under way when it was stopped: recorded as such, not as done.
        assert [step.rolled_back for step in record.steps] == [False, False, False]
        assert record.steps[1].rollback_error is not None
        assert record.steps[1].rollback_error.startswith("stopped: rollback(): KeyboardInterrupt")


def test_an_action_registers_its_steps_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The action wraps the registered steps for tracking without registering them again."""
    registrations: list[str] = []
    real_register = StepRegistry.register

    def counting(self: StepRegistry[Any], step: BaseStep[Any]) -> None:
        registrations.append(step.name)
        real_register(self, step)

    monkeypatch.setattr(StepRegistry, "register", counting)
    outcome = FolderJob({"folder": str(tmp_path)}).run()
    assert outcome.status == "success"
    assert registrations == [f"write_{index}" for index in range(STEPS)]
