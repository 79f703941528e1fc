"""The same checks through the steprail pytest plugin's fixtures (no imports needed for them).

``pytest --steprail-fault-points=N`` limits each ``rollback_restores`` check to N fault points
chosen by hypothesis; without it every fault point is explored.
"""

from __future__ import annotations

from pathlib import Path

from steprail import RuntimeContext, StepRegistry
from steprail.testing import RecordingRuntime, RollbackChecker, WorkflowRunner, snapshot_tree

from property_testing import ExportContext, MakeFolder, WriteFile


def small_workflow() -> StepRegistry[ExportContext]:
    registry: StepRegistry[ExportContext] = StepRegistry()
    registry.register(MakeFolder("images"))
    registry.register(WriteFile("images/dog.txt", "a dog"))
    return registry


def test_a_run_is_recorded_and_checked(
    tmp_path: Path, recording_runtime: RecordingRuntime, run_workflow: WorkflowRunner
) -> None:
    context = ExportContext(runtime_ctx=recording_runtime, out_dir=str(tmp_path))
    record = run_workflow(small_workflow(), context)  # raises if an invariant broke

    assert record.succeeded
    assert recording_runtime.overall_progress() == [25, 100]  # weights 0.1 and 0.3
    assert (tmp_path / "images" / "dog.txt").read_text() == "a dog"


def test_rollback_restores_the_folder(tmp_path: Path, rollback_restores: RollbackChecker) -> None:
    rollback_restores(
        small_workflow,
        lambda: ExportContext(runtime_ctx=RuntimeContext(), out_dir=str(tmp_path)),
        lambda: snapshot_tree(tmp_path),
        after_side_effects=True,
    )
