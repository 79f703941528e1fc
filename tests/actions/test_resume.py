"""Checkpoints and resume (issue 14, slice B): in-process examples."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from steprail.actions import WorkflowChangedError
from steprail.jobs import JobRuntime, JobStore, JobStoreError

from ._kept_actions import FilesAction, FilesParams, KeepingFilesAction


def _runs(folder: Path) -> list[str]:
    return (folder / "runs.log").read_text().split()


def _failed_job(folder: Path, store: JobStore, fail: str, action: type[FilesAction] = KeepingFilesAction) -> int:
    (folder / f"fail-{fail}").touch()
    runtime = JobRuntime(store)
    outcome = action({"folder": str(folder)}, runtime=runtime).run()
    assert outcome.status == "failed"
    (folder / f"fail-{fail}").unlink()
    assert runtime.job_id is not None
    return runtime.job_id


def test_resume_runs_only_the_steps_that_did_not_complete(tmp_path: Path) -> None:
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        job_id = _failed_job(tmp_path, store, "train")
        job = store.get(job_id)
        assert [s.checkpoint for s in job.kept_steps] == [None, None]  # not read unless asked for
        assert [s.has_checkpoint for s in job.kept_steps] == [True, True]
        # The first checkpoint saves every field, the next only what changed.
        assert [s.checkpoint for s in store.get(job_id, checkpoints=True).kept_steps] == [
            {"fields": {"folder": str(tmp_path), "outputs": ["export"]}, "not_saved": []},
            {"fields": {"outputs": ["export", "convert"]}, "not_saved": []},
        ]  # fmt: skip
        outcome = KeepingFilesAction(job.params, runtime=JobRuntime(store)).resume(job_id)
        assert outcome.ok, outcome.error
        assert outcome.restored == 2 and [s.name for s in outcome.steps] == ["train", "upload"]
        assert outcome.summary == {"success": True, "steps_executed": 2, "steps_total": 4, "steps_skipped": 0}
        # export and convert ran once; train ran twice (it failed once); upload once.
        assert _runs(tmp_path) == ["export", "convert", "train", "train", "upload"]
        context = outcome.context
        assert context is not None and getattr(context, "outputs") == ["export", "convert", "train", "upload"]
        assert [r.data for r in context.step_results] == [{"file": f"{n}.txt"} for n in ("export", "convert", "train", "upload")]
        job = store.get(job_id)
    assert job.status == "success" and job.progress == 100 and not job.resumable
    assert [s.status for s in job.steps] == ["success"] * 4
    assert job.attempt == 2
    attempt = job.attempts[0]
    assert (attempt.number, attempt.from_step, attempt.previous_status, attempt.forced) == (2, 2, "failed", None)
    assert attempt.previous_error == "Step 'train' failed: OSError: train failed"


def test_a_refused_resume_changes_nothing(tmp_path: Path) -> None:
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        job_id = _failed_job(tmp_path, store, "train")
        before = store.get(job_id)
        changed = FilesParams(folder=str(tmp_path), steps=["export", "transform", "train", "upload"])
        with pytest.raises(WorkflowChangedError) as caught:
            KeepingFilesAction(changed, runtime=JobRuntime(store)).resume(job_id)
        assert caught.value.differences == [
            "step 1: was 'convert' (WriteFile, weight 1), now 'transform' (WriteFile, weight 1)",
            'params.steps: was ["export", "convert", "train", "upload"], now ["export", "transform", "train", "upload"]',
        ]
        assert store.get(job_id) == before
        with pytest.raises(JobStoreError, match="needs a runtime that records into the job store"):
            KeepingFilesAction(before.params).resume(job_id)
        assert store.get(job_id) == before


def test_a_forced_resume_records_the_accepted_difference(tmp_path: Path) -> None:
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        job_id = _failed_job(tmp_path, store, "train")
        changed = FilesParams(folder=str(tmp_path), steps=["export", "convert", "train", "publish"])
        outcome = KeepingFilesAction(changed, runtime=JobRuntime(store)).resume(job_id, force=True)
        assert outcome.ok
        job = store.get(job_id)
    assert [s.name for s in job.steps] == ["export", "convert", "train", "publish"]
    assert job.params["steps"] == ["export", "convert", "train", "publish"]
    forced = job.attempts[0].forced
    assert forced is not None and "step 3: was 'upload' (WriteFile, weight 1), now 'publish'" in forced


def test_jobs_that_cannot_be_resumed_are_refused(tmp_path: Path) -> None:
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        rolled = _failed_job(tmp_path, store, "train", action=FilesAction)  # the rollback policy
        with pytest.raises(JobStoreError, match=r"job 1 \(failed\) cannot be resumed: it ran under the rollback"):
            FilesAction({"folder": str(tmp_path)}, runtime=JobRuntime(store)).resume(rolled)
        done = KeepingFilesAction({"folder": str(tmp_path)}, runtime=JobRuntime(store))
        done.run()
        with pytest.raises(JobStoreError, match=r"job 2 \(success\) cannot be resumed: it succeeded"):
            KeepingFilesAction({"folder": str(tmp_path)}, runtime=JobRuntime(store)).resume(2)


def test_a_resumed_job_can_fail_again_and_be_resumed_again(tmp_path: Path) -> None:
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        job_id = _failed_job(tmp_path, store, "convert")
        (tmp_path / "fail-upload").touch()
        second = KeepingFilesAction({"folder": str(tmp_path)}, runtime=JobRuntime(store)).resume(job_id)
        assert second.status == "failed" and second.resumable
        (tmp_path / "fail-upload").unlink()
        third = KeepingFilesAction({"folder": str(tmp_path)}, runtime=JobRuntime(store)).resume(job_id)
        assert third.ok
        job = store.get(job_id)
    assert [(a.number, a.from_step) for a in job.attempts] == [(2, 1), (3, 3)]
    assert _runs(tmp_path) == ["export", "convert", "convert", "train", "upload", "upload"]


def test_a_rollback_policy_resume_that_fails_rolls_back_the_restored_steps_too(tmp_path: Path) -> None:
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        job_id = _failed_job(tmp_path, store, "train")
        (tmp_path / "fail-upload").touch()
        rollback = KeepingFilesAction({"folder": str(tmp_path)}, runtime=JobRuntime(store), on_failure="rollback")
        outcome = rollback.resume(job_id)
        assert outcome.status == "failed" and not outcome.resumable
    # The restored steps' rollback ran with their stored results: nothing is left.
    assert (tmp_path / "rollbacks.log").read_text().split() == ["train", "convert", "export"]
    assert not list(tmp_path.glob("*.txt"))


def test_without_checkpoints_a_resume_starts_over(tmp_path: Path) -> None:
    (tmp_path / "fail-train").touch()
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        runtime = JobRuntime(store)
        KeepingFilesAction({"folder": str(tmp_path)}, runtime=runtime, checkpoints=False).run()
        assert runtime.job_id is not None
        assert not any(s.has_checkpoint for s in store.get(runtime.job_id, checkpoints=True).steps)
        (tmp_path / "fail-train").unlink()
        for name in ("export", "convert"):
            (tmp_path / f"{name}.txt").unlink()  # a rerun of a step must find a clean place
        outcome = KeepingFilesAction({"folder": str(tmp_path)}, runtime=JobRuntime(store)).resume(runtime.job_id)
        assert outcome.ok
    assert _runs(tmp_path) == ["export", "convert", "train", "export", "convert", "train", "upload"]


def test_an_interrupted_job_is_resumable(tmp_path: Path) -> None:
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        job_id = _failed_job(tmp_path, store, "train")
    # Make it read as a job whose process died mid-run, nothing rolled back.
    with sqlite3.connect(tmp_path / "jobs.sqlite3") as conn:
        conn.execute("UPDATE jobs SET status = 'running', resumable = 0, pid = 999999999, finished_at = NULL")
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        assert store.get(job_id).status == "interrupted"
        assert KeepingFilesAction({"folder": str(tmp_path)}, runtime=JobRuntime(store)).resume(job_id).ok
        assert store.get(job_id).attempts[0].previous_status == "interrupted"
