"""The value every step returns: :class:`StepResult`.

A run keeps one result per step, so a result is built to be cheap to make and small to keep: the
common one (a success, no error, not skipped, no data given) holds two slots, one of them a float.
Its timestamp is taken as ``time.time()`` and turned into the aware ``datetime`` on first read
(that same object on every later read); everything else is kept only when it differs from the
defaults, and its two dictionaries are made on first use. It is still a dataclass:
``dataclasses.replace``, ``fields``, ``asdict``, equality, ``repr``, copying and pickling see the
six public fields as before, and a subclass (``@dataclass`` or not, with ``slots=True`` or not)
behaves as a subclass of the plain dataclass did.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from time import time as _now
from typing import TYPE_CHECKING, Any, Final

__all__ = ["StepResult"]

# Positions in StepResult._more.
_SUCCESS, _ERROR, _SKIPPED, _DATA, _ROLLBACK_DATA = range(5)


class _MadeOnUse:
    """The default of ``data``, ``rollback_data`` and ``timestamp``: made when first needed.

    Its own object, not ``None``: a ``None`` given by the caller is kept as given, as it was when
    ``StepResult`` was a plain dataclass.
    """

    def __repr__(self) -> str:
        return "<factory>"  # what a dataclass signature shows for a default_factory


# Typed Any so that it can stand as the default of a dict or datetime parameter.
_MADE_ON_USE: Final[Any] = _MadeOnUse()

# Serialises the few lazy creations (the field list, a dict, the timestamp's datetime), so that
# threads writing into one fresh result cannot each make one and lose the other's writes. Never
# taken on the common path (make a result, check it, keep it).
_MAKING = threading.Lock()


@dataclass(init=False)
class StepResult:
    """What one step reports back to the orchestrator.

    Attributes:
        success: Whether the step did its job. A ``False`` here fails the run and starts rollback.
        data: Free-form result data for later steps, logs and job records (a new empty dict when
            omitted, made on first use).
        error: Human-readable reason when ``success`` is ``False``.
        rollback_data: Whatever the step's ``rollback`` needs to undo its work (a new empty dict
            when omitted, made on first use).
        skipped: ``True`` when the orchestrator skipped the step because ``can_skip`` said so.
        timestamp: When the result was made, timezone-aware UTC.

    Values are kept as given, unchecked, as by any dataclass: ``None`` given for ``data`` reads
    back as ``None``, not as an empty dict.
    """

    # Not the fields' names: each public field is a property over these two (installed below).
    # _taken: the creation time as time.time() (a float), replaced by its datetime on first read;
    #   a timestamp given by the caller is kept as is if it is a datetime, else in a 1-tuple (so
    #   that a float given is not taken for the creation time).
    # _more: None for a plain success with no data given, else
    #   [success, error, skipped, data, rollback_data] (a dict not made yet is _MADE_ON_USE).
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
        data: dict[str, Any] = _MADE_ON_USE,
        error: str | None = None,
        rollback_data: dict[str, Any] = _MADE_ON_USE,
        skipped: bool = False,
        timestamp: datetime = _MADE_ON_USE,
    ) -> None:
        """Make a result; ``data`` and ``rollback_data`` default to new empty dicts, ``timestamp``
        to now (UTC)."""
        made_on_use = _MADE_ON_USE  # a local: read three times on the path every step takes
        self._taken: object = _now() if timestamp is made_on_use else _given_timestamp(timestamp)
        self._more: list[Any] | None = (
            None
            if success is True
            and error is None
            and skipped is False
            and data is made_on_use
            and rollback_data is made_on_use
            else [success, error, skipped, data, rollback_data]
        )

    def __getstate__(self) -> object:
        """What copying and pickling store: the instance dict and every slot holding a value.

        As for the plain dataclass, a subclass's own slots and instance attributes are included,
        and a shallow copy has its own fields but shares the original's ``data`` and
        ``rollback_data`` dicts (made here if they were not yet). Results pickled by earlier
        versions, whose state named the public fields, load through the fields' setters.
        """
        state = object.__getstate__(self)
        if isinstance(state, tuple):  # (instance dict or None, {slot: value})
            slots: dict[str, object] = state[1]
            if "_more" in slots:
                self._dict(_DATA)
                self._dict(_ROLLBACK_DATA)
                slots["_more"] = list(self._more or ())  # never the original's list
        return state

    def _field_missing(self, index: int) -> AttributeError:
        name = _NAMES[index]
        return AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _get(self, index: int) -> Any:
        try:
            more = self._more
        except AttributeError:  # no field was ever set (a subclass __init__ that did not)
            raise self._field_missing(index) from None
        if more is None:
            return _DEFAULTS[index]
        return more[index]

    def _storage(self) -> list[Any]:
        """The field list, made (once, whatever the threads) if there is none yet."""
        with _MAKING:
            # Unset while the __init__ a @dataclass subclass generates sets the first field.
            more: list[Any] | None = getattr(self, "_more", None)
            if more is None:
                more = self._more = list(_DEFAULTS)
        return more

    def _set(self, index: int, value: object) -> None:
        try:
            more = self._more
        except AttributeError:  # the first field a @dataclass subclass's __init__ sets
            more = None
        if more is None:
            more = self._storage()
        more[index] = value

    def _dict(self, index: int) -> Any:
        more = self._get_more(index)
        value = more[index]
        if value is _MADE_ON_USE:
            with _MAKING:
                value = more[index]
                if value is _MADE_ON_USE:
                    value = more[index] = {}
        return value

    def _get_more(self, index: int) -> list[Any]:
        try:
            more = self._more
        except AttributeError:
            raise self._field_missing(index) from None
        return self._storage() if more is None else more

    def _get_timestamp(self) -> Any:
        taken = self._taken
        if type(taken) is float:  # taken by __init__: made into its datetime once
            with _MAKING:
                taken = self._taken
                if type(taken) is float:
                    taken = self._taken = datetime.fromtimestamp(taken, UTC)
        if type(taken) is tuple:  # given, and not a datetime
            return taken[0]
        return taken

    def _set_timestamp(self, value: object) -> None:
        self._taken = _given_timestamp(value)


def _given_timestamp(value: object) -> object:
    """What ``_taken`` holds for a timestamp the caller gave: kept unchecked, as by any dataclass,
    in a 1-tuple unless it is a datetime, so that a float is not read as the creation time."""
    return value if isinstance(value, datetime) else (value,)


_DEFAULTS: tuple[Any, ...] = (True, None, False, _MADE_ON_USE, _MADE_ON_USE)
_NAMES = ("success", "error", "skipped", "data", "rollback_data")


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
