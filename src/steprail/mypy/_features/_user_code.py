"""Does evaluating an expression or running a statement possibly run user code?

Used by the name check for registries other code can reach (received ones, module and class
level ones): such a registry is followed only until code runs that could get at it. A call is
the obvious case; this module adds the implicit ones, decided from the types mypy has already
inferred for the code before the current call:

- an attribute read that is not a plain attribute or method (a property, another descriptor,
  a class with its own ``__getattribute__``), except on a module;
- an operator, a comparison (other than ``is``), a truth test (``assert x``, ``not x``,
  ``x if c else y``, ``and``/``or``) on anything but ``int``/``float``/``str``/``bytes``/
  ``bool``/``None`` values;
- a subscript (other than a type application such as ``StepRegistry[Ctx]``), unpacking,
  iteration, ``await``/``yield``, an attribute or item assignment or deletion, augmented
  assignment on non-plain values;
- every compound statement (``if``, ``for``, ``while``, ``with``, ``try``, ``match``).

When the type of a part is not known the answer is "may": the check prefers to stop following.
"""

from __future__ import annotations

from typing import Final

from mypy.checker import TypeChecker
from mypy.nodes import (
    AssertStmt,
    AssignmentStmt,
    AwaitExpr,
    BreakStmt,
    CallExpr,
    ComparisonExpr,
    ConditionalExpr,
    ContinueStmt,
    Decorator,
    DelStmt,
    DictionaryComprehension,
    Expression,
    ExpressionStmt,
    FuncDef,
    GeneratorExpr,
    GlobalDecl,
    IndexExpr,
    MemberExpr,
    MypyFile,
    NameExpr,
    NonlocalDecl,
    OperatorAssignmentStmt,
    OpExpr,
    OverloadedFuncDef,
    PassStmt,
    RefExpr,
    ReturnStmt,
    StarExpr,
    Statement,
    SuperExpr,
    TypeInfo,
    UnaryExpr,
    Var,
    YieldExpr,
    YieldFromExpr,
)
from mypy.types import Instance, LiteralType, NoneType, get_proper_type

from ._walk import expression_parts

__all__ = ["UserCode"]

_PLAIN_VALUES: Final = frozenset(
    {"builtins.int", "builtins.float", "builtins.str", "builtins.bytes", "builtins.bool", "builtins.complex"}
)
_HARMLESS_METHOD_DECORATORS: Final = frozenset(
    {"builtins.staticmethod", "builtins.classmethod", "abc.abstractmethod", "typing.override", "typing.final"}
)


class UserCode:
    """Answers "may this run user code?" with the types the checker ``chk`` has inferred."""

    def __init__(self, chk: TypeChecker) -> None:
        self.chk = chk

    def _plain(self, expr: Expression) -> bool:
        """Whether ``expr`` is a plain built-in value (its dunder methods are not user code)."""
        typ = self.chk.lookup_type_or_none(expr)
        proper = get_proper_type(typ) if typ is not None else None
        if isinstance(proper, LiteralType):
            proper = proper.fallback
        if isinstance(proper, NoneType):
            return True
        return isinstance(proper, Instance) and proper.type.fullname in _PLAIN_VALUES

    def _class_of(self, expr: Expression) -> TypeInfo | None:
        if isinstance(expr, RefExpr) and isinstance(expr.node, TypeInfo):
            return expr.node
        typ = self.chk.lookup_type_or_none(expr)
        proper = get_proper_type(typ) if typ is not None else None
        return proper.type if isinstance(proper, Instance) else None

    def _plain_attribute(self, expr: MemberExpr) -> bool:
        """Whether reading ``expr`` only fetches a stored value or makes a bound method."""
        base = expr.expr
        if isinstance(base, RefExpr) and isinstance(base.node, MypyFile):
            return True
        info = self._class_of(base)
        if info is None:
            return False
        if any("__getattribute__" in klass.names for klass in info.mro[:-1]):
            return False
        if isinstance(base, RefExpr) and isinstance(base.node, TypeInfo):
            metaclass = info.metaclass_type
            if metaclass is not None and metaclass.type.fullname not in ("builtins.type", "abc.ABCMeta"):
                return False
        symbol = info.get(expr.name)
        node = symbol.node if symbol is not None else None
        if isinstance(node, FuncDef | TypeInfo):
            return not (isinstance(node, FuncDef) and node.is_property)
        if isinstance(node, OverloadedFuncDef):
            return not node.is_property
        if isinstance(node, Decorator):
            return not node.func.is_property and all(
                isinstance(d, RefExpr) and d.fullname in _HARMLESS_METHOD_DECORATORS for d in node.original_decorators
            )
        if isinstance(node, Var) and not node.is_property:
            declared = get_proper_type(node.type) if node.type is not None else None
            # A class attribute holding a descriptor runs its __get__.
            return not (isinstance(declared, Instance) and declared.type.get("__get__") is not None)
        return False

    def expression(self, expr: Expression | None) -> bool:
        """Whether evaluating ``expr`` may run user code (calls of classes excepted, as in the
        rest of the check: constructing a step or a registry is assumed not to reach one)."""
        parts = expression_parts(expr)
        if parts is None:
            return True
        for part in parts:
            if isinstance(part, MemberExpr):
                if not self._plain_attribute(part):
                    return True
            elif isinstance(part, OpExpr):
                if not (self._plain(part.left) and self._plain(part.right)):
                    return True
            elif isinstance(part, ComparisonExpr):
                identity = all(op in ("is", "is not") for op in part.operators)
                if not identity and not all(self._plain(operand) for operand in part.operands):
                    return True
            elif isinstance(part, UnaryExpr):
                if not self._plain(part.expr):
                    return True
            elif isinstance(part, ConditionalExpr):
                if not self._plain(part.cond):
                    return True
            elif isinstance(part, IndexExpr):
                if not (isinstance(part.base, RefExpr) and isinstance(part.base.node, TypeInfo)):
                    return True
            elif isinstance(part, SuperExpr | StarExpr | AwaitExpr | YieldExpr | YieldFromExpr | GeneratorExpr | DictionaryComprehension):
                return True
            elif isinstance(part, CallExpr) and not isinstance(part.callee, RefExpr | MemberExpr | IndexExpr):
                return True
        return False

    def statement(self, stmt: Statement) -> bool:
        """Whether running ``stmt`` may run user code (beyond the expressions' own calls)."""
        if isinstance(stmt, ExpressionStmt | ReturnStmt):
            return self.expression(stmt.expr)
        if isinstance(stmt, AssertStmt):
            return not self._plain(stmt.expr) or self.expression(stmt.expr) or self.expression(stmt.msg)
        if isinstance(stmt, AssignmentStmt):
            for lvalue in stmt.lvalues:
                if not isinstance(lvalue, NameExpr):
                    return True  # attribute/item assignment, or unpacking (iteration)
            return self.expression(stmt.rvalue)
        if isinstance(stmt, OperatorAssignmentStmt):
            if not isinstance(stmt.lvalue, NameExpr):
                return True
            return not (self._plain(stmt.lvalue) and self._plain(stmt.rvalue)) or self.expression(stmt.rvalue)
        if isinstance(stmt, DelStmt):
            return not isinstance(stmt.expr, NameExpr)
        if isinstance(stmt, PassStmt | BreakStmt | ContinueStmt | GlobalDecl | NonlocalDecl):
            return False
        return True  # compound statements and any other kind
