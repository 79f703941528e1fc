"""Params as given, with the values of secret fields masked before anything records them."""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Any, Final

from pydantic import BaseModel, SecretBytes, SecretStr

__all__ = ["SECRET_MASK", "masked_params"]

#: What a secret's value is replaced with: pydantic's own text for a ``SecretStr``, which is
#: also what a validated model's ``model_dump(mode="json")`` records.
SECRET_MASK: Final = str(SecretStr("secret"))


def _holds_secret(annotation: object) -> bool:
    """Whether a field's type is, or contains, a pydantic secret (``SecretStr | None``,
    ``list[SecretStr]``, ``Annotated[SecretStr, ...]``...)."""
    if isinstance(annotation, type) and issubclass(annotation, SecretStr | SecretBytes):
        return True
    return any(_holds_secret(arg) for arg in typing.get_args(annotation))


def _models_in(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models_in(arg)]


def masked_params(model: type[BaseModel], raw: Mapping[str, Any]) -> dict[str, Any]:
    """``raw`` (params not validated yet, perhaps invalid) with the value of every field of
    ``model`` that holds a secret replaced by :data:`SECRET_MASK`, in nested models too. The
    job store, the JSON-lines log and the ``steprail.job`` logger then never see the secret,
    even when validation fails."""
    masked: dict[str, Any] = {}
    for key, value in raw.items():
        name = str(key)
        field = model.model_fields.get(name)
        if field is None or value is None:
            masked[name] = value
        elif _holds_secret(field.annotation):
            masked[name] = SECRET_MASK
        elif isinstance(value, Mapping) and len(models := _models_in(field.annotation)) == 1:
            masked[name] = masked_params(models[0], value)
        else:
            masked[name] = value
    return masked
