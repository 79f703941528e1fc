"""Actions: a job's unit of work, with validated params, a recorded lifecycle and cancellation.

:class:`BaseAction` runs :meth:`~BaseAction.execute`; :class:`BaseTrainAction` builds a step
workflow in ``setup_steps`` (see :mod:`steprail.actions.train`). :mod:`steprail.actions.anchors`
is the example training action that ``steprail demo`` runs.

The training names come from :mod:`steprail.actions.train`, which works on datasets and so needs
the ``steprail[datasets]`` extra: they are imported on first use, so :class:`BaseAction` needs
only the core. They are importable by name but not in ``__all__`` (so ``from steprail.actions
import *`` works on a core install); import them from :mod:`steprail.actions.train` or by name.
"""

from typing import TYPE_CHECKING

from .._extras import extra_name_error, missing_packages
from ._base import ActionOutcome, BaseAction, Workflow
from ._cancel import CancellationGuard, JobCancelled, cancellation_signals
from ._executor import Executor, InProcessExecutor, Resources
from ._kept import KeptWorkError
from ._resume import WorkflowChangedError
from ._params import InvalidParamsError
from ._plan import can_roll_back, mermaid, plan_steps

if TYPE_CHECKING:
    # Re-exported for type checkers (the `as` form), but not in __all__: they need an extra.
    from .train import BaseTrainAction as BaseTrainAction
    from .train import BaseTrainParams as BaseTrainParams
    from .train import TrainContext as TrainContext
    from .train import TrainModelStep as TrainModelStep
    from .train import UploadModelStep as UploadModelStep

__all__ = [
    "ActionOutcome",
    "BaseAction",
    "CancellationGuard",
    "Executor",
    "InProcessExecutor",
    "InvalidParamsError",
    "JobCancelled",
    "KeptWorkError",
    "Resources",
    "Workflow",
    "WorkflowChangedError",
    "can_roll_back",
    "cancellation_signals",
    "mermaid",
    "plan_steps",
]

_TRAIN_NAMES = frozenset({"BaseTrainAction", "BaseTrainParams", "TrainContext", "TrainModelStep", "UploadModelStep"})


def __getattr__(name: str) -> object:
    if name in _TRAIN_NAMES:
        if (error := extra_name_error("datasets", f"steprail.actions.{name}")) is not None:
            raise error
        from . import train  # imports steprail.datasets: fails clearly without steprail[datasets]

        value: object = getattr(train, name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    # The training names are listed only where they can be loaded: inspect and help() get every
    # name that dir() lists.
    return sorted(globals() if missing_packages("datasets") else {*globals(), *_TRAIN_NAMES})
