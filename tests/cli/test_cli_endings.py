"""Every way a job can end has a recorded status and a documented exit code (docs/cli.md)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from steprail.cli import app
from steprail.cli._params import MAX_PARAMS_DEPTH, MAX_PARAMS_FILE_BYTES
from steprail.jobs import JobStore

ACTIONS = "tests.cli._sample_actions"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.mark.parametrize(
    ("interrupt", "code", "status", "error"),
    [
        ("SystemExit", 1, "failed", "interrupted by SystemExit(3)"),
        ("CancelledError", 130, "cancelled", "interrupted by CancelledError: task cancelled"),
        ("GeneratorExit", 130, "cancelled", "interrupted by GeneratorExit"),
        ("KeyboardInterrupt", 130, "cancelled", "interrupted by KeyboardInterrupt"),
    ],
)
def test_a_base_exception_in_a_step_is_rolled_back_recorded_and_has_a_documented_exit_code(
    home: Path, tmp_path: Path, interrupt: str, code: int, status: str, error: str
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    result = invoke("run", f"{ACTIONS}:FileStepsAction", "-p", f"folder={folder}", "-p", f"interrupt={interrupt}")
    assert result.exit_code == code, result.output
    assert not (folder / "marker.txt").exists()  # make_marker was rolled back
    with JobStore(home / "jobs.sqlite3") as store:
        [job] = store.list_jobs()
        record = store.get(job.id)
    assert record.status == record.recorded_status == status
    assert record.error is not None and record.error.startswith(error.split(":")[0]), record.error
    assert [step.rolled_back for step in record.steps] == [True, True, False]
    assert record.steps[2].status == status


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("[" * 5000, "nests too deeply"),
        ("[" * (MAX_PARAMS_DEPTH + 1) + "]" * (MAX_PARAMS_DEPTH + 1), "nests too deeply"),
        ("1" * 5000, "more than 4300 digits"),
    ],
)
def test_malformed_param_values_exit_2_without_a_traceback(home: Path, value: str, message: str) -> None:
    result = invoke("run", f"{ACTIONS}:EchoAction", "-p", "name=x", "-p", f"tags={value}")
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert not (home / "jobs.sqlite3").exists()  # nothing recorded


def test_a_deep_key_a_deep_file_and_a_huge_file_exit_2(home: Path, tmp_path: Path) -> None:
    deep_key = ".".join(["a"] * (MAX_PARAMS_DEPTH + 1))
    assert "nests too deeply" in invoke("run", f"{ACTIONS}:EchoAction", "-p", f"{deep_key}=1").output
    deep = tmp_path / "deep.json"
    deep.write_text('{"a":' * 3000 + "1" + "}" * 3000)
    result = invoke("run", f"{ACTIONS}:EchoAction", "-f", str(deep))
    assert result.exit_code == 2 and "nests too deeply" in result.output
    deep_toml = tmp_path / "deep.toml"
    deep_toml.write_text("a = " + "[" * 3000 + "]" * 3000 + "\n")
    result = invoke("run", f"{ACTIONS}:EchoAction", "-f", str(deep_toml))
    assert result.exit_code == 2 and "nests too deeply" in result.output
    huge = tmp_path / "huge.json"
    huge.write_text('{"name": "' + "x" * MAX_PARAMS_FILE_BYTES + '"}')
    result = invoke("run", f"{ACTIONS}:EchoAction", "-f", str(huge))
    assert result.exit_code == 2 and f"limit of {MAX_PARAMS_FILE_BYTES} bytes" in result.output
    assert not (home / "jobs.sqlite3").exists()


def test_jobs_list_json_without_a_store_prints_an_empty_json_list(home: Path) -> None:
    result = invoke("jobs", "list", "--json")
    assert result.exit_code == 0
    assert json.loads(result.output) == []


def test_a_store_that_fills_up_mid_job_exits_3_says_disk_full_and_rolls_back(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk is named as such (not "damaged"), the work is rolled back, exit code 3."""
    from steprail.jobs import _store

    folder = tmp_path / "out"
    folder.mkdir()
    real_transaction = _store.JobStore._transaction
    writes = 0

    @contextmanager
    def filling_disk(self: JobStore) -> Iterator[sqlite3.Connection]:
        # From the fourth write on (make_marker has started and finished), the disk is full:
        # SQLite raises exactly this for SQLITE_FULL. (benchmarks/chaos.py fills a real tmpfs.)
        nonlocal writes
        writes += 1
        if writes > 4:
            with self._guard():
                raise sqlite3.OperationalError("database or disk is full")
        with real_transaction(self) as conn:
            yield conn

    monkeypatch.setattr(_store.JobStore, "_transaction", filling_disk)
    result = invoke("run", f"{ACTIONS}:FileStepsAction", "-p", f"folder={folder}")
    assert result.exit_code == 3, result.output
    assert "disk is full" in result.output and "damaged" not in result.output
    assert "rolled back" in result.output, result.output
    assert not (folder / "marker.txt").exists()
    assert (folder / "rolled_back.txt").exists()


def test_huge_progress_figures_and_numpy_metrics_are_recorded(home: Path, tmp_path: Path) -> None:
    """``set_progress(2**63, ...)`` and beyond, and numpy scalars in metrics, through every sink."""
    action = tmp_path / "huge.py"
    action.write_text(
        "from dataclasses import dataclass\n"
        "import numpy as np\n"
        "from pydantic import BaseModel\n"
        "from steprail import BaseStep, BaseStepContext, StepRegistry, StepResult\n"
        "from steprail.actions import BaseAction, Workflow\n"
        "class P(BaseModel):\n    pass\n"
        "@dataclass\nclass C(BaseStepContext):\n    pass\n"
        "class Count(BaseStep[C]):\n"
        "    name = 'count'\n    progress_weight = 1.0\n"
        "    def execute(self, context: C) -> StepResult:\n"
        "        context.set_progress(2**63, 2**64)\n"
        "        context.set_progress(10**400, 10**400)\n"
        "        context.set_metrics({'seen': np.int64(9), 'loss': np.float32(0.5)})\n"
        "        return StepResult()\n"
        "class Huge(BaseAction[P]):\n"
        "    def build_workflow(self) -> Workflow[C]:\n"
        "        registry = StepRegistry[C]()\n        registry.register(Count())\n"
        "        return Workflow(registry, C(runtime_ctx=self.runtime))\n"
    )
    log = tmp_path / "events.jsonl"
    result = invoke("run", f"{action}:Huge", "--plain", "--json-log", str(log))
    assert result.exit_code == 0, result.output
    with JobStore(home / "jobs.sqlite3") as store:
        [job] = store.list_jobs()
        record = store.get(job.id)
    assert record.status == "success"
    assert record.metrics == {"count": {"seen": 9, "loss": 0.5}}
    assert record.steps[0].progress == (2**63 - 1, 2**63 - 1)
    metrics = [json.loads(line) for line in log.read_text().splitlines() if '"metrics"' in line]
    assert metrics[-1]["value"] == {"seen": 9, "loss": 0.5}
