"""The steprail pytest plugin, loaded automatically through the ``pytest11`` entry point.

Fixtures:

- ``recording_runtime``: a fresh :class:`~steprail.testing.RecordingRuntime`;
- ``run_workflow``: a :class:`WorkflowRunner` that records a run and checks its invariants;
- ``rollback_restores``: a :class:`RollbackChecker`, :func:`~steprail.testing.assert_rollback_restores`
  with the ``--steprail-fault-points`` limit applied;
- ``fault_points_limit``: that limit (``None`` means every fault point).

This module imports nothing from hypothesis: the plugin loads even where hypothesis, an optional
extra, is not installed.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .._context import BaseStepContext
from .._orchestrator import ProgressCallback
from .._registry import StepRegistry
from ._faults import FaultKind, FaultPlan
from ._invariants import check_invariants
from ._restore import assert_rollback_restores
from ._runtime import RecordingRuntime
from ._trace import RunRecord, record_run

__all__ = ["RollbackChecker", "WorkflowRunner", "pytest_addoption"]

_OPTION = "--steprail-fault-points"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--steprail-fault-points N``: explore at most N fault points per check (0: all)."""
    group = parser.getgroup("steprail", "steprail workflow testing")
    group.addoption(
        _OPTION,
        action="store",
        type=int,
        default=0,
        metavar="N",
        help="explore at most N fault points in each rollback_restores check, chosen by "
        "hypothesis (default 0: every fault point)",
    )


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


@pytest.fixture
def recording_runtime() -> RecordingRuntime:
    """A fresh runtime that records logs, progress and metrics."""
    return RecordingRuntime()


@pytest.fixture
def run_workflow() -> WorkflowRunner:
    """Run a workflow, record it, and check the invariants."""
    return WorkflowRunner()


@pytest.fixture
def fault_points_limit(request: pytest.FixtureRequest) -> int | None:
    """The ``--steprail-fault-points`` option (``None``: explore every fault point)."""
    value = request.config.getoption(_OPTION)
    return value if isinstance(value, int) and value > 0 else None


@pytest.fixture
def rollback_restores(fault_points_limit: int | None) -> RollbackChecker:
    """Check that rollback restores a snapshot at every fault point of a workflow."""
    return RollbackChecker(fault_points_limit)
