"""stdlib logging: the library's steprail.* loggers and LoggingRuntime, the sink that forwards
every job event to logging."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from steprail import BaseStep, BaseStepContext, StepRegistry, StepResult
from steprail.actions import BaseAction, Workflow
from steprail.jobs import FanOutRuntime, LoggingRuntime
from .._doc_blocks import ROOT, run_script, scripts_of, type_check


class _Params(BaseModel):
    fail: bool = False
    broken_rollback: bool = False


class _Context(BaseStepContext):
    fail: bool = False
    broken_rollback: bool = False


class _Load(BaseStep[_Context]):
    @property
    def name(self) -> str:
        return "load"

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: _Context) -> StepResult:
        context.runtime_ctx.log("loaded", {"items": 3})
        context.runtime_ctx.set_metrics({"items": 3}, "load")
        return StepResult(data={"items": 3})

    def rollback(self, context: _Context, result: StepResult) -> None:
        if context.broken_rollback:
            raise OSError("disk gone")


class _Train(BaseStep[_Context]):
    @property
    def name(self) -> str:
        return "train"

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: _Context) -> StepResult:
        if context.fail:
            raise KeyError("a")
        return StepResult()


class _Action(BaseAction[_Params]):
    def build_workflow(self) -> Workflow[_Context]:
        registry = StepRegistry[_Context]()
        registry.register(_Load())
        registry.register(_Train())
        context = _Context(runtime_ctx=self.runtime, fail=self.params.fail, broken_rollback=self.params.broken_rollback)
        return Workflow(registry, context)


@pytest.fixture(autouse=True)
def _plain_job_logger() -> Iterator[None]:
    """Each test starts with the steprail.job logger as the library leaves it: the docs example
    of docs/logging.md, run in-process by tests/docs, adds a printing handler and an INFO level
    to it and does not take them away (these tests then saw no DEBUG records, and lines twice)."""
    logger = logging.getLogger("steprail.job")
    handlers, level = list(logger.handlers), logger.level
    logger.handlers.clear()
    logger.setLevel(logging.NOTSET)
    try:
        yield
    finally:
        logger.handlers[:] = handlers
        logger.setLevel(level)


def _records(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == name]


def _field(record: logging.LogRecord, name: str) -> Any:
    return record.__dict__[f"steprail_{name}"]


def test_every_event_of_a_successful_job_reaches_logging(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="steprail")
    assert _Action({}, runtime=LoggingRuntime()).run().ok
    records = _records(caplog, "steprail.job")
    events = [(_field(r, "event"), r.levelno) for r in records if _field(r, "event") != "progress"]
    assert events == [
        ("job_created", logging.INFO),
        ("job_started", logging.INFO),
        ("step_started", logging.DEBUG),
        ("log", logging.INFO),
        ("metrics", logging.INFO),
        ("step_finished", logging.INFO),
        ("step_started", logging.DEBUG),
        ("step_finished", logging.INFO),
        ("job_finished", logging.INFO),
    ]
    assert all(_field(r, "action") == _Action.action_name for r in records)
    log = next(r for r in records if _field(r, "event") == "log")
    assert (log.getMessage(), _field(log, "data")) == ("loaded", {"items": 3})
    finished = [r for r in records if _field(r, "event") == "step_finished"]
    assert [(_field(r, "step"), _field(r, "status")) for r in finished] == [("load", "success"), ("train", "success")]
    progress = [_field(r, "progress") for r in records if _field(r, "event") == "progress"]
    assert progress and progress[-1] == (100, 100)


def test_failures_and_failed_rollbacks_are_errors_with_the_traceback(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="steprail")
    outcome = _Action({"fail": True, "broken_rollback": True}, runtime=LoggingRuntime("steprail.myjobs")).run()
    assert outcome.status == "failed"
    errors = [r for r in _records(caplog, "steprail.myjobs") if r.levelno == logging.ERROR]
    assert [r.getMessage().split(" in ")[0] for r in errors] == [
        "step train failed",
        "rollback of step load failed: rollback(): OSError: disk gone",
        f"job {_Action.action_name} failed",
    ]
    assert errors[0].getMessage().endswith(": KeyError: 'a'")
    job = errors[-1]
    assert _field(job, "error") == "Step 'train' failed: KeyError: 'a'"
    assert _field(job, "traceback").endswith("KeyError: 'a'\n")
    assert "\n" not in job.getMessage()  # one line; the traceback is an attribute


def test_the_library_warns_of_failed_steps_and_rollbacks_on_its_own_logger(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="steprail")
    _Action({"fail": True, "broken_rollback": True}).run()  # no LoggingRuntime: the library's own records
    records = _records(caplog, "steprail.actions")
    warnings = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert warnings == ["step train failed: KeyError: 'a'", "rollback of step load failed: rollback(): OSError: disk gone"]
    assert records[0].getMessage() == f"action {_Action.action_name}: run started"
    assert records[-1].levelno == logging.INFO and "run failed in" in records[-1].getMessage()


def test_a_disabled_level_costs_no_record(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="steprail")
    _Action({}, runtime=FanOutRuntime(LoggingRuntime())).run()
    assert _records(caplog, "steprail.job") == []


def test_a_logger_outside_the_steprail_hierarchy_is_refused() -> None:
    with pytest.raises(ValueError, match="steprail loggers are named 'steprail' or 'steprail.<area>', not 'myapp'"):
        LoggingRuntime("myapp")
    assert LoggingRuntime(logging.getLogger("myapp")).logger.name == "myapp"  # a Logger object is the user's choice


def test_the_library_prints_nothing_unless_logging_is_configured() -> None:
    # A fresh interpreter: logging's last-resort handler would print warnings to stderr if the
    # steprail logger had no handler of its own.
    code = (
        "import logging, steprail._logging\n"
        "assert any(isinstance(h, logging.NullHandler) for h in logging.getLogger('steprail').handlers)\n"
        "logging.getLogger('steprail.actions').warning('step x failed')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stderr == ""


def test_the_logging_page_example_prints_what_the_page_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    page = ROOT / "docs" / "logging.md"
    scripts = scripts_of(page)
    assert len(scripts) == 1
    monkeypatch.chdir(tmp_path)
    logger = logging.getLogger("steprail.job")
    handlers, level = list(logger.handlers), logger.level
    try:
        run_script(scripts[0][1], tmp_path, "logging_page")
    finally:
        logger.handlers[:], logger.level = handlers, level
    printed = capsys.readouterr().out.splitlines()
    text = page.read_text(encoding="utf-8")
    documented = text.split("It prints (durations vary):\n\n```\n", 1)[1].split("```", 1)[0].splitlines()

    def masked(lines: list[str]) -> list[str]:
        return [re.sub(r"\d+\.\d+s\b", "<t>", line) for line in lines]

    assert masked(printed) == masked(documented)
    assert type_check(scripts, tmp_path, "logging_page") == ""
