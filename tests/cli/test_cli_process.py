"""The ``steprail`` console script as a real process: exit codes, SIGTERM, a killed run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from steprail.jobs import JobStore, JobStoreError

ROOT = Path(__file__).resolve().parents[2]
STEPRAIL = Path(sys.executable).with_name("steprail")
ACTION = "tests.cli._sample_actions:FileStepsAction"


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["STEPRAIL_HOME"] = str(home)
    env.pop("CI", None)
    return env


def _command() -> list[str]:
    # The installed console script when there is one, else the module.
    return [str(STEPRAIL)] if STEPRAIL.exists() else [sys.executable, "-m", "steprail.cli"]


def _wait_for_step(store_path: Path, name: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if store_path.exists():
            try:
                with JobStore(store_path) as store:
                    jobs = store.list_jobs(1)
                    steps = store.get(jobs[0].id).steps if jobs else []
            except JobStoreError:
                steps = []  # the other process is creating the file right now: look again
            if any(step.name == name and step.status == "running" for step in steps):
                return
        time.sleep(0.05)
    raise AssertionError(f"step {name!r} never started")


def test_exit_codes_as_a_process(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ok = subprocess.run(
        [*_command(), "run", ACTION, "-p", f"folder={tmp_path}"],
        cwd=ROOT, env=_env(home), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "[3/3 maybe_fail] success" in ok.stdout  # plain lines: stdout is a pipe
    bad = subprocess.run(
        [*_command(), "run", "tests.cli._sample_actions:Nope"],
        cwd=ROOT, env=_env(home), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "has no attribute 'Nope'" in bad.stderr


# SIGHUP: the terminal or ssh session closed; SIGQUIT: Ctrl-\\. Both cancel like SIGTERM.
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT])
def test_a_signal_cancels_rolls_back_and_exits_130(tmp_path: Path, signum: int) -> None:
    home = tmp_path / "home"
    process = subprocess.Popen(
        [*_command(), "run", ACTION, "-p", f"folder={tmp_path}", "-p", "wait_seconds=30"],
        cwd=ROOT, env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_for_step(home / "jobs.sqlite3", "wait")
        assert (tmp_path / "marker.txt").exists()
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stdout + stderr
    assert f"cancelled by {signal.Signals(signum).name}" in stdout, stdout + stderr
    assert not (tmp_path / "marker.txt").exists(), stdout + stderr  # make_marker was rolled back
    assert (tmp_path / "rolled_back.txt").exists()
    with JobStore(home / "jobs.sqlite3") as store:
        record = store.get(1)
    assert record.status == "cancelled", stdout + stderr
    assert [(s.name, s.status) for s in record.steps] == [
        ("make_marker", "success"),
        ("wait", "cancelled"),
        ("maybe_fail", "pending"),
    ], stdout + stderr
    assert record.steps[0].rolled_back
    assert record.error == f"cancelled by {signal.Signals(signum).name}"
    assert record.rollback[0].step == "make_marker" and record.rollback[0].error is None


def test_a_killed_run_leaves_readable_records_and_shows_interrupted(tmp_path: Path) -> None:
    home = tmp_path / "home"
    process = subprocess.Popen(
        [*_command(), "run", ACTION, "-p", f"folder={tmp_path}", "-p", "wait_seconds=30"],
        cwd=ROOT, env=_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_for_step(home / "jobs.sqlite3", "wait")
        time.sleep(0.3)  # let it write some progress and metrics
        process.kill()
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    with JobStore(home / "jobs.sqlite3") as store:
        record = store.get(1)
        metrics = store.logs(1, kind="metrics")
    assert record.recorded_status == "running"
    assert record.status == "interrupted"
    assert record.steps[0].status == "success" and record.steps[1].status == "running"
    assert metrics and metrics[-1].step == "wait"
    shown = subprocess.run(
        [*_command(), "jobs", "show", "1"], cwd=ROOT, env=_env(home), capture_output=True, text=True, timeout=120
    )
    assert shown.returncode == 0
    assert "interrupted" in shown.stdout and "recorded as running" in shown.stdout
