"""The ``keep`` failure policy and rolling kept work back later (issue 14, slice A)."""

from __future__ import annotations

from pathlib import Path

import pytest

from steprail import Orchestrator, StepFailedError, StepRegistry, RuntimeContext
from steprail.actions import KeptWorkError
from steprail.jobs import JobRuntime, JobStore, JobStoreError

from ._kept_actions import FilesAction, FilesContext, FilesParams, KeepingFilesAction, WriteFile


def _files(folder: Path) -> list[str]:
    """The folder's files but the steps' execution log."""
    return sorted(path.name for path in folder.iterdir() if path.name != "runs.log")


def _registry(*names: str) -> StepRegistry[FilesContext]:
    registry = StepRegistry[FilesContext]()
    for name in names:
        registry.register(WriteFile(name))
    return registry


def test_keep_undoes_only_the_failed_steps_partial_work(tmp_path: Path) -> None:
    (tmp_path / "fail-c").touch()
    context = FilesContext(runtime_ctx=RuntimeContext(), folder=str(tmp_path))
    orchestrator = Orchestrator(_registry("a", "b", "c"), context, lambda c, t: None, on_failure="keep")
    with pytest.raises(StepFailedError, match="Step 'c' failed: OSError: c failed") as caught:
        orchestrator.execute()
    # c's partial file was undone; a and b's work (and nothing else) is still there.
    assert _files(tmp_path) == ["a.txt", "b.txt", "fail-c"]
    assert [(e.step, e.kind, e.label) for e in caught.value.rollback_report.entries] == [("c", "undo", "remove c.partial")]


def test_rollback_stays_the_default(tmp_path: Path) -> None:
    (tmp_path / "fail-c").touch()
    context = FilesContext(runtime_ctx=RuntimeContext(), folder=str(tmp_path))
    orchestrator = Orchestrator(_registry("a", "b", "c"), context, lambda c, t: None)
    assert orchestrator.on_failure == "rollback"
    with pytest.raises(StepFailedError):
        orchestrator.execute()
    assert _files(tmp_path) == ["fail-c", "rollbacks.log"]
    assert (tmp_path / "rollbacks.log").read_text() == "b\na\n"


def test_keep_on_an_interrupt_keeps_completed_work_and_reraises(tmp_path: Path) -> None:
    (tmp_path / "interrupt-b").touch()
    context = FilesContext(runtime_ctx=RuntimeContext(), folder=str(tmp_path))
    orchestrator = Orchestrator(_registry("a", "b"), context, lambda c, t: None, on_failure="keep")
    with pytest.raises(KeyboardInterrupt):
        orchestrator.execute()
    assert _files(tmp_path) == ["a.txt", "interrupt-b"]


def test_an_unknown_policy_is_refused_by_name(tmp_path: Path) -> None:
    context = FilesContext(runtime_ctx=RuntimeContext(), folder=str(tmp_path))
    bad: object = "forget"
    with pytest.raises(ValueError, match=r"on_failure must be one of 'rollback', 'keep', got 'forget'"):
        Orchestrator(_registry("a"), context, lambda c, t: None, on_failure=bad)  # type: ignore[arg-type]  # the check under test
    with pytest.raises(ValueError, match="on_failure must be one of"):
        FilesAction({"folder": str(tmp_path)}, on_failure=bad)  # type: ignore[arg-type]  # the check under test


def _failed_keep_job(folder: Path, store: JobStore, action: FilesAction) -> int:
    runtime = JobRuntime(store)
    action.runtime = runtime
    outcome = action.run()
    assert outcome.status == "failed" and outcome.resumable
    assert runtime.job_id is not None
    return runtime.job_id


def test_a_keep_job_is_recorded_resumable_with_what_its_steps_need(tmp_path: Path) -> None:
    (tmp_path / "fail-train").touch()
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        job_id = _failed_keep_job(tmp_path, store, KeepingFilesAction({"folder": str(tmp_path)}))
        job = store.get(job_id)
    assert job.status == "failed" and job.resumable
    # train's own undo actions ran: it reads rolled back; the completed steps do not.
    assert [(s.name, s.status, s.rolled_back) for s in job.steps] == [
        ("export", "success", False), ("convert", "success", False), ("train", "failed", True), ("upload", "pending", False),
    ]  # fmt: skip
    assert [s.rollback_data for s in job.kept_steps] == [
        {"path": str(tmp_path / "export.txt")}, {"path": str(tmp_path / "convert.txt")},
    ]  # fmt: skip
    assert [(e.step, e.kind) for e in job.rollback] == [("train", "undo")]
    assert "train.partial" not in _files(tmp_path) and "convert.txt" in _files(tmp_path)


def test_the_instance_policy_overrides_the_class_one(tmp_path: Path) -> None:
    (tmp_path / "fail-train").touch()
    outcome = KeepingFilesAction({"folder": str(tmp_path)}, on_failure="rollback").run()
    assert outcome.status == "failed" and not outcome.resumable
    assert "export.txt" not in _files(tmp_path)


def test_a_success_under_keep_is_not_resumable(tmp_path: Path) -> None:
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        runtime = JobRuntime(store)
        outcome = KeepingFilesAction({"folder": str(tmp_path)}, runtime=runtime).run()
        assert outcome.ok and not outcome.resumable
        assert runtime.job_id is not None and not store.get(runtime.job_id).resumable


def test_a_cancelled_keep_job_is_resumable(tmp_path: Path) -> None:
    (tmp_path / "interrupt-convert").touch()
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        runtime = JobRuntime(store)
        with pytest.raises(KeyboardInterrupt):
            KeepingFilesAction({"folder": str(tmp_path)}, runtime=runtime).run()
        assert runtime.job_id is not None
        job = store.get(runtime.job_id)
    assert job.status == "cancelled" and job.resumable and [s.name for s in job.kept_steps] == ["export"]


def test_kept_work_is_rolled_back_later_newest_first_with_the_stored_results(tmp_path: Path) -> None:
    (tmp_path / "fail-upload").touch()
    path = tmp_path / "jobs.sqlite3"
    with JobStore(path) as store:
        job_id = _failed_keep_job(tmp_path, store, KeepingFilesAction({"folder": str(tmp_path)}))
    with JobStore(path) as store:  # later, with a new action built from the job's params
        action = KeepingFilesAction(store.get(job_id).params)
        entries = action.roll_back_job(store, job_id)
        job = store.get(job_id)
        assert [(e.step, e.error) for e in entries] == [("train", None), ("convert", None), ("export", None)]
        assert (tmp_path / "rollbacks.log").read_text() == "train\nconvert\nexport\n"
        assert _files(tmp_path) == ["fail-upload", "jobs.sqlite3", "jobs.sqlite3-shm", "jobs.sqlite3-wal", "rollbacks.log"]
        assert not job.resumable and job.kept_steps == [] and job.status == "failed"
        assert [e.step for e in job.rollback] == ["upload", "train", "convert", "export"]
        with pytest.raises(JobStoreError, match=r"has no kept work to roll back"):
            action.roll_back_job(store, job_id)


def test_a_failed_rollback_later_is_recorded_and_the_others_still_run(tmp_path: Path) -> None:
    (tmp_path / "fail-upload").touch()
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        job_id = _failed_keep_job(tmp_path, store, KeepingFilesAction({"folder": str(tmp_path)}))
        (tmp_path / "convert.txt").unlink()  # someone removed it meanwhile: its rollback raises
        entries = KeepingFilesAction(store.get(job_id).params).roll_back_job(store, job_id)
        assert [e.step for e in entries] == ["train", "convert", "export"]
        assert entries[1].error is not None and entries[1].error.startswith("FileNotFoundError: ")
        steps = {s.name: s for s in store.get(job_id).steps}
        assert steps["convert"].rollback_error == entries[1].error and steps["export"].rolled_back


def test_rolling_back_with_other_params_or_steps_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "fail-upload").touch()
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        job_id = _failed_keep_job(tmp_path, store, KeepingFilesAction({"folder": str(tmp_path)}))
        before = store.get(job_id)
        renamed = FilesParams(folder=str(tmp_path), steps=["export", "transform", "train", "upload"])
        with pytest.raises(KeptWorkError, match=r"differing: steps"):
            KeepingFilesAction(renamed).roll_back_job(store, job_id)
        with pytest.raises(KeptWorkError, match=r"ran tests\.actions\._kept_actions:KeepingFilesAction, not .*:FilesAction"):
            FilesAction(before.params).roll_back_job(store, job_id)
        assert store.get(job_id) == before
    assert "rollbacks.log" not in _files(tmp_path)
