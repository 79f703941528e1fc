"""The SQLite job store: records, WAL, one transaction per change, interrupted jobs, bad files."""

from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from steprail import RollbackEntry
from steprail.jobs import (
    JobNotFoundError,
    JobStore,
    JobStoreDamagedError,
    JobStoreError,
    JobStoreLockedError,
    PlannedStep,
)

PLAN = [
    PlannedStep(0, "load", 0.2, 0.25, True, "LoadStep"),
    PlannedStep(1, "train", 0.6, 0.75, False, "TrainStep"),
]


@pytest.fixture
def store(tmp_path: Path) -> JobStore:
    return JobStore(tmp_path / "jobs.sqlite3")


def test_a_job_is_recorded_from_creation_to_success(store: JobStore) -> None:
    job = store.create_job("pkg:Action", {"dataset": 1})
    assert store.get(job).status == "pending"
    store.start_job(job, PLAN, {"dataset": 1, "epochs": 3})
    store.step_started(job, 0)
    store.set_progress(job, 1, 2, 0)
    store.add_log(job, "loaded", {"path": Path("/data"), "items": {1, 2}}, "/data/file", "load")
    store.step_finished(job, 0, "success", 0.5, {"count": 3}, None)
    store.set_progress(job, 25, 100)
    store.step_started(job, 1)
    store.add_metrics(job, {"loss": 0.5}, "train")
    store.add_metrics(job, {"loss": 0.25, "odd": math.nan}, "train")
    store.step_finished(job, 1, "success", 1.5, {}, None)
    store.finish_job(job, "success", summary={"steps_executed": 2})

    record = store.get(job)
    assert record.status == record.recorded_status == "success"
    assert record.progress == 100
    assert record.params == {"dataset": 1, "epochs": 3}
    assert record.summary == {"steps_executed": 2}
    assert record.metrics == {"train": {"loss": 0.25, "odd": "nan"}}
    assert record.started_at is not None and record.finished_at is not None
    assert record.duration is not None and record.duration >= 0
    assert [(s.name, s.status, s.share, s.can_roll_back) for s in record.steps] == [
        ("load", "success", 0.25, True),
        ("train", "success", 0.75, False),
    ]
    assert record.steps[0].progress == (1, 2)
    assert record.steps[0].data == {"count": 3}
    assert record.steps[0].duration == 0.5
    logs = store.logs(job)
    assert [(entry.kind, entry.event, entry.step) for entry in logs] == [
        ("log", "loaded", "load"),
        ("metrics", "metrics", "train"),
        ("metrics", "metrics", "train"),
    ]
    assert logs[0].data == {"path": "/data", "items": [1, 2]}
    assert logs[0].file == "/data/file"
    assert [entry.data for entry in store.logs(job, kind="metrics")][0] == {"loss": 0.5}


def test_failure_keeps_error_and_rollback_report(store: JobStore) -> None:
    job = store.create_job("pkg:Action", {})
    store.start_job(job, PLAN, {})
    store.step_finished(job, 0, "success", 0.1, {}, None)
    store.step_finished(job, 1, "failed", 0.2, {}, "boom")
    store.step_rolled_back(job, 0, "OSError: disk")
    store.finish_job(
        job,
        "failed",
        error="Step 'train' failed: boom",
        rollback=[RollbackEntry("load", "rollback", "load", "OSError: disk"), RollbackEntry("load", "undo", "rm x")],
    )
    record = store.get(job)
    assert record.status == "failed"
    assert record.error == "Step 'train' failed: boom"
    assert record.rollback == [
        RollbackEntry("load", "rollback", "load", "OSError: disk"),
        RollbackEntry("load", "undo", "rm x", None),
    ]
    assert record.progress < 100
    assert record.steps[0].rolled_back and record.steps[0].rollback_error == "OSError: disk"
    assert record.steps[1].error == "boom"


def test_store_is_in_wal_mode(store: JobStore) -> None:
    conn = sqlite3.connect(store.path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_unknown_job_changes_nothing(store: JobStore) -> None:
    with pytest.raises(JobNotFoundError, match="no job 99"):
        store.finish_job(99, "failed", error="x")
    with pytest.raises(JobNotFoundError):
        store.get(99)
    assert store.list_jobs() == []


def test_finish_refuses_a_non_final_status(store: JobStore) -> None:
    job = store.create_job("a:B", {})
    with pytest.raises(ValueError, match="success, failed or cancelled"):
        store.finish_job(job, "running")
    assert store.get(job).status == "pending"


def test_list_is_newest_first_and_limited(store: JobStore) -> None:
    ids = [store.create_job(f"a:B{i}", {}) for i in range(3)]
    assert [job.id for job in store.list_jobs()] == ids[::-1]
    assert [job.id for job in store.list_jobs(2)] == ids[:0:-1]


def test_a_job_left_running_by_a_dead_process_reads_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    code = (
        "import os, sys\n"
        "from steprail.jobs import JobStore, PlannedStep\n"
        "s = JobStore(sys.argv[1])\n"
        "j = s.create_job('a:B', {'x': 1})\n"
        "s.start_job(j, [PlannedStep(0, 'one', 1.0, 1.0, False, 'S')], {'x': 1})\n"
        "s.step_started(j, 0)\n"
        "s.add_log(j, 'halfway', {'n': 1}, None, 'one')\n"
        "os._exit(9)\n"  # dies without finishing or closing anything
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=False, timeout=60)
    store = JobStore(path)
    record = store.get(1)
    assert record.recorded_status == "running"
    assert record.status == "interrupted"
    assert record.steps[0].status == "running"
    assert [entry.event for entry in store.logs(1)] == ["halfway"]
    assert store.list_jobs()[0].status == "interrupted"


def test_a_running_job_of_this_process_reads_running(store: JobStore) -> None:
    job = store.create_job("a:B", {})
    store.start_job(job, PLAN, {})
    assert store.get(job).status == "running"


def test_a_reused_pid_is_not_taken_for_the_job_process(store: JobStore) -> None:
    job = store.create_job("a:B", {})
    store.start_job(job, PLAN, {})
    conn = sqlite3.connect(store.path)
    with conn:
        conn.execute("UPDATE jobs SET pid_started = 'not-this-process' WHERE id = ?", (job,))
    conn.close()
    if Path("/proc/self/stat").exists():
        assert store.get(job).status == "interrupted"


def test_processes_opening_a_new_store_at_once_all_get_it(tmp_path: Path) -> None:
    # The CLI creates the store while `jobs list` (or a test polling it) opens it: one of them
    # must not read the other's half-made schema as a foreign database, nor give up on the lock
    # that switching to WAL takes. Connections in threads race like processes do.
    for round_ in range(40):
        path = tmp_path / f"jobs{round_}.sqlite3"
        barrier = threading.Barrier(3)
        errors: list[BaseException] = []

        def open_store() -> None:
            barrier.wait()
            try:
                JobStore(path).close()
            except BaseException as error:  # noqa: BLE001 - reported by the assertion below
                errors.append(error)

        threads = [threading.Thread(target=open_store) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [], (round_, errors)
        with JobStore(path) as store:
            assert store.list_jobs() == []


def test_a_damaged_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    garbage = b"this is not a database\x00" * 200
    path.write_bytes(garbage)
    with pytest.raises(JobStoreDamagedError, match="damaged or is not a steprail job store") as caught:
        JobStore(path)
    assert "--store" not in str(caught.value)  # a command-line hint has no place in the Python API
    assert path.read_bytes() == garbage


def test_a_folder_or_a_file_in_the_way_is_refused_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(JobStoreError, match=r"job store '.*' is a folder, not a file$"):
        JobStore(tmp_path)
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    with pytest.raises(JobStoreError, match=r"cannot create its folder '.*blocker' \(a file is in the way\)"):
        JobStore(blocker / "jobs.sqlite3")
    with pytest.raises(JobStoreError, match=r"cannot create its folder .*\(a file is in the way\)"):
        JobStore(blocker / "deeper" / "jobs.sqlite3")
    assert blocker.read_text() == "x" and sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]


def test_a_foreign_sqlite_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("CREATE TABLE people (name TEXT)")
        conn.execute("INSERT INTO people VALUES ('ada')")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(JobStoreDamagedError, match="not a steprail job store") as caught:
        JobStore(path)
    assert "--store" not in str(caught.value)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT name FROM people").fetchall() == [("ada",)]
    conn.close()
    assert path.read_bytes() == before


def test_a_locked_store_times_out_with_a_clear_error(store: JobStore) -> None:
    job = store.create_job("a:B", {})
    blocker = sqlite3.connect(store.path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        other = JobStore(store.path, timeout=0.1, write_timeout=0.2)
        with pytest.raises(JobStoreLockedError, match=r"locked by another process \(waited 0.2s\)$"):
            other.create_job("a:C", {})
        # Readers are not blocked by a writer in WAL mode.
        assert other.get(job).action == "a:B"
        other.close()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert [j.action for j in store.list_jobs()] == ["a:B"]


def test_a_change_cut_between_begin_and_commit_is_dropped_and_the_store_still_works(store: JobStore) -> None:
    job = store.create_job("a:B", {})
    # What a signal landing right after BEGIN leaves behind: an open transaction.
    store._conn.execute("BEGIN IMMEDIATE")
    store._conn.execute("UPDATE jobs SET error = 'half' WHERE id = ?", (job,))
    store.finish_job(job, "cancelled", error="cancelled by SIGTERM")
    record = store.get(job)
    assert record.status == "cancelled" and record.error == "cancelled by SIGTERM"


def test_an_exception_inside_a_change_rolls_it_back(store: JobStore) -> None:
    job = store.create_job("a:B", {})
    with pytest.raises(KeyboardInterrupt):
        with store._transaction() as conn:
            conn.execute("UPDATE jobs SET error = 'half' WHERE id = ?", (job,))
            raise KeyboardInterrupt
    assert store.get(job).error is None
    assert not store._conn.in_transaction


def test_to_json_never_fails_on_keys_cycles_or_non_finite_numbers() -> None:
    import json

    from steprail.jobs._store import json_value, to_json

    cyclic: dict[str, object] = {"n": float("nan")}
    cyclic["self"] = cyclic
    assert json_value(cyclic) == {"n": "nan", "self": "<cycle>"}
    assert json_value({(1, 2): {float("inf")}}) == {"(1, 2)": ["inf"]}
    assert json.loads(to_json({"a": [1.5, float("-inf")]})) == {"a": [1.5, "-inf"]}
