"""The callables behind the pytest plugin's fixtures (usable without pytest, too)."""

from __future__ import annotations

from collections.abc import Callable

from .._context import BaseStepContext
from .._orchestrator import ProgressCallback
from .._registry import StepRegistry
from ._faults import FaultKind, FaultPlan
from ._invariants import check_invariants
from ._restore import assert_rollback_restores
from ._trace import RunRecord, record_run

__all__ = ["RollbackChecker", "WorkflowRunner"]


class WorkflowRunner:
    """Runs a workflow with the real orchestrator, records it and checks its invariants."""

    def __call__[C: BaseStepContext](
        self,
        registry: StepRegistry[C],
        context: C,
        *,
        progress_callback: ProgressCallback | None = None,
        check: bool = True,
    ) -> RunRecord[C]:
        """Run ``registry`` over ``context`` and return the record (a failed run does not raise).

        Without ``progress_callback`` the overall progress is reported to the context's runtime
        (``context.set_progress``), as a job would, so ``RecordingRuntime.overall_progress()``
        sees it.

        Raises:
            InvariantViolation: with ``check=True``, when the run broke an invariant.
        """
        callback = progress_callback if progress_callback is not None else context.set_progress
        record = record_run(registry, context, progress_callback=callback)
        if check:
            check_invariants(record)
        return record


class RollbackChecker:
    """:func:`~steprail.testing.assert_rollback_restores` with the command line's limit."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit

    def __call__[C: BaseStepContext, S](
        self,
        build_registry: Callable[[], StepRegistry[C]],
        make_context: Callable[[], C],
        snapshot: Callable[[], S],
        *,
        after_side_effects: bool = False,
        kind: FaultKind = "raise",
    ) -> list[FaultPlan]:
        """Check every fault point (or ``--steprail-fault-points`` of them); return those explored."""
        return assert_rollback_restores(
            build_registry,
            make_context,
            snapshot,
            after_side_effects=after_side_effects,
            kind=kind,
            max_fault_points=self.limit,
        )
