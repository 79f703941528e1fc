"""Steps in the shapes users write: properties, Final constants, alias bases, dataclasses,
names given at construction, generic helpers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from steprail import BaseStep, BaseStepContext, StepResult

from .constants import FETCH, FETCH_WEIGHT, PARSE, PARSE_WEIGHT
from .contexts import IngestContext, ReportContext

#: Alias bases: a plain alias (usable as a base class) and a ``type`` statement (for annotations).
IngestStep = BaseStep[IngestContext]
type AnyIngestStep = BaseStep[IngestContext]


class Fetch(IngestStep):
    """Name and weight from module-level ``Final`` constants."""

    @property
    def name(self) -> str:
        return FETCH

    @property
    def progress_weight(self) -> float:
        return FETCH_WEIGHT

    def execute(self, context: IngestContext) -> StepResult:
        context.paths.append("fetched")
        return StepResult()


class Parse(IngestStep):
    """Class-level ``Final`` attributes (the mypy-only spelling)."""

    name: Final = PARSE
    progress_weight: Final = PARSE_WEIGHT

    def execute(self, context: IngestContext) -> StepResult:
        return StepResult()


class Render(BaseStep[ReportContext]):
    """Class-level ``Final`` constants read by the properties."""

    NAME: Final = "render"
    WEIGHT: Final = 0.5

    @property
    def name(self) -> Literal["render"]:
        return self.NAME

    @property
    def progress_weight(self) -> float:
        return self.WEIGHT

    def execute(self, context: ReportContext) -> StepResult:
        return StepResult()


@dataclass
class Export(BaseStep[IngestContext]):
    """A dataclass step: ``name`` is a field, so every instance may have its own."""

    name: Final[str] = "export"
    progress_weight: float = 0.1
    target: str = "out"

    def execute(self, context: IngestContext) -> StepResult:
        return StepResult(data={"target": self.target})


class Copy(BaseStep[IngestContext]):
    """The name is chosen at construction (stored where the property reads it)."""

    def __init__(self, name: str = "copy", progress_weight: float = 0.05) -> None:
        self._name = name
        self._weight = progress_weight

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return self._weight

    def execute(self, context: IngestContext) -> StepResult:
        return StepResult()


class Tagged[C: BaseStepContext](BaseStep[C]):
    """A generic helper step that runs on any context."""

    def __init__(self, tag: str) -> None:
        self._tag = tag

    @property
    def name(self) -> str:
        return f"tag_{self._tag}"

    @property
    def progress_weight(self) -> float:
        return 0.0

    def execute(self, context: C) -> StepResult:
        context.log("tag", {"tag": self._tag})
        return StepResult()


def first_path_present(context: IngestContext) -> tuple[bool, str | None]:
    """A validator for ValidationStep."""
    return bool(context.paths), "no paths"
