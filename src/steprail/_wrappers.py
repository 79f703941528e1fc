"""Steps that wrap other steps or a function: logging, timing and validation."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import ClassVar, Final

from ._context import BaseStepContext
from ._flow import StepFlow, declared_names
from ._result import StepResult
from ._step import INSTANCE_FLOW, BaseStep, checked_weight

__all__ = ["LoggingStep", "TimingStep", "ValidationStep", "WrapperStep"]


class WrapperStep[C: BaseStepContext](BaseStep[C]):
    """A step that runs another one and delegates everything it does not change.

    Subclasses set :attr:`prefix` (prepended to the wrapped step's name) and override
    :meth:`execute`. ``progress_weight``, ``can_skip``, ``rollback`` and the declared data flow
    (:meth:`declared_flow`) are delegated.
    """

    prefix: str = ""
    __steprail_flow__: ClassVar[StepFlow | None] = INSTANCE_FLOW

    def __init__(self, step: BaseStep[C]) -> None:
        if not isinstance(step, BaseStep):
            raise TypeError(
                f"{type(self).__name__} wraps a BaseStep, got {type(step).__name__}: {step!r}"
            )
        self._wrapped: Final = step

    @property
    def wrapped(self) -> BaseStep[C]:
        """The step this one runs."""
        return self._wrapped

    @property
    def name(self) -> str:
        """The wrapped step's name with this wrapper's prefix."""
        return self.prefix + self._wrapped.name

    @property
    def progress_weight(self) -> float:
        """The wrapped step's weight."""
        return self._wrapped.progress_weight

    def declared_flow(self) -> StepFlow | None:
        """The wrapped step's declaration, unless this wrapper's class declares its own."""
        own = type(self).__steprail_flow__
        return self._wrapped.declared_flow() if own is INSTANCE_FLOW else own

    def execute(self, context: C) -> StepResult:
        """Run the wrapped step."""
        return self._wrapped.execute(context)

    def can_skip(self, context: C) -> bool:
        """Ask the wrapped step."""
        return self._wrapped.can_skip(context)

    def rollback(self, context: C, result: StepResult) -> None:
        """Roll back the wrapped step."""
        self._wrapped.rollback(context, result)


class LoggingStep[C: BaseStepContext](WrapperStep[C]):
    """Logs the wrapped step's start, end (with elapsed seconds) and rollback to the context.

    Events (the ``step`` value is the wrapped step's own name):

    - ``step_start``: ``{'step': name}`` before execution;
    - ``step_end``: ``{'step': name, 'elapsed': seconds, 'success': bool, 'skipped': bool}``
      after execution, also when it raised, and when the step is skipped;
    - ``step_rollback``: ``{'step': name}`` before its rollback.

    Its name is the wrapped name prefixed with ``logged_``.
    """

    prefix = "logged_"

    def can_skip(self, context: C) -> bool:
        """Ask the wrapped step; log a skipped start and end when it says skip."""
        skip = self._wrapped.can_skip(context)
        if skip:
            inner = self._wrapped.name
            context.log("step_start", {"step": inner})
            context.log("step_end", {"step": inner, "elapsed": 0.0, "success": True, "skipped": True})
        return skip

    def execute(self, context: C) -> StepResult:
        """Run the wrapped step between a ``step_start`` and a ``step_end`` event."""
        inner = self._wrapped.name
        context.log("step_start", {"step": inner})
        started = time.perf_counter()
        success = False
        try:
            result = self._wrapped.execute(context)
            # Callers without a type checker can return anything; the orchestrator reports it.
            returned: object = result
            success = isinstance(returned, StepResult) and result.success
            return result
        finally:
            elapsed = time.perf_counter() - started
            context.log(
                "step_end", {"step": inner, "elapsed": elapsed, "success": success, "skipped": False}
            )

    def rollback(self, context: C, result: StepResult) -> None:
        """Log ``step_rollback``, then roll back the wrapped step."""
        context.log("step_rollback", {"step": self._wrapped.name})
        self._wrapped.rollback(context, result)


class TimingStep[C: BaseStepContext](WrapperStep[C]):
    """Adds the wrapped step's run time to its result as ``data['duration_seconds']``.

    Its name is the wrapped name prefixed with ``timed_``.
    """

    prefix = "timed_"

    def execute(self, context: C) -> StepResult:
        """Run the wrapped step and return its result with ``duration_seconds`` added."""
        started = time.perf_counter()
        result = self._wrapped.execute(context)
        elapsed = time.perf_counter() - started
        returned: object = result
        if not isinstance(returned, StepResult):
            return result  # the orchestrator reports the wrong return type
        return dataclasses.replace(result, data={**result.data, "duration_seconds": elapsed})


type Validator[C] = Callable[[C], tuple[bool, str | None]]
"""Checks a context: returns ``(True, None)`` when valid, else ``(False, reason)``."""


class ValidationStep[C: BaseStepContext](BaseStep[C]):
    """A step that fails the run when ``validator(context)`` says the context is not valid.

    Args:
        validator: Returns ``(ok, message)``; ``message`` becomes the step's error.
        name: The step's name.
        progress_weight: Its share of progress; validation is usually quick.
        requires: The context fields the validator reads (its declared data flow; it provides
            none). ``None``, the default, leaves the step undeclared.
    """

    __steprail_flow__: ClassVar[StepFlow | None] = INSTANCE_FLOW

    def __init__(
        self,
        validator: Validator[C],
        name: str = "validate",
        progress_weight: float = 0.05,
        *,
        requires: tuple[str, ...] | None = None,
    ) -> None:
        given: object = validator
        if not callable(given):
            raise TypeError(f"ValidationStep {name!r}: validator must be callable, got {validator!r}")
        if not name:
            raise TypeError(f"ValidationStep name must be a non-empty string, got {name!r}")
        self._validator: Final = validator
        self._name: Final = name
        self._weight: Final = checked_weight(name, progress_weight)
        self._flow: Final = (
            None if requires is None else StepFlow(declared_names(f"ValidationStep {name!r}", "requires", requires))
        )

    def declared_flow(self) -> StepFlow | None:
        """``StepFlow(requires)`` when ``requires`` was given, else ``None`` (undeclared)."""
        return self._flow

    @property
    def name(self) -> str:
        """The name given at construction."""
        return self._name

    @property
    def progress_weight(self) -> float:
        """The weight given at construction."""
        return self._weight

    def execute(self, context: C) -> StepResult:
        """Run the validator; fail with its message when it returns ``False``."""
        valid, message = self._validator(context)
        if valid:
            return StepResult(success=True)
        return StepResult(success=False, error=message or f"validation {self._name!r} failed")
