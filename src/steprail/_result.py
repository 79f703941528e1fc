"""The value every step returns: :class:`StepResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["StepResult"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class StepResult:
    """What one step reports back to the orchestrator.

    Attributes:
        success: Whether the step did its job. A ``False`` here fails the run and starts rollback.
        data: Free-form result data for later steps, logs and job records.
        error: Human-readable reason when ``success`` is ``False``.
        rollback_data: Whatever the step's ``rollback`` needs to undo its work.
        skipped: ``True`` when the orchestrator skipped the step because ``can_skip`` said so.
        timestamp: When the result was made, timezone-aware UTC.
    """

    success: bool = True
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    rollback_data: dict[str, Any] = field(default_factory=dict)
    skipped: bool = False
    timestamp: datetime = field(default_factory=_utc_now)
