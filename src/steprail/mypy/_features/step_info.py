"""What the plugin learns about a step class while mypy analyses it: where its name comes from.

Method bodies and argument defaults are not kept in mypy's cache, so ``return 'load_data'``
cannot be read when the step's module comes from a warm cache. The semantic pass therefore
writes the facts into ``TypeInfo.metadata``, which *is* serialized, and the checks read them
back from there, so a cold run and a warm run see the same names.

The rule: a step's name is known only when it cannot change from one instance to another, or
when the call that makes the instance says it. Recorded under ``metadata["steprail"]``:

- ``name``: the class's fixed name: a ``name`` property whose body is just ``return <literal>``
  (a string, or a ``Final`` constant holding one), or a ``Final`` class attribute set to one.
  A dataclass field is *not* fixed, even when ``Final``: it is an ``__init__`` argument.
- ``name_attr``: ``X`` when the ``name`` property is ``return self.X``.
- ``init_name``: the class's ``__init__`` takes the step's name: ``{"owner": <class defining
  name>, "index": <positional index, -1 for keyword-only, -2 when unknown>, "default": <literal default or None>}``. Recorded
  when ``__init__`` stores its ``name`` argument in the attribute the ``name`` property returns,
  forwards it unchanged as ``super().__init__(name=name)`` to an ``__init__`` that does, or is
  a dataclass's ``__init__`` with a ``name`` field.
- ``prefix``: a wrapper class's ``prefix = "<literal>"`` (``LoggingStep`` has ``"logged_"``).
"""

from __future__ import annotations

from typing import Final

from mypy.nodes import (
    ARG_NAMED,
    ARG_OPT,
    ARG_POS,
    AssignmentStmt,
    Block,
    CallExpr,
    Decorator,
    Expression,
    ExpressionStmt,
    FuncDef,
    MemberExpr,
    NameExpr,
    OverloadedFuncDef,
    ReturnStmt,
    Statement,
    StrExpr,
    SuperExpr,
    TempNode,
    TypeInfo,
    Var,
)
from mypy.plugin import ClassDefContext
from mypy.semanal_shared import find_dataclass_transform_spec
from mypy.types import CallableType, LiteralType, get_proper_type

from .._consts import KNOWN_PREFIXES, METADATA_KEY, NAME_TAKING_STEPS
from ._shared import VarLookup, str_literal

__all__ = [
    "KEYWORD_ONLY",
    "UNKNOWN_POSITION",
    "class_attribute_literal",
    "class_lookup",
    "init_name_of",
    "is_dataclass_class",
    "prefix_of",
    "property_getter",
    "record_step_class",
    "recorded_name",
]

#: ``index`` of an ``init_name`` record: the name can only be given by keyword, or its
#: position is not known (a dataclass field: only ``name=`` is read).
KEYWORD_ONLY: Final = -1
UNKNOWN_POSITION: Final = -2
_DATACLASS_TAG: Final = "dataclass_tag"  # set by mypy's dataclasses plugin before our hook runs


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


def is_dataclass_class(ctx: ClassDefContext) -> bool:
    """Whether the class being analysed is a dataclass (decorated, or by dataclass_transform)."""
    return _DATACLASS_TAG in ctx.cls.info.metadata or find_dataclass_transform_spec(ctx.cls) is not None


def _single_returned(body: Block) -> Expression | None:
    """``x`` when the body is ``return x``, after an optional docstring; else ``None``."""
    statements = list(body.body)
    if statements and isinstance(statements[0], ExpressionStmt) and isinstance(statements[0].expr, StrExpr):
        statements = statements[1:]
    if len(statements) == 1 and isinstance(statements[0], ReturnStmt):
        return statements[0].expr
    return None


def _self_attribute(expr: Expression | None) -> str | None:
    """``X`` for ``self.X``."""
    if isinstance(expr, MemberExpr) and isinstance(expr.expr, NameExpr) and expr.expr.name == "self":
        return expr.name
    return None


def class_lookup(ctx: ClassDefContext) -> VarLookup:
    """Resolves ``NAME``, ``self.NAME`` and ``Cls.NAME`` in a method body of the class."""
    info = ctx.cls.info

    def find(expr: Expression) -> Var | None:
        node = None
        if isinstance(expr, NameExpr):
            symbol = ctx.api.lookup_qualified(expr.name, expr, suppress_errors=True)
            node = symbol.node if symbol is not None else None
        elif isinstance(expr, MemberExpr) and isinstance(expr.expr, NameExpr):
            if expr.expr.name in ("self", info.name):
                symbol = info.get(expr.name)
                node = symbol.node if symbol is not None else None
        return node if isinstance(node, Var) else None

    return find


def _defining_class(info: TypeInfo, attribute: str, start: int = 0) -> TypeInfo | None:
    return next((base for base in info.mro[start:] if attribute in base.names), None)


def _data(info: TypeInfo) -> dict[str, object]:
    data = info.metadata.get(METADATA_KEY)
    return data if isinstance(data, dict) else {}


def _init_def(body: list[Statement]) -> FuncDef | None:
    found = None
    for stmt in body:
        if isinstance(stmt, FuncDef | Decorator | OverloadedFuncDef) and stmt.name == "__init__":
            found = stmt if isinstance(stmt, FuncDef) else None
    return found


def _forwards_name(init: FuncDef) -> bool:
    """Whether ``__init__`` calls ``super().__init__(..., name=name, ...)``."""
    for stmt in init.body.body:
        if not (isinstance(stmt, ExpressionStmt) and isinstance(stmt.expr, CallExpr)):
            continue
        call = stmt.expr
        if isinstance(call.callee, SuperExpr) and call.callee.name == "__init__":
            for kind, arg_name, value in zip(call.arg_kinds, call.arg_names, call.args, strict=True):
                if kind == ARG_NAMED and arg_name == "name" and isinstance(value, NameExpr) and value.name == "name":
                    return True
    return False


def _stores_name(init: FuncDef) -> set[str]:
    """Attributes ``X`` that ``__init__`` sets with ``self.X = name``."""
    stored: set[str] = set()
    for stmt in init.body.body:
        if (
            isinstance(stmt, AssignmentStmt)
            and len(stmt.lvalues) == 1
            and isinstance(stmt.rvalue, NameExpr)
            and stmt.rvalue.name == "name"
        ):
            attribute = _self_attribute(stmt.lvalues[0])
            if attribute is not None:
                stored.add(attribute)
    return stored


def _init_name(ctx: ClassDefContext, data: dict[str, object]) -> dict[str, object] | None:
    """The ``init_name`` record for an explicit ``__init__`` of the class, if it takes the name."""
    info = ctx.cls.info
    init = _init_def(ctx.cls.defs.body)
    if init is None:
        return None
    params = [arg.variable.name for arg in init.arguments]
    if "name" not in params:
        return None
    position = params.index("name")
    argument = init.arguments[position]
    index = position - 1 if argument.kind in (ARG_POS, ARG_OPT) else KEYWORD_ONLY
    default = str_literal(argument.initializer)
    owner = _defining_class(info, "name")
    if owner is None:
        return None
    name_attr = data.get("name_attr") if owner is info else _data(owner).get("name_attr")
    reaches = info.fullname in NAME_TAKING_STEPS
    reaches = reaches or (isinstance(name_attr, str) and name_attr in _stores_name(init))
    if not reaches and _forwards_name(init) and owner is not info:
        parent = _defining_class(info, "__init__", start=1)
        record = _data(parent).get("init_name") if parent is not None else None
        reaches = isinstance(record, dict) and record.get("owner") == owner.fullname
    if not reaches:
        return None
    return {"owner": owner.fullname, "index": index, "default": default}


def record_step_class(ctx: ClassDefContext) -> None:
    """Write where the class's name comes from (and its wrapper prefix) into its metadata."""
    info = ctx.cls.info
    lookup = class_lookup(ctx)
    dataclass = is_dataclass_class(ctx)
    data: dict[str, object] = {}
    for stmt in ctx.cls.defs.body:
        getter = property_getter(stmt, "name")
        if getter is not None:
            for key in ("name", "name_attr", "init_name"):
                data.pop(key, None)
            returned = _single_returned(getter.body)
            value = str_literal(returned, lookup)
            if value is not None:
                data["name"] = value
            attribute = _self_attribute(returned)
            if attribute is not None:
                data["name_attr"] = attribute
            continue
        named = class_attribute_literal(stmt, "name")
        if named is not None:
            for key in ("name", "name_attr", "init_name"):
                data.pop(key, None)
            assignment, is_final = named
            if dataclass and assignment.type is not None and not _is_class_var(assignment, info):
                # A dataclass field: every instance gets its own (an __init__ argument).
                default = None if _no_value(assignment) else str_literal(assignment.rvalue, lookup)
                data["init_name"] = {"owner": info.fullname, "index": UNKNOWN_POSITION, "default": default}
            elif is_final:
                value = str_literal(assignment.rvalue, lookup)
                if value is not None:
                    data["name"] = value
            continue
        prefixed = class_attribute_literal(stmt, "prefix")
        if prefixed is not None:
            data.pop("prefix", None)
            value = str_literal(prefixed[0].rvalue, lookup)
            if value is not None:
                data["prefix"] = value
    if "init_name" not in data:
        record = _init_name(ctx, data)
        if record is None and dataclass and _init_def(ctx.cls.defs.body) is None and "name" not in info.names:
            record = _inherited_dataclass_name(info)
        if record is not None:
            data["init_name"] = record
    # Overwrite, never merge: a re-analysed class must not keep a stale name.
    info.metadata[METADATA_KEY] = data


def _no_value(assignment: AssignmentStmt) -> bool:
    """``name: str`` with no value (mypy puts a placeholder node on the right)."""
    return isinstance(assignment.rvalue, TempNode) and assignment.rvalue.no_rhs


def _is_class_var(assignment: AssignmentStmt, info: TypeInfo) -> bool:
    lvalue = assignment.lvalues[0]
    node = lvalue.node if isinstance(lvalue, NameExpr) else None
    if isinstance(node, Var) and node.is_classvar:
        return True
    symbol = info.names.get("name")
    return symbol is not None and isinstance(symbol.node, Var) and symbol.node.is_classvar


def _inherited_dataclass_name(info: TypeInfo) -> dict[str, object] | None:
    """A dataclass subclass takes the ``name`` field of the dataclass base that declares it."""
    owner = _defining_class(info, "name", start=1)
    if owner is None:
        return None
    record = _data(owner).get("init_name")
    if isinstance(record, dict) and record.get("owner") == owner.fullname and owner.get("__dataclass_fields__"):
        return dict(record)
    return None


def _literal_return(info: TypeInfo) -> str | None:
    """``"x"`` when ``name`` is a property declared ``-> Literal["x"]`` (kept in the cache)."""
    symbol = info.names.get("name")
    node = symbol.node if symbol is not None else None
    func = node.func if isinstance(node, Decorator) else None
    if isinstance(node, OverloadedFuncDef) and node.items and isinstance(node.items[0], Decorator):
        func = node.items[0].func
    if func is None or not func.is_property or not isinstance(func.type, CallableType):
        return None
    returned = get_proper_type(func.type.ret_type)
    if isinstance(returned, LiteralType) and isinstance(returned.value, str):
        return returned.value
    return None


def recorded_name(info: TypeInfo) -> str | None:
    """The fixed name of ``info``'s instances, if the class that defines ``name`` has one."""
    owner = _defining_class(info, "name")
    if owner is None:
        return None
    value = _data(owner).get("name")
    return value if isinstance(value, str) else _literal_return(owner)


def init_name_of(info: TypeInfo) -> tuple[int, str | None] | None:
    """``(index, default)`` when ``info``'s constructor takes the step's name (see above)."""
    owner = _defining_class(info, "name")
    init = _defining_class(info, "__init__")
    if owner is None or init is None:
        return None
    record = _data(init).get("init_name")
    if not isinstance(record, dict) or record.get("owner") != owner.fullname:
        return None
    index, default = record.get("index"), record.get("default")
    if not isinstance(index, int) or not (default is None or isinstance(default, str)):
        return None
    return index, default


def prefix_of(info: TypeInfo) -> str | None:
    """The name prefix of a wrapper class (``"logged_"`` for ``LoggingStep``)."""
    owner = _defining_class(info, "prefix")
    if owner is None:
        return None
    value = _data(owner).get("prefix")
    if isinstance(value, str):
        return value
    return KNOWN_PREFIXES.get(owner.fullname)
