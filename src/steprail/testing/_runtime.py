"""A runtime for tests that keeps every call and answers questions about them."""

from __future__ import annotations

from typing import Any

from .._runtime import RuntimeContext

__all__ = ["RecordingRuntime"]


class RecordingRuntime(RuntimeContext):
    """A :class:`~steprail.RuntimeContext` with query helpers for assertions.

    Everything is kept in :attr:`logs`, :attr:`progress` and :attr:`metrics` as usual; the
    helpers below filter them.
    """

    def event_names(self) -> list[str]:
        """The name of every logged event, in order."""
        return [entry.event for entry in self.logs]

    def events_for(self, step: str, name: str | None = None) -> list[dict[str, Any]]:
        """Data of the events whose ``data['step']`` is ``step`` (only those called ``name``)."""
        return [
            entry.data
            for entry in self.logs
            if entry.data.get("step") == step and (name is None or entry.event == name)
        ]

    def files_logged(self) -> list[str]:
        """The ``file`` of every log call that named one."""
        return [entry.file for entry in self.logs if entry.file is not None]

    def overall_progress(self) -> list[int]:
        """``current`` of every progress report made for the whole run (``step`` is ``None``)."""
        return [entry.current for entry in self.progress if entry.step is None]

    def progress_of(self, step: str) -> list[tuple[int, int]]:
        """``(current, total)`` of every progress report ``step`` made."""
        return [(entry.current, entry.total) for entry in self.progress if entry.step == step]

    def metrics_of(self, step: str) -> list[dict[str, Any]]:
        """Every metrics dict reported for ``step``, oldest first."""
        return [entry.value for entry in self.metrics if entry.step == step]

    def last_metrics(self, step: str) -> dict[str, Any] | None:
        """The latest metrics reported for ``step``, or ``None``."""
        values = self.metrics_of(step)
        return values[-1] if values else None

    def clear(self) -> None:
        """Forget everything recorded so far."""
        self.logs.clear()
        self.progress.clear()
        self.metrics.clear()
