"""The page's conditional skip: a cache step that is skipped when data is already loaded.

Run it: ``python examples/conditional_skip.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from steprail import BaseStep, BaseStepContext, Orchestrator, RunSummary, RuntimeContext, StepRegistry, StepResult


@dataclass
class MyContext(BaseStepContext):
    """The loaded items."""

    data: list[str] = field(default_factory=list)


class CacheStep(BaseStep[MyContext]):
    """Loads cached items, unless items are already there."""

    @property
    def name(self) -> str:
        return "load_cache"

    @property
    def progress_weight(self) -> float:
        return 0.1

    def can_skip(self, context: MyContext) -> bool:
        return len(context.data) > 0

    def execute(self, context: MyContext) -> StepResult:
        context.data = ["cached_item1", "cached_item2"]
        return StepResult(success=True)


class CountStep(BaseStep[MyContext]):
    """Reports how many items there are."""

    @property
    def name(self) -> str:
        return "count"

    @property
    def progress_weight(self) -> float:
        return 0.9

    def execute(self, context: MyContext) -> StepResult:
        return StepResult(data={"count": len(context.data)})


def run(preloaded: list[str]) -> tuple[RunSummary, MyContext]:
    """Run the workflow on a context that starts with ``preloaded`` items."""
    context = MyContext(runtime_ctx=RuntimeContext(), data=list(preloaded))
    registry = StepRegistry[MyContext]()
    registry.register(CacheStep())
    registry.register(CountStep())
    summary = Orchestrator(registry, context, lambda current, total: context.set_progress(current, total)).execute()
    return summary, context


def main() -> None:
    """Run once from the cache, once with data already loaded (the cache step is skipped)."""
    for preloaded in ([], ["fresh_item"]):
        summary, context = run(preloaded)
        skipped = [result.skipped for result in context.step_results]
        print(f"start={preloaded} data={context.data} skipped={skipped} summary={summary}")


if __name__ == "__main__":
    main()
