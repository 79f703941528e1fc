"""The public generics: BaseStep[C] is contravariant in its context, StepRegistry[C] is
invariant, wrappers keep their step's context type, Orchestrator[C] takes the registry's context
or a subclass of it. Both checkers must agree on every line."""

from __future__ import annotations

from steprail import (
    BaseStep,
    BaseStepContext,
    LoggingStep,
    Orchestrator,
    RuntimeContext,
    StepRegistry,
    StepResult,
    TimingStep,
    ValidationStep,
)


class TrainContext(BaseStepContext):
    epochs: int = 1


class FineTuneContext(TrainContext):
    base_model: str = ""


class ReportContext(BaseStepContext):
    title: str = ""


class Anywhere(BaseStep[BaseStepContext]):
    @property
    def name(self) -> str:
        return "anywhere"

    @property
    def progress_weight(self) -> float:
        return 0.1

    def execute(self, context: BaseStepContext) -> StepResult:
        return StepResult()


class Train(BaseStep[TrainContext]):
    @property
    def name(self) -> str:
        return "train"

    @property
    def progress_weight(self) -> float:
        return 0.8

    def execute(self, context: TrainContext) -> StepResult:
        context.epochs += 1
        return StepResult()


def has_epochs(context: TrainContext) -> tuple[bool, str | None]:
    return context.epochs > 0, "no epochs"


def report(current: int, total: int) -> None:
    print(current, total)


# Contravariance: a step for a base context runs in a workflow of a subclass context.
training = StepRegistry[TrainContext]()
training.register(Anywhere())
training.register(Train())
training.register(LoggingStep(Anywhere()))
training.register(TimingStep(Train()))
training.register(ValidationStep(has_epochs, name="check"))
training.insert_before("train", LoggingStep(TimingStep(Anywhere())))
as_train: BaseStep[FineTuneContext] = Train()
as_base: BaseStep[BaseStepContext] = Train()  # E: assignment reportAssignmentType
wrapped: BaseStep[ReportContext] = LoggingStep(Train())  # E: arg-type reportAssignmentType

# A step that needs a context the registry's context is not.
reports = StepRegistry[ReportContext]()
reports.register(Anywhere())
reports.register(Train())  # E: steprail-context reportArgumentType
reports.insert_after("anywhere", LoggingStep(Train()))  # E: steprail-context reportArgumentType
reports.register(ValidationStep(has_epochs))  # E: steprail-context reportArgumentType

# Registries are invariant: a registry of subclass contexts is not a registry of base contexts.
def count(registry: StepRegistry[BaseStepContext]) -> int:
    return len(registry.get_steps())


count(training)  # E: arg-type reportArgumentType

# The orchestrator takes the registry's context type or a subclass of it.
runtime = RuntimeContext()
Orchestrator(training, TrainContext(runtime_ctx=runtime), report)
Orchestrator(training, FineTuneContext(runtime_ctx=runtime), report)
Orchestrator(training, ReportContext(runtime_ctx=runtime), report)  # E: steprail-context reportArgumentType
summary = Orchestrator(registry=training, context=TrainContext(runtime_ctx=runtime), progress_callback=report).execute()
print(summary["steps_executed"])


# Generic helpers keep the context type parameter.
def add_logged[C: BaseStepContext](registry: StepRegistry[C], step: BaseStep[C]) -> None:
    registry.register(LoggingStep(step))


add_logged(training, Anywhere())
add_logged(training, Train())
fine_tuning = StepRegistry[FineTuneContext]()
add_logged(fine_tuning, Train())
