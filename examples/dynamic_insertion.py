"""The page's dynamic step insertion, plain and with steps wrapped by ``LoggingStep``.

Run it: ``python examples/dynamic_insertion.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from steprail import (
    BaseStep,
    BaseStepContext,
    LoggingStep,
    Orchestrator,
    RuntimeContext,
    StepRegistry,
    StepResult,
)


@dataclass
class MyContext(BaseStepContext):
    """Records the order the steps ran in."""

    ran: list[str] = field(default_factory=list)


class NamedStep(BaseStep[MyContext]):
    """A step that only notes that it ran."""

    def __init__(self, name: str, weight: float = 0.2) -> None:
        self._name = name
        self._weight = weight

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return self._weight

    def execute(self, context: MyContext) -> StepResult:
        context.ran = [*context.ran, self.name]
        return StepResult()


class LoadDataStep(NamedStep):
    def __init__(self) -> None:
        super().__init__("load_data")


class ProcessStep(NamedStep):
    def __init__(self) -> None:
        super().__init__("process")


class SaveStep(NamedStep):
    def __init__(self) -> None:
        super().__init__("save")


class ValidateStep(NamedStep):
    def __init__(self) -> None:
        super().__init__("validate", 0.05)


class AuditStep(NamedStep):
    def __init__(self) -> None:
        super().__init__("audit", 0.05)


def plain_order() -> list[str]:
    """Insert ``validate`` before and ``audit`` after ``process``; return the run order."""
    registry = StepRegistry[MyContext]()
    registry.register(LoadDataStep())
    registry.register(ProcessStep())
    registry.register(SaveStep())
    registry.insert_before("process", ValidateStep())
    registry.insert_after("process", AuditStep())
    context = MyContext(runtime_ctx=RuntimeContext())
    Orchestrator(registry, context, lambda current, total: None).execute()
    return context.ran


def wrapped_order() -> tuple[list[str], list[str], str]:
    """With every step wrapped by ``LoggingStep``, refer to the prefixed name.

    Returns the run order, the registry's names, and the hint the registry gives for the
    unprefixed name.
    """
    registry = StepRegistry[MyContext]()
    registry.register(LoggingStep(LoadDataStep()))
    registry.register(LoggingStep(ProcessStep()))
    registry.register(LoggingStep(SaveStep()))
    try:
        registry.insert_before("process", ValidateStep())
    except ValueError as error:
        hint = str(error)
    else:  # pragma: no cover - 'process' is registered as 'logged_process'
        hint = ""
    registry.insert_before("logged_process", ValidateStep())
    context = MyContext(runtime_ctx=RuntimeContext())
    Orchestrator(registry, context, lambda current, total: None).execute()
    return context.ran, [step.name for step in registry], hint


def main() -> None:
    """Print both orders and the hint."""
    print(" -> ".join(plain_order()))
    _, names, hint = wrapped_order()
    print(" -> ".join(names))
    print(hint)


if __name__ == "__main__":
    main()
