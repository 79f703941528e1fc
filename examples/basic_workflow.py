"""The page's basic workflow: a context, three steps, a registry and the orchestrator.

Run it: ``python examples/basic_workflow.py``. It prints each progress report and the summary.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from steprail import BaseStep, BaseStepContext, Orchestrator, RuntimeContext, StepRegistry, StepResult


@dataclass
class MyContext(BaseStepContext):
    """What the steps share: the loaded items, where files go, and a count."""

    data: list[str] = field(default_factory=list)
    folder: str = ""
    processed_count: int = 0


class LoadDataStep(BaseStep[MyContext]):
    """Loads the items (30% of the run)."""

    @property
    def name(self) -> str:
        return "load_data"

    @property
    def progress_weight(self) -> float:
        return 0.3

    def execute(self, context: MyContext) -> StepResult:
        context.set_progress(0, 100)  # the step's own progress, named 'load_data' automatically
        context.data = ["item1", "item2", "item3"]
        context.set_progress(100, 100)
        return StepResult(success=True, data={"count": len(context.data)})


class CreateFilesStep(BaseStep[MyContext]):
    """Writes one file per item; rollback deletes them (20% of the run)."""

    @property
    def name(self) -> str:
        return "create_files"

    @property
    def progress_weight(self) -> float:
        return 0.2

    def execute(self, context: MyContext) -> StepResult:
        created: list[str] = []
        for item in context.data:
            path = Path(context.folder) / f"{item}.txt"
            path.write_text(item)
            created.append(str(path))
        return StepResult(data={"files": created}, rollback_data={"created_files": created})

    def rollback(self, context: MyContext, result: StepResult) -> None:
        files: list[str] = result.rollback_data.get("created_files", [])
        for file_path in files:
            Path(file_path).unlink(missing_ok=True)
        context.log("rollback", {"step": self.name, "files_removed": len(files)})


class ProcessStep(BaseStep[MyContext]):
    """Counts the items (50% of the run)."""

    @property
    def name(self) -> str:
        return "process"

    @property
    def progress_weight(self) -> float:
        return 0.5

    def execute(self, context: MyContext) -> StepResult:
        context.processed_count = len(context.data)
        return StepResult(data={"processed": context.processed_count})


def main() -> dict[str, object]:
    """Run the workflow; return the orchestrator's summary and the progress it reported."""
    runtime = RuntimeContext()
    context = MyContext(runtime_ctx=runtime, folder=tempfile.mkdtemp(prefix="steprail-example-"))
    registry = StepRegistry[MyContext]()
    registry.register(LoadDataStep())
    registry.register(CreateFilesStep())
    registry.register(ProcessStep())
    reported: list[int] = []

    def on_progress(current: int, total: int) -> None:
        reported.append(current)
        context.set_progress(current, total)
        print(f"progress {current}/{total}")

    result = Orchestrator(registry=registry, context=context, progress_callback=on_progress).execute()
    print(result)
    return {"summary": result, "progress": reported, "files": sorted(p.name for p in Path(context.folder).iterdir())}


if __name__ == "__main__":
    main()
