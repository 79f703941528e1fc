"""The page's rollback example: step 3 fails, steps 2 and 1 are rolled back in reverse order.

Run it: ``python examples/rollback.py``. It prints the events and the error, as the page shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from steprail import BaseStep, BaseStepContext, Orchestrator, RuntimeContext, StepFailedError, StepRegistry, StepResult


@dataclass
class MyContext(BaseStepContext):
    """No state of its own: the steps only log."""


class Step1(BaseStep[MyContext]):
    """Creates resource A."""

    @property
    def name(self) -> str:
        return "step1"

    @property
    def progress_weight(self) -> float:
        return 0.3

    def execute(self, context: MyContext) -> StepResult:
        context.log("step1", {"action": "created resource A"})
        return StepResult(success=True, rollback_data={"resource": "A"})

    def rollback(self, context: MyContext, result: StepResult) -> None:
        resource = result.rollback_data.get("resource")
        context.log("rollback", {"action": f"deleted resource {resource}"})


class Step2(BaseStep[MyContext]):
    """Creates resource B."""

    @property
    def name(self) -> str:
        return "step2"

    @property
    def progress_weight(self) -> float:
        return 0.3

    def execute(self, context: MyContext) -> StepResult:
        context.log("step2", {"action": "created resource B"})
        return StepResult(success=True, rollback_data={"resource": "B"})

    def rollback(self, context: MyContext, result: StepResult) -> None:
        resource = result.rollback_data.get("resource")
        context.log("rollback", {"action": f"deleted resource {resource}"})


class Step3(BaseStep[MyContext]):
    """Fails."""

    @property
    def name(self) -> str:
        return "step3"

    @property
    def progress_weight(self) -> float:
        return 0.4

    def execute(self, context: MyContext) -> StepResult:
        return StepResult(success=False, error="Something went wrong")


def main() -> tuple[list[str], str]:
    """Run the failing workflow; return the logged lines and the error message."""
    runtime = RuntimeContext()
    context = MyContext(runtime_ctx=runtime)
    registry = StepRegistry[MyContext]()
    for step in (Step1(), Step2(), Step3()):
        registry.register(step)
    orchestrator = Orchestrator(registry, context, lambda current, total: context.set_progress(current, total))
    try:
        orchestrator.execute()
    except StepFailedError as error:
        message = f"{type(error).__name__}: {error}"
    else:  # pragma: no cover - step3 always fails
        message = "no error"
    lines = [f"{entry.event}: {entry.data}" for entry in runtime.logs]
    for line in lines:
        print(line)
    print(message)
    return lines, message


if __name__ == "__main__":
    main()
