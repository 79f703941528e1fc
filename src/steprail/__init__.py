"""steprail: typed step workflows over one validated, shared context.

A workflow is a :class:`StepRegistry` of :class:`BaseStep`\\s run in order by an
:class:`Orchestrator`, which reports weighted progress and rolls completed steps back in reverse
order when one fails.
"""

from ._context import BaseStepContext, Undo
from ._errors import RollbackEntry, RollbackReport, StepFailedError
from ._orchestrator import Orchestrator, ProgressCallback, RunSummary
from ._registry import StepRegistry
from ._result import StepResult
from ._runtime import LogEntry, MetricsEntry, ProgressEntry, RuntimeContext
from ._step import BaseStep
from ._wrappers import LoggingStep, TimingStep, ValidationStep, Validator, WrapperStep

__version__ = "0.1.0"

__all__ = [
    "BaseStep",
    "BaseStepContext",
    "LogEntry",
    "LoggingStep",
    "MetricsEntry",
    "Orchestrator",
    "ProgressCallback",
    "ProgressEntry",
    "RollbackEntry",
    "RollbackReport",
    "RunSummary",
    "RuntimeContext",
    "StepFailedError",
    "StepRegistry",
    "StepResult",
    "TimingStep",
    "Undo",
    "ValidationStep",
    "Validator",
    "WrapperStep",
]
