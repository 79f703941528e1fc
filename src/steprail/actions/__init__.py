"""Actions: a job's unit of work, with validated params, a recorded lifecycle and cancellation.

:class:`BaseAction` runs :meth:`~BaseAction.execute`; :class:`BaseTrainAction` builds a step
workflow in ``setup_steps`` (see :mod:`steprail.actions.train`). :mod:`steprail.actions.anchors`
is the example training action that ``steprail demo`` runs.
"""

from ._base import ActionOutcome, BaseAction, Workflow
from ._cancel import CancellationGuard, JobCancelled, cancellation_signals
from ._params import InvalidParamsError
from ._plan import can_roll_back, mermaid, plan_steps
from .train import BaseTrainAction, BaseTrainParams, TrainContext, TrainModelStep, UploadModelStep

__all__ = [
    "ActionOutcome",
    "BaseAction",
    "BaseTrainAction",
    "BaseTrainParams",
    "CancellationGuard",
    "InvalidParamsError",
    "JobCancelled",
    "TrainContext",
    "TrainModelStep",
    "UploadModelStep",
    "Workflow",
    "can_roll_back",
    "cancellation_signals",
    "mermaid",
    "plan_steps",
]
