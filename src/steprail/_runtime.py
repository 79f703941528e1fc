"""The runtime a context reports to: logs, progress and metrics.

:class:`RuntimeContext` keeps every call in memory. Job stores and consoles subclass it and
override :meth:`~RuntimeContext.log`, :meth:`~RuntimeContext.set_progress` and
:meth:`~RuntimeContext.set_metrics`; the framework only ever calls those three methods.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["LogEntry", "MetricsEntry", "ProgressEntry", "RuntimeContext"]


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One ``log`` call: an event name, its data and an optional target file."""

    event: str
    data: dict[str, Any]
    file: str | None = None


@dataclass(frozen=True, slots=True)
class ProgressEntry:
    """One ``set_progress`` call. ``step`` is ``None`` for the run's overall progress."""

    current: int
    total: int
    step: str | None = None


@dataclass(frozen=True, slots=True)
class MetricsEntry:
    """One ``set_metrics`` call, attributed to ``step``."""

    value: dict[str, Any]
    step: str | None = None


class RuntimeContext:
    """An in-memory runtime that keeps what it is told.

    It needs no arguments, so ``RuntimeContext()`` is enough for scripts and tests. Subclass it
    to send logs, progress and metrics elsewhere; call ``super()`` to also keep them in memory.
    """

    def __init__(self) -> None:
        self.logs: list[LogEntry] = []
        self.progress: list[ProgressEntry] = []
        self.metrics: list[MetricsEntry] = []

    def log(self, event: str, data: dict[str, Any], file: str | None = None) -> None:
        """Record an event with its data (and the file it concerns, if any)."""
        self.logs.append(LogEntry(event, data, file))

    def set_progress(self, current: int, total: int, step: str | None = None) -> None:
        """Record progress ``current`` out of ``total``, for ``step`` or for the whole run."""
        self.progress.append(ProgressEntry(current, total, step))

    def set_metrics(self, value: dict[str, Any], step: str | None = None) -> None:
        """Record metrics for ``step``."""
        self.metrics.append(MetricsEntry(value, step))

    def events(self, name: str) -> list[dict[str, Any]]:
        """Return the data of every logged event called ``name``, oldest first."""
        return [entry.data for entry in self.logs if entry.event == name]
