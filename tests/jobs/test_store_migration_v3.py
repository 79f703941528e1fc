"""Job stores of schema version 2 (tracebacks, before kept work) keep working.

``tests/data/jobs-schema-2.sqlite3`` was written by the job store of commit d7e962e (schema
version 2) through ``JobStore``'s own methods: a job that succeeded (two steps, metrics, a
summary) and one that failed after its first step (a log event, a rollback, a traceback).
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from steprail import RollbackEntry
from steprail.jobs import JobRecord, JobStore, JobStoreError, PlannedStep
from steprail.jobs._store import SCHEMA_VERSION

OLD_STORE = Path(__file__).resolve().parents[1] / "data" / "jobs-schema-2.sqlite3"


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    copy = tmp_path / "jobs.sqlite3"
    shutil.copyfile(OLD_STORE, copy)
    return copy


def _version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _check_old_jobs(first: JobRecord, second: JobRecord) -> None:
    assert (first.status, first.params, first.summary) == ("success", {"dataset": 1}, {"model": "m.pt"})
    assert first.metrics == {"train": {"loss": 0.5}}
    assert [(s.name, s.status, s.data) for s in first.steps] == [("load", "success", {"items": 3}), ("train", "success", {})]
    assert (second.status, second.error) == ("failed", "Step 'train' failed: KeyError: 'a'")
    assert second.traceback == "Traceback (most recent call last):\nKeyError: 'a'\n"
    assert [e.step for e in second.rollback] == ["load"] and second.steps[0].rolled_back
    # Nothing recorded before version 3 reads as kept work or as resumable.
    assert not first.resumable and not second.resumable
    assert all(step.rollback_data is None for step in first.steps + second.steps)
    assert second.kept_steps == []


def test_the_fixture_is_a_schema_2_store() -> None:
    assert _version(OLD_STORE) == 2
    with sqlite3.connect(OLD_STORE) as conn:
        jobs = {row[1] for row in conn.execute("PRAGMA table_info(jobs)")}
        steps = {row[1] for row in conn.execute("PRAGMA table_info(steps)")}
    assert "traceback" in jobs and "resumable" not in jobs and "rollback_data" not in steps


def test_a_version_2_store_opened_read_only_is_read_as_it_is(old_store: Path) -> None:
    before = old_store.read_bytes()
    with JobStore(old_store, read_only=True) as store:
        _check_old_jobs(store.get(1), store.get(2))
        assert [job.id for job in store.list_jobs()] == [2, 1]
    assert old_store.read_bytes() == before


def test_a_version_2_store_opened_for_writing_is_migrated_to_3_in_place(old_store: Path) -> None:
    plan = [PlannedStep(0, "load", 1.0, 1.0, True, "Load")]
    with JobStore(old_store) as store:
        _check_old_jobs(store.get(1), store.get(2))
        job = store.create_job("demo:Action", {"dataset": 3})
        store.start_job(job, plan, {"dataset": 3})
        store.step_finished(job, 0, "success", 0.1, {"items": 1}, None, {"path": "/tmp/x"})
        store.finish_job(job, "failed", error="boom", resumable=True)
        record = store.get(job)
        assert record.resumable and record.steps[0].rollback_data == {"path": "/tmp/x"}
        assert [step.name for step in record.kept_steps] == ["load"]
    assert _version(old_store) == SCHEMA_VERSION == 5
    with JobStore(old_store, read_only=True) as store:
        assert [j.id for j in store.list_jobs()] == [3, 2, 1]
        _check_old_jobs(store.get(1), store.get(2))


def test_kept_work_is_claimed_once_and_old_jobs_have_none(old_store: Path) -> None:
    with JobStore(old_store) as store:
        with pytest.raises(JobStoreError, match=r"job 1 \(success\) has no kept work to roll back: it succeeded"):
            store.claim_kept_work(1)
        with pytest.raises(JobStoreError, match=r"job 2 \(failed\) has no kept work"):
            store.claim_kept_work(2)  # its completed step was rolled back when it failed
        job = store.create_job("demo:Action", {})
        store.start_job(job, [PlannedStep(0, "load", 1.0, 1.0, True, "Load")], {})
        store.step_finished(job, 0, "success", 0.1, {}, None, {})
        store.finish_job(job, "failed", error="boom", resumable=True)
        claimed = store.claim_kept_work(job)
        assert claimed.resumable and store.get(job).resumable is False
        store.add_rollback(job, [RollbackEntry("load", "rollback", "load", None)])
        assert [(e.step, e.error) for e in store.get(job).rollback] == [("load", None)]


def test_a_success_cannot_be_recorded_resumable(tmp_path: Path) -> None:
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        job = store.create_job("demo:Action", {})
        store.start_job(job, [], {})
        with pytest.raises(ValueError, match="nothing to resume"):
            store.finish_job(job, "success", resumable=True)
        assert store.get(job).status == "running"  # nothing was written
