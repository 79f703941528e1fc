"""What a failed run reports: :class:`StepFailedError` and its :class:`RollbackReport`."""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Literal, cast

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


_new = object.__new__
# Frozen dataclasses assign fields through object.__setattr__; the slot descriptors do the same
# work in half the time, which a rollback of thousands of steps notices.


def _slot_setter(name: str) -> Callable[[RollbackEntry, object], None]:
    descriptor = RollbackEntry.__dict__[name]  # the slot's member descriptor
    return cast(Callable[[RollbackEntry, object], None], descriptor.__set__)


_set_step = _slot_setter("step")
_set_kind = _slot_setter("kind")
_set_label = _slot_setter("label")
_set_error = _slot_setter("error")


def rolled_back_entry(step: str) -> RollbackEntry:
    """``RollbackEntry(step, "rollback", step)``: a step's rollback that worked, made quickly."""
    entry: RollbackEntry = _new(RollbackEntry)
    _set_step(entry, step)
    _set_kind(entry, "rollback")
    _set_label(entry, step)
    _set_error(entry, None)
    return entry


class RollbackReport:
    """Every rollback attempt of one failed run, in the order they were made.

    Args:
        entries: The attempts so far (empty by default).
    """

    __slots__ = ("_items", "_read", "_last_read")

    def __init__(self, entries: list[RollbackEntry] | None = None) -> None:
        # A step name stands for ``RollbackEntry(name, "rollback", name)``: the orchestrator
        # notes successful rollbacks this cheaply (appending to the end) and they become entries
        # when first read.
        self._items: list[RollbackEntry | str] = list(entries) if entries is not None else []
        # How many leading items the last read left as entries, and the last of them: a read
        # looks at newer items only (reading after each of N appends costs O(N) in all, not
        # O(N^2)), unless the list was changed before that point (then it reads all of it).
        self._read = 0
        self._last_read: RollbackEntry | str | None = None

    @property
    def entries(self) -> list[RollbackEntry]:
        """Every attempt, in order (the list itself: appending to it adds an attempt)."""
        items = self._items
        start = self._read
        if start > len(items) or (start and items[start - 1] is not self._last_read):
            start = 0  # shortened or rearranged through this list since the last read
        for position in range(start, len(items)):
            if type(items[position]) is str:
                items[position] = rolled_back_entry(cast(str, items[position]))
        self._read = len(items)
        self._last_read = items[-1] if items else None
        return cast(list[RollbackEntry], items)

    def _note_rolled_back(self, step: str) -> None:
        self._items.append(step)

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

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RollbackReport):
            return NotImplemented
        return self.entries == other.entries

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it replaces

    def __repr__(self) -> str:
        return f"RollbackReport(entries={self.entries!r})"


class StepFailedError(RuntimeError):
    """Raised by :meth:`Orchestrator.execute` when a step fails, after rollback.

    The message reads ``Step '<name>' failed: <error>``. When the step raised, ``<error>`` names
    the exception's type (``Step 'load' failed: KeyError: 'a'``) and ``__cause__`` is that
    exception; when it returned a failed :class:`StepResult`, ``<error>`` is the result's error.

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
