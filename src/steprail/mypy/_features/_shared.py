"""Small helpers shared by the checks: type mapping, trial inference and literal reading."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from mypy.checker import TypeChecker
from mypy.maptype import map_instance_to_supertype
from mypy.nodes import (
    Expression,
    FloatExpr,
    IntExpr,
    MemberExpr,
    MypyFile,
    NameExpr,
    RefExpr,
    StrExpr,
    SymbolNode,
    TypeInfo,
    UnaryExpr,
    Var,
)
from mypy.plugin import CheckerPluginInterface

from .._errors import STEPRAIL_CATEGORY
from mypy.types import AnyType, Instance, ProperType, Type, UninhabitedType, get_proper_type

__all__ = [
    "VarLookup",
    "as_checker",
    "bool_literal",
    "context_arg",
    "describe",
    "init_owner",
    "literal_value",
    "number_literal",
    "show_number",
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
        with chk.msg.filter_errors(save_filtered_errors=True) as watcher:
            yield outcome
        # The plugin's own findings (a bad weight inside the argument) do not make the
        # expression ill-typed: only mypy's errors count.
        outcome[0] = any(
            info.severity == "error" and (info.code is None or info.code.category != STEPRAIL_CATEGORY)
            for info in watcher.filtered_errors()
        )
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


#: Finds what a name refers to when mypy has not bound it yet (method bodies are analysed
#: after the class hooks run); ``None`` when it cannot tell.
type VarLookup = Callable[[Expression], SymbolNode | None]


def _resolve(expr: Expression, lookup: VarLookup | None) -> SymbolNode | None:
    """What a name or dotted name refers to: ``NAME``, ``module.NAME``, ``Cls.NAME``,
    ``module.Cls.NAME`` (mypy binds module attributes, not class attributes read in an
    expression, so those are looked up in the class)."""
    if isinstance(expr, RefExpr) and expr.node is not None:
        return expr.node
    if isinstance(expr, MemberExpr):
        base = _resolve(expr.expr, lookup)
        symbol = None
        if isinstance(base, MypyFile):
            symbol = base.names.get(expr.name)
        elif isinstance(base, TypeInfo):
            symbol = base.get(expr.name)
        if symbol is not None:
            return symbol.node
    return lookup(expr) if lookup is not None else None


def _final_value(expr: Expression, lookup: VarLookup | None) -> object:
    """The literal value of a ``Final`` constant that ``expr`` refers to, else ``None``.

    mypy keeps the value of ``NAME: Final = <literal>`` (module or class level) on the
    variable, also in its cache, so a constant from another module is read the same way.
    """
    var = _resolve(expr, lookup) if isinstance(expr, RefExpr) else None
    if isinstance(var, Var) and var.is_final:
        return var.final_value
    return None


def literal_value(expr: Expression | None, lookup: VarLookup | None = None) -> object:
    """What a literal expression stands for: a ``str``, ``bool``, ``int`` or ``float``.

    Reads literals written in place (optionally signed: ``-0.5``), ``True``/``False`` and
    ``Final`` constants holding one; ``None`` for anything else. Integers stay integers: a
    huge one has no float value.
    """
    negative = False
    while isinstance(expr, UnaryExpr) and expr.op in ("-", "+"):
        negative = negative != (expr.op == "-")
        expr = expr.expr
    value: object
    if expr is None:
        return None
    if isinstance(expr, StrExpr | IntExpr | FloatExpr):
        value = expr.value
    elif isinstance(expr, NameExpr) and expr.fullname in ("builtins.True", "builtins.False"):
        value = expr.fullname == "builtins.True"
    elif isinstance(expr, NameExpr) and expr.node is None and expr.name in ("True", "False"):
        value = expr.name == "True"
    else:
        value = _final_value(expr, lookup)
    if negative:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return -value
    return value


def str_literal(expr: Expression | None, lookup: VarLookup | None = None) -> str | None:
    """The value of a string literal, or of a ``Final`` constant holding one, else ``None``."""
    value = literal_value(expr, lookup)
    return value if isinstance(value, str) else None


def bool_literal(expr: Expression | None, lookup: VarLookup | None = None) -> bool | None:
    """``True``/``False`` (or a ``Final`` constant holding one), else ``None``."""
    value = literal_value(expr, lookup)
    return value if isinstance(value, bool) else None


def number_literal(expr: Expression | None, lookup: VarLookup | None = None) -> int | float | None:
    """The value of an int/float literal or ``Final`` number constant (not a bool), else ``None``."""
    value = literal_value(expr, lookup)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def show_number(value: int | float) -> str:
    """``value`` for a message; a huge integer is shortened rather than printed in full."""
    if isinstance(value, int):
        text = str(value)
        return text if len(text) <= 20 else f"{text[:8]}... ({len(text.lstrip('-'))} digits)"
    return f"{value:g}"
