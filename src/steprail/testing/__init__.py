"""steprail.testing: property-test your own steps and prove that their rollbacks restore state.

- :func:`record_run` runs a workflow with the real orchestrator and records every call;
  :func:`check_invariants` (and the ``check_*`` functions) check such a record.
- :func:`inject_faults` makes a chosen step of your real registry fail; :func:`fault_points`
  lists where; :func:`assert_rollback_restores` tries each and compares snapshots
  (:func:`snapshot_tree`, :func:`snapshot_sqlite`) taken before the run and after rollback.
- :func:`strict_flow` runs declared steps in strict data-flow mode (a field a step touches
  without declaring it fails the step, :class:`FlowViolation`); :func:`declared_workflows` draws
  workflows with declared flow.
- :func:`workflows`, :func:`fault_plans` and friends are hypothesis strategies. They need the
  ``steprail[testing]`` extra and are imported on first use, so the rest of this package (and the
  pytest plugin) works without hypothesis. They are importable by name but not in ``__all__``, so
  ``from steprail.testing import *`` works without hypothesis too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._extras import extra_name_error, missing_packages
from ._fixtures import RollbackChecker, WorkflowRunner
from ._flow import FieldUse, FlowScript, FlowStep, FlowViolation, assert_flow_respected, strict_flow
from ._faults import FaultKind, FaultPlan, FaultPoint, InjectedFault, fault_points, inject_faults
from ._invariants import (
    INVARIANTS,
    InvariantViolation,
    check_current_step,
    check_errors,
    check_invariants,
    check_order,
    check_progress,
    check_results,
    check_rollback,
)
from ._restore import RollbackLeak, assert_rollback_restores, check_fault_point
from ._runtime import RecordingRuntime
from ._scripted import Outcome, ScriptedError, ScriptedStep, ScriptLedger, StepScript, WorkflowScript
from ._snapshots import TableRows, diff_snapshots, snapshot_sqlite, snapshot_tree
from ._trace import EventKind, RunObserver, RunRecord, TraceEvent, record_run

if TYPE_CHECKING:
    # Re-exported for type checkers (the `as` form), but not in __all__: they need an extra.
    from ._strategies import declared_workflows as declared_workflows
    from ._strategies import fault_plans as fault_plans
    from ._strategies import step_names as step_names
    from ._strategies import step_scripts as step_scripts
    from ._strategies import step_weights as step_weights
    from ._strategies import workflows as workflows

__all__ = [
    "EventKind",
    "FaultKind",
    "FaultPlan",
    "FaultPoint",
    "FieldUse",
    "FlowScript",
    "FlowStep",
    "FlowViolation",
    "INVARIANTS",
    "InjectedFault",
    "InvariantViolation",
    "Outcome",
    "RecordingRuntime",
    "RollbackChecker",
    "RollbackLeak",
    "RunObserver",
    "RunRecord",
    "ScriptLedger",
    "ScriptedError",
    "ScriptedStep",
    "StepScript",
    "TableRows",
    "TraceEvent",
    "WorkflowRunner",
    "WorkflowScript",
    "assert_flow_respected",
    "assert_rollback_restores",
    "check_current_step",
    "check_errors",
    "check_fault_point",
    "check_invariants",
    "check_order",
    "check_progress",
    "check_results",
    "check_rollback",
    "diff_snapshots",
    "fault_points",
    "inject_faults",
    "record_run",
    "snapshot_sqlite",
    "snapshot_tree",
    "strict_flow",
]

# Tracebacks show the public path of the exceptions users meet.
for _public in (FlowViolation, InjectedFault, InvariantViolation, RollbackLeak):
    _public.__module__ = __name__
del _public

_STRATEGIES = frozenset({"declared_workflows", "fault_plans", "step_names", "step_scripts", "step_weights", "workflows"})


def __getattr__(name: str) -> object:
    # The strategies import hypothesis, an optional extra: load them only when asked for.
    if name in _STRATEGIES:
        if (error := extra_name_error("testing", f"steprail.testing.{name}")) is not None:
            raise error
        from . import _strategies

        value: object = getattr(_strategies, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    # The strategies are listed only where they can be loaded: inspect and help() get every name
    # that dir() lists.
    return sorted(globals() if missing_packages("testing") else {*globals(), *_STRATEGIES})
