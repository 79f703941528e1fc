"""``steprail run --executor ray`` as a real process: an action from a file outside the package
is shipped to the workers, a signal to the driver cancels the job, ``steprail jobs cancel``
from another shell does too, and a killed worker ends the job interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from steprail.jobs import JobRecord, JobStore
from tests._ray_cluster import RayCluster

pytestmark = pytest.mark.ray

STEPRAIL = Path(sys.executable).with_name("steprail")

# An action in a file of its own, outside the package and the tests: the workers can only get it
# if the driver ships its folder. It imports a sibling module, which must be shipped too.
_HELPER = '''
def greeting(name: str) -> str:
    return "hello " + name
'''
_ACTION = '''
import os
import time
from pathlib import Path
from pydantic import BaseModel

from steprail.actions import BaseAction, Resources
from shipped_helper import greeting


class Params(BaseModel):
    name: str
    wait: float = 0.0
    folder: str = ""


class Greet(BaseAction[Params]):
    resources = Resources(cpus=0.5)

    def execute(self) -> dict[str, object]:
        self.set_progress(1, 4)
        if self.params.folder:
            mark = Path(self.params.folder) / "started.mark"
            mark.write_text(str(os.getpid()))
        deadline = time.monotonic() + self.params.wait
        while time.monotonic() < deadline:
            time.sleep(0.05)
        return {"text": greeting(self.params.name), "pid": os.getpid(), "cwd": os.getcwd()}
'''


@pytest.fixture
def action_file(tmp_path: Path) -> Path:
    folder = tmp_path / "user_code"
    folder.mkdir()
    (folder / "shipped_helper.py").write_text(_HELPER)
    path = folder / "greet_action.py"
    path.write_text(_ACTION)
    return path


def _env(home: Path, cluster: RayCluster) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("CI", None)
    env.pop("PYTHONPATH", None)  # the workers must get the action from the shipped folder alone
    env.update(STEPRAIL_HOME=str(home), RAY_ADDRESS=cluster.address, STEPRAIL_EXECUTOR="ray")
    return env


def _command(*args: str) -> list[str]:
    return [str(STEPRAIL), *args] if STEPRAIL.exists() else [sys.executable, "-m", "steprail.cli", *args]


def _job(home: Path, job_id: int = 1) -> JobRecord:
    with JobStore(home / "jobs.sqlite3", read_only=True) as store:
        return store.get(job_id)


def _wait_for(path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_an_action_file_outside_the_package_runs_on_a_worker(ray_cluster: RayCluster, action_file: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = subprocess.run(
        _command("run", f"{action_file}:Greet", "-p", "name=ray", "--json"),
        cwd=tmp_path, env=_env(home, ray_cluster), capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["status"] == "success" and printed["result"]["text"] == "hello ray"
    # It ran in another process, in the folder Ray unpacked the shipped code into.
    assert printed["result"]["pid"] != os.getpid() and Path(printed["result"]["cwd"]) != action_file.parent
    job = _job(home, printed["job_id"])
    assert job.executor == "ray" and job.worker_pid == printed["result"]["pid"] and job.status == "success"
    listed = subprocess.run(
        _command("jobs", "list"), cwd=tmp_path, env=_env(home, ray_cluster), capture_output=True, text=True, timeout=60
    )
    assert f"ray {job.node}:{job.worker_pid}" in listed.stdout


def test_sigterm_to_the_driver_cancels_the_ray_job(ray_cluster: RayCluster, action_file: Path, tmp_path: Path) -> None:
    home, marks = tmp_path / "home", tmp_path / "marks"
    marks.mkdir()
    driver = subprocess.Popen(
        _command("run", f"{action_file}:Greet", "-p", "name=x", "-p", "wait=60", "-p", f"folder={marks}", "--plain"),
        cwd=tmp_path, env=_env(home, ray_cluster), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        _wait_for(marks / "started.mark")
        driver.send_signal(signal.SIGTERM)
        out, _ = driver.communicate(timeout=60)
    finally:
        driver.kill()
    assert driver.returncode == 130, out
    job = _job(home)
    assert job.status == "cancelled" and job.steps[0].status == "cancelled"
    assert "SIGTERM on the driver" in (job.error or "")
    assert job.worker_pid == int((marks / "started.mark").read_text())


def test_jobs_cancel_from_another_shell_cancels_a_ray_job(ray_cluster: RayCluster, action_file: Path, tmp_path: Path) -> None:
    home, marks = tmp_path / "home", tmp_path / "marks"
    marks.mkdir()
    env = _env(home, ray_cluster)
    driver = subprocess.Popen(
        _command("run", f"{action_file}:Greet", "-p", "name=x", "-p", "wait=60", "-p", f"folder={marks}", "--plain"),
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        _wait_for(marks / "started.mark")
        cancel = subprocess.run(_command("jobs", "cancel", "1"), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=90)
        out, _ = driver.communicate(timeout=60)
    finally:
        driver.kill()
    assert cancel.returncode == 0, cancel.stdout + cancel.stderr
    assert "job 1: cancelled" in cancel.stdout and driver.returncode == 130, out
    # Once ended, and for a job that does not exist, it refuses clearly.
    again = subprocess.run(_command("jobs", "cancel", "1"), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "job 1 is cancelled: only a pending or running job can be cancelled" in again.stderr
    unknown = subprocess.run(_command("jobs", "cancel", "7"), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 2 and "has no job 7" in unknown.stderr


def test_a_killed_worker_ends_the_cli_job_interrupted(ray_cluster: RayCluster, action_file: Path, tmp_path: Path) -> None:
    home, marks = tmp_path / "home", tmp_path / "marks"
    marks.mkdir()
    driver = subprocess.Popen(
        _command("run", f"{action_file}:Greet", "-p", "name=x", "-p", "wait=60", "-p", f"folder={marks}", "--plain"),
        cwd=tmp_path, env=_env(home, ray_cluster), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        _wait_for(marks / "started.mark")
        os.kill(int((marks / "started.mark").read_text()), signal.SIGKILL)
        out, _ = driver.communicate(timeout=60)
    finally:
        driver.kill()
    assert driver.returncode == 1, out
    assert "job 1 interrupted: the Ray worker running the job was lost" in out
    job = _job(home)
    assert job.status == "interrupted" and job.lost is not None
    shown = subprocess.run(
        _command("jobs", "show", "1"), cwd=tmp_path, env=_env(home, ray_cluster), capture_output=True, text=True, timeout=60
    )
    assert "interrupted (recorded as running; its worker was lost)" in shown.stdout


def test_submit_queues_ray_jobs_that_run_after_it_returned(ray_cluster: RayCluster, action_file: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = _env(home, ray_cluster)
    files = []
    for name in ("ann", "bob"):
        params = tmp_path / f"{name}.json"
        params.write_text(json.dumps({"name": name, "wait": 1.0}))
        files += ["--params", str(params)]
    done = subprocess.run(
        _command("submit", f"{action_file}:Greet", *files, "--json"), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"job_ids": [1, 2]}
    deadline = time.monotonic() + 120
    while any(_job(home, job_id).status in ("pending", "running") for job_id in (1, 2)):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    jobs = [_job(home, job_id) for job_id in (1, 2)]
    assert [(job.status, job.executor, job.summary["text"]) for job in jobs] == [
        ("success", "ray", "hello ann"), ("success", "ray", "hello bob"),
    ]
