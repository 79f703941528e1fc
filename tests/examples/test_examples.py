"""Every example runs, as a script and in process, and does what its docstring says."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MINE = [
    "basic_workflow",
    "rollback",
    "conditional_skip",
    "dynamic_insertion",
    "logging_wrappers",
    "multi_step_training",
    "cancellable_job",
]


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", MINE)
def test_runs_as_a_script(name: str, tmp_path: Path) -> None:
    args = [sys.executable, str(EXAMPLES / f"{name}.py")]
    if name in ("multi_step_training", "cancellable_job"):
        args.append(str(tmp_path))
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_basic_workflow() -> None:
    result = load("basic_workflow").main()
    assert result["summary"] == {"success": True, "steps_executed": 3, "steps_total": 3, "steps_skipped": 0}
    assert result["progress"] == [30, 50, 100]
    assert result["files"] == ["item1.txt", "item2.txt", "item3.txt"]


def test_rollback_matches_the_page() -> None:
    lines, message = load("rollback").main()
    assert lines == [
        "step1: {'action': 'created resource A'}",
        "step2: {'action': 'created resource B'}",
        "rollback: {'action': 'deleted resource B'}",
        "rollback: {'action': 'deleted resource A'}",
    ]
    assert message == "StepFailedError: Step 'step3' failed: Something went wrong"


def test_conditional_skip() -> None:
    module = load("conditional_skip")
    summary, context = module.run([])
    assert context.data == ["cached_item1", "cached_item2"] and summary["steps_skipped"] == 0
    summary, context = module.run(["fresh"])
    assert context.data == ["fresh"] and summary["steps_skipped"] == 1
    assert context.step_results[0].skipped


def test_dynamic_insertion() -> None:
    module = load("dynamic_insertion")
    assert module.plain_order() == ["load_data", "validate", "process", "audit", "save"]
    ran, names, hint = module.wrapped_order()
    assert ran == ["load_data", "validate", "process", "save"]
    assert names == ["logged_load_data", "validate", "logged_process", "logged_save"]
    assert "did you mean 'logged_process'?" in hint


def test_logging_wrappers() -> None:
    module = load("logging_wrappers")
    events, context, error = module.run(load=True)
    assert [(event, data["step"]) for event, data in events] == [
        ("step_start", "load_data"),
        ("step_end", "load_data"),
        ("step_start", "timed_process"),
        ("step_end", "timed_process"),
    ]
    assert error is None
    assert context.step_results[-1].data["duration_seconds"] >= 0.01
    _, _, error = module.run(load=False)
    assert error == "Step 'validate_data' failed: No data loaded"


def test_multi_step_training_records_the_job(tmp_path: Path) -> None:
    record = load("multi_step_training").main(tmp_path, epochs=4)
    assert record.status == "success" and record.progress == 100
    assert [s.name for s in record.steps] == ["logged_load_dataset", "logged_train", "logged_upload_model"]
    assert record.metrics == {"logged_train": {"loss": 0.25, "epoch": 3}}
    assert record.steps[-1].data == {"model_id": 1}


def test_cancellable_job_is_cancelled_and_rolled_back(tmp_path: Path) -> None:
    outcome, record = load("cancellable_job").main(tmp_path, interrupt_after=0.3)
    assert outcome.status == "cancelled" and outcome.error == "cancelled by SIGINT"
    assert not (tmp_path / "draft.txt").exists() and not (tmp_path / "final.txt").exists()
    assert record.status == "cancelled"
    assert [(s.name, s.status, s.rolled_back) for s in record.steps] == [
        ("write_draft", "success", True),
        ("slow_work", "cancelled", False),
        ("publish", "pending", False),
    ]
