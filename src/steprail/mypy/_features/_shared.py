"""Small helpers shared by the checks: type mapping, trial inference and literal reading."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from mypy.checker import TypeChecker
from mypy.maptype import map_instance_to_supertype
from mypy.nodes import (
    Expression,
    FloatExpr,
    IntExpr,
    StrExpr,
    TypeInfo,
    UnaryExpr,
)
from mypy.plugin import CheckerPluginInterface
from mypy.types import AnyType, Instance, ProperType, Type, UninhabitedType, get_proper_type

__all__ = [
    "as_checker",
    "init_owner",
    "context_arg",
    "describe",
    "number_literal",
    "str_literal",
    "trial_type",
]


def as_checker(api: CheckerPluginInterface) -> TypeChecker | None:
    """The concrete checker behind ``api`` (the trial inference needs its expression checker).

    ``None`` inside functions mypy does not check (unannotated ones, by default): the plugin
    stays as quiet there as mypy itself.
    """
    if isinstance(api, TypeChecker) and api.in_checked_function():
        return api
    return None


def init_owner(info: TypeInfo) -> str | None:
    """Full name of the class whose ``__init__`` ``info`` uses."""
    return next((base.fullname for base in info.mro if "__init__" in base.names), None)


def context_arg(typ: Type, fullname: str) -> ProperType | None:
    """The first type argument of ``typ`` seen as ``fullname`` (e.g. ``C`` of ``BaseStep[C]``).

    ``None`` when ``typ`` is not an instance of that class, or the argument is ``Any`` or
    uninhabited: the plugin says nothing about types it cannot name.
    """
    proper = get_proper_type(typ)
    if not isinstance(proper, Instance) or not proper.type.has_base(fullname):
        return None
    base: TypeInfo = next(info for info in proper.type.mro if info.fullname == fullname)
    mapped = map_instance_to_supertype(proper, base)
    if not mapped.args:
        return None
    arg = get_proper_type(mapped.args[0])
    if isinstance(arg, AnyType | UninhabitedType):
        return None
    return arg


@contextmanager
def _quiet(chk: TypeChecker) -> Iterator[list[bool]]:
    """Run an inference experiment: no errors shown, no types exported.

    Yields a one-item list set to ``True`` when the experiment produced errors.
    """
    outcome = [False]
    # Types go to a scratch map so mypy's own pass stores the real ones later.
    chk._type_maps.append({})  # noqa: SLF001 - no public way to make a scratch type map
    try:
        with chk.msg.filter_errors() as watcher:
            yield outcome
        outcome[0] = watcher.has_new_errors()
    finally:
        chk._type_maps.pop()  # noqa: SLF001


def trial_type(
    chk: TypeChecker, expr: Expression, type_context: Type | None
) -> tuple[ProperType, bool]:
    """Infer ``expr`` without reporting anything; return its type and whether it had errors."""
    with _quiet(chk) as outcome:
        typ = get_proper_type(chk.expr_checker.accept(expr, type_context=type_context))
    return typ, outcome[0]


def describe(typ: Type) -> str:
    """A short, readable name for a type: ``LoggingStep[MyContext]``, ``MyContext``."""
    proper = get_proper_type(typ)
    if isinstance(proper, Instance):
        if not proper.args:
            return proper.type.name
        return f"{proper.type.name}[{', '.join(describe(arg) for arg in proper.args)}]"
    return str(proper)


def str_literal(expr: Expression | None) -> str | None:
    """The value of a plain string literal, else ``None``."""
    return expr.value if isinstance(expr, StrExpr) else None


def number_literal(expr: Expression | None) -> float | None:
    """The value of an int/float literal, optionally signed (``-0.5``), else ``None``."""
    sign = 1.0
    while isinstance(expr, UnaryExpr) and expr.op in ("-", "+"):
        if expr.op == "-":
            sign = -sign
        expr = expr.expr
    if isinstance(expr, IntExpr | FloatExpr):
        return sign * float(expr.value)
    return None

