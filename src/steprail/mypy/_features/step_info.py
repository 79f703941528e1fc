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
  name>, "index": <positional index, -1 for keyword-only, -2 when unknown>, "default": <literal
  default or None>}``. Recorded when ``__init__`` passes its ``name`` argument on unchanged:
  it stores it once in the attribute the ``name`` property returns, or forwards it as
  ``super().__init__(name=name)`` to an ``__init__`` that takes it (see
  ``_passes_on_unchanged`` for what "unchanged" excludes), or it is a dataclass's ``__init__``
  with a ``name`` field (and no ``__post_init__``).
- ``weight_attr`` / ``init_weight``: the same two facts for ``progress_weight``; only whether
  the constructor argument reaches the property matters (the argument itself is read at the
  call).
- ``prefix``: a wrapper class's ``prefix = "<literal>"`` (``LoggingStep`` has ``"logged_"``).
- ``flow``: the class keywords ``requires=``/``provides=`` (see :mod:`.flow`).
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
    SymbolNode,
    TempNode,
    TypeInfo,
    Var,
)
from mypy.plugin import ClassDefContext
from mypy.semanal_shared import find_dataclass_transform_spec
from mypy.types import CallableType, LiteralType, get_proper_type

from .._consts import BUILTIN_ATTRIBUTES, KNOWN_PREFIXES, METADATA_KEY, NAME_TAKING_STEPS
from ._shared import VarLookup, str_literal
from .flow import record_flow
from ._walk import assigned_attributes, binds_name, calls_mentioning

__all__ = [
    "KEYWORD_ONLY",
    "UNKNOWN_POSITION",
    "class_attribute_literal",
    "class_lookup",
    "init_name_of",
    "init_takes_weight",
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
#: Per ``__init__`` parameter read by the checks: the metadata key of the ``return self.X``
#: attribute of its property, and of the record saying the constructor argument reaches it.
_ATTRIBUTE_KEYS: Final = {"name": "name_attr", "progress_weight": "weight_attr"}
_RECORD_KEYS: Final = {"name": "init_name", "progress_weight": "init_weight"}
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
    """Resolves ``NAME``, ``self.NAME`` and ``Cls.NAME`` in a method body of the class (mypy
    binds method bodies after the class hooks run); ``module.NAME`` follows from ``NAME``."""
    info = ctx.cls.info

    def find(expr: Expression) -> SymbolNode | None:
        if isinstance(expr, NameExpr):
            symbol = ctx.api.lookup_qualified(expr.name, expr, suppress_errors=True)
            return symbol.node if symbol is not None else None
        if isinstance(expr, MemberExpr) and isinstance(expr.expr, NameExpr) and expr.expr.name in ("self", info.name):
            symbol = info.get(expr.name)
            return symbol.node if symbol is not None else None
        return None

    return find


def _defining_class(info: TypeInfo, attribute: str, start: int = 0) -> TypeInfo | None:
    return next((base for base in info.mro[start:] if attribute in base.names), None)


def _data(info: TypeInfo) -> dict[str, object]:
    data = info.metadata.get(METADATA_KEY)
    return data if isinstance(data, dict) else {}


def _init_def(body: list[Statement]) -> FuncDef | None:
    """The class's own ``__init__``; for an overloaded one, its implementation (what runs)."""
    found = None
    for stmt in body:
        if isinstance(stmt, FuncDef | Decorator | OverloadedFuncDef) and stmt.name == "__init__":
            found = stmt if isinstance(stmt, FuncDef) else None
            if isinstance(stmt, OverloadedFuncDef):
                # Before mypy has analysed the class body, the implementation is still the
                # last item (an undecorated def); afterwards it is ``impl``.
                impl = stmt.impl if stmt.impl is not None else (stmt.items[-1] if stmt.items else None)
                found = impl if isinstance(impl, FuncDef) else None
    return found


def _super_init_forwarding(stmt: Statement, param: str) -> bool:
    """``super().__init__(..., <param>=<param>, ...)`` as a statement of its own."""
    if not (isinstance(stmt, ExpressionStmt) and isinstance(stmt.expr, CallExpr)):
        return False
    call = stmt.expr
    if not (isinstance(call.callee, SuperExpr) and call.callee.name == "__init__"):
        return False
    return any(
        kind == ARG_NAMED and arg_name == param and isinstance(value, NameExpr) and value.name == param
        for kind, arg_name, value in zip(call.arg_kinds, call.arg_names, call.args, strict=True)
    )


def _storing(stmt: Statement, param: str) -> str | None:
    """``X`` when ``stmt`` is ``self.X = <param>`` (annotated or not)."""
    if (
        isinstance(stmt, AssignmentStmt)
        and len(stmt.lvalues) == 1
        and isinstance(stmt.rvalue, NameExpr)
        and stmt.rvalue.name == param
    ):
        return _self_attribute(stmt.lvalues[0])
    return None


def _passes_on_unchanged(init: FuncDef, param: str, attribute: str | None, parent_takes_it: bool) -> bool:
    """Whether ``__init__`` hands its ``param`` argument, unchanged, to where the property reads it.

    Either it stores it once (``self.<attribute> = <param>``), or it forwards it as
    ``super().__init__(<param>=<param>)`` to a parent ``__init__`` that does (``parent_takes_it``).
    In both cases ``param`` is never rebound in ``__init__``, nothing else in ``__init__`` assigns
    ``self.<attribute>``, and nothing called after that point is handed the instance
    (``self.rename()``, ``super().__init__()``), which could change it again.
    """
    body = init.body.body
    if binds_name(body, param):
        return False
    for position, stmt in enumerate(body):
        stored = _storing(stmt, param)
        if stored is not None and stored == attribute:
            break
        if parent_takes_it and _super_init_forwarding(stmt, param):
            break
    else:
        return False
    if attribute is not None:
        writes = [where for where, name in assigned_attributes(body, "self") if name == attribute]
        if writes != ([stmt] if _storing(stmt, param) is not None else []):
            return False
    return not calls_mentioning(body[position + 1 :], {"self", "super"})


def _init_param(
    ctx: ClassDefContext, init: FuncDef | None, data: dict[str, object], param: str, attribute_key: str
) -> dict[str, object] | None:
    """The record for an explicit ``__init__`` of the class that takes the step's ``param``."""
    info = ctx.cls.info
    if init is None:
        return None
    params = [arg.variable.name for arg in init.arguments]
    if param not in params:
        return None
    position = params.index(param)
    argument = init.arguments[position]
    index = position - 1 if argument.kind in (ARG_POS, ARG_OPT) else KEYWORD_ONLY
    default = str_literal(argument.initializer)
    owner = _defining_class(info, param)
    if owner is None:
        return None
    attribute = data.get(attribute_key) if owner is info else _data(owner).get(attribute_key)
    if not isinstance(attribute, str):
        attribute = BUILTIN_ATTRIBUTES[param] if owner.fullname.startswith("steprail.") else None
    if info.fullname in NAME_TAKING_STEPS:
        return {"owner": owner.fullname, "index": index, "default": default}
    parent_takes_it = False
    if owner is not info:
        parent = _defining_class(info, "__init__", start=1)
        record = _data(parent).get(_RECORD_KEYS[param]) if parent is not None else None
        parent_takes_it = isinstance(record, dict) and record.get("owner") == owner.fullname
        parent_takes_it = parent_takes_it or (parent is not None and parent.fullname in NAME_TAKING_STEPS)
    if not _passes_on_unchanged(init, param, attribute, parent_takes_it):
        return None
    return {"owner": owner.fullname, "index": index, "default": default}


def record_step_class(ctx: ClassDefContext) -> None:
    """Write where the class's name and weight come from (and its prefix) into its metadata."""
    info = ctx.cls.info
    lookup = class_lookup(ctx)
    dataclass = is_dataclass_class(ctx)
    data: dict[str, object] = {}
    for stmt in ctx.cls.defs.body:
        for param, fixed_key in (("name", "name"), ("progress_weight", None)):
            attribute_key, record_key = _ATTRIBUTE_KEYS[param], _RECORD_KEYS[param]
            getter = property_getter(stmt, param)
            named = None if getter is not None else class_attribute_literal(stmt, param)
            if getter is None and named is None:
                continue
            for key in (fixed_key, attribute_key, record_key):
                if key is not None:
                    data.pop(key, None)
            if getter is not None:
                returned = _single_returned(getter.body)
                value = str_literal(returned, lookup) if fixed_key is not None else None
                if value is not None and fixed_key is not None:
                    data[fixed_key] = value
                attribute = _self_attribute(returned)
                if attribute is not None:
                    data[attribute_key] = attribute
                continue
            assert named is not None
            assignment, is_final = named
            if dataclass and assignment.type is not None and not _is_class_var(assignment, info):
                # A dataclass field: every instance gets its own (an __init__ argument).
                default = None if _no_value(assignment) else str_literal(assignment.rvalue, lookup)
                data[record_key] = {"owner": info.fullname, "index": UNKNOWN_POSITION, "default": default}
            elif is_final and fixed_key is not None:
                value = str_literal(assignment.rvalue, lookup)
                if value is not None:
                    data[fixed_key] = value
        prefixed = class_attribute_literal(stmt, "prefix")
        if prefixed is not None:
            data.pop("prefix", None)
            value = str_literal(prefixed[0].rvalue, lookup)
            if value is not None:
                data["prefix"] = value
    init = _init_def(ctx.cls.defs.body)
    for param, record_key in _RECORD_KEYS.items():
        if record_key not in data:
            record = _init_param(ctx, init, data, param, _ATTRIBUTE_KEYS[param])
            if record is None and dataclass and init is None and param not in info.names:
                record = _inherited_dataclass_field(info, param)
            if record is not None:
                data[record_key] = record
        if dataclass and _has_post_init(info):
            data.pop(record_key, None)  # __post_init__ may change a field after __init__ set it
    record_flow(ctx, data)
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


def _has_post_init(info: TypeInfo) -> bool:
    return any("__post_init__" in base.names for base in info.mro[:-1])


def _inherited_dataclass_field(info: TypeInfo, param: str) -> dict[str, object] | None:
    """A dataclass subclass takes the ``param`` field of the dataclass base that declares it."""
    owner = _defining_class(info, param, start=1)
    if owner is None:
        return None
    record = _data(owner).get(_RECORD_KEYS[param])
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


def init_takes_weight(info: TypeInfo) -> bool:
    """Whether ``info``'s constructor argument ``progress_weight`` is what the property returns."""
    owner = _defining_class(info, "progress_weight")
    init = _defining_class(info, "__init__")
    if owner is None or init is None:
        return False
    record = _data(init).get("init_weight")
    return isinstance(record, dict) and record.get("owner") == owner.fullname


def prefix_of(info: TypeInfo) -> str | None:
    """The name prefix of a wrapper class (``"logged_"`` for ``LoggingStep``)."""
    owner = _defining_class(info, "prefix")
    if owner is None:
        return None
    value = _data(owner).get("prefix")
    if isinstance(value, str):
        return value
    return KNOWN_PREFIXES.get(owner.fullname)
