"""steprail: typed step workflows over one validated, shared context.

A workflow is a :class:`StepRegistry` of :class:`BaseStep`\\s run in order by an
:class:`Orchestrator`, which reports weighted progress and rolls completed steps back in reverse
order when one fails.
"""

from typing import TYPE_CHECKING

from ._context import BaseStepContext, Undo
from ._errors import RollbackEntry, RollbackReport, StepFailedError
from ._orchestrator import Orchestrator, ProgressCallback, RunSummary
from ._registry import StepRegistry
from ._result import StepResult
from ._runtime import LogEntry, MetricsEntry, ProgressEntry, RuntimeContext
from ._step import BaseStep
from ._wrappers import LoggingStep, TimingStep, ValidationStep, Validator, WrapperStep

if TYPE_CHECKING:
    from .datasets import ConvertDatasetStep, ExportDatasetStep

__version__ = "0.1.0"

# The dataset steps are listed with the core steps (as on the page), but loading them pulls in
# pydantic models and Pillow: they are imported on first access, not with `import steprail`.
_LAZY = {"ConvertDatasetStep": "steprail.datasets", "ExportDatasetStep": "steprail.datasets"}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'steprail' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "BaseStep",
    "BaseStepContext",
    "ConvertDatasetStep",
    "ExportDatasetStep",
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
