"""The steprail pytest plugin, loaded automatically through the ``pytest11`` entry point.

Fixtures:

- ``recording_runtime``: a fresh :class:`~steprail.testing.RecordingRuntime`;
- ``run_workflow``: a :class:`~steprail.testing.WorkflowRunner` that records a run and checks its
  invariants;
- ``rollback_restores``: a :class:`~steprail.testing.RollbackChecker`,
  :func:`~steprail.testing.assert_rollback_restores`
  with the ``--steprail-fault-points`` limit applied;
- ``fault_points_limit``: that limit (``None`` means every fault point).

This module imports nothing from hypothesis: the plugin loads even where hypothesis, an optional
extra, is not installed.
"""

from __future__ import annotations

import pytest

from ._fixtures import RollbackChecker, WorkflowRunner
from ._runtime import RecordingRuntime

__all__ = [
    "fault_points_limit",
    "pytest_addoption",
    "recording_runtime",
    "rollback_restores",
    "run_workflow",
]

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
