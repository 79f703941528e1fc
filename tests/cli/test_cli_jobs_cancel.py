"""``steprail jobs cancel ID`` from another shell cancels an in-process job: its process gets
SIGTERM, rolls back and records ``cancelled``; an ended or unknown job is refused clearly."""

from __future__ import annotations

import subprocess
from pathlib import Path

from steprail.jobs import JobStore
from tests.cli.test_cli_process import ACTION, ROOT, _command, _env, _wait_for_step


def test_jobs_cancel_cancels_a_running_in_process_job(tmp_path: Path) -> None:
    home, folder = tmp_path / "home", tmp_path / "work"
    folder.mkdir()
    env = _env(home)
    runner = subprocess.Popen(
        [*_command(), "run", ACTION, "-p", f"folder={folder}", "-p", "wait_seconds=60", "--plain"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        _wait_for_step(home / "jobs.sqlite3", "wait")
        cancel = subprocess.run(
            [*_command(), "jobs", "cancel", "1"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=90
        )
        out, _ = runner.communicate(timeout=60)
    finally:
        runner.kill()
    assert cancel.returncode == 0, cancel.stdout + cancel.stderr
    assert f"job 1: SIGTERM sent to its process {runner.pid}" in cancel.stdout and "job 1: cancelled" in cancel.stdout
    assert runner.returncode == 130, out
    with JobStore(home / "jobs.sqlite3", read_only=True) as store:
        job = store.get(1)
    assert job.status == "cancelled" and job.error == "cancelled by SIGTERM"
    assert not (folder / "marker.txt").exists() and (folder / "rolled_back.txt").exists()


def test_jobs_cancel_refuses_an_ended_job_and_an_unknown_one(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = _env(home)
    nothing = subprocess.run([*_command(), "jobs", "cancel", "1"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert nothing.returncode == 2 and "there is no job 1" in nothing.stderr
    with JobStore(home / "jobs.sqlite3") as store:
        job = store.create_job("x:Y", {})
        store.finish_job(job, "failed", error="bad")
    ended = subprocess.run([*_command(), "jobs", "cancel", "1"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert ended.returncode == 2 and "job 1 is failed: only a pending or running job can be cancelled" in ended.stderr
    unknown = subprocess.run([*_command(), "jobs", "cancel", "9"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 2 and "has no job 9" in unknown.stderr


def test_an_unknown_executor_is_refused_before_anything_is_recorded(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**_env(home), "STEPRAIL_EXECUTOR": "slurm"}
    done = subprocess.run([*_command(), "run", ACTION, "-p", "folder=x"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--executor: 'slurm' is not an executor; use one of: in-process, ray" in done.stderr
    assert not (home / "jobs.sqlite3").exists()
