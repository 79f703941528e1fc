"""Small actions the command-line tests run (by module path or by file path)."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from steprail import BaseStep, StepRegistry, StepResult
from steprail.actions import BaseAction, BaseTrainAction
from steprail.actions.train import BaseTrainParams, TrainContext


class EchoParams(BaseModel):
    """Params of :class:`EchoAction`."""

    name: str
    count: int = Field(default=1, ge=1)
    tags: list[str] = Field(default_factory=list)


class EchoAction(BaseAction[EchoParams]):
    """An ``execute()`` action: returns a greeting."""

    def execute(self) -> dict[str, Any]:
        return {"greeting": " ".join([f"hello {self.params.name}"] * self.params.count), "tags": self.params.tags}


class FileParams(BaseTrainParams):
    """Params of :class:`FileStepsAction`; ``dataset`` is unused here."""

    dataset: int = 0
    folder: str
    fail: bool = False
    wait_seconds: float = 0.0
    #: Raise this BaseException in ``maybe_fail`` (``SystemExit`` means ``sys.exit(3)``).
    interrupt: str = ""


class MakeMarkerStep(BaseStep[TrainContext]):
    """Writes ``folder/marker.txt``; rollback deletes it."""

    @property
    def name(self) -> str:
        return "make_marker"

    @property
    def progress_weight(self) -> float:
        return 0.2

    def execute(self, context: TrainContext) -> StepResult:
        marker = Path(str(context.params["folder"])) / "marker.txt"
        marker.write_text("made by make_marker\n")
        return StepResult(data={"marker": str(marker)}, rollback_data={"marker": str(marker)})

    def rollback(self, context: TrainContext, result: StepResult) -> None:
        Path(str(result.rollback_data["marker"])).unlink(missing_ok=True)
        (Path(str(context.params["folder"])) / "rolled_back.txt").write_text("make_marker\n")


class WaitStep(BaseStep[TrainContext]):
    """Waits ``wait_seconds`` in small slices, reporting progress (a step to cancel)."""

    @property
    def name(self) -> str:
        return "wait"

    @property
    def progress_weight(self) -> float:
        return 0.6

    def execute(self, context: TrainContext) -> StepResult:
        total = float(context.params.get("wait_seconds", 0.0))
        slices = max(1, int(total / 0.05))
        for index in range(slices):
            time.sleep(total / slices)
            context.set_progress(index + 1, slices)
            context.set_metrics({"slice": index + 1})
        return StepResult(data={"waited": total})


class MaybeFailStep(BaseStep[TrainContext]):
    """Fails when ``params['fail']`` is true."""

    @property
    def name(self) -> str:
        return "maybe_fail"

    @property
    def progress_weight(self) -> float:
        return 0.2

    def execute(self, context: TrainContext) -> StepResult:
        if context.params.get("fail"):
            raise RuntimeError("asked to fail")
        interrupt = context.params.get("interrupt")
        if interrupt == "SystemExit":
            sys.exit(3)
        if interrupt == "CancelledError":
            raise asyncio.CancelledError("task cancelled")
        if interrupt == "GeneratorExit":
            raise GeneratorExit
        if interrupt == "KeyboardInterrupt":
            raise KeyboardInterrupt
        return StepResult()


class FileStepsAction(BaseTrainAction[FileParams]):
    """make_marker -> wait -> maybe_fail."""

    def setup_steps(self, registry: StepRegistry[TrainContext]) -> None:
        registry.register(MakeMarkerStep())
        registry.register(WaitStep())
        registry.register(MaybeFailStep())


NOT_AN_ACTION = 42
