"""A file-writing action for the failure-policy, rollback-later and resume tests.

Each step writes ``<folder>/<name>.txt`` (its work, undone by its ``rollback`` from the stored
``rollback_data``) after first writing ``<name>.partial`` (its partial work, undone by an undo
action). A step fails after its partial work while ``<folder>/fail-<name>`` exists, so a test
can make a step fail once, remove the marker and resume with the same params.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from steprail import BaseStep, BaseStepContext, RetryPolicy, RuntimeContext, StepRegistry, StepResult
from steprail.actions import BaseAction, Workflow


class FilesParams(BaseModel):
    """Params of :class:`FilesAction`."""

    folder: str
    steps: list[str] = ["export", "convert", "train", "upload"]


@dataclass
class FilesContext(BaseStepContext):
    """What the steps share: the folder, and each step's output appended in run order."""

    folder: str = ""
    outputs: list[str] | None = None


class WriteFile(BaseStep[FilesContext]):
    """Writes ``<name>.txt``; fails (or kills its process) while a marker file says so."""

    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: FilesContext) -> StepResult:
        folder = Path(context.folder)
        with (folder / "runs.log").open("a") as log:  # every execution, across processes
            log.write(f"{self._name}\n")
        partial = folder / f"{self._name}.partial"
        partial.write_text("partial\n")
        context.on_rollback(lambda: partial.unlink(missing_ok=True), label=f"remove {partial.name}")
        if (folder / f"kill-{self._name}").exists():
            os.kill(os.getpid(), signal.SIGKILL)  # the process dies mid-step: nothing is rolled back
        if (folder / f"fail-{self._name}").exists():
            raise OSError(f"{self._name} failed")
        if (folder / f"flaky-{self._name}").exists():  # fails once
            (folder / f"flaky-{self._name}").unlink()
            raise ConnectionError(f"{self._name}: connection reset")
        if (folder / f"interrupt-{self._name}").exists():
            raise KeyboardInterrupt
        path = folder / f"{self._name}.txt"
        path.write_text(f"{self._name}\n")
        partial.unlink()
        context.outputs = [*(context.outputs or []), self._name]
        return StepResult(data={"file": path.name}, rollback_data={"path": str(path)})

    def rollback(self, context: FilesContext, result: StepResult) -> None:
        Path(str(result.rollback_data["path"])).unlink()
        with (Path(context.folder) / "rollbacks.log").open("a") as log:
            log.write(f"{self._name}\n")


class FilesAction(BaseAction[FilesParams]):
    """Runs one :class:`WriteFile` step per name in ``params.steps``."""

    def build_workflow(self) -> Workflow[FilesContext]:
        registry = StepRegistry[FilesContext]()
        for name in self.params.steps:
            registry.register(WriteFile(name))
        context = FilesContext(runtime_ctx=RuntimeContext(), folder=self.params.folder)
        return Workflow(registry, context)


class RetryingFilesAction(FilesAction):
    """:class:`FilesAction` whose ``upload`` step is retried on connection errors."""

    def build_workflow(self) -> Workflow[FilesContext]:
        workflow = super().build_workflow()
        workflow.retries["upload"] = RetryPolicy(on=ConnectionError, attempts=3, wait_initial=0, wait_jitter=0)
        return workflow


class KeepingFilesAction(FilesAction):
    """:class:`FilesAction` that keeps completed work by default."""

    on_failure = "keep"
