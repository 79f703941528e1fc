"""Contexts of the downstream project."""

from __future__ import annotations

from dataclasses import dataclass, field

from steprail import BaseStepContext
from steprail.actions.train import TrainContext


@dataclass
class IngestContext(BaseStepContext):
    """Where files come from."""

    paths: list[str] = field(default_factory=list)


@dataclass
class ReportContext(IngestContext):
    """An ingest that also writes a report."""

    title: str = "report"


@dataclass
class ModelContext(TrainContext):
    """Training with a few extra knobs."""

    learning_rate: float = 0.01
