"""Actions: a job's unit of work, with validated params, a recorded lifecycle and cancellation.

:class:`BaseAction` runs :meth:`~BaseAction.execute`; :class:`BaseTrainAction` builds a step
workflow in ``setup_steps`` (see :mod:`steprail.actions.train`). :mod:`steprail.actions.anchors`
is the example training action that ``steprail demo`` runs.

The training names come from :mod:`steprail.actions.train`, which works on datasets and so needs
the ``steprail[datasets]`` extra: they are imported on first use, so :class:`BaseAction` needs
only the core.
"""

from typing import TYPE_CHECKING

from ._base import ActionOutcome, BaseAction, Workflow
from ._cancel import CancellationGuard, JobCancelled, cancellation_signals
from ._kept import KeptWorkError
from ._resume import WorkflowChangedError
from ._params import InvalidParamsError
from ._plan import can_roll_back, mermaid, plan_steps

if TYPE_CHECKING:
    from .train import BaseTrainAction, BaseTrainParams, TrainContext, TrainModelStep, UploadModelStep

__all__ = [
    "ActionOutcome",
    "BaseAction",
    "BaseTrainAction",
    "BaseTrainParams",
    "CancellationGuard",
    "InvalidParamsError",
    "JobCancelled",
    "KeptWorkError",
    "TrainContext",
    "TrainModelStep",
    "UploadModelStep",
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
        from . import train  # imports steprail.datasets: fails clearly without steprail[datasets]

        value: object = getattr(train, name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
