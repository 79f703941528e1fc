"""Actions the ``ray`` tests run on workers (importable there as ``tests.ray._ray_actions``)."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from steprail import BaseStep, BaseStepContext, StepRegistry, StepResult
from steprail.actions import BaseAction, Resources, Workflow


class MarkParams(BaseModel):
    """Where the steps leave their marks, how long the last step waits, and a count."""

    folder: str
    items: int = Field(default=4, ge=1)
    wait: float = 0.0
    fail_last: bool = False


class MarkContext(BaseStepContext):
    folder: str = ""
    items: int = 4
    wait: float = 0.0
    fail_last: bool = False


class MarkStep(BaseStep[MarkContext]):
    """Writes ``<name>.mark`` (with the pid and whether sqlite3 was used) and reports progress;
    its rollback removes the mark."""

    def __init__(self, name: str, last: bool = False) -> None:
        self._name = name
        self.last = last

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return 0.5 if self.last else 0.25

    def execute(self, context: MarkContext) -> StepResult:
        mark = Path(context.folder) / f"{self.name}.mark"
        mark.write_text(str(os.getpid()))
        for done in range(1, context.items + 1):
            context.set_progress(done, context.items)
            context.set_metrics({"loss": 1.0 / done, "item": done})
        context.log("marked", {"step": self.name, "pid": os.getpid()})
        if self.last:
            deadline = time.monotonic() + context.wait
            while time.monotonic() < deadline:
                time.sleep(0.05)
            if context.fail_last:
                raise ValueError("the last step failed on purpose")
        return StepResult(success=True, data={"mark": str(mark)})

    def rollback(self, context: MarkContext, result: StepResult) -> None:
        Path(result.data["mark"]).unlink(missing_ok=True)


class MarkAction(BaseAction[MarkParams]):
    """Three marking steps; the last can wait (to be cancelled or killed) or fail."""

    resources = Resources(cpus=0.5)

    def build_workflow(self) -> Workflow[MarkContext]:
        registry = StepRegistry[MarkContext]()
        registry.register(MarkStep("first"))
        registry.register(MarkStep("second"))
        registry.register(MarkStep("third", last=True))
        params = self.params
        context = MarkContext(
            runtime_ctx=self.runtime, folder=params.folder, items=params.items, wait=params.wait, fail_last=params.fail_last
        )
        return Workflow(registry, context)


class WhereParams(BaseModel):
    note: str = "hi"
    #: Where the worker notes every SQLite connection opened in its process from the moment the
    #: action is built (empty: note nothing).
    spy_file: str = ""
    #: Open an in-memory SQLite database in ``execute`` (shows that the spy sees connections).
    open_one: bool = False


class SqliteSpyAction(BaseAction[WhereParams]):
    """Notes in ``spy_file`` every ``sqlite3.connect`` made in its process, from its construction
    on (so the whole run, hooks included, is watched), and reports some events."""

    resources = Resources(cpus=0.5)

    def __init__(self, params: WhereParams | dict[str, Any] | None = None, **options: Any) -> None:
        super().__init__(params, **options)
        spy_file = params.spy_file if isinstance(params, WhereParams) else dict(params or {}).get("spy_file", "")
        if spy_file and _in_ray_worker():  # never in the driver: it opens the store, rightly
            _watch_sqlite(str(spy_file))

    def execute(self) -> dict[str, Any]:
        self.log("hello", {"note": self.params.note})
        self.set_progress(1, 2)
        self.set_metrics({"answer": 42}, "execute")
        if self.params.open_one:
            sqlite3.connect(":memory:").close()
        return {"pid": os.getpid()}


def _in_ray_worker() -> bool:
    try:
        import ray
    except ModuleNotFoundError:
        return False
    return bool(ray.is_initialized()) and ray.get_runtime_context().worker.mode == ray.WORKER_MODE


def _watch_sqlite(spy_file: str) -> None:
    real = sqlite3.connect

    def spy(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        with open(spy_file, "a") as out:
            out.write(f"{args[0] if args else '?'}\n")
        connection: sqlite3.Connection = real(*args, **kwargs)
        return connection

    sqlite3.connect = spy  # type: ignore[assignment]  # a spy with the same call shape


class GreedyAction(BaseAction[WhereParams]):
    """Asks for more CPUs than the test cluster has: Ray keeps it queued."""

    resources = Resources(cpus=64)

    def execute(self) -> dict[str, Any]:
        return {}
