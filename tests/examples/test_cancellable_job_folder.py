"""examples/cancellable_job.py creates its ``folder`` and its rollback removes what it created."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from steprail import BaseStep, StepRegistry, StepResult
from steprail.actions import Workflow

from .test_examples import load

if TYPE_CHECKING:  # mypy checks examples/ as top-level modules, so it knows this one's types
    import cancellable_job as job
else:
    job = load("cancellable_job")


class _Boom(BaseStep[job.JobContext]):  # a step that fails after write_draft succeeded
    @property
    def name(self) -> str:
        return "boom"

    @property
    def progress_weight(self) -> float:
        return 0.5

    def execute(self, context: job.JobContext) -> StepResult:
        raise RuntimeError("boom")


class _FailingJob(job.SlowJob):
    """write_draft -> boom."""

    def build_workflow(self) -> Workflow[job.JobContext]:
        workflow = super().build_workflow()
        registry = StepRegistry[job.JobContext]()
        registry.register(job.WriteDraftStep())
        registry.register(_Boom())
        return Workflow(registry, workflow.context)


def test_a_missing_folder_is_created(tmp_path: Path) -> None:
    folder = tmp_path / "new" / "out"
    outcome = job.SlowJob({"folder": str(folder), "seconds": 0}).run()
    assert outcome.ok, outcome.error
    assert (folder / "final.txt").read_text() == "work in progress\n"
    assert sorted(os.listdir(folder)) == ["final.txt"]


def test_rollback_removes_the_folders_it_made(tmp_path: Path) -> None:
    outcome = _FailingJob({"folder": str(tmp_path / "new" / "out"), "seconds": 0}).run()
    assert outcome.status == "failed" and outcome.error == "Step 'boom' failed: RuntimeError: boom"
    assert os.listdir(tmp_path) == []  # the draft, out/ and new/ are all gone
    assert [(e.step, e.kind, e.ok) for e in outcome.rollback] == [
        ("write_draft", "rollback", True),
        ("write_draft", "undo", True),
    ]


def test_rollback_keeps_a_folder_that_was_there(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me")
    outcome = _FailingJob({"folder": str(tmp_path), "seconds": 0}).run()
    assert outcome.status == "failed"
    assert os.listdir(tmp_path) == ["mine.txt"]
    assert [(e.step, e.kind) for e in outcome.rollback] == [("write_draft", "rollback")]


def test_rollback_never_deletes_a_file_it_did_not_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "out"
    # Someone drops a file into the new folder while the job runs: the folder must stay, with it.
    real = job.WriteDraftStep.execute

    def execute_then_intrude(self: job.WriteDraftStep, context: job.JobContext) -> StepResult:
        result: StepResult = real(self, context)
        (folder / "theirs.txt").write_text("not yours")
        return result

    monkeypatch.setattr(job.WriteDraftStep, "execute", execute_then_intrude)
    outcome = _FailingJob({"folder": str(folder), "seconds": 0}).run()
    assert outcome.status == "failed"
    assert os.listdir(folder) == ["theirs.txt"]
    undo = [e for e in outcome.rollback if e.kind == "undo"]
    assert len(undo) == 1 and undo[0].error is not None and "not empty" in undo[0].error
