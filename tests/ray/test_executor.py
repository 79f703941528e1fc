"""RayExecutor through the Python API: the job runs in a Ray worker and is recorded by this
process alone, the same as in-process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from steprail.actions import InProcessExecutor
from steprail.jobs import JobRuntime, JobStore
from steprail.ray import RayExecutor
from tests._ray_cluster import RayCluster
from tests.ray._ray_actions import MarkAction, SqliteSpyAction

pytestmark = pytest.mark.ray


def _step_table(store: JobStore, job_id: int) -> list[tuple[str, str, bool, dict[str, object]]]:
    return [(s.name, s.status, s.rolled_back, s.data) for s in store.get(job_id).steps]


def test_a_job_on_ray_records_the_same_as_in_process(ray_driver: RayCluster, tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    records = {}
    for name, executor in (("local", InProcessExecutor()), ("ray", RayExecutor())):
        folder = tmp_path / name
        folder.mkdir()
        runtime = JobRuntime(store)
        outcome = executor.run(MarkAction({"folder": str(folder), "items": 5}, runtime=runtime))
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
    # Where each ran: the in-process job here, the Ray one in a worker process.
    assert local.executor == "in-process" and local.worker_pid is None
    assert ray_run.executor == "ray" and ray_run.worker_pid not in (None, os.getpid())
    assert ray_run.pid == os.getpid()  # the driver owns (and alone writes) the record
    marks = tmp_path / "ray" / "first.mark"
    assert int(marks.read_text()) == ray_run.worker_pid


def test_the_worker_never_opens_sqlite(ray_driver: RayCluster, tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    runtime = JobRuntime(store)
    outcome = RayExecutor().run(SqliteSpyAction({"note": "x"}, runtime=runtime))
    assert outcome.ok, outcome.error
    assert outcome.summary["pid"] != os.getpid()
    assert outcome.summary["sqlite_opened"] == []
    assert runtime.job_id is not None
    # ...while every report it made reached the store through the driver.
    assert [(log.event, log.data) for log in store.logs(runtime.job_id)] == [
        ("hello", {"note": "x"}), ("metrics", {"answer": 42}),
    ]
