"""Actions for the command-line convention tests: typed params, a step that raises."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from steprail import BaseStep, BaseStepContext, StepRegistry, StepResult
from steprail.actions import BaseAction, Workflow


class Inner(BaseModel):
    """A nested params model."""

    label: str = ""
    size: int = 0


class TypedParams(BaseModel):
    """One field of each kind ``-p`` reads differently."""

    name: str = ""
    note: str | None = None
    count: int = 1
    ratio: float | None = None
    flag: bool = False
    tags: list[str] = Field(default_factory=list)
    inner: Inner = Field(default_factory=Inner)


class EchoTypedAction(BaseAction[TypedParams]):
    """Returns its params as validated, so a test sees what ``-p`` produced."""

    def execute(self) -> dict[str, Any]:
        return self.params.model_dump()


class LookupParams(BaseModel):
    """Params of :class:`RaisingAction`."""

    key: str = "a"


class LookupContext(BaseStepContext):
    """The key to look up."""

    key: str = ""


class _LookupStep(BaseStep[LookupContext]):
    @property
    def name(self) -> str:
        return "lookup"

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: LookupContext) -> StepResult:
        return StepResult(data=_find({}, context.key))


class _FirstStep(BaseStep[LookupContext]):
    @property
    def name(self) -> str:
        return "first"

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: LookupContext) -> StepResult:
        return StepResult()

    def rollback(self, context: LookupContext, result: StepResult) -> None:
        pass


def _find(table: dict[str, dict[str, Any]], key: str) -> dict[str, Any]:
    return table[key]  # raises KeyError: the line the CLI must point at


class RaisingAction(BaseAction[LookupParams]):
    """Two steps; the second raises ``KeyError(key)`` from :func:`_find`."""

    def build_workflow(self) -> Workflow[LookupContext]:
        registry = StepRegistry[LookupContext]()
        registry.register(_FirstStep())
        registry.register(_LookupStep())
        return Workflow(registry, LookupContext(runtime_ctx=self.runtime, key=self.params.key))
