"""The unit of work: :class:`BaseStep`."""

from __future__ import annotations

from abc import ABC, abstractmethod

from ._context import BaseStepContext
from ._result import StepResult

__all__ = ["BaseStep", "checked_weight"]


class BaseStep[C: BaseStepContext](ABC):
    """One named, weighted unit of a workflow that runs on a context of type ``C``.

    A step typed on a base context can run in a workflow whose context is a subclass of it:
    ``BaseStep`` is contravariant in ``C``.
    """

    @property
    @abstractmethod
    def name(self) -> str:
        """Unique identifier of the step within its registry."""

    @property
    @abstractmethod
    def progress_weight(self) -> float:
        """The step's share of the whole run's progress, from 0.0 to 1.0."""

    @abstractmethod
    def execute(self, context: C) -> StepResult:
        """Do the step's work. Raising, or returning a failed result, fails the run."""

    def can_skip(self, context: C) -> bool:
        """Return ``True`` to skip the step for this run. Skipped steps are never rolled back."""
        return False

    def rollback(self, context: C, result: StepResult) -> None:
        """Undo the work of a completed step after a later step failed. Default: nothing."""

    def __repr__(self) -> str:
        try:
            name = self.name
        except Exception:  # noqa: BLE001 - repr must never raise, even for a broken step
            name = "?"
        return f"<{type(self).__name__} {name!r}>"


def checked_weight(step_name: str, weight: object) -> float:
    """Return ``weight`` as a float if it is a finite number in [0.0, 1.0], else raise.

    Raises:
        TypeError: ``weight`` is not a real number (``bool`` is refused too).
        ValueError: ``weight`` is NaN, infinite or outside [0.0, 1.0].
    """
    if isinstance(weight, bool) or not isinstance(weight, int | float):
        raise TypeError(
            f"step {step_name!r}: progress_weight must be a number, got {type(weight).__name__}"
        )
    value = float(weight)
    if not 0.0 <= value <= 1.0:  # also refuses NaN, which compares false with everything
        raise ValueError(
            f"step {step_name!r}: progress_weight must be a finite number in [0.0, 1.0], got {weight!r}"
        )
    return value
