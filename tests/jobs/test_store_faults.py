"""Storage faults are named: disk full, read-only, oversized params; numbers JSON can hold are
stored as numbers; huge progress figures do not overflow; a reader never blocks a job."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from steprail.jobs import (
    JOB_TRANSITIONS,
    JobStore,
    JobStoreError,
    JobStoreFullError,
    JobStoreReadOnlyError,
    ParamsTooLargeError,
    PlannedStep,
)
from steprail.jobs._store import MAX_PARAMS_BYTES


@pytest.fixture
def store(tmp_path: Path) -> JobStore:
    return JobStore(tmp_path / "jobs.sqlite3")


def test_a_full_database_is_named_full_and_keeps_what_was_committed(store: JobStore) -> None:
    job = store.create_job("a:B", {})
    # SQLite's page cap raises exactly what a full disk raises (SQLITE_FULL).
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    store._conn.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(JobStoreFullError, match="the disk is full") as caught:
        for index in range(1000):
            store.add_log(job, "event", {"payload": "x" * 4000, "index": index}, None, None)
    assert "damaged" not in str(caught.value)
    assert store.get(job).action == "a:B"


def test_a_read_only_store_lists_and_shows_but_refuses_writes(store: JobStore) -> None:
    job = store.create_job("a:B", {"x": 1})
    store.close()
    with JobStore(store.path, read_only=True) as reader:
        assert [j.id for j in reader.list_jobs()] == [job]
        assert reader.get(job).params == {"x": 1}
        with pytest.raises(JobStoreReadOnlyError, match="read-only"):
            reader.create_job("a:C", {})


def test_sqlites_read_only_error_is_named_read_only_not_damaged(store: JobStore) -> None:
    # What SQLite raises on a read-only file or mount (benchmarks/chaos.py mounts a real one).
    error = store._translate(sqlite3.OperationalError("attempt to write a readonly database"))
    assert isinstance(error, JobStoreReadOnlyError) and "can be read but not written" in str(error)


def test_oversized_params_are_refused_before_storing_with_the_limit(store: JobStore) -> None:
    with pytest.raises(ParamsTooLargeError, match=f"limit of {MAX_PARAMS_BYTES} bytes"):
        store.create_job("a:B", {"blob": "x" * (MAX_PARAMS_BYTES + 1)})
    assert store.list_jobs() == []


def test_numpy_scalars_and_other_numbers_are_stored_as_numbers(store: JobStore) -> None:
    job = store.create_job("a:B", {})
    store.add_metrics(
        job,
        {"count": np.int64(9), "loss": np.float32(0.5), "ok": np.bool_(True), "nan": np.float64("nan")},
        "train",
    )
    assert store.get(job).metrics == {"train": {"count": 9, "loss": 0.5, "ok": True, "nan": "nan"}}


def test_progress_beyond_64_bits_is_clamped_not_an_overflow(store: JobStore) -> None:
    job = store.create_job("a:B", {})
    store.start_job(job, [PlannedStep(0, "s", 1.0, 1.0, False, "S")], {})
    store.set_progress(job, 2**63, 2**64, 0)
    store.set_progress(job, 2**63, 2**63)
    record = store.get(job)
    assert record.steps[0].progress == (2**63 - 1, 2**63 - 1)
    assert record.progress == 100


def test_a_reader_never_fails_a_running_job_and_a_writer_waits_its_write_timeout(store: JobStore) -> None:
    job = store.create_job("a:B", {})
    # A reader holding a read transaction open does not block the job's writes (WAL).
    reader = JobStore(store.path, read_only=True)
    reader._conn.execute("BEGIN")
    reader._conn.execute("SELECT COUNT(*) FROM jobs").fetchone()
    store.add_log(job, "still writing", {}, None, None)
    reader._conn.execute("ROLLBACK")
    reader.close()
    # Another writer holding the lock longer than the open timeout: the job's write waits for it.
    blocker = sqlite3.connect(store.path, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")
    patient = JobStore(store.path, timeout=0.05, write_timeout=5.0)
    releaser = threading.Timer(0.5, lambda: blocker.execute("ROLLBACK"))
    releaser.start()
    started = time.monotonic()
    patient.add_log(job, "after the lock", {}, None, None)
    assert time.monotonic() - started >= 0.4
    releaser.join()
    blocker.close()
    patient.close()
    assert [entry.event for entry in store.logs(job)] == ["still writing", "after the lock"]


def test_a_job_moves_only_along_the_defined_transitions(store: JobStore) -> None:
    job = store.create_job("a:B", {})
    with pytest.raises(JobStoreError, match="is pending; it cannot become success"):
        store.finish_job(job, "success")
    store.start_job(job, [], {})
    with pytest.raises(JobStoreError, match="is running; it cannot become running"):
        store.start_job(job, [], {})
    store.finish_job(job, "cancelled", error="cancelled by SIGTERM")
    for status in ("success", "failed", "cancelled"):
        with pytest.raises(JobStoreError, match="is cancelled; it cannot become"):
            store.finish_job(job, status)
    record = store.get(job)
    assert (record.status, record.error) == ("cancelled", "cancelled by SIGTERM")
    assert JOB_TRANSITIONS["pending"] == {"running", "failed", "cancelled"}
