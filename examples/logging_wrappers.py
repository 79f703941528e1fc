"""The page's built-in step utilities: ``LoggingStep``, ``TimingStep`` and ``ValidationStep``.

Run it: ``python examples/logging_wrappers.py``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from steprail import (
    BaseStep,
    BaseStepContext,
    LoggingStep,
    Orchestrator,
    RuntimeContext,
    StepFailedError,
    StepRegistry,
    StepResult,
    TimingStep,
    ValidationStep,
)


@dataclass
class MyContext(BaseStepContext):
    """The loaded items."""

    data: list[str] = field(default_factory=list)


class LoadDataStep(BaseStep[MyContext]):
    @property
    def name(self) -> str:
        return "load_data"

    @property
    def progress_weight(self) -> float:
        return 0.3

    def execute(self, context: MyContext) -> StepResult:
        context.data = ["a", "b", "c"]
        return StepResult()


class ProcessStep(BaseStep[MyContext]):
    @property
    def name(self) -> str:
        return "process"

    @property
    def progress_weight(self) -> float:
        return 0.65

    def execute(self, context: MyContext) -> StepResult:
        time.sleep(0.01)  # something measurable for TimingStep
        return StepResult(data={"processed": len(context.data)})


def check_data_loaded(ctx: MyContext) -> tuple[bool, str | None]:
    """Valid when data was loaded."""
    if not ctx.data:
        return False, "No data loaded"
    return True, None


def run(load: bool) -> tuple[list[tuple[str, dict[str, Any]]], MyContext, str | None]:
    """Run load (optionally) -> validate -> process, logged and timed.

    Returns the logged events, the context, and the error when validation failed.
    """
    runtime = RuntimeContext()
    context = MyContext(runtime_ctx=runtime)
    registry = StepRegistry[MyContext]()
    if load:
        registry.register(LoggingStep(LoadDataStep()))
    registry.register(ValidationStep(validator=check_data_loaded, name="validate_data", progress_weight=0.05))
    registry.register(LoggingStep(TimingStep(ProcessStep())))
    error: str | None = None
    try:
        Orchestrator(registry, context, lambda current, total: context.set_progress(current, total)).execute()
    except StepFailedError as failure:
        error = str(failure)
    return [(entry.event, entry.data) for entry in runtime.logs], context, error


def main() -> None:
    """Show the logged events and the timing, then the validation failure."""
    events, context, _ = run(load=True)
    for event, data in events:
        print(f"{event}: {data}")
    timed = context.step_results[-1].data["duration_seconds"]
    print(f"timed_process took {timed:.3f}s")
    _, _, error = run(load=False)
    print(error)


if __name__ == "__main__":
    main()
