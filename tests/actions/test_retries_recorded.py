"""Each attempt of a retried step is recorded: runtime events and the job store (issue 14, C)."""

from __future__ import annotations

from pathlib import Path

from steprail.jobs import JobRuntime, JobStore

from ._kept_actions import RetryingFilesAction


def test_a_retried_step_records_each_attempt_and_ends_success(tmp_path: Path) -> None:
    (tmp_path / "flaky-upload").touch()
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        runtime = JobRuntime(store)
        outcome = RetryingFilesAction({"folder": str(tmp_path)}, runtime=runtime).run()
        assert outcome.ok, outcome.error
        assert runtime.job_id is not None
        job = store.get(runtime.job_id)
        retries = [(log.step, log.event, log.data) for log in store.logs(runtime.job_id) if log.event == "step_retry"]
    # The failed attempt was recorded as it ended, then the retry, then the attempt that worked.
    assert [(s.name, s.status) for s in outcome.steps][-2:] == [("upload", "failed"), ("upload", "success")]
    assert outcome.steps[-2].error == "ConnectionError: upload: connection reset"
    assert retries == [("upload", "step_retry", {"attempt": 1, "error": "ConnectionError: upload: connection reset", "wait": 0.0})]
    assert job.steps[-1].status == "success" and job.status == "success"
    assert (tmp_path / "runs.log").read_text().split() == ["export", "convert", "train", "upload", "upload"]
    assert not (tmp_path / "upload.partial").exists()  # the failed attempt's undo ran
