"""Small scripted steps and contexts shared by the core tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from steprail import BaseStep, BaseStepContext, RuntimeContext, StepResult


@dataclass
class ItemsContext(BaseStepContext):
    """A context with a few typed fields and a journal of what steps did."""

    items: list[str] = field(default_factory=list)
    count: int = 0
    journal: list[str] = field(default_factory=list)


def new_context() -> ItemsContext:
    return ItemsContext(runtime_ctx=RuntimeContext())


type Action = Callable[[ItemsContext], StepResult]


class Scripted(BaseStep[ItemsContext]):
    """A step whose behaviour is given as data; it journals execute/rollback calls."""

    def __init__(
        self,
        name: str,
        weight: float = 0.1,
        *,
        action: Action | None = None,
        skip: bool = False,
        rollback_error: Exception | None = None,
    ) -> None:
        self._name = name
        self._weight = weight
        self._action = action
        self._skip = skip
        self._rollback_error = rollback_error

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return self._weight

    def can_skip(self, context: ItemsContext) -> bool:
        return self._skip

    def execute(self, context: ItemsContext) -> StepResult:
        context.journal.append(f"execute {self._name}")
        if self._action is not None:
            return self._action(context)
        return StepResult(data={"name": self._name}, rollback_data={"name": self._name})

    def rollback(self, context: ItemsContext, result: StepResult) -> None:
        context.journal.append(f"rollback {self._name}")
        if self._rollback_error is not None:
            raise self._rollback_error


def raising(error: BaseException) -> Action:
    def action(context: ItemsContext) -> StepResult:
        raise error

    return action


def failing(message: str | None) -> Action:
    def action(context: ItemsContext) -> StepResult:
        return StepResult(success=False, error=message)

    return action
