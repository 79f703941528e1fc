"""Job stores of schema version 3 (kept work, before executors) keep working.

``tests/data/jobs-schema-3.sqlite3`` was written by the job store of commit 85e1a6b (schema
version 3) through ``JobStore``'s own methods: job 1 succeeded (two steps, metrics, a summary),
job 2 failed under the keep policy after its first step (kept work with a checkpoint).
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from steprail.jobs import JobRecord, JobStore, PlannedStep
from steprail.jobs._store import SCHEMA_VERSION

OLD_STORE = Path(__file__).resolve().parents[1] / "data" / "jobs-schema-3.sqlite3"


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    copy = tmp_path / "jobs.sqlite3"
    shutil.copyfile(OLD_STORE, copy)
    return copy


def _version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _check_old_jobs(first: JobRecord, second: JobRecord) -> None:
    assert (first.status, first.summary, first.metrics) == ("success", {"model": "m.pt"}, {"train": {"loss": 0.5}})
    assert (second.status, second.resumable) == ("failed", True)
    assert [s.name for s in second.kept_steps] == ["load"] and second.steps[0].rollback_data == {"path": "/tmp/b"}
    # Recorded before executors: they ran in-process, in the process that recorded them.
    for job in (first, second):
        assert (job.executor, job.node, job.worker_pid, job.lost) == ("in-process", None, None, None)
        assert job.where == f"in-process {job.host}:{job.pid}"


def test_the_fixture_is_a_schema_3_store() -> None:
    assert _version(OLD_STORE) == 3
    with sqlite3.connect(OLD_STORE) as conn:
        jobs = {row[1] for row in conn.execute("PRAGMA table_info(jobs)")}
    assert "attempts" in jobs and "executor" not in jobs and "lost" not in jobs


def test_a_version_3_store_opened_read_only_is_read_as_it_is(old_store: Path) -> None:
    before = old_store.read_bytes()
    with JobStore(old_store, read_only=True) as store:
        assert store.schema_version == 3
        _check_old_jobs(store.get(1), store.get(2))
    assert old_store.read_bytes() == before


def test_a_version_3_store_is_migrated_to_4_in_place_and_records_placement(old_store: Path) -> None:
    plan = [PlannedStep(0, "load", 1.0, 1.0, True, "Load")]
    with JobStore(old_store) as store:
        _check_old_jobs(store.get(1), store.get(2))
        job = store.create_job("demo:Action", {"dataset": 3})
        store.start_job(job, plan, {"dataset": 3})
        store.set_placement(job, "ray", "10.0.0.7", 4242)
        store.mark_lost(job, "the Ray worker running the job was lost: WorkerCrashedError")
        record = store.get(job)
        assert (record.status, record.recorded_status) == ("interrupted", "running")
        assert record.where == "ray 10.0.0.7:4242" and record.error == record.lost
        assert record.finished_at is None  # interrupted, as any job whose process died: not finished
        # An interrupted job resumes in-process: the claim clears where it ran and the loss.
        resumed = store.resume_job(job, params={"dataset": 3}, plan=plan)
        assert (resumed.status, resumed.executor, resumed.lost, resumed.error) == ("running", "in-process", None, None)
        # The attempt keeps where the one before ran, and why its worker was lost.
        last = resumed.attempts[-1]
        assert (last.previous_where, last.previous_lost) == ("ray 10.0.0.7:4242", "the Ray worker running the job was lost: WorkerCrashedError")
    assert _version(old_store) == SCHEMA_VERSION == 5
    with JobStore(old_store, read_only=True) as store:
        _check_old_jobs(store.get(1), store.get(2))


def test_an_ended_job_is_never_marked_lost(old_store: Path) -> None:
    with JobStore(old_store) as store:
        store.mark_lost(1, "late news")
        job = store.get(1)
        assert (job.status, job.lost, job.error) == ("success", None, None)
