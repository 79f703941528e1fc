"""The job record says which steps were rolled back, counting their undo actions (issue 10 review)."""

from __future__ import annotations

import asyncio
import functools
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from pydantic import BaseModel

import steprail
from steprail import BaseStep, BaseStepContext, RuntimeContext, StepRegistry, StepResult
from steprail.actions import ActionOutcome, BaseAction, Workflow
from steprail.jobs import JobRuntime, JobStore


class FolderParams(BaseModel):
    folder: str
    how: str = "signal"


@dataclass
class FolderContext(BaseStepContext):
    folder: str = ""
    how: str = "signal"


class Writes(BaseStep[FolderContext]):
    """Writes ``<name>-<n>.txt`` files, each removed by its own undo action."""

    def __init__(self, name: str, files: int = 1, last: bool = False) -> None:
        self._name, self.files, self.last = name, files, last

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: FolderContext) -> StepResult:
        for index in range(self.files):
            path = Path(context.folder) / f"{self._name}-{index}.txt"
            context.on_rollback(functools.partial(self.remove, path), label=f"remove {path.name}")
            path.write_text("work\n")
        if self.last:
            signal.raise_signal(signal.SIGTERM)  # the first signal: cancel, roll back
        return StepResult()

    def remove(self, path: Path) -> None:
        if path.name == "b-1.txt":
            signal.raise_signal(signal.SIGTERM)  # the second signal, between two undos of b
        path.unlink()


class Burst(BaseAction[FolderParams]):
    def build_workflow(self) -> Workflow[FolderContext]:
        registry = StepRegistry[FolderContext]()
        registry.register(Writes("a"))
        registry.register(Writes("b", files=3))
        registry.register(Writes("c", last=True))
        return Workflow(registry, FolderContext(runtime_ctx=RuntimeContext(), folder=self.params.folder))


def test_a_step_whose_undos_a_second_signal_cut_is_not_recorded_rolled_back(tmp_path: Path) -> None:
    """Only steps whose rollback AND undos finished read rolled back; the files prove it."""
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        outcome = Burst({"folder": str(tmp_path)}, runtime=JobRuntime(store), handle_signals=True).run()
        record = store.get(store.list_jobs()[0].id)
    files = sorted(path.name for path in tmp_path.glob("*.txt"))
    assert outcome.status == record.status == "cancelled"
    # c was undone; b's undos ran newest first: b-2 removed, then the second signal at b-1.
    assert files == ["a-0.txt", "b-0.txt", "b-1.txt"]
    assert [step.rolled_back for step in record.steps] == [False, False, True]
    stopped = record.steps[1].rollback_error
    assert stopped is not None and stopped.startswith("stopped: undo 'remove b-1.txt': KeyboardInterrupt")
    assert record.steps[0].rollback_error is None  # never reached
    # The record's report lists every attempt, the cut one included.
    assert [(entry.step, entry.label, entry.error is None) for entry in outcome.rollback] == [
        ("c", "remove c-0.txt", True),
        ("b", "b", True),  # b.rollback() itself
        ("b", "remove b-2.txt", True),
        ("b", "remove b-1.txt", False),
    ]


class _Custom(BaseException):
    pass


def _broken_undo() -> None:
    raise OSError("disk gone")


class Ends(BaseStep[FolderContext]):
    def __init__(self, name: str, fail: bool = False) -> None:
        self._name, self.fail = name, fail

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: FolderContext) -> StepResult:
        context.on_rollback(_broken_undo, label=f"undo {self._name}")
        if self.fail:
            match context.how:
                case "ki":
                    raise KeyboardInterrupt
                case "exit":
                    sys.exit(0)
                case "cancelled":
                    raise asyncio.CancelledError
                case "generator":
                    raise GeneratorExit
                case "custom":
                    raise _Custom("a BaseException of its own")
                case _:
                    raise RuntimeError("plain")
        return StepResult()


class EndsJob(BaseAction[FolderParams]):
    def build_workflow(self) -> Workflow[FolderContext]:
        registry = StepRegistry[FolderContext]()
        registry.register(Ends("a"))
        registry.register(Ends("b", fail=True))
        context = FolderContext(runtime_ctx=RuntimeContext(), folder=self.params.folder, how=self.params.how)
        return Workflow(registry, context)


@pytest.mark.parametrize("how", ["ki", "exit", "cancelled", "generator", "custom", "plain"])
def test_every_ending_records_the_undo_failures(tmp_path: Path, how: str) -> None:
    """Whatever ends the run, the record carries the undo failures and no step reads cleanly undone."""
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        outcome = EndsJob({"folder": str(tmp_path), "how": how}, runtime=JobRuntime(store), handle_signals=True).run()
        record = store.get(store.list_jobs()[0].id)
    expected = [("b", "undo", "undo b"), ("a", "rollback", "a"), ("a", "undo", "undo a")]
    assert [(entry.step, entry.kind, entry.label) for entry in record.rollback] == expected
    assert [entry.error for entry in record.rollback] == ["OSError: disk gone", None, "OSError: disk gone"]
    assert outcome.rollback == record.rollback
    for step in record.steps:
        assert step.rolled_back
        assert step.rollback_error == f"undo 'undo {step.name}': OSError: disk gone"


# -- a second signal at every line of the rollback ------------------------------------------------

_ORCHESTRATOR = str(Path(steprail.__file__).parent / "_orchestrator.py")
_FIRST_SENT: list[bool] = []


class TwoFiles(BaseStep[FolderContext]):
    """``<i>-undo.txt`` removed by an undo action, ``<i>-rollback.txt`` by ``rollback``; step 2
    sends the first SIGTERM once its undo file exists."""

    def __init__(self, index: int) -> None:
        self.index = index

    @property
    def name(self) -> str:
        return f"two_{self.index}"

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: FolderContext) -> StepResult:
        folder = Path(context.folder)
        undone = folder / f"{self.index}-undo.txt"
        context.on_rollback(lambda: undone.unlink(missing_ok=True), label=f"remove {undone.name}")
        undone.write_text("work\n")
        if self.index == 2:  # cancelled: only its undo runs, so it has no rollback file
            _FIRST_SENT.append(True)
            signal.raise_signal(signal.SIGTERM)
        (folder / f"{self.index}-rollback.txt").write_text("work\n")
        return StepResult()

    def rollback(self, context: FolderContext, result: StepResult) -> None:
        (Path(context.folder) / f"{self.index}-rollback.txt").unlink(missing_ok=True)


class TwoFilesJob(BaseAction[FolderParams]):
    def build_workflow(self) -> Workflow[FolderContext]:
        registry = StepRegistry[FolderContext]()
        for index in range(3):
            registry.register(TwoFiles(index))
        return Workflow(registry, FolderContext(runtime_ctx=RuntimeContext(), folder=self.params.folder))


def _run_second_signal_at(folder: Path, store: JobStore, target: int | None) -> tuple[ActionOutcome, int]:
    """Run the job; after the first signal, send the second at the ``target``-th line event of
    the orchestrator (``None``: never). Returns the outcome and how many events there were."""
    _FIRST_SENT.clear()
    events = 0

    def trace(frame: FrameType, event: str, arg: object) -> Any:
        nonlocal events
        if frame.f_code.co_filename != _ORCHESTRATOR:
            return None
        if event == "line" and _FIRST_SENT:
            if events == target:
                handler = signal.getsignal(signal.SIGTERM)
                assert callable(handler)
                handler(signal.SIGTERM, frame)  # as if it arrived before this line
            events += 1
        return trace

    sys.settrace(trace)
    try:
        outcome = TwoFilesJob({"folder": str(folder)}, runtime=JobRuntime(store), handle_signals=True).run()
    finally:
        sys.settrace(None)
    return outcome, events


def test_a_second_signal_at_every_line_of_the_rollback_never_overclaims(tmp_path: Path) -> None:
    """Wherever the second signal lands (in a step's rollback, between two undos, in the
    orchestrator's own loop), a step recorded rolled back has both its files gone."""
    reference = tmp_path / "reference"
    reference.mkdir()
    with JobStore(tmp_path / "reference.sqlite3") as store:
        outcome, events = _run_second_signal_at(reference, store, None)
    assert outcome.status == "cancelled" and not list(reference.iterdir())
    assert events > 20
    stopped = 0
    with JobStore(tmp_path / "runs.sqlite3") as store:
        for target in range(events):
            folder = tmp_path / f"run-{target}"
            folder.mkdir()
            outcome, _ = _run_second_signal_at(folder, store, target)
            record = store.get(store.list_jobs(1)[0].id)
            files = {path.name for path in folder.iterdir()}
            where = f"second signal at event {target}: {files}"
            assert outcome.status == record.status == "cancelled", where
            for step in record.steps:
                if step.rolled_back:
                    assert not {f"{step.order}-undo.txt", f"{step.order}-rollback.txt"} & files, where
                elif step.order < 3 and files & {f"{step.order}-undo.txt", f"{step.order}-rollback.txt"}:
                    assert step.rollback_error is None or step.rollback_error.startswith("stopped: "), where
            stopped += bool(files)
    assert stopped > 0  # some second signals did stop the rollback
