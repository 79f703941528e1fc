"""A generic context with a constrained field, in a module with postponed annotations (its hints
are strings, resolved with the class's type parameters in scope)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from steprail import BaseStepContext


class Box[T](BaseStepContext):
    size: Annotated[int, Field(gt=0)] = 1
    item: T | None = None
