"""A custom wrapper step and a helper generic over the context."""

from __future__ import annotations

from steprail import BaseStep, BaseStepContext, LoggingStep, StepRegistry, StepResult, WrapperStep


class AuditStep[C: BaseStepContext](WrapperStep[C]):
    """Logs an audit line around the wrapped step; named ``audit_<wrapped>``."""

    prefix = "audit_"

    def execute(self, context: C) -> StepResult:
        context.log("audit", {"step": self.name})
        return self._wrapped.execute(context)


def add_logged[C: BaseStepContext](registry: StepRegistry[C], step: BaseStep[C]) -> None:
    """Generic helper: register ``step`` wrapped in a LoggingStep."""
    registry.register(LoggingStep(step))
