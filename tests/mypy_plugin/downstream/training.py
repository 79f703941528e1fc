"""A training action built from the built-in training steps and a custom context."""

from __future__ import annotations

import tempfile
from pathlib import Path

from steprail import LoggingStep, StepRegistry, ValidationStep
from steprail.actions import BaseTrainAction
from steprail.actions.train import BaseTrainParams, TrainModelStep, UploadModelStep

from .contexts import ModelContext


class ModelParams(BaseTrainParams):
    """Parameters of the downstream training."""

    dataset: int = 1
    epochs: int = 1


def train(context: ModelContext) -> Path:
    """Stands in for real training: writes a model file."""
    path = Path(tempfile.mkdtemp(prefix="steprail-downstream-")) / "model.bin"
    path.write_bytes(b"model")
    return path


def has_dataset(context: ModelContext) -> tuple[bool, str | None]:
    """Validator: the dataset parameter is set."""
    return "dataset" in context.params, "no dataset"


class ModelAction(BaseTrainAction[ModelParams, ModelContext]):
    """Trains twice (two names) and uploads."""

    def setup_steps(self, registry: StepRegistry[ModelContext]) -> None:
        registry.register(ValidationStep(has_dataset, name="has_dataset"))
        registry.register(TrainModelStep(train))
        registry.register(LoggingStep(TrainModelStep(train, name="train_again", progress_weight=0.1)))
        registry.insert_after("train", UploadModelStep(progress_weight=0.05))


def build_training() -> StepRegistry[ModelContext]:
    """The action's steps in a fresh registry."""
    registry = StepRegistry[ModelContext]()
    ModelAction().setup_steps(registry)
    return registry
