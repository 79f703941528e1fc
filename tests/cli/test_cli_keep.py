"""``steprail run --on-failure keep`` and ``steprail jobs rollback`` (issue 14, slice A)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner, Result

from steprail.cli import app
from steprail.jobs import JobStore

ACTION = "tests.actions._kept_actions:FilesAction"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def _work(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "fail-train").touch()
    return folder


def test_run_keep_then_jobs_rollback(home: Path, tmp_path: Path) -> None:
    folder = _work(tmp_path)
    result = invoke("run", ACTION, "-p", f"folder={folder}", "--on-failure", "keep")
    assert result.exit_code == 1, result.output
    assert "kept work of completed steps: export, convert" in result.output
    assert "roll it back: steprail jobs rollback 1" in result.output
    assert {"export.txt", "convert.txt"} <= {p.name for p in folder.iterdir()}
    with JobStore(home / "jobs.sqlite3", read_only=True) as store:
        assert store.get(1).resumable

    shown = invoke("jobs", "show", "1")
    assert "kept work of completed steps: export, convert" in shown.output

    rolled = invoke("jobs", "rollback", "1")
    assert rolled.exit_code == 0, rolled.output
    assert rolled.output.splitlines() == [
        "convert.rollback(): ok",
        "export.rollback(): ok",
        "job 1: rolled back 2 of 2 kept step(s)",
    ]
    assert sorted(p.name for p in folder.iterdir()) == ["fail-train", "rollbacks.log", "runs.log"]
    with JobStore(home / "jobs.sqlite3", read_only=True) as store:
        job = store.get(1)
    assert not job.resumable and [e.step for e in job.rollback] == ["train", "convert", "export"]

    again = invoke("jobs", "rollback", "1")
    assert again.exit_code == 2
    assert "job 1 (failed) has no kept work to roll back" in again.output


def test_run_default_rolls_back_and_jobs_rollback_has_nothing_to_do(home: Path, tmp_path: Path) -> None:
    folder = _work(tmp_path)
    result = invoke("run", ACTION, "-p", f"folder={folder}")
    assert result.exit_code == 1 and "kept work" not in result.output
    assert sorted(p.name for p in folder.iterdir()) == ["fail-train", "rollbacks.log", "runs.log"]
    refused = invoke("jobs", "rollback", "1")
    assert refused.exit_code == 2 and "has no kept work" in refused.output


def test_a_failed_rollback_later_exits_1_and_names_it(home: Path, tmp_path: Path) -> None:
    folder = _work(tmp_path)
    invoke("run", ACTION, "-p", f"folder={folder}", "--on-failure", "keep")
    (folder / "export.txt").unlink()
    result = invoke("jobs", "rollback", "1")
    assert result.exit_code == 1
    assert "export.rollback(): FAILED: FileNotFoundError: " in result.output
    assert "rolled back 1 of 2 kept step(s)" in result.output


def test_bad_policy_and_unknown_job_are_bad_input(home: Path, tmp_path: Path) -> None:
    bad = invoke("run", ACTION, "-p", f"folder={tmp_path}", "--on-failure", "forget")
    assert bad.exit_code == 2
    assert "--on-failure: must be one of 'rollback', 'keep', got 'forget'" in bad.output
    invoke("run", ACTION, "-p", f"folder={tmp_path}")  # creates the store (a success)
    missing = invoke("jobs", "rollback", "7")
    assert missing.exit_code == 2 and "has no job 7" in missing.output
    done = invoke("jobs", "rollback", "1")
    assert done.exit_code == 2 and "job 1 (success) has no kept work to roll back: it succeeded" in done.output
