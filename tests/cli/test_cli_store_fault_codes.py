"""A store fault after the job was created exits 3 (the docs' table), also when the final record
could still be written (then it reads ``failed`` and names the fault)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from rich.console import Console

from steprail import BaseStep, BaseStepContext, RuntimeContext, StepRegistry, StepResult
from steprail.actions import BaseAction, Workflow
from steprail.cli._errors import EXIT_STORE_FAILED
from steprail.cli._runner import run_action
from steprail.jobs import JobStore


class LockParams(BaseModel):
    store: str


class Nothing(BaseStep[BaseStepContext]):
    @property
    def name(self) -> str:
        return "nothing"

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: BaseStepContext) -> StepResult:
        return StepResult()


HOLDERS: list[sqlite3.Connection] = []


class LockedBeforeStart(BaseAction[LockParams]):
    """Another writer takes the store's lock after the job was created, before it starts, and
    lets go 1.5 s later: the start record gives up at 1 s (write_timeout), the final record,
    waiting until 2 s, gets through."""

    def build_workflow(self) -> Workflow[Any]:
        holder = sqlite3.connect(self.params.store, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        HOLDERS.append(holder)
        threading.Timer(1.5, holder.rollback).start()
        registry = StepRegistry[BaseStepContext]()
        registry.register(Nothing())
        return Workflow(registry, BaseStepContext(runtime_ctx=RuntimeContext()))


def test_a_lock_held_past_write_timeout_before_any_step_exits_3(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    with JobStore(path, timeout=0.1, write_timeout=1.0) as store:
        try:
            result = run_action(
                LockedBeforeStart, {"store": str(path)}, home=tmp_path, store=store,
                console=Console(file=open(tmp_path / "out.txt", "w")), plain=True, json_log=None,
            )  # fmt: skip
        finally:
            for holder in HOLDERS:
                holder.close()
            HOLDERS.clear()
        record = store.get(store.list_jobs()[0].id)
    assert result.exit_code == EXIT_STORE_FAILED
    assert record.status == "failed"
    assert record.error is not None and "locked by another process" in record.error
    assert record.steps == []  # the start (with its plan) was never recorded: no step ran
