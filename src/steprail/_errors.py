"""What a failed run reports: :class:`StepFailedError` and its :class:`RollbackReport`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ._result import StepResult

__all__ = ["RollbackEntry", "RollbackReport", "StepFailedError"]


@dataclass(frozen=True, slots=True)
class RollbackEntry:
    """One rollback attempt.

    Attributes:
        step: Name of the step being undone.
        kind: ``"rollback"`` for the step's ``rollback`` method, ``"undo"`` for an action the
            step registered with ``context.on_rollback``.
        label: The undo action's label (the step name for ``"rollback"``).
        error: ``None`` when it worked, else ``"<ExceptionType>: <text>"``.
    """

    step: str
    kind: Literal["rollback", "undo"]
    label: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether this attempt succeeded."""
        return self.error is None


@dataclass(slots=True)
class RollbackReport:
    """Every rollback attempt of one failed run, in the order they were made."""

    entries: list[RollbackEntry] = field(default_factory=list)

    @property
    def failures(self) -> list[RollbackEntry]:
        """The attempts that raised."""
        return [entry for entry in self.entries if entry.error is not None]

    @property
    def ok(self) -> bool:
        """Whether every attempt succeeded."""
        return all(entry.error is None for entry in self.entries)

    @property
    def rolled_back_steps(self) -> list[str]:
        """Names of the steps whose ``rollback`` method was called, in call order."""
        return [entry.step for entry in self.entries if entry.kind == "rollback"]


class StepFailedError(RuntimeError):
    """Raised by :meth:`Orchestrator.execute` when a step fails, after rollback.

    The message reads ``Step '<name>' failed: <error>``; ``__cause__`` is the exception the step
    raised, if it raised one.

    Attributes:
        step_name: The failed step.
        result: Its failed :class:`StepResult`.
        rollback_report: What rollback did, including each rollback that raised.
    """

    def __init__(self, step_name: str, result: StepResult, rollback_report: RollbackReport) -> None:
        super().__init__(f"Step '{step_name}' failed: {result.error}")
        self.step_name = step_name
        self.result = result
        self.rollback_report = rollback_report
