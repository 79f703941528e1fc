"""Declared data flow: the class keywords ``requires``/``provides``/``reads`` pass both checkers
when they are tuples of field names; a bare string or a list is refused by both. An optional read
(``reads=``) registered before its provider is not a flow error."""

from __future__ import annotations

from steprail import BaseStep, BaseStepContext, LoggingStep, StepRegistry, StepResult, ValidationStep


class FlowContext(BaseStepContext):
    source: str = ""
    dataset_path: str | None = None


class Export(BaseStep[FlowContext], requires=("source",), provides=("dataset_path",)):
    @property
    def name(self) -> str:
        return "export"

    @property
    def progress_weight(self) -> float:
        return 0.5

    def execute(self, context: FlowContext) -> StepResult:
        context.dataset_path = context.source
        return StepResult()


class Check(Export, requires=("dataset_path",), provides=()):
    """A subclass may declare its own flow."""


class Generic[C: BaseStepContext](BaseStep[C], provides=("dataset_path",)):
    @property
    def name(self) -> str:
        return "generic"

    @property
    def progress_weight(self) -> float:
        return 0.5

    def execute(self, context: C) -> StepResult:
        return StepResult()


class Bare(Export, requires="source"):  # E: arg-type reportArgumentType reportGeneralTypeIssues
    pass


class Listed(Export, provides=["dataset_path"]):  # E: arg-type reportArgumentType reportGeneralTypeIssues
    pass


class Peek(BaseStep[FlowContext], requires=("source",), reads=("dataset_path",)):
    """Reads dataset_path only if an earlier step provided it: an optional read."""

    @property
    def name(self) -> str:
        return "peek"

    @property
    def progress_weight(self) -> float:
        return 0.5

    def execute(self, context: FlowContext) -> StepResult:
        return StepResult(data={"fresh": context.dataset_path is None})


class PeekListed(Peek, reads=["dataset_path"]):  # E: arg-type reportArgumentType reportGeneralTypeIssues
    pass


def peek_before_export() -> None:
    registry = StepRegistry[FlowContext](inputs=("source",))
    registry.register(Peek())
    registry.register(Export())


def has_path(context: FlowContext) -> tuple[bool, str | None]:
    return context.dataset_path is not None, "no dataset"


def build() -> StepRegistry[FlowContext]:
    registry = StepRegistry[FlowContext](inputs=("source",))
    registry.register(LoggingStep(Export()))
    registry.register(ValidationStep(has_path, "has_path", requires=("dataset_path",)))
    registry.register(Generic[FlowContext]())
    return registry
