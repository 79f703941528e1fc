"""Validating an action's params: one error that lists every bad field."""

from __future__ import annotations

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


def validate_params[P: BaseModel](model: type[P], raw: P | Mapping[str, Any], action: str) -> P:
    """Return ``raw`` validated as ``model``.

    An instance of ``model`` is validated again from its fields, so a model built with
    ``model_construct`` cannot slip through unchecked.

    Raises:
        InvalidParamsError: listing every bad field with pydantic's message and the given value.
    """
    data: object = raw.model_dump() if isinstance(raw, BaseModel) else raw
    if not isinstance(data, Mapping):
        raise InvalidParamsError(action, [("(params)", f"expected a mapping of names to values, got {type(data).__name__}")])
    try:
        return model.model_validate(dict(data))
    except ValidationError as error:
        problems: list[tuple[str, str]] = []
        for item in error.errors(include_url=False):
            message = item["msg"]
            if item["type"] != "missing":
                message += f" (got {item['input']!r})"
            problems.append((_where(item["loc"]), message))
        raise InvalidParamsError(action, problems) from None
