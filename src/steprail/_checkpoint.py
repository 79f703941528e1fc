"""Checkpoints of a context: its fields, serialised through their pydantic types, and back.

What is saved: every dataclass field a context class adds to :class:`BaseStepContext` (the base's
own fields are the run's bookkeeping: ``runtime_ctx``, ``step_results``, ``errors``,
``current_step``, ``current_step_order``), as JSON values made by the field's own pydantic type
(``TypeAdapter.dump_python(mode="json")``), except:

- fields marked ``field(..., metadata=NOT_CHECKPOINTED)``: a client, a connection, a lock, what
  the action builds again for every run;
- fields whose value pydantic cannot serialise: skipped and named in the checkpoint's
  ``not_saved`` list, never an error (a checkpoint must not fail a job).

A resume builds a new context with the action (``build_workflow``), so what was not saved has
the value the action gives it, then assigns each saved field, validated back through its type.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from ._context import BaseStepContext

if TYPE_CHECKING:
    from pydantic import TypeAdapter

__all__ = ["NOT_CHECKPOINTED", "restore_checkpoint", "take_checkpoint"]

#: ``field(metadata=NOT_CHECKPOINTED)`` keeps a context field out of checkpoints: a resume gets
#: the value the action's new context has (a client, a connection, anything rebuilt per run).
NOT_CHECKPOINTED: Final[Mapping[str, object]] = MappingProxyType({"steprail.checkpoint": False})

_BASE_FIELDS: Final = frozenset(spec.name for spec in dataclasses.fields(BaseStepContext))


class _Fields:
    """A context class's checkpointed fields and their adapters (built on first use)."""

    def __init__(self, cls: type[BaseStepContext]) -> None:
        hints = typing.get_type_hints(cls)
        self.names: tuple[str, ...] = tuple(
            spec.name
            for spec in dataclasses.fields(cls)
            if spec.name not in _BASE_FIELDS and spec.metadata.get("steprail.checkpoint", True)
        )
        self.hints = {name: hints[name] for name in self.names}
        self.adapters: dict[str, TypeAdapter[Any] | None] = {}

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


def take_checkpoint(context: BaseStepContext) -> dict[str, Any]:
    """``{"fields": {name: JSON value}, "not_saved": [names]}`` for ``context`` now."""
    fields = _fields_of(type(context))
    saved: dict[str, Any] = {}
    not_saved: list[str] = []
    values = context.__dict__
    for name in fields.names:
        adapter = fields.adapter(name)
        if adapter is None:
            not_saved.append(name)
            continue
        try:
            saved[name] = adapter.dump_python(values[name], mode="json")
        except Exception:
            not_saved.append(name)
    return {"fields": saved, "not_saved": not_saved}


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
