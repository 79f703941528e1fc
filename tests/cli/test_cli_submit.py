"""``steprail submit`` queues several jobs at once and returns their ids; detached processes
drive them and record them after the command has returned; ``jobs cancel`` stops one."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from steprail.jobs import JobRecord, JobStore
from tests.cli.test_cli_process import ACTION, ROOT, _command, _env


def _jobs(home: Path) -> list[JobRecord]:
    with JobStore(home / "jobs.sqlite3", read_only=True) as store:
        return [store.get(job.id) for job in reversed(store.list_jobs())]


def _wait_until_ended(home: Path, count: int, timeout: float = 60.0) -> list[JobRecord]:
    deadline = time.monotonic() + timeout
    while True:
        jobs = _jobs(home)
        if len(jobs) == count and all(job.status not in ("pending", "running") for job in jobs):
            return jobs
        assert time.monotonic() < deadline, [(job.id, job.status) for job in jobs]
        time.sleep(0.1)


def test_submit_queues_jobs_returns_their_ids_and_they_run_after_it_returned(tmp_path: Path) -> None:
    home = tmp_path / "home"
    files = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        params = tmp_path / f"{name}.json"
        params.write_text(json.dumps({"folder": str(folder), "wait_seconds": 1.0}))
        files += ["--params", str(params)]
    done = subprocess.run(
        [*_command(), "submit", ACTION, *files, "--json"], cwd=ROOT, env=_env(home), capture_output=True, text=True, timeout=90
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"job_ids": [1, 2]}
    # It returned while the jobs still run (each waits a second), owned by live processes (a job
    # still owned by the submit command, now gone, would read interrupted).
    assert [job.status for job in _jobs(home)] in (["pending", "running"], ["running", "pending"], ["running", "running"], ["pending", "pending"])
    ended = _wait_until_ended(home, 2)
    assert [(job.id, job.status) for job in ended] == [(1, "success"), (2, "success")]
    assert (tmp_path / "a" / "marker.txt").exists() and (tmp_path / "b" / "marker.txt").exists()
    assert len({job.pid for job in ended}) == 2  # one driving process per job
    assert not list((home / "submitted").glob("*.json"))  # the hand-off files were consumed


def test_submit_refuses_every_job_when_one_has_bad_params(tmp_path: Path) -> None:
    home = tmp_path / "home"
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps({"folder": str(tmp_path)}))
    bad.write_text(json.dumps({"wait_seconds": "soon"}))
    done = subprocess.run(
        [*_command(), "submit", ACTION, "--params", str(good), "--params", str(bad)],
        cwd=ROOT, env=_env(home), capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert f"job 2 of 2 ({bad})" in done.stderr and "folder" in done.stderr and "nothing was queued" in done.stderr
    assert not (home / "jobs.sqlite3").exists()


def test_jobs_cancel_stops_a_submitted_job(tmp_path: Path) -> None:
    home, folder = tmp_path / "home", tmp_path / "work"
    folder.mkdir()
    env = _env(home)
    done = subprocess.run(
        [*_command(), "submit", ACTION, "-p", f"folder={folder}", "-p", "wait_seconds=60"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=90,
    )
    assert done.returncode == 0 and done.stdout.split() == ["1"], done.stderr
    deadline = time.monotonic() + 60
    while not any(step.name == "wait" and step.status == "running" for step in _jobs(home)[0].steps):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    cancel = subprocess.run([*_command(), "jobs", "cancel", "1"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
    assert cancel.returncode == 0 and "job 1: cancelled" in cancel.stdout, cancel.stdout + cancel.stderr
    job = _jobs(home)[0]
    assert job.status == "cancelled" and not (folder / "marker.txt").exists()
