"""RayExecutor through the Python API: the job runs in a Ray worker and is recorded by this
process alone, the same as in-process."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from steprail import RuntimeContext
from steprail.actions import InProcessExecutor, InvalidParamsError, JobCancelled
from steprail.jobs import FanOutRuntime, JobOutcome, JobRuntime, JobStore, JobStoreFullError
from steprail.ray import RayExecutor, WorkerLostError
from tests._ray_cluster import RayCluster
from tests.ray._ray_actions import GreedyAction, MarkAction, SqliteSpyAction

pytestmark = pytest.mark.ray


def _step_table(store: JobStore, job_id: int) -> list[tuple[str, str, bool, dict[str, object]]]:
    return [(s.name, s.status, s.rolled_back, s.data) for s in store.get(job_id).steps]


def test_a_job_on_ray_records_the_same_as_in_process(ray_driver: RayCluster, tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    records = {}
    progress: dict[str, list[tuple[int, int, str | None]]] = {}
    for name, executor in (("local", InProcessExecutor()), ("ray", RayExecutor())):
        folder = tmp_path / name
        folder.mkdir()
        runtime = JobRuntime(store)
        memory = RuntimeContext()
        outcome = executor.run(MarkAction({"folder": str(folder), "items": 5}, runtime=FanOutRuntime(runtime, memory)))
        progress[name] = [(entry.current, entry.total, entry.step) for entry in memory.progress]
        assert outcome.status == "success", outcome.error
        assert runtime.job_id is not None
        job = store.get(runtime.job_id)
        records[name] = (job, [log for log in store.logs(runtime.job_id)])
        assert sorted(p.name for p in folder.iterdir()) == ["first.mark", "second.mark", "third.mark"]
    local, ray_run = records["local"][0], records["ray"][0]
    assert ray_run.status == local.status == "success" and ray_run.progress == local.progress == 100
    assert [(s.name, s.status, s.kind, s.share) for s in ray_run.steps] == [
        (s.name, s.status, s.kind, s.share) for s in local.steps
    ]
    assert ray_run.metrics == local.metrics == {
        "first": {"loss": 0.2, "item": 5}, "second": {"loss": 0.2, "item": 5}, "third": {"loss": 0.2, "item": 5},
    }
    assert [(e.kind, e.event, e.step) for e in records["ray"][1]] == [(e.kind, e.event, e.step) for e in records["local"][1]]
    # The driver saw the same progress reports, in the same order: overall progress only rises.
    assert progress["ray"] == progress["local"] and len(progress["ray"]) > 10
    overall = [current * 100 // total for current, total, step in progress["ray"] if step is None]
    assert overall == sorted(overall) and overall[-1] == 100
    # Where each ran: the in-process job here, the Ray one in a worker process.
    assert local.executor == "in-process" and local.worker_pid is None
    assert ray_run.executor == "ray" and ray_run.worker_pid not in (None, os.getpid())
    assert ray_run.pid == os.getpid()  # the driver owns (and alone writes) the record
    marks = tmp_path / "ray" / "first.mark"
    assert int(marks.read_text()) == ray_run.worker_pid


def test_the_worker_never_opens_sqlite(ray_driver: RayCluster, tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    # The control: an action that opens a database itself is seen by the spy.
    control = tmp_path / "control.txt"
    assert RayExecutor().run(SqliteSpyAction({"spy_file": str(control), "open_one": True}, runtime=JobRuntime(store))).ok
    assert control.read_text() == ":memory:\n"
    spied = tmp_path / "spied.txt"
    runtime = JobRuntime(store)
    outcome = RayExecutor().run(SqliteSpyAction({"note": "x", "spy_file": str(spied)}, runtime=runtime))
    assert outcome.ok, outcome.error
    assert outcome.summary["pid"] != os.getpid()
    assert not spied.exists()  # the whole run, hooks and final record included: no connection
    assert runtime.job_id is not None
    # ...while every report it made reached the store through the driver.
    assert [(log.event, log.data) for log in store.logs(runtime.job_id)] == [
        ("hello", {"note": "x"}), ("metrics", {"answer": 42}),
    ]


def test_invalid_params_are_refused_before_anything_is_submitted(ray_driver: RayCluster, tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    runtime = JobRuntime(store)
    outcome = RayExecutor().run(MarkAction({"folder": str(tmp_path), "items": 0}, runtime=runtime))
    assert outcome.status == "failed" and isinstance(outcome.exception, InvalidParamsError)
    assert "items" in (outcome.error or "")
    assert runtime.job_id is not None
    job = store.get(runtime.job_id)
    # Recorded failed here, as in-process; no worker ever ran it (it would have been placed).
    assert job.status == "failed" and job.steps == []
    assert job.executor == "in-process" and job.node is None and job.worker_pid is None
    assert list(tmp_path.glob("*.mark")) == []


class _SuccessNotRecorded(JobRuntime):
    """A store whose success record fails (a full disk at the worst moment)."""

    def job_finished(self, outcome: JobOutcome) -> None:
        if outcome.status == "success":
            raise JobStoreFullError("job store 'x': the disk is full, nothing more can be written")
        super().job_finished(outcome)


def test_a_success_the_driver_cannot_record_is_rolled_back_on_the_worker(ray_driver: RayCluster, tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    runtime = _SuccessNotRecorded(store)
    outcome = RayExecutor().run(MarkAction({"folder": str(tmp_path), "items": 2}, runtime=runtime))
    # The worker waited for the driver's answer to its success, got the failure, rolled back.
    assert outcome.status == "failed" and "disk is full" in (outcome.error or "")
    assert list(tmp_path.glob("*.mark")) == []
    assert runtime.job_id is not None
    job = store.get(runtime.job_id)
    assert job.status == "failed" and [s.rolled_back for s in job.steps] == [True, True, True]


def _kill_worker_once_placed(store_path: Path, killed: list[int]) -> None:
    deadline = time.monotonic() + 60
    with JobStore(store_path, read_only=True) as reader:
        while time.monotonic() < deadline:
            jobs = reader.list_jobs(1)
            if jobs and jobs[0].worker_pid is not None and any(s.status == "running" for s in reader.get(jobs[0].id).steps):
                killed.append(jobs[0].worker_pid)
                os.kill(jobs[0].worker_pid, signal.SIGKILL)
                return
            time.sleep(0.05)


def test_a_killed_worker_ends_the_job_interrupted_with_the_cause(ray_driver: RayCluster, tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    runtime = JobRuntime(store)
    killed: list[int] = []
    killer = threading.Thread(target=_kill_worker_once_placed, args=(tmp_path / "jobs.sqlite3", killed))
    killer.start()
    with pytest.raises(WorkerLostError) as lost:
        RayExecutor().run(MarkAction({"folder": str(tmp_path), "wait": 30}, runtime=runtime))
    killer.join()
    assert killed, "the worker was never seen running"
    assert runtime.job_id is not None
    job = store.get(runtime.job_id)
    assert job.status == "interrupted" and job.recorded_status == "running"
    assert job.lost is not None and "lost" in job.lost and job.error == job.lost == lost.value.cause
    # The driver is alive: only the recorded loss makes it interrupted (not a dead owner).
    assert job.pid == os.getpid()


def test_a_signal_on_the_driver_cancels_a_job_still_queued(ray_driver: RayCluster, tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    runtime = JobRuntime(store)
    timer = threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        outcome = RayExecutor().run(GreedyAction({}, runtime=runtime, handle_signals=True))
    finally:
        timer.cancel()
    assert outcome.status == "cancelled" and isinstance(outcome.exception, JobCancelled)
    assert "before it started" in (outcome.error or "") and "SIGTERM" in (outcome.error or "")
    assert runtime.job_id is not None
    job = store.get(runtime.job_id)
    assert job.status == "cancelled" and job.executor == "in-process"  # never placed on a worker
