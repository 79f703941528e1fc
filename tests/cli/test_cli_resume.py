"""``steprail jobs resume`` (issue 14, slice B): in process, and after a real ``kill -9``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner, Result

from steprail import RuntimeContext, StepRegistry, StepResult
from steprail.actions import Workflow
from steprail.cli import app
from steprail.jobs import JobStore

from ..actions._kept_actions import FilesAction, FilesContext, WriteFile

ROOT = Path(__file__).resolve().parents[2]
STEPRAIL = Path(sys.executable).with_name("steprail")
ACTION = "tests.actions._kept_actions:FilesAction"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def _work(tmp_path: Path, marker: str) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / marker).touch()
    return folder


def test_run_keep_then_resume(home: Path, tmp_path: Path) -> None:
    folder = _work(tmp_path, "fail-train")
    failed = invoke("run", ACTION, "-p", f"folder={folder}", "--on-failure", "keep")
    assert failed.exit_code == 1 and "resume it: steprail jobs resume 1" in failed.output
    (folder / "fail-train").unlink()
    resumed = invoke("jobs", "resume", "1")
    assert resumed.exit_code == 0, resumed.output
    assert "job 1: tests.actions._kept_actions:FilesAction, attempt 2, resumed from step 3 (train)" in resumed.output
    assert (folder / "runs.log").read_text().split() == ["export", "convert", "train", "train", "upload"]
    shown = invoke("jobs", "show", "1")
    assert "attempt 2: resumed " in shown.output and "from step 3 (train) after failed: Step 'train' failed" in shown.output
    as_json = json.loads(invoke("jobs", "show", "1", "--json").output)
    assert as_json["status"] == "success" and as_json["resumable"] is False
    assert [(a["number"], a["from_step"]) for a in as_json["attempts"]] == [(2, 2)]
    again = invoke("jobs", "resume", "1")
    assert again.exit_code == 2 and "job 1 (success) cannot be resumed: it succeeded" in again.output


def test_resume_refuses_a_changed_workflow_unless_forced(home: Path, tmp_path: Path) -> None:
    folder = _work(tmp_path, "fail-train")
    invoke("run", ACTION, "-p", f"folder={folder}", "--on-failure", "keep")
    (folder / "fail-train").unlink()
    with JobStore(home / "jobs.sqlite3") as store:  # as if the action had changed: the recorded plan differs
        store._conn.execute("UPDATE steps SET kind = 'OldWriteFile' WHERE position = 3")
    refused = invoke("jobs", "resume", "1")
    assert refused.exit_code == 2
    assert "step 3: was 'upload' (OldWriteFile, weight 1), now 'upload' (WriteFile, weight 1)" in refused.output
    assert "--force" in refused.output
    forced = invoke("jobs", "resume", "1", "--force")
    assert forced.exit_code == 0, forced.output
    assert "forced despite: step 3: was 'upload' (OldWriteFile" in invoke("jobs", "show", "1").output


def _command() -> list[str]:
    return [str(STEPRAIL)] if STEPRAIL.exists() else [sys.executable, "-m", "steprail.cli"]


def test_a_run_killed_mid_step_is_resumed_by_a_new_process(tmp_path: Path) -> None:
    home = tmp_path / "home"
    folder = _work(tmp_path, "kill-train")
    env = {**os.environ, "STEPRAIL_HOME": str(home)}
    env.pop("CI", None)
    killed = subprocess.run(
        [*_command(), "run", ACTION, "-p", f"folder={folder}", "--plain"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    with JobStore(home / "jobs.sqlite3", read_only=True) as store:
        job = store.get(1)
    assert job.status == "interrupted"
    assert [s.status for s in job.steps] == ["success", "success", "running", "pending"]
    (folder / "kill-train").unlink()
    resumed = subprocess.run(
        [*_command(), "jobs", "resume", "1", "--plain"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    # The steps that completed before the kill did not run again; the killed one ran again.
    assert (folder / "runs.log").read_text().split() == ["export", "convert", "train", "train", "upload"]
    assert sorted(p.name for p in folder.glob("*.txt")) == ["convert.txt", "export.txt", "train.txt", "upload.txt"]
    with JobStore(home / "jobs.sqlite3", read_only=True) as store:
        job = store.get(1)
    assert job.status == "success" and job.progress == 100
    assert [(a.number, a.from_step, a.previous_status) for a in job.attempts] == [(2, 2, "interrupted")]


class BuildFailsAction(FilesAction):
    """Builds no workflow while its folder holds ``fail-build`` (a broken environment)."""

    def build_workflow(self) -> Workflow[FilesContext]:
        if (Path(self.params.folder) / "fail-build").exists():
            raise ValueError("a step weight must be > 0, got -1.0")
        return super().build_workflow()


def test_resume_reports_a_failing_build_workflow_in_one_line_and_changes_nothing(home: Path, tmp_path: Path) -> None:
    folder = _work(tmp_path, "fail-train")
    action = f"{__name__}:BuildFailsAction"
    assert invoke("run", action, "-p", f"folder={folder}", "--on-failure", "keep").exit_code == 1
    (folder / "fail-train").unlink()
    (folder / "fail-build").touch()
    with JobStore(home / "jobs.sqlite3") as store:
        before = store.get(1)
    refused = invoke("jobs", "resume", "1")
    assert refused.exit_code == 2
    assert "Traceback" not in refused.output
    assert (
        f"job 1 cannot be resumed: {action}.build_workflow() failed: ValueError: a step weight must be > 0, got -1.0"
        in refused.output
    )
    with JobStore(home / "jobs.sqlite3") as store:
        after = store.get(1)
    assert (after.status, after.resumable, after.attempts, after.steps) == (
        before.status, before.resumable, before.attempts, before.steps
    )  # fmt: skip
    (folder / "fail-build").unlink()
    assert invoke("jobs", "resume", "1").exit_code == 0


class WaitForGo(WriteFile):
    """Waits (at most 60 s) for ``go`` in the folder before it writes its file."""

    def execute(self, context: FilesContext) -> StepResult:
        deadline = time.monotonic() + 60
        while not (Path(context.folder) / "go").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        return super().execute(context)


class PipeAction(FilesAction):
    """Its first step waits for the test to close the reading end of stdout."""

    def build_workflow(self) -> Workflow[FilesContext]:
        registry = StepRegistry[FilesContext]()
        registry.register(WaitForGo("wait"))
        for name in self.params.steps:
            registry.register(WriteFile(name))
        return Workflow(registry, FilesContext(runtime_ctx=RuntimeContext(), folder=self.params.folder))


def test_a_closed_stdout_pipe_does_not_end_the_job(tmp_path: Path) -> None:
    home = tmp_path / "home"
    folder = tmp_path / "work"
    folder.mkdir()
    env = {**os.environ, "STEPRAIL_HOME": str(home)}
    env.pop("CI", None)
    process = subprocess.Popen(
        [*_command(), "run", f"{__name__}:PipeAction", "-p", f"folder={folder}", "--plain"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()  # as `| head -1` does
    assert first.startswith(b"job: ")
    process.stdout.close()  # the reader is gone: every later write to stdout fails with EPIPE
    (folder / "go").touch()
    errors = process.stderr.read().decode()
    assert process.wait(timeout=120) == 0, errors
    assert "Traceback" not in errors and "BrokenPipe" not in errors
    with JobStore(home / "jobs.sqlite3", read_only=True) as store:
        job = store.get(1)
    assert job.status == "success" and [s.status for s in job.steps] == ["success"] * 5


def test_the_table_after_a_resume_shows_restored_steps_and_the_summary_counts_this_attempt(
    home: Path, tmp_path: Path
) -> None:
    folder = _work(tmp_path, "fail-train")
    invoke("run", ACTION, "-p", f"folder={folder}", "--on-failure", "keep", "--plain")
    (folder / "fail-train").unlink()
    resumed = invoke("jobs", "resume", "1", "--plain")
    assert resumed.exit_code == 0, resumed.output
    rows = {line.split("│")[2].strip(): line.split("│")[3].strip() for line in resumed.output.splitlines() if line.count("│") >= 6}
    assert rows == {"export": "restored", "convert": "restored", "train": "success", "upload": "success"}
    assert "not run" not in resumed.output
    assert '"steps_executed": 2' in resumed.output and '"steps_skipped": 0' in resumed.output
    assert '"steps_total": 4' in resumed.output


class SwallowsAlarm(WriteFile):
    """Catches its time-limit alarm and returns late (the limit fails it all the same)."""

    def execute(self, context: FilesContext) -> StepResult:
        try:
            time.sleep(2)
        except Exception:
            pass
        return super().execute(context)


class SwallowingAction(FilesAction):
    """``train`` swallows the alarm of its 0.2 s limit."""

    on_failure = "keep"

    def build_workflow(self) -> Workflow[FilesContext]:
        registry = StepRegistry[FilesContext]()
        for name in self.params.steps:
            registry.register(SwallowsAlarm(name) if name == "train" else WriteFile(name))
        context = FilesContext(runtime_ctx=RuntimeContext(), folder=self.params.folder)
        return Workflow(registry, context, time_limits={"train": 0.2})


def test_a_step_that_swallowed_its_alarm_is_not_listed_as_kept_work(home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    failed = invoke("run", f"{__name__}:SwallowingAction", "-p", f"folder={folder}", "--plain")
    assert failed.exit_code == 1, failed.output
    assert "exceeded its time limit of 0.2s" in failed.output
    assert "kept work of completed steps: export, convert\n" in failed.output
