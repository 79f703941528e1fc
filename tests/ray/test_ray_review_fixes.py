"""The hostile review of the Ray executor, as real processes and signals: each test is one
finding (docs/ray.md says what is promised) and fails on the code before its fix."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from steprail.jobs import JobRecord, JobStore
from tests._ray_cluster import RayCluster

pytestmark = pytest.mark.ray

STEPRAIL = Path(sys.executable).with_name("steprail")

# write (its rollback deletes a.txt) -> slowrb (its rollback takes 4 s) -> slow (reports every
# 0.1 s) -> fin. Every step leaves a mark in the folder, so the tests see what ran on disk.
_ACTION = '''
import os
import time
from dataclasses import dataclass
from pathlib import Path
from pydantic import BaseModel
from steprail import BaseStep, BaseStepContext, StepRegistry, StepResult
from steprail.actions import BaseAction, Workflow


class Params(BaseModel):
    folder: str
    seconds: float = 30.0


@dataclass
class Ctx(BaseStepContext):
    folder: str = ""
    seconds: float = 0.0


class Write(BaseStep[Ctx]):
    @property
    def name(self) -> str:
        return "write"

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: Ctx) -> StepResult:
        Path(context.folder, "a.txt").write_text("work")
        return StepResult()

    def rollback(self, context: Ctx, result: StepResult) -> None:
        Path(context.folder, "a.txt").unlink(missing_ok=True)
        Path(context.folder, "write_rolled_back").write_text("x")


class SlowRollback(BaseStep[Ctx]):
    @property
    def name(self) -> str:
        return "slowrb"

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: Ctx) -> StepResult:
        return StepResult()

    def rollback(self, context: Ctx, result: StepResult) -> None:
        Path(context.folder, "rb.pid").write_text(str(os.getpid()))
        time.sleep(4)


class Slow(BaseStep[Ctx]):
    @property
    def name(self) -> str:
        return "slow"

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: Ctx) -> StepResult:
        Path(context.folder, "slow.pid").write_text(str(os.getpid()))
        deadline = time.monotonic() + context.seconds
        while time.monotonic() < deadline and not Path(context.folder, "stop").exists():
            time.sleep(0.1)
            context.set_progress(1, 2)
        return StepResult()


class Fin(BaseStep[Ctx]):
    @property
    def name(self) -> str:
        return "fin"

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: Ctx) -> StepResult:
        Path(context.folder, "final.txt").write_text("done")
        return StepResult()


class SlowJob(BaseAction[Params]):
    def build_workflow(self) -> Workflow[Ctx]:
        steps = StepRegistry[Ctx]()
        for step in (Write(), Slow(), Fin()):
            steps.register(step)
        return Workflow(steps, Ctx(runtime_ctx=self.runtime, folder=self.params.folder, seconds=self.params.seconds))


class Boom(BaseStep[Ctx]):
    @property
    def name(self) -> str:
        return "boom"

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: Ctx) -> StepResult:
        raise ValueError("boom")


class FailRbJob(BaseAction[Params]):
    def build_workflow(self) -> Workflow[Ctx]:
        steps = StepRegistry[Ctx]()
        for step in (Write(), SlowRollback(), Boom()):
            steps.register(step)
        return Workflow(steps, Ctx(runtime_ctx=self.runtime, folder=self.params.folder, seconds=self.params.seconds))


class SlowRbJob(BaseAction[Params]):
    def build_workflow(self) -> Workflow[Ctx]:
        steps = StepRegistry[Ctx]()
        for step in (Write(), SlowRollback(), Slow(), Fin()):
            steps.register(step)
        return Workflow(steps, Ctx(runtime_ctx=self.runtime, folder=self.params.folder, seconds=self.params.seconds))
'''


@pytest.fixture
def action_file(tmp_path: Path) -> Path:
    folder = tmp_path / "code"
    folder.mkdir()
    path = folder / "slow_actions.py"
    path.write_text(_ACTION)
    return path


@pytest.fixture
def marks(tmp_path: Path) -> Path:
    folder = tmp_path / "marks"
    folder.mkdir()
    return folder


def _env(home: Path, cluster: RayCluster) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("CI", None)
    env.pop("PYTHONPATH", None)
    env.update(STEPRAIL_HOME=str(home), RAY_ADDRESS=cluster.address, STEPRAIL_EXECUTOR="ray")
    return env


def _command(*args: str) -> list[str]:
    return [str(STEPRAIL), *args] if STEPRAIL.exists() else [sys.executable, "-m", "steprail.cli", *args]


def _job(home: Path, job_id: int = 1) -> JobRecord:
    with JobStore(home / "jobs.sqlite3", read_only=True) as store:
        return store.get(job_id)


def _wait_for(path: Path, driver: subprocess.Popen[str] | None = None, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        if driver is not None and driver.poll() is not None:
            raise AssertionError(f"the driver ended ({driver.returncode}) before {path} appeared: {driver.communicate()[0]}")
        time.sleep(0.05)


@pytest.fixture
def driver_of(tmp_path: Path, ray_cluster: RayCluster) -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def _run(driver_of: list[subprocess.Popen[str]], home: Path, cluster: RayCluster, *args: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        _command("run", *args, "--plain"), cwd=home.parent, env=_env(home, cluster),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    driver_of.append(process)
    return process


def test_a_second_signal_during_the_rollback_ends_the_job_interrupted_not_cancelled(
    ray_cluster: RayCluster, action_file: Path, marks: Path, tmp_path: Path, driver_of: list[subprocess.Popen[str]]
) -> None:
    home = tmp_path / "home"
    driver = _run(driver_of, home, ray_cluster, f"{action_file}:SlowRbJob", "-p", f"folder={marks}")
    _wait_for(marks / "slow.pid", driver)
    driver.send_signal(signal.SIGTERM)  # the worker rolls back: slowrb's rollback takes 4 s
    _wait_for(marks / "rb.pid", driver)
    driver.send_signal(signal.SIGTERM)  # the second one kills the worker mid-rollback
    out, _ = driver.communicate(timeout=60)
    job = _job(home)
    # It ran, and write's work is still on disk: not "cancelled before it started".
    assert (marks / "a.txt").exists()
    assert driver.returncode == 1, out
    assert job.status == "interrupted", (job.status, job.error)
    assert job.lost is not None and "second SIGTERM on the driver" in job.lost
    assert [(s.name, s.status, s.rolled_back) for s in job.steps[:2]] == [("write", "success", False), ("slowrb", "success", False)]


def _gone(pid: int, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_a_worker_that_loses_its_driver_stops_without_rolling_back_so_resume_finds_the_work(
    ray_cluster: RayCluster, action_file: Path, marks: Path, tmp_path: Path, driver_of: list[subprocess.Popen[str]]
) -> None:
    home = tmp_path / "home"
    driver = _run(driver_of, home, ray_cluster, f"{action_file}:SlowJob", "-p", f"folder={marks}")
    _wait_for(marks / "slow.pid", driver)
    worker = int((marks / "slow.pid").read_text())
    driver.kill()
    driver.wait()
    assert _gone(worker), "the worker outlived its driver"
    # Nothing recorded a rollback, so none happened: write's work is where the record says.
    assert (marks / "a.txt").exists() and not (marks / "write_rolled_back").exists()
    job = _job(home)
    assert job.status == "interrupted" and [(s.name, s.status) for s in job.steps[:1]] == [("write", "success")]
    (marks / "stop").write_text("")
    resumed = subprocess.run(
        _command("jobs", "resume", "1", "--plain"), cwd=tmp_path, env=_env(home, ray_cluster),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert _job(home).status == "success" and (marks / "a.txt").exists() and (marks / "final.txt").exists()


@pytest.mark.parametrize("stranger_sends", [b"", b"[" * 100_000 + b"\n", b"x" * 100_000], ids=["silent", "deep", "endless"])
def test_a_stranger_on_the_event_port_neither_freezes_nor_crashes_the_driver(
    ray_driver: RayCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stranger_sends: bytes
) -> None:
    import socket

    from steprail.ray import RayExecutor
    from steprail.ray._executor import _Drive
    from tests.ray._ray_actions import MarkAction

    strangers: list[socket.socket] = []
    payload_of = _Drive._payload

    def connect_first(self: _Drive, address: tuple[str, int]) -> object:
        # Before the task is even submitted: the stranger is the first to connect, and stays.
        stranger = socket.create_connection(address, timeout=5)
        if stranger_sends:
            stranger.sendall(stranger_sends)
        strangers.append(stranger)
        threading.Timer(45, stranger.close).start()  # without the fix, the run waits for this
        return payload_of(self, address)

    monkeypatch.setattr(_Drive, "_payload", connect_first)
    store = JobStore(tmp_path / "jobs.sqlite3")
    from steprail.jobs import JobRuntime

    started = time.monotonic()
    try:
        outcome = RayExecutor().run(MarkAction({"folder": str(tmp_path), "items": 2}, runtime=JobRuntime(store)))
    finally:
        for stranger in strangers:
            stranger.close()
    assert outcome.status == "success", outcome.error
    assert store.get(1).status == "success" and strangers
    assert time.monotonic() - started < 30  # not held until the stranger hangs up


def test_an_unreachable_cluster_address_fails_at_once_with_nothing_recorded(tmp_path: Path, action_file: Path) -> None:
    home = tmp_path / "home"
    env = dict(os.environ, STEPRAIL_HOME=str(home))
    env.pop("RAY_ADDRESS", None)
    for command in ("run", "submit"):
        started = time.monotonic()
        done = subprocess.run(
            _command(command, f"{action_file}:SlowJob", "-p", f"folder={tmp_path}", "--executor", "ray", "--address", "127.0.0.1:1"),
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 2, done.stdout + done.stderr
        assert "cannot reach the Ray cluster at '127.0.0.1:1'" in done.stderr
        assert time.monotonic() - started < 60
    if (home / "jobs.sqlite3").exists():
        with JobStore(home / "jobs.sqlite3", read_only=True) as store:
            assert store.list_jobs() == []


def test_a_cluster_address_that_is_not_host_port_is_refused() -> None:
    from steprail.ray import ClusterUnreachableError
    from steprail.ray._executor import check_reachable

    with pytest.raises(ClusterUnreachableError, match="'nowhere' is not HOST:PORT"):
        check_reachable("nowhere")
    check_reachable("auto")  # left to Ray: it finds a local cluster


def test_a_fifo_in_the_action_files_folder_is_refused_not_a_hang(ray_cluster: RayCluster, tmp_path: Path, action_file: Path) -> None:
    os.mkfifo(action_file.parent / "pipe")
    home = tmp_path / "home"
    env = _env(home, ray_cluster)
    done = subprocess.run(
        _command("run", f"{action_file}:SlowJob", "-p", f"folder={tmp_path}", "--executor", "ray"),
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{action_file.parent / 'pipe'}' is not a regular file" in done.stderr
    assert not (home / "jobs.sqlite3").exists() or JobStore(home / "jobs.sqlite3", read_only=True).list_jobs() == []


def test_a_home_or_shared_temp_folder_is_never_shipped_whole() -> None:
    from steprail.ray import CodeNotShippableError
    from steprail.ray._executor import check_shippable

    for folder in ("/tmp", str(Path.home())):
        with pytest.raises(CodeNotShippableError, match="refusing to ship"):
            check_shippable([folder])


def test_a_signal_during_a_failures_rollback_is_named_as_sent(
    ray_cluster: RayCluster, action_file: Path, marks: Path, tmp_path: Path, driver_of: list[subprocess.Popen[str]]
) -> None:
    home = tmp_path / "home"
    driver = _run(driver_of, home, ray_cluster, f"{action_file}:FailRbJob", "-p", f"folder={marks}")
    _wait_for(marks / "rb.pid", driver)  # boom failed; slowrb rolls back for 4 s
    driver.send_signal(signal.SIGTERM)
    out, _ = driver.communicate(timeout=60)
    job = _job(home)
    assert job.status == "failed" and driver.returncode == 1, out
    assert "(SIGTERM arrived during the rollback" in (job.error or ""), job.error
    assert "SIGINT" not in (job.error or "") and "SIGINT" not in out


_TWICE = """
import sys
from steprail.cli._loading import load_action
from steprail.ray import RayExecutor

action = load_action(sys.argv[1])
executor = RayExecutor(log_to_driver=False)
for _ in range(2):
    print(executor.run(action({"folder": sys.argv[2], "seconds": 0})).status, flush=True)
print(RayExecutor(log_to_driver=False).run(action({"folder": sys.argv[2], "seconds": 0})).status)
"""


def test_one_process_runs_several_actions_that_ship_the_same_code(ray_cluster: RayCluster, action_file: Path, marks: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _TWICE, f"{action_file}:SlowJob", str(marks)],
        cwd=tmp_path, env=_env(tmp_path / "home", ray_cluster), capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["success", "success", "success"]


_MAIN_ACTION = """
from pydantic import BaseModel
from steprail.actions import BaseAction
from steprail.ray import CodeNotShippableError, RayExecutor


class NoParams(BaseModel):
    pass


class Hello(BaseAction[NoParams]):
    def execute(self) -> dict[str, str]:
        return {"hello": "world"}


try:
    RayExecutor().run(Hello({}))
except CodeNotShippableError as error:
    print(error)
"""


def test_an_action_defined_in_the_running_script_is_refused_with_a_hint(ray_cluster: RayCluster, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _MAIN_ACTION], cwd=tmp_path, env=_env(tmp_path / "home", ray_cluster),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "defined in the script being run (__main__)" in done.stdout and "move it into a module" in done.stdout


_PACKAGE_ACTION = """
from pydantic import BaseModel
from steprail.actions import BaseAction


class NoParams(BaseModel):
    pass


class Hello(BaseAction[NoParams]):
    def execute(self) -> dict[str, int]:
        import os
        return {"worker": os.getpid()}
"""

_MODULE_OBJECT_TWICE = """
import os
import sys
import shippedpkg
from shippedpkg.actions import Hello
from steprail.ray import RayExecutor

executor = RayExecutor(runtime_env={"py_modules": [shippedpkg]}, log_to_driver=False)
for _ in range(2):
    outcome = executor.run(Hello({}))
    print(outcome.status, outcome.summary["worker"] != os.getpid(), flush=True)
"""


def test_a_package_given_as_a_module_object_is_shipped_for_every_run(ray_cluster: RayCluster, tmp_path: Path) -> None:
    # docs/ray.md's py_modules example: Ray takes module objects only when a driver connects, so
    # the second run of the same executor used to fail ("py_module must be a string").
    package = tmp_path / "code" / "shippedpkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "actions.py").write_text(_PACKAGE_ACTION)
    env = _env(tmp_path / "home", ray_cluster)
    env["PYTHONPATH"] = str(tmp_path / "code")  # the driver imports it; the workers get it shipped
    done = subprocess.run(
        [sys.executable, "-c", _MODULE_OBJECT_TWICE], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["success", "True", "success", "True"]
