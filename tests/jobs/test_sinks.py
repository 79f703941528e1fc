"""Runtime sinks: job store, console (rich and plain), JSON lines, fan-out."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from steprail import RollbackEntry, RuntimeContext
from steprail.jobs import (
    ConsoleRuntime,
    FanOutRuntime,
    JobOutcome,
    JobRuntime,
    JobStore,
    JsonLinesRuntime,
    PlannedStep,
    StepOutcome,
    format_metrics,
)

PLAN = [PlannedStep(0, "load", 1.0, 0.5, True, "Load"), PlannedStep(1, "train", 1.0, 0.5, False, "Train")]


def drive(runtime: FanOutRuntime | ConsoleRuntime | JsonLinesRuntime | JobRuntime) -> None:
    """The calls an action makes for a two-step run whose second step fails."""
    runtime.job_created("pkg:Action", {"dataset": 1})
    runtime.job_started({"dataset": 1}, PLAN)
    runtime.step_started(PLAN[0])
    runtime.log("loaded", {"count": 3})
    runtime.set_progress(1, 2, "load")
    runtime.set_progress(2, 2, "load")
    runtime.step_finished(StepOutcome(0, "load", "success", 0.25, {"count": 3}))
    runtime.set_progress(50, 100)
    runtime.step_started(PLAN[1])
    runtime.set_metrics({"loss": 0.123456, "epoch": 1}, "train")
    runtime.step_finished(StepOutcome(1, "train", "failed", 0.5, {}, "boom"))
    runtime.step_rolled_back(RollbackEntry("load", "rollback", "load"))
    runtime.job_finished(JobOutcome("failed", "Step 'train' failed: boom", (RollbackEntry("load", "rollback", "load"),), {}, 0.75))


def test_format_metrics() -> None:
    assert format_metrics({"loss": 0.123456, "epoch": 3, "name": "x"}) == "loss=0.1235 epoch=3 name=x"


def test_job_runtime_records_everything(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    runtime = JobRuntime(store)
    drive(runtime)
    assert runtime.job_id is not None
    record = store.get(runtime.job_id)
    assert record.status == "failed"
    assert record.progress == 50
    assert [s.status for s in record.steps] == ["success", "failed"]
    assert record.steps[0].rolled_back and record.steps[0].progress == (2, 2)
    assert record.metrics == {"train": {"loss": 0.123456, "epoch": 1}}
    assert [(e.kind, e.step) for e in store.logs(runtime.job_id)] == [("log", "load"), ("metrics", "train")]


def test_job_runtime_needs_a_job_first(tmp_path: Path) -> None:
    runtime = JobRuntime(JobStore(tmp_path / "jobs.sqlite3"))
    with pytest.raises(RuntimeError, match="only after job_created"):
        runtime.log("x", {})


def test_job_runtime_writes_step_progress_only_when_the_percentage_moves(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    runtime = JobRuntime(store)
    runtime.job_created("a:B", {})
    runtime.job_started({}, PLAN)
    writes: list[tuple[int, int, int | None]] = []
    original = store.set_progress

    def counting(job_id: int, current: int, total: int, step_order: int | None = None) -> None:
        writes.append((current, total, step_order))
        original(job_id, current, total, step_order)

    store.set_progress = counting  # type: ignore[method-assign]  # count the store writes
    for current in range(1, 10_001):
        runtime.set_progress(current, 10_000, "load")
    assert len(writes) == 101  # 0%..99% once each (1% is reached at 100), plus the final 100%
    assert writes[-1] == (10_000, 10_000, 0)


def test_console_plain_lines() -> None:
    buffer = io.StringIO()
    runtime = ConsoleRuntime(Console(file=buffer, width=200), plain=True)
    drive(runtime)
    text = buffer.getvalue()
    assert "job: pkg:Action" in text
    assert "steps: load -> train" in text
    assert "[1/2 load] success in 0.25s" in text
    assert "metrics train: loss=0.1235 epoch=1" in text
    assert "[2/2 train] failed in 0.50s: boom  loss=0.1235 epoch=1" in text
    assert "rolled back load: ok" in text
    assert "progress 50%" in text
    assert "job failed in 0.75s: Step 'train' failed: boom" in text
    assert "\x1b[" not in text  # no control sequences in plain mode


def test_console_is_plain_off_a_terminal_and_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    assert ConsoleRuntime(Console(file=io.StringIO())).plain
    assert not ConsoleRuntime(Console(file=io.StringIO(), force_terminal=True)).plain
    monkeypatch.setenv("CI", "true")
    assert ConsoleRuntime(Console(file=io.StringIO(), force_terminal=True)).plain


def test_console_live_bars_render(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    buffer = io.StringIO()
    runtime = ConsoleRuntime(Console(file=buffer, force_terminal=True, width=120))
    assert not runtime.plain
    drive(runtime)
    text = buffer.getvalue()
    assert "overall" in text and "2/2 train" in text
    assert "loss=0.1235" in text
    assert "job failed" in text


def test_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "events" / "run.jsonl"
    drive(JsonLinesRuntime(path))
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    kinds = [line["type"] for line in lines]
    assert kinds == [
        "job_created", "job_started", "step_started", "log", "progress", "progress", "step_finished",
        "progress", "step_started", "metrics", "step_finished", "step_rolled_back", "job_finished",
    ]  # fmt: skip
    assert lines[1]["steps"][0] == {"order": 0, "name": "load", "weight": 1.0, "share": 0.5, "can_roll_back": True}
    assert lines[-1]["status"] == "failed" and lines[-1]["rollback"][0]["step"] == "load"
    assert all("ts" in line for line in lines)


def test_fan_out_reaches_every_sink() -> None:
    plain = RuntimeContext()
    stream = io.StringIO()
    lines = JsonLinesRuntime(stream)
    fan = FanOutRuntime(plain, lines)
    drive(fan)
    assert [entry.event for entry in plain.logs] == ["loaded"]
    assert [p.current for p in plain.progress] == [1, 2, 50]
    assert [m.step for m in plain.metrics] == ["train"]
    assert [entry.event for entry in fan.logs] == ["loaded"]  # kept in memory as well
    assert stream.getvalue().count("\n") == 13


def test_fan_out_can_forward_without_keeping() -> None:
    plain = RuntimeContext()
    fan = FanOutRuntime(plain, keep=False)
    drive(fan)
    assert [entry.event for entry in plain.logs] == ["loaded"]
    assert fan.logs == [] and fan.progress == [] and fan.metrics == []
