"""Job stores written by the previous release (schema version 1) keep working.

``tests/data/jobs-schema-1.sqlite3`` was written by the job store of commit 3a5f3b2 (schema
version 1, before tracebacks were kept): a job that succeeded (two steps, metrics, a summary)
and one that failed (a log event, a rollback), recorded through ``JobStore``'s own methods.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from steprail.actions import BaseAction
from steprail.jobs import JobRecord, JobRuntime, JobStore, JobStoreDamagedError
from steprail.jobs._store import SCHEMA_VERSION

from pydantic import BaseModel

OLD_STORE = Path(__file__).resolve().parents[1] / "data" / "jobs-schema-1.sqlite3"


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
    assert (second.status, second.error) == ("failed", "Step 'train' failed: 'a'")
    assert [e.step for e in second.rollback] == ["load"] and second.steps[0].rolled_back
    assert first.traceback is None and second.traceback is None  # never recorded


def test_the_fixture_is_a_schema_1_store() -> None:
    assert _version(OLD_STORE) == 1
    with sqlite3.connect(OLD_STORE) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(jobs)")}
    assert "traceback" not in columns and "error" in columns


def test_an_old_store_opened_read_only_is_read_as_it_is(old_store: Path) -> None:
    before = old_store.read_bytes()
    with JobStore(old_store, read_only=True) as store:
        _check_old_jobs(store.get(1), store.get(2))
        assert [job.id for job in store.list_jobs()] == [2, 1]
        assert [log.event for log in store.logs(2)] == ["epoch"]
    assert old_store.read_bytes() == before  # a reader never migrates


def test_an_old_store_opened_for_writing_is_migrated_in_place(old_store: Path) -> None:
    with JobStore(old_store) as store:
        _check_old_jobs(store.get(1), store.get(2))
        job = store.create_job("demo:Action", {"dataset": 3})
        store.start_job(job, [], {"dataset": 3})
        store.finish_job(job, "failed", error="KeyError: 'a'", traceback="Traceback ...\nKeyError: 'a'\n")
        assert store.get(job).traceback == "Traceback ...\nKeyError: 'a'\n"
    assert _version(old_store) == SCHEMA_VERSION == 5
    with JobStore(old_store, read_only=True) as store:  # and reopening finds nothing to do
        assert [j.id for j in store.list_jobs()] == [3, 2, 1]


def test_two_processes_opening_an_old_store_migrate_it_once(old_store: Path) -> None:
    first = JobStore(old_store)
    second = JobStore(old_store)  # sees version 5 already: no second ALTER TABLE
    try:
        assert second.get(1).status == "success"
    finally:
        first.close()
        second.close()


def test_a_store_of_a_newer_schema_is_refused_and_left_untouched(old_store: Path) -> None:
    with sqlite3.connect(old_store) as conn:
        conn.execute("PRAGMA user_version = 99")
    before = old_store.read_bytes()
    with pytest.raises(JobStoreDamagedError, match=r"schema version 1 to 5 \(found version 99"):
        JobStore(old_store)
    assert old_store.read_bytes() == before


class _Params(BaseModel):
    key: str = "a"


_EMPTY: dict[str, object] = {}


class _Lookup(BaseAction[_Params]):
    def execute(self) -> dict[str, object]:
        return {"value": _EMPTY[self.params.key]}


def test_a_job_that_raised_keeps_the_traceback_after_migration(old_store: Path) -> None:
    with JobStore(old_store) as store:
        runtime = JobRuntime(store)
        outcome = _Lookup({"key": "missing"}, runtime=runtime).run()
        assert outcome.status == "failed" and outcome.error == "KeyError: 'missing'"
        assert runtime.job_id is not None
        record = store.get(runtime.job_id)
    assert record.error == "KeyError: 'missing'"
    assert record.traceback is not None
    assert record.traceback.startswith("Traceback (most recent call last):")
    assert 'in execute\n    return {"value": _EMPTY[self.params.key]}' in record.traceback
    assert record.traceback.endswith("KeyError: 'missing'\n")
