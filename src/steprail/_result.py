"""The value every step returns: :class:`StepResult`.

A run keeps one result per step, so a result is built to be cheap to make and small to keep: the
common one (a success, no error, not skipped, no data given) holds two slots, one of them a float.
Its timestamp is taken as ``time.time()`` and turned into the aware ``datetime`` on first read
(that same object on every later read); everything else is kept only when it differs from the
defaults, and its two dictionaries are made on first use. It is still a dataclass:
``dataclasses.replace``, ``fields``, ``asdict``, equality, ``repr``, copying and pickling see the
six public fields as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
import typing
from time import time as _now
from typing import TYPE_CHECKING, Any

__all__ = ["StepResult"]

# Positions in StepResult._more.
_SUCCESS, _ERROR, _SKIPPED, _DATA, _ROLLBACK_DATA = range(5)


@dataclass(init=False)
class StepResult:
    """What one step reports back to the orchestrator.

    Attributes:
        success: Whether the step did its job. A ``False`` here fails the run and starts rollback.
        data: Free-form result data for later steps, logs and job records (a new empty dict when
            omitted or ``None``, made on first use).
        error: Human-readable reason when ``success`` is ``False``.
        rollback_data: Whatever the step's ``rollback`` needs to undo its work (a new empty dict
            when omitted or ``None``, made on first use).
        skipped: ``True`` when the orchestrator skipped the step because ``can_skip`` said so.
        timestamp: When the result was made, timezone-aware UTC.
    """

    # Not the fields' names: each public field is a property over these two (installed below).
    # _taken: the creation time as time.time(), replaced by its datetime on first read.
    # _more: None for a plain success with no data given, else
    #   [success, error, skipped, data, rollback_data] (a None dict is made when read).
    # No reference to anything but these values: a result is never part of a reference cycle.
    # Hidden from type checkers, which would otherwise refuse `result.success = False` (a name
    # not in __slots__): to them the public fields are plain attributes, as they were.
    if not TYPE_CHECKING:
        __slots__ = ("_taken", "_more")

    success: bool = True
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    rollback_data: dict[str, Any] = field(default_factory=dict)
    skipped: bool = False
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __init__(
        self,
        success: bool = True,
        data: dict[str, Any] | None = None,
        error: str | None = None,
        rollback_data: dict[str, Any] | None = None,
        skipped: bool = False,
        timestamp: datetime | None = None,
    ) -> None:
        """Make a result; ``data`` and ``rollback_data`` default to new empty dicts, ``timestamp``
        to now (UTC)."""
        self._taken: float | datetime = _now() if timestamp is None else timestamp
        self._more: list[Any] | None = (
            None
            if success is True and error is None and skipped is False and data is None and rollback_data is None
            else [success, error, skipped, data, rollback_data]
        )

    def __getstate__(self) -> tuple[None, dict[str, object]]:
        """What pickling and copying store: the two slots (the default for a slotted class)."""
        return None, {"_taken": self._taken, "_more": self._more}

    def __setstate__(self, state: object) -> None:
        """Restore a pickled result, including one pickled by an earlier steprail.

        Earlier versions (a dataclass with a slot per field) stored ``(None, {field: value})``.
        """
        _, slots = typing.cast(tuple[None, dict[str, Any]], state)
        if "_taken" not in slots:
            StepResult.__init__(self, **slots)
            return
        self._taken = slots["_taken"]
        self._more = slots["_more"]

    def _get(self, index: int) -> Any:
        more = self._more
        if more is None:
            return _DEFAULTS[index]
        return more[index]

    def _set(self, index: int, value: object) -> None:
        more = self._more
        if more is None:
            more = self._more = list(_DEFAULTS)
        more[index] = value

    def _dict(self, index: int) -> dict[str, Any]:
        more = self._more
        if more is None:
            more = self._more = list(_DEFAULTS)
        value: dict[str, Any] | None = more[index]
        if value is None:
            value = more[index] = {}
        return value

    def _get_timestamp(self) -> datetime:
        taken = self._taken
        if isinstance(taken, datetime):
            return taken
        stamp = self._taken = datetime.fromtimestamp(taken, UTC)
        return stamp

    def _set_timestamp(self, value: datetime) -> None:
        self._taken = value


_DEFAULTS: tuple[Any, ...] = (True, None, False, None, None)


def _field_property(index: int, *, made_on_read: bool) -> property:
    def get(result: StepResult) -> Any:
        return result._dict(index) if made_on_read else result._get(index)

    def set_(result: StepResult, value: object) -> None:
        result._set(index, value)

    return property(get, set_)


# Installed after @dataclass has read the class-level defaults above to build the fields.
StepResult.success = _field_property(_SUCCESS, made_on_read=False)  # type: ignore[assignment]  # a property over _more
StepResult.error = _field_property(_ERROR, made_on_read=False)  # type: ignore[assignment]  # a property over _more
StepResult.skipped = _field_property(_SKIPPED, made_on_read=False)  # type: ignore[assignment]  # a property over _more
StepResult.data = _field_property(_DATA, made_on_read=True)  # type: ignore[assignment]  # a property over _more
StepResult.rollback_data = _field_property(_ROLLBACK_DATA, made_on_read=True)  # type: ignore[assignment]  # a property over _more
StepResult.timestamp = property(StepResult._get_timestamp, StepResult._set_timestamp)  # type: ignore[assignment]  # lazy datetime
