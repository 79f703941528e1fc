"""Checkpoints save only what changed, are dropped once nothing can resume the job, are not read
by ``jobs show``, and never restore a loosely typed field with another type (review of issue 14)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from steprail import BaseStep, BaseStepContext, RuntimeContext, StepRegistry, StepResult
from steprail._checkpoint import CheckpointDeltas, merge_checkpoints, restore_checkpoint, take_checkpoint
from steprail.actions import BaseAction, Workflow
from steprail.jobs import JobRuntime, JobStore

FAIL: set[str] = set()
BIG = "x" * 200_000


@dataclass
class BigCtx(BaseStepContext):
    blob: str = ""
    done: list[str] = field(default_factory=list)
    loose: dict[str, Any] = field(default_factory=dict)


class Mark(BaseStep[BigCtx]):
    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: BigCtx) -> StepResult:
        if self._name in FAIL:
            raise OSError(f"{self._name} failed")
        if self._name == "load":
            context.blob = BIG
        context.done = [*context.done, self._name]
        return StepResult()


class Params(BaseModel):
    steps: int = 6


class BigAction(BaseAction[Params]):
    on_failure = "keep"

    def build_workflow(self) -> Workflow[BigCtx]:
        registry = StepRegistry[BigCtx]()
        registry.register(Mark("load"))
        for n in range(1, self.params.steps):
            registry.register(Mark(f"s{n}"))
        return Workflow(registry, BigCtx(runtime_ctx=RuntimeContext()))


def _checkpoint_bytes(path: Path, job_id: int) -> int:
    with sqlite3.connect(path) as conn:
        row = conn.execute("SELECT SUM(LENGTH(checkpoint)) FROM steps WHERE job_id = ?", (job_id,)).fetchone()
    return int(row[0] or 0)


def test_an_unchanged_large_field_is_saved_once_and_a_resume_rebuilds_it(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    FAIL.add("s5")
    try:
        with JobStore(path) as store:
            runtime = JobRuntime(store)
            outcome = BigAction({}, runtime=runtime).run()
            assert outcome.status == "failed" and runtime.job_id is not None
            job_id = runtime.job_id
            # Five kept steps, the 200 kB field saved by the first only (a full copy each: 1 MB).
            assert len(BIG) < _checkpoint_bytes(path, job_id) < 2 * len(BIG)
            checkpoints = [s.checkpoint for s in store.get(job_id, checkpoints=True).kept_steps]
            assert [sorted(c["fields"]) for c in checkpoints if c is not None] == [
                ["blob", "done", "loose"], ["done"], ["done"], ["done"], ["done"]
            ]  # fmt: skip
    finally:
        FAIL.clear()
    with JobStore(path) as store:
        outcome = BigAction({}, runtime=JobRuntime(store)).resume(job_id)
        assert outcome.ok, outcome.error
        context = outcome.context
        assert isinstance(context, BigCtx)
        assert context.blob == BIG and context.done == ["load", "s1", "s2", "s3", "s4", "s5"]
        # The job succeeded: nothing can resume it, so its checkpoints are gone.
        assert _checkpoint_bytes(path, job_id) == 0
        assert not any(s.has_checkpoint for s in store.get(job_id).steps)


def test_a_successful_run_keeps_no_checkpoints(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    with JobStore(path) as store:
        runtime = JobRuntime(store)
        assert BigAction({}, runtime=runtime).run().ok
        assert runtime.job_id is not None
    assert _checkpoint_bytes(path, runtime.job_id) == 0


def test_jobs_show_does_not_read_checkpoints(tmp_path: Path) -> None:
    FAIL.add("s2")
    try:
        with JobStore(tmp_path / "jobs.sqlite3") as store:
            runtime = JobRuntime(store)
            BigAction({}, runtime=runtime).run()
            assert runtime.job_id is not None
            steps = store.get(runtime.job_id).steps
    finally:
        FAIL.clear()
    assert [s.has_checkpoint for s in steps] == [True, True, False, False, False, False]
    assert all(s.checkpoint is None for s in steps)


def test_a_field_that_became_unsaveable_is_not_restored_from_an_older_checkpoint() -> None:
    merged = merge_checkpoints(
        [
            {"fields": {"a": 1, "b": 2}, "not_saved": []},
            {"fields": {}, "not_saved": ["a"], "reasons": {"a": "why"}},
            {"fields": {"b": 3}, "not_saved": ["a"]},
        ]
    )
    assert merged["fields"] == {"b": 3} and merged["not_saved"] == ["a"]


def test_deltas_are_relative_to_the_last_recorded_checkpoint() -> None:
    context = BigCtx(runtime_ctx=RuntimeContext(), blob="a")
    deltas = CheckpointDeltas()
    assert sorted(deltas.take(context)["fields"]) == ["blob", "done", "loose"]
    # Not recorded (the write failed): the next checkpoint must still save every field.
    assert sorted(deltas.take(context)["fields"]) == ["blob", "done", "loose"]
    deltas.recorded()
    assert deltas.take(context)["fields"] == {}
    deltas.recorded()
    context.blob = "b"
    assert deltas.take(context)["fields"] == {"blob": "b"}
    deltas.recorded()
    context.done.append("in place")  # the same list object, changed: still seen
    assert deltas.take(context)["fields"] == {"done": ["in place"]}


@dataclass
class LooseCtx(BaseStepContext):
    anyd: dict[str, Any] = field(default_factory=dict)
    obj: object = None
    plain: Any = None


def test_loosely_typed_fields_that_would_change_type_are_not_saved(tmp_path: Path) -> None:
    context = LooseCtx(
        runtime_ctx=RuntimeContext(),
        anyd={"model": tmp_path, "when": datetime(2024, 1, 1), "t": (1, 2)},
        obj=Path("/x"),
        plain={"n": 1, "s": "text", "l": [1.5, None]},  # JSON values: these do round-trip
    )
    saved = take_checkpoint(context)
    assert saved["fields"] == {"plain": {"n": 1, "s": "text", "l": [1.5, None]}}
    assert saved["not_saved"] == ["anyd", "obj"]
    assert "Path" in saved["reasons"]["obj"] and "precise type" in saved["reasons"]["anyd"]
    fresh = LooseCtx(runtime_ctx=RuntimeContext(), obj=Path("/rebuilt"))
    assert restore_checkpoint(fresh, saved) == ["anyd", "obj"]
    assert fresh.obj == Path("/rebuilt") and fresh.anyd == {}  # rebuilt by the action, never a str
