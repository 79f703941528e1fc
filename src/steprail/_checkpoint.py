"""Checkpoints of a context: its fields, serialised through their pydantic types, and back.

What is saved: every dataclass field a context class adds to :class:`BaseStepContext` (the base's
own fields are the run's bookkeeping: ``runtime_ctx``, ``step_results``, ``errors``,
``current_step``, ``current_step_order``), as JSON values made by the field's own pydantic type
(``TypeAdapter.dump_python(mode="json")``), except:

- fields marked ``field(..., metadata=NOT_CHECKPOINTED)``: a client, a connection, a lock, what
  the action builds again for every run;
- fields whose value pydantic cannot serialise: skipped and named in the checkpoint's
  ``not_saved`` list (with the reason in ``reasons``), never an error (a checkpoint must not
  fail a job);
- fields typed loosely (``Any``, ``object``, ``dict[str, Any]``...) whose value would not come
  back equal (a ``Path`` as ``str``, a tuple as a list, a ``datetime`` as ``str``): named in
  ``not_saved`` too, so a resume rebuilds them rather than restoring the wrong type.

Only the fields that changed since the run's previous checkpoint are saved (see
:class:`CheckpointDeltas`); a resume replays them in order.

A resume builds a new context with the action (``build_workflow``), so what was not saved has
the value the action gives it, then assigns each saved field, validated back through its type.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from ._context import BaseStepContext

if TYPE_CHECKING:
    from pydantic import TypeAdapter

__all__ = ["NOT_CHECKPOINTED", "CheckpointDeltas", "merge_checkpoints", "restore_checkpoint", "take_checkpoint"]

#: ``field(metadata=NOT_CHECKPOINTED)`` keeps a context field out of checkpoints: a resume gets
#: the value the action's new context has (a client, a connection, anything rebuilt per run).
NOT_CHECKPOINTED: Final[Mapping[str, object]] = MappingProxyType({"steprail.checkpoint": False})

_BASE_FIELDS: Final = frozenset(spec.name for spec in dataclasses.fields(BaseStepContext))


class _Fields:
    """A context class's checkpointed fields and their adapters (built on first use)."""

    def __init__(self, cls: type[BaseStepContext]) -> None:
        hints = typing.get_type_hints(cls, include_extras=True)
        self.names: tuple[str, ...] = tuple(
            spec.name
            for spec in dataclasses.fields(cls)
            if spec.name not in _BASE_FIELDS and spec.metadata.get("steprail.checkpoint", True)
        )
        self.hints = {name: hints[name] for name in self.names}
        self.adapters: dict[str, TypeAdapter[Any] | None] = {}
        self.loose = {name: _loose(hint) for name, hint in self.hints.items()}

    def adapter(self, name: str) -> TypeAdapter[Any] | None:
        if name not in self.adapters:
            from pydantic import ConfigDict, PydanticUserError, TypeAdapter

            try:
                try:
                    made: TypeAdapter[Any] | None = TypeAdapter(
                        self.hints[name], config=ConfigDict(arbitrary_types_allowed=True)
                    )
                except PydanticUserError:  # models and dataclasses carry their own config
                    made = TypeAdapter(self.hints[name])
            except Exception:
                made = None  # a type pydantic cannot describe: never saved
            self.adapters[name] = made
        return self.adapters[name]


_known: dict[type[BaseStepContext], _Fields] = {}


def _fields_of(cls: type[BaseStepContext]) -> _Fields:
    found = _known.get(cls)
    if found is None:
        found = _known[cls] = _Fields(cls)
    return found


def _loose(hint: object) -> bool:
    """Whether ``hint`` is, or holds, ``Any`` or ``object``: pydantic then keeps JSON's types
    (a ``Path`` comes back as ``str``, a tuple as a list), so such values are checked."""
    if hint is Any or hint is object:
        return True
    return any(_loose(arg) for arg in typing.get_args(hint))


_IMMUTABLE: Final = frozenset({str, bytes, int, float, bool, type(None)})


def _encode(value: object) -> str:
    return json.dumps(value, sort_keys=True, allow_nan=True, default=str)


def take_checkpoint(context: BaseStepContext) -> dict[str, Any]:
    """``{"fields": {name: JSON value}, "not_saved": [names], "reasons": {name: why}}`` for
    ``context`` now (every field: a full checkpoint)."""
    return CheckpointDeltas().take(context)


class CheckpointDeltas:
    """Checkpoints of one run's context that save only the fields that changed.

    The first :meth:`take` saves every field; each later one saves only the fields whose JSON
    differs from the checkpoint before it (compared by a hash of the JSON text, so nothing large
    is kept in memory). ``not_saved`` always names every field not saved at that moment. A
    resume replays the checkpoints of the kept steps in order (:func:`merge_checkpoints`).
    """

    def __init__(self) -> None:
        self._digests: dict[str, bytes] = {}
        # The immutable values (str, bytes, numbers) last saved: the very same object again is
        # unchanged without serialising it (a large text kept across steps costs nothing).
        self._objects: dict[str, object] = {}
        self._pending: tuple[dict[str, bytes], dict[str, object]] | None = None

    def take(self, context: BaseStepContext) -> dict[str, Any]:
        """The checkpoint of ``context`` now, relative to the last :meth:`recorded` one."""
        fields = _fields_of(type(context))
        saved: dict[str, Any] = {}
        not_saved: list[str] = []
        reasons: dict[str, str] = {}
        digests: dict[str, bytes] = {}
        objects: dict[str, object] = {}
        values = context.__dict__
        for name in fields.names:
            adapter = fields.adapter(name)
            if adapter is None:
                not_saved.append(name)
                reasons[name] = "pydantic cannot describe its type"
                continue
            value = values[name]
            if type(value) in _IMMUTABLE and name in self._digests and self._objects.get(name) is value:
                digests[name] = self._digests[name]
                objects[name] = value
                continue
            try:
                dumped = adapter.dump_python(value, mode="json")
                digest = hashlib.blake2b(_encode(dumped).encode("utf-8"), digest_size=16).digest()
            except Exception as error:
                not_saved.append(name)
                reasons[name] = f"not serialisable: {type(error).__name__}"
                continue
            if self._digests.get(name) == digest:
                digests[name] = digest  # unchanged since the last checkpoint (it round-tripped then)
                if type(value) in _IMMUTABLE:
                    objects[name] = value
                continue
            if fields.loose[name]:
                why = _round_trip_problem(adapter, dumped, value)
                if why is not None:
                    not_saved.append(name)
                    reasons[name] = why
                    continue
            saved[name] = dumped
            digests[name] = digest
            if type(value) in _IMMUTABLE:
                objects[name] = value
        self._pending = (digests, objects)
        checkpoint: dict[str, Any] = {"fields": saved, "not_saved": not_saved}
        if reasons:
            checkpoint["reasons"] = reasons
        return checkpoint

    def recorded(self) -> None:
        """The last checkpoint :meth:`take` made was recorded: the next one is relative to it."""
        if self._pending is not None:
            self._digests, self._objects = self._pending
            self._pending = None


def _round_trip_problem(adapter: TypeAdapter[Any], dumped: object, value: object) -> str | None:
    try:
        back = adapter.validate_python(dumped)
    except Exception as error:
        return f"its saved form does not validate back: {type(error).__name__}"
    try:
        same = bool(back == value)
    except Exception:
        same = False
    if not same:
        return (
            f"it is typed loosely (Any or object) and its value ({type(value).__name__}) would come back"
            f" as {type(back).__name__} or with other types inside: give the field a precise type"
        )
    return None


def merge_checkpoints(checkpoints: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One checkpoint equal to replaying ``checkpoints`` (oldest first): each one's fields
    replace the ones before, and a field it did not save drops what an earlier one saved."""
    fields: dict[str, Any] = {}
    not_saved: list[str] = []
    reasons: dict[str, str] = {}
    for checkpoint in checkpoints:
        for name in checkpoint.get("not_saved", []):
            fields.pop(name, None)
        fields.update(checkpoint.get("fields", {}))
        not_saved = list(checkpoint.get("not_saved", []))
        reasons = dict(checkpoint.get("reasons", {}))
    return {"fields": fields, "not_saved": not_saved, "reasons": reasons}


def restore_checkpoint(context: BaseStepContext, checkpoint: Mapping[str, Any]) -> list[str]:
    """Assign each field ``checkpoint`` saved (validated through its type) to ``context``;
    return the names of the fields it did not save (they keep the context's values).

    Raises:
        ValueError: a saved value no longer fits its field (the context class changed); it
            names the field.
    """
    fields = _fields_of(type(context))
    saved: Mapping[str, Any] = checkpoint.get("fields", {})
    for name, value in saved.items():
        adapter = fields.adapter(name) if name in fields.hints else None
        if adapter is None:
            raise ValueError(
                f"the checkpoint saved field {name!r}, which {type(context).__name__} no longer has (or no longer saves)"
            )
        try:
            setattr(context, name, adapter.validate_python(value))
        except Exception as error:
            raise ValueError(
                f"the checkpoint's value of {type(context).__name__}.{name} does not fit the field any more: {error}"
            ) from error
    return [name for name in fields.names if name not in saved]
