"""``steprail jobs cancel`` signals only a steprail process that cancels the job on SIGTERM: a job
still waiting for the process ``submit`` starts is cancelled in the store (``submit`` itself is
never signalled), and a job recorded by another program is refused, its process left alone."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from steprail.jobs import JobStore
from tests.cli.test_cli_process import ACTION, ROOT, _command, _env

# A program that records a job through the Python API (as a web service would), then lives on.
_HOST_PROGRAM = """
import sys, time
from steprail.jobs import JobStore
from steprail.jobs import PlannedStep
store = JobStore(sys.argv[1])
job = store.create_job("tests.cli._sample_actions:FileStepsAction", {"folder": sys.argv[2]})
if sys.argv[3] == "running":
    store.start_job(job, [PlannedStep(0, "wait", 1.0, 1.0, True, "Wait")], {})
print(job, flush=True)
time.sleep(60)
"""


def _host(tmp_path: Path, status: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", _HOST_PROGRAM, str(tmp_path / "home" / "jobs.sqlite3"), str(tmp_path), status],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None and process.stdout.readline().strip() == "1"
    return process


def test_jobs_cancel_refuses_a_job_run_inside_another_program_and_leaves_it_alive(tmp_path: Path) -> None:
    host = _host(tmp_path, "running")
    try:
        cancel = subprocess.run(
            [*_command(), "jobs", "cancel", "1"], cwd=ROOT, env=_env(tmp_path / "home"), capture_output=True, text=True, timeout=60
        )
        assert cancel.returncode == 2, cancel.stdout + cancel.stderr
        assert "job 1 runs inside another program" in cancel.stderr and "cancel it there" in cancel.stderr
        time.sleep(0.3)
        assert host.poll() is None  # not sent SIGTERM
        # The record says which process that is, and that it does not cancel on a signal.
        shown = subprocess.run(
            [*_command(), "jobs", "show", "1", "--json"], cwd=ROOT, env=_env(tmp_path / "home"), capture_output=True, text=True, timeout=60
        )
        record = json.loads(shown.stdout)
        assert (record["pid"], record["signals"], bool(record["host"])) == (host.pid, False, True)
    finally:
        host.kill()
        host.wait()


def test_jobs_cancel_of_a_job_submit_has_not_handed_over_cancels_it_in_the_store(tmp_path: Path) -> None:
    home = tmp_path / "home"
    owner = _host(tmp_path, "pending")  # stands for steprail submit, before its driver takes over
    try:
        cancel = subprocess.run(
            [*_command(), "jobs", "cancel", "1"], cwd=ROOT, env=_env(home), capture_output=True, text=True, timeout=60
        )
        assert cancel.returncode == 0 and "job 1: cancelled before it started" in cancel.stdout, cancel.stderr
        time.sleep(0.3)
        assert owner.poll() is None  # submit was not signalled
        # The process submit started for it then cannot take it over, and runs nothing.
        params = tmp_path / "params.json"
        params.write_text(json.dumps({"folder": str(tmp_path), "dataset": 1}))
        drive = subprocess.run(
            [*_command(), "drive", "1", "--from-pid", str(owner.pid), "--params-file", str(params), "--home", str(home)],
            cwd=ROOT, env=_env(home), capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert drive.returncode == 2 and "cannot be adopted" in drive.stderr
        assert not params.exists() and not (tmp_path / "marker.txt").exists()
        with JobStore(home / "jobs.sqlite3", read_only=True) as store:
            job = store.get(1)
        assert (job.status, job.error) == ("cancelled", "cancelled before it started (steprail jobs cancel)")
    finally:
        owner.kill()
        owner.wait()


def test_a_submitted_job_cancelled_during_the_hand_over_never_kills_submit(tmp_path: Path) -> None:
    home = tmp_path / "home"
    files = []
    for number in range(3):
        params = tmp_path / f"p{number}.json"
        # Job 3 runs long enough that a loaded machine's slow `jobs cancel` still finds it unfinished.
        wait = 8.0 if number == 2 else 0.5
        params.write_text(json.dumps({"folder": str(tmp_path), "dataset": 1, "wait_seconds": wait}))
        files += ["--params", str(params)]
    submit = subprocess.Popen(
        [*_command(), "submit", ACTION, *files], cwd=ROOT, env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while True:  # as soon as job 3 exists, whoever owns it
        cancel = subprocess.run(
            [*_command(), "jobs", "cancel", "3", "--wait", "30"], cwd=ROOT, env=_env(home), capture_output=True, text=True, timeout=60
        )
        if cancel.returncode != 2 or time.monotonic() > deadline:
            break
    out, err = submit.communicate(timeout=90)
    assert cancel.returncode == 0, cancel.stdout + cancel.stderr
    assert submit.returncode == 0 and out.split() == ["1", "2", "3"], err
    with JobStore(home / "jobs.sqlite3", read_only=True) as store:
        assert store.get(3).status == "cancelled"
