"""A step's name and weight: the documented property form passes both checkers; the class
attribute form is accepted by mypy only, which is why it is not the documented one."""

from __future__ import annotations

from typing import Literal

from steprail import BaseStep, BaseStepContext, StepResult


class Load(BaseStep[BaseStepContext]):
    @property
    def name(self) -> str:
        return "load"

    @property
    def progress_weight(self) -> float:
        return 0.4

    def execute(self, context: BaseStepContext) -> StepResult:
        return StepResult()


class Literally(BaseStep[BaseStepContext]):
    @property
    def name(self) -> Literal["literally"]:
        return "literally"

    @property
    def progress_weight(self) -> float:
        return 0.1

    def execute(self, context: BaseStepContext) -> StepResult:
        return StepResult()


class Named(BaseStep[BaseStepContext]):
    """Name and weight given per instance."""

    def __init__(self, name: str, progress_weight: float = 0.2) -> None:
        self._name = name
        self._weight = progress_weight

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return self._weight

    def execute(self, context: BaseStepContext) -> StepResult:
        return StepResult()


class Attribute(BaseStep[BaseStepContext]):
    name = "attribute"  # E: reportIncompatibleMethodOverride reportAssignmentType
    progress_weight = 0.4  # E: reportIncompatibleMethodOverride reportAssignmentType

    def execute(self, context: BaseStepContext) -> StepResult:
        return StepResult()


class Nameless(BaseStep[BaseStepContext]):
    @property
    def progress_weight(self) -> float:
        return 0.4

    def execute(self, context: BaseStepContext) -> StepResult:
        return StepResult()


class SetsItsName(Named):
    def rename(self) -> None:
        self.name = "other"  # E: misc reportAttributeAccessIssue


steps: list[BaseStep[BaseStepContext]] = [Load(), Literally(), Named("a"), Named("b", 0.3), Attribute()]
Nameless()  # E: abstract reportAbstractUsage
