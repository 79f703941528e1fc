"""steprail: typed step workflows over one validated, shared context.

A workflow is a :class:`StepRegistry` of :class:`BaseStep`\\s run in order by an
:class:`Orchestrator`, which reports weighted progress and rolls completed steps back in reverse
order when one fails.
"""

import importlib
from typing import TYPE_CHECKING

from . import _extras

if TYPE_CHECKING:
    from ._checkpoint import NOT_CHECKPOINTED
    from ._context import BaseStepContext, Undo
    from ._errors import RollbackEntry, RollbackReport, StepFailedError
    from ._flow import FlowError, StepFlow
    from ._orchestrator import FailurePolicy, Orchestrator, ProgressCallback, RollbackListener, RunSummary
    from ._registry import StepRegistry
    from ._result import StepResult
    from ._retry import RetryPolicy
    from ._runtime import LogEntry, MetricsEntry, ProgressEntry, RuntimeContext
    from ._step import BaseStep
    from ._timeout import StepTimeoutError, TimeLimitStep
    from ._wrappers import LoggingStep, TimingStep, ValidationStep, Validator, WrapperStep
    # Re-exported for type checkers (the `as` form), but not in __all__: see _EXTRA_NAMES.
    from .datasets import ConvertDatasetStep as ConvertDatasetStep
    from .datasets import ExportDatasetStep as ExportDatasetStep

__version__ = "0.1.0.dev0"  # 0.1.0 is not released yet (see CHANGELOG.md)

# Every public name is imported on first access. `import steprail` alone then costs next to
# nothing, which matters to the mypy plugin (`steprail.mypy` loads this package but needs none of
# it) and to the dataset steps, which pull in pydantic models and Pillow.
_HOMES = {
    "BaseStep": "._step",
    "BaseStepContext": "._context",
    "ConvertDatasetStep": ".datasets",
    "ExportDatasetStep": ".datasets",
    "FailurePolicy": "._orchestrator",
    "FlowError": "._flow",
    "LogEntry": "._runtime",
    "LoggingStep": "._wrappers",
    "MetricsEntry": "._runtime",
    "NOT_CHECKPOINTED": "._checkpoint",
    "Orchestrator": "._orchestrator",
    "ProgressCallback": "._orchestrator",
    "ProgressEntry": "._runtime",
    "RetryPolicy": "._retry",
    "RollbackEntry": "._errors",
    "RollbackListener": "._orchestrator",
    "RollbackReport": "._errors",
    "RunSummary": "._orchestrator",
    "RuntimeContext": "._runtime",
    "StepFailedError": "._errors",
    "StepFlow": "._flow",
    "StepRegistry": "._registry",
    "StepResult": "._result",
    "StepTimeoutError": "._timeout",
    "TimeLimitStep": "._timeout",
    "TimingStep": "._wrappers",
    "Undo": "._context",
    "ValidationStep": "._wrappers",
    "Validator": "._wrappers",
    "WrapperStep": "._wrappers",
}


# Names that need an extra (here steprail[datasets]). They are importable by name
# (`from steprail import ExportDatasetStep`) but left out of __all__, and out of dir() while
# their extra is missing, so that `from steprail import *`, help(steprail) and
# inspect.getmembers work on a core install.
_EXTRA_NAMES = {"ConvertDatasetStep": "datasets", "ExportDatasetStep": "datasets"}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'steprail' has no attribute {name!r}")
    extra = _EXTRA_NAMES.get(name)
    if extra is not None and (error := _extras.extra_name_error(extra, f"steprail.{name}")) is not None:
        raise error
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    absent = {name for name, extra in _EXTRA_NAMES.items() if _extras.missing_packages(extra)}
    return sorted({*globals(), *_HOMES} - absent)


__all__ = [
    "BaseStep",
    "BaseStepContext",
    "FailurePolicy",
    "FlowError",
    "LogEntry",
    "LoggingStep",
    "MetricsEntry",
    "NOT_CHECKPOINTED",
    "Orchestrator",
    "ProgressCallback",
    "ProgressEntry",
    "RetryPolicy",
    "RollbackEntry",
    "RollbackListener",
    "RollbackReport",
    "RunSummary",
    "RuntimeContext",
    "StepFailedError",
    "StepFlow",
    "StepRegistry",
    "StepResult",
    "StepTimeoutError",
    "TimeLimitStep",
    "TimingStep",
    "Undo",
    "ValidationStep",
    "Validator",
    "WrapperStep",
]
