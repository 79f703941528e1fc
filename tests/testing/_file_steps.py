"""File-writing steps for the steprail.testing tests: correct ones and deliberately broken ones."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from steprail import BaseStep, BaseStepContext, RuntimeContext, StepResult


@dataclass
class FilesContext(BaseStepContext):
    """The folder the steps write to, and the files written so far."""

    root: str = ""
    written: list[str] = field(default_factory=list)


def files_context(root: Path) -> FilesContext:
    return FilesContext(runtime_ctx=RuntimeContext(), root=str(root))


class WriteFile(BaseStep[FilesContext]):
    """Writes ``<root>/<filename>`` and registers its removal with ``context.on_rollback``:
    correct whether it or a later step fails."""

    def __init__(self, filename: str, weight: float = 0.2) -> None:
        self.filename = filename
        self._weight = weight

    @property
    def name(self) -> str:
        return self.filename.replace(".", "_")

    @property
    def progress_weight(self) -> float:
        return self._weight

    def path(self, context: FilesContext) -> Path:
        return Path(context.root) / self.filename

    def execute(self, context: FilesContext) -> StepResult:
        path = self.path(context)
        path.write_text(f"written by {self.name}")
        context.on_rollback(path.unlink, label=f"remove {self.filename}")
        context.set_progress(1, 1)
        context.written = [*context.written, self.filename]
        return StepResult(data={"path": str(path)})


class WriteFileUndoneByRollback(WriteFile):
    """Writes its file and removes it in ``rollback()``: right when a later step fails, but a
    failure after its own work leaves the file (a failed step's rollback is not called)."""

    def execute(self, context: FilesContext) -> StepResult:
        path = self.path(context)
        path.write_text(f"written by {self.name}")
        return StepResult(rollback_data={"path": str(path)})

    def rollback(self, context: FilesContext, result: StepResult) -> None:
        Path(result.rollback_data["path"]).unlink()


class LeakyWriteFile(WriteFile):
    """Deliberately broken: writes its file and a backup copy; rollback removes only the file."""

    def execute(self, context: FilesContext) -> StepResult:
        path = self.path(context)
        path.write_text(f"written by {self.name}")
        path.with_suffix(".bak").write_text("backup")
        return StepResult(rollback_data={"path": str(path)})

    def rollback(self, context: FilesContext, result: StepResult) -> None:
        Path(result.rollback_data["path"]).unlink()  # forgets the .bak file


class RaisingRollbackWriteFile(WriteFile):
    """Deliberately broken: its rollback raises before removing anything."""

    def execute(self, context: FilesContext) -> StepResult:
        self.path(context).write_text("x")
        return StepResult()

    def rollback(self, context: FilesContext, result: StepResult) -> None:
        raise PermissionError(f"cannot remove {self.filename}")
