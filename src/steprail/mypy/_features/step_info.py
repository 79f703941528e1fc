"""What the plugin learns about a step class while mypy analyses it: its literal name.

Method bodies are not kept in mypy's cache, so ``return 'load_data'`` cannot be read when the
step's module comes from a warm cache. The semantic pass therefore writes the facts into
``TypeInfo.metadata``, which *is* serialized, and the checks read them back from there, so a
cold run and a warm run see the same names.

Recorded under ``metadata["steprail"]``:

- ``name``: the step's name when the class defines ``name`` as a property whose body is just
  ``return "<literal>"``, or as a ``Final`` attribute set to a string literal;
- ``prefix``: a wrapper class's ``prefix = "<literal>"`` (``LoggingStep`` has ``"logged_"``).
"""

from __future__ import annotations

from mypy.nodes import (
    AssignmentStmt,
    Block,
    Decorator,
    ExpressionStmt,
    FuncDef,
    NameExpr,
    OverloadedFuncDef,
    ReturnStmt,
    Statement,
    StrExpr,
    TypeInfo,
)
from mypy.plugin import ClassDefContext

from .._consts import KNOWN_PREFIXES, METADATA_KEY
from ._shared import str_literal

__all__ = ["class_attribute_literal", "prefix_of", "property_getter", "record_step_class", "recorded_name"]


def property_getter(stmt: Statement, name: str) -> FuncDef | None:
    """The getter of the property ``name`` defined by ``stmt``, if that is what it is."""
    if isinstance(stmt, OverloadedFuncDef) and stmt.items:
        first = stmt.items[0]
        stmt = first if isinstance(first, Decorator) else stmt
    if isinstance(stmt, Decorator) and stmt.func.name == name and stmt.func.is_property:
        return stmt.func
    return None


def class_attribute_literal(stmt: Statement, name: str) -> tuple[AssignmentStmt, bool] | None:
    """``(assignment, is_final)`` when ``stmt`` assigns the class attribute ``name``."""
    if (
        isinstance(stmt, AssignmentStmt)
        and len(stmt.lvalues) == 1
        and isinstance(stmt.lvalues[0], NameExpr)
        and stmt.lvalues[0].name == name
    ):
        return stmt, stmt.is_final_def
    return None


def _single_returned_str(body: Block) -> str | None:
    """``"x"`` when the body is ``return "x"``, after an optional docstring; else ``None``."""
    statements = list(body.body)
    if statements and isinstance(statements[0], ExpressionStmt) and isinstance(statements[0].expr, StrExpr):
        statements = statements[1:]
    if len(statements) == 1 and isinstance(statements[0], ReturnStmt):
        return str_literal(statements[0].expr)
    return None


def record_step_class(ctx: ClassDefContext) -> None:
    """Write the class's literal ``name`` / ``prefix`` (if any) into its metadata."""
    data: dict[str, str] = {}
    for stmt in ctx.cls.defs.body:
        getter = property_getter(stmt, "name")
        if getter is not None:
            data.pop("name", None)
            value = _single_returned_str(getter.body)
            if value is not None:
                data["name"] = value
            continue
        named = class_attribute_literal(stmt, "name")
        if named is not None:
            data.pop("name", None)
            value = str_literal(named[0].rvalue)
            if value is not None and named[1]:
                data["name"] = value
            continue
        prefixed = class_attribute_literal(stmt, "prefix")
        if prefixed is not None:
            data.pop("prefix", None)
            value = str_literal(prefixed[0].rvalue)
            if value is not None:
                data["prefix"] = value
    # Overwrite, never merge: a re-analysed class must not keep a stale name.
    ctx.cls.info.metadata[METADATA_KEY] = data


def _defining_class(info: TypeInfo, attribute: str) -> TypeInfo | None:
    return next((base for base in info.mro if attribute in base.names), None)


def recorded_name(info: TypeInfo) -> str | None:
    """The literal name recorded for the class that defines ``name`` for ``info``."""
    owner = _defining_class(info, "name")
    if owner is None:
        return None
    value = owner.metadata.get(METADATA_KEY, {}).get("name")
    return value if isinstance(value, str) else None


def prefix_of(info: TypeInfo) -> str | None:
    """The name prefix of a wrapper class (``"logged_"`` for ``LoggingStep``)."""
    owner = _defining_class(info, "prefix")
    if owner is None:
        return None
    value = owner.metadata.get(METADATA_KEY, {}).get("prefix")
    if isinstance(value, str):
        return value
    return KNOWN_PREFIXES.get(owner.fullname)
