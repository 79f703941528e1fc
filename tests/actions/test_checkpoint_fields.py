"""Which context fields a checkpoint saves, and how a resume rebuilds the others (issue 14, B)."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pydantic import BaseModel

from steprail import NOT_CHECKPOINTED, BaseStep, BaseStepContext, RuntimeContext, StepRegistry, StepResult
from steprail._checkpoint import restore_checkpoint, take_checkpoint
from steprail.actions import BaseAction, KeptWorkError, Workflow
from steprail.jobs import JobRuntime, JobStore

FAIL: set[str] = set()


class Client:
    """Stands for a connection: rebuilt by the action for every run."""

    def __init__(self, label: str) -> None:
        self.label = label


@dataclass
class Ctx(BaseStepContext):
    folder: Path = Path(".")
    counts: dict[str, int] = field(default_factory=dict)
    client: Client | None = field(default=None, metadata=NOT_CHECKPOINTED)
    lock: object = None  # whatever it holds at run time: saved if pydantic can, else skipped


class Count(BaseStep[Ctx]):
    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: Ctx) -> StepResult:
        if self._name in FAIL:
            raise OSError(f"{self._name} failed")
        assert context.client is not None
        context.counts = {**context.counts, self._name: len(context.counts)}
        context.lock = threading.Lock()
        context.client = Client(f"changed by {self._name}")
        return StepResult()


class Params(BaseModel):
    folder: str


class CountAction(BaseAction[Params]):
    on_failure = "keep"

    def build_workflow(self) -> Workflow[Ctx]:
        registry = StepRegistry[Ctx]()
        for name in ("a", "b", "c"):
            registry.register(Count(name))
        context = Ctx(runtime_ctx=RuntimeContext(), folder=Path(self.params.folder), client=Client("fresh"))
        return Workflow(registry, context)


def test_a_checkpoint_saves_typed_fields_and_lists_what_it_skipped(tmp_path: Path) -> None:
    context = Ctx(runtime_ctx=RuntimeContext(), folder=tmp_path, counts={"a": 0}, client=Client("x"), lock=threading.Lock())
    saved = take_checkpoint(context)
    assert saved == {
        "fields": {"folder": str(tmp_path), "counts": {"a": 0}},
        "not_saved": ["lock"],
        "reasons": {"lock": "not serialisable: PydanticSerializationError"},
    }
    fresh = Ctx(runtime_ctx=RuntimeContext(), client=Client("new"))
    assert restore_checkpoint(fresh, saved) == ["lock"]  # client is never checkpointed: not listed
    assert fresh.folder == tmp_path and fresh.counts == {"a": 0}  # a Path again, from its text
    assert fresh.client is not None and fresh.client.label == "new"


def test_a_resume_restores_saved_fields_and_the_action_rebuilds_the_others(tmp_path: Path) -> None:
    FAIL.clear()
    FAIL.add("c")
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        runtime = JobRuntime(store)
        assert CountAction({"folder": str(tmp_path)}, runtime=runtime).run().status == "failed"
        assert runtime.job_id is not None
        FAIL.clear()
        outcome = CountAction({"folder": str(tmp_path)}, runtime=JobRuntime(store)).resume(runtime.job_id)
    assert outcome.ok
    context = outcome.context
    assert isinstance(context, Ctx)
    assert context.counts == {"a": 0, "b": 1, "c": 2}
    assert context.client is not None and context.client.label == "changed by c"


def test_a_checkpoint_that_no_longer_fits_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    FAIL.clear()
    FAIL.add("c")
    path = tmp_path / "jobs.sqlite3"
    with JobStore(path) as store:
        runtime = JobRuntime(store)
        CountAction({"folder": str(tmp_path)}, runtime=runtime).run()
        assert runtime.job_id is not None
        job_id = runtime.job_id
    with sqlite3.connect(path) as conn:  # as if Ctx.counts had become dict[str, int] from a list
        conn.execute("""UPDATE steps SET checkpoint = '{"fields": {"counts": ["a"]}, "not_saved": []}'""")
    FAIL.clear()
    with JobStore(path) as store:
        before = store.get(job_id)
        with pytest.raises(KeptWorkError, match=r"job 1 cannot be resumed: the checkpoint's value of Ctx.counts does not fit"):
            CountAction({"folder": str(tmp_path)}, runtime=JobRuntime(store)).resume(job_id)
        assert store.get(job_id) == before
