"""Validating an action's params: one error that lists every bad field."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

__all__ = ["InvalidParamsError", "validate_params"]


class InvalidParamsError(ValueError):
    """The params given to an action are not valid; :attr:`problems` has one line per bad field.

    Attributes:
        action: The action's name.
        problems: ``(field, message)`` pairs, in the order pydantic found them.
    """

    def __init__(self, action: str, problems: list[tuple[str, str]]) -> None:
        self.action = action
        self.problems = problems
        count = len(problems)
        lines = "\n".join(f"  - {where}: {message}" for where, message in problems)
        super().__init__(f"invalid params for {action} ({count} problem{'s' * (count != 1)}):\n{lines}")


def _where(loc: tuple[int | str, ...]) -> str:
    if not loc:
        return "(params)"
    text = str(loc[0])
    for part in loc[1:]:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _known_keys(model: type[BaseModel]) -> list[str]:
    """The keys ``model`` accepts at the top level: field names and their string aliases."""
    keys: list[str] = []
    for name, info in model.model_fields.items():
        keys.append(name)
        for alias in (info.alias, info.validation_alias):
            if isinstance(alias, str) and alias not in keys:
                keys.append(alias)
    return keys


def _unknown_keys(model: type[BaseModel], data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """One problem per key ``model`` would drop, with the closest known key as a suggestion.

    Pydantic ignores unknown keys by default, so a misspelt param would silently fall back to
    its default. A model that declares ``extra="allow"`` wants them and gets them.
    """
    if model.model_config.get("extra") == "allow":
        return []
    known = _known_keys(model)
    problems: list[tuple[str, str]] = []
    for key in data:
        if key in known:
            continue
        close = difflib.get_close_matches(str(key), known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known params: {', '.join(known) or '(none)'}"
        problems.append((str(key), f"unknown param; {hint}"))
    return problems


def validate_params[P: BaseModel](model: type[P], raw: P | Mapping[str, Any], action: str) -> P:
    """Return ``raw`` validated as ``model``.

    An instance of ``model`` is validated again from its fields, so a model built with
    ``model_construct`` cannot slip through unchecked. Top-level keys the model does not know
    are an error unless the model allows extra keys (``extra="allow"``).

    Raises:
        InvalidParamsError: listing every bad field with pydantic's message and the given value,
            and every unknown key with the closest known one.
    """
    data: object = raw.model_dump() if isinstance(raw, BaseModel) else raw
    if not isinstance(data, Mapping):
        raise InvalidParamsError(action, [("(params)", f"expected a mapping of names to values, got {type(data).__name__}")])
    problems = _unknown_keys(model, data)
    try:
        validated = model.model_validate(dict(data))
    except ValidationError as error:
        for item in error.errors(include_url=False):
            if item["type"] == "extra_forbidden" and len(item["loc"]) == 1:
                continue  # an extra="forbid" model: already listed, with a suggestion
            message = item["msg"]
            if item["type"] != "missing":
                message += f" (got {item['input']!r})"
            problems.append((_where(item["loc"]), message))
    else:
        if not problems:
            return validated
    raise InvalidParamsError(action, problems) from None
