"""``steprail-flow``: declared data flow (``requires=``/``provides=`` class keywords).

Two checks:

- at the class (semantic pass): each declared name must be a field of the step's context type
  (when the class gives ``BaseStep`` a concrete context), with the closest field suggested; and
  the class's own ``execute`` must not assign ``context.<field>`` for a field its ``provides=``
  leaves out (straight assignments in ``execute`` itself, not in nested functions, and only
  while the parameter is not rebound: what it cannot see it does not report);
- at a registration (with :mod:`.names`' straight-line walk): a step whose required field no
  earlier step provides, which is not an input of the registry (``StepRegistry[Ctx](inputs=...)``)
  and has a default in the context. Reported only when everything before is known: the registry
  was made in this body, its context class and inputs are written out, every step registered on
  it so far declares its flow, and the body uses it for nothing but ``register`` statements and
  ``Orchestrator(registry, ...).execute(...)`` (any other use could put a provider before the
  step later, and a finding cannot be withdrawn).

The declaration is recorded in the class's metadata (``flow``), so a warm cache sees it too.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Final

from mypy.maptype import map_instance_to_supertype
from mypy.nodes import (
    ARG_NAMED,
    CallExpr,
    ClassDef,
    Decorator,
    Expression,
    FuncDef,
    OverloadedFuncDef,
    Statement,
    StrExpr,
    TupleExpr,
    TypeInfo,
    Var,
)
from mypy.plugin import ClassDefContext
from mypy.types import Instance, get_proper_type

from .._consts import BASE_CONTEXT, BASE_STEP, METADATA_KEY, TRAIN_MODEL_STEP, VALIDATION_STEP, WRAPPER_STEP
from .._errors import STEPRAIL_FLOW
from ._shared import init_owner
from ._walk import assigned_attributes, binds_name, child_blocks

__all__ = [
    "Flow",
    "call_flow",
    "check_execute_writes",
    "check_step_class_flow",
    "class_flow",
    "context_fields",
    "record_flow",
    "supplied_fields",
]

type Flow = tuple[tuple[str, ...], tuple[str, ...]]
"""``(requires, provides)``."""

_KEYWORDS: Final = ("requires", "provides", "reads")


def _names(expr: Expression | None) -> tuple[str, ...] | None:
    """The strings of a literal tuple (or list) of string literals; ``None`` otherwise."""
    if not isinstance(expr, TupleExpr):
        return None
    names = tuple(item.value for item in expr.items if isinstance(item, StrExpr))
    return names if len(names) == len(expr.items) else None


def _data(info: TypeInfo) -> dict[str, object]:
    data = info.metadata.get(METADATA_KEY)
    return data if isinstance(data, dict) else {}


def record_flow(ctx: ClassDefContext, data: dict[str, object]) -> None:
    """Put the class's ``requires=``/``provides=`` keywords in its metadata record ``data``.

    ``{"requires": [...], "provides": [...]}`` when both are literal (or absent), ``"unknown"``
    when one is computed; nothing when the class declares neither (it inherits).
    """
    keywords = ctx.cls.keywords
    if not any(keyword in keywords for keyword in _KEYWORDS):
        return
    declared: dict[str, list[str]] = {}
    for keyword in _KEYWORDS:
        expr = keywords.get(keyword)
        names = () if expr is None else _names(expr)
        if names is None:
            data["flow"] = "unknown"
            return
        declared[keyword] = list(names)
    data["flow"] = declared


def class_flow(info: TypeInfo) -> Flow | None:
    """The flow a step class declares or inherits; ``None`` when undeclared or not literal."""
    for base in info.mro:
        flow = _data(base).get("flow")
        if flow is None:
            continue
        if isinstance(flow, dict):
            requires, provides = flow.get("requires"), flow.get("provides")
            if isinstance(requires, list) and isinstance(provides, list):
                return tuple(map(str, requires)), tuple(map(str, provides))
        return None
    return None


def _callee_class(call: CallExpr) -> TypeInfo | None:
    from mypy.nodes import IndexExpr, RefExpr

    callee = call.callee.base if isinstance(call.callee, IndexExpr) else call.callee
    if isinstance(callee, RefExpr) and isinstance(callee.node, TypeInfo):
        return callee.node
    return None


def _keyword(call: CallExpr, name: str) -> Expression | None:
    for kind, arg_name, value in zip(call.arg_kinds, call.arg_names, call.args, strict=True):
        if kind == ARG_NAMED and arg_name == name:
            return value
    return None


def call_flow(expr: Expression | None) -> Flow | None:
    """The flow of the step a constructor call makes: through wrappers (``LoggingStep(X())``),
    ``ValidationStep(..., requires=(...))``, or the class's declaration. ``None``: unknown."""
    if not isinstance(expr, CallExpr):
        return None
    info = _callee_class(expr)
    if info is None or not info.has_base(BASE_STEP):
        return None
    own = class_flow(info)
    if own is not None and info.has_base(TRAIN_MODEL_STEP) and init_owner(info) == TRAIN_MODEL_STEP:
        # TrainModelStep(train, requires=(...)): the instance adds to the class's declaration.
        given = _keyword(expr, "requires")
        extra = () if given is None else _names(given)
        if extra is None:
            return None
        return (*own[0], *(name for name in extra if name not in own[0])), own[1]
    if own is not None:
        return own
    if info.has_base(WRAPPER_STEP) and init_owner(info) == WRAPPER_STEP:
        inner = _keyword(expr, "step") if "step" in expr.arg_names else (expr.args[0] if expr.args else None)
        return call_flow(inner)
    if info.fullname == VALIDATION_STEP:
        requires = _names(_keyword(expr, "requires"))
        return None if requires is None else (requires, ())
    return None


def context_fields(info: TypeInfo) -> dict[str, bool] | None:
    """Field name -> whether it has a default, for a context class; ``None`` if not known.

    A field's default is read from mypy's dataclass record; a variable of the class that the
    record does not list yet (the semantic pass) counts as having one.
    """
    if not info.has_base(BASE_CONTEXT):
        return None
    fields: dict[str, bool] = {}
    for base in reversed(info.mro):
        if not base.has_base(BASE_CONTEXT):
            continue
        for name, symbol in base.names.items():
            if isinstance(symbol.node, Var) and not symbol.node.is_classvar and not name.startswith("__"):
                fields.setdefault(name, True)
        dataclass = base.metadata.get("dataclass")
        attributes = dataclass.get("attributes") if isinstance(dataclass, dict) else None
        if isinstance(attributes, list):
            for attribute in attributes:
                if isinstance(attribute, dict) and isinstance(attribute.get("name"), str):
                    in_init = attribute.get("is_in_init", True)
                    fields[attribute["name"]] = bool(attribute.get("has_default")) or not in_init
    return fields or None


def supplied_fields(info: TypeInfo, inputs: tuple[str, ...]) -> set[str] | None:
    """Fields available before the first step (as at run time): inputs, ``BaseStepContext``'s
    own fields, and every field without a default. ``None`` when the fields are not known."""
    fields = context_fields(info)
    base = next((klass for klass in info.mro if klass.fullname == BASE_CONTEXT), None)
    base_fields = context_fields(base) if base is not None else None
    if fields is None or base_fields is None:
        return None
    return {*inputs, *base_fields, *(name for name, has_default in fields.items() if not has_default)}


def _step_context(info: TypeInfo) -> TypeInfo | None:
    """The context class a step class gives ``BaseStep`` (``None`` while generic)."""
    base_step = next((klass for klass in info.mro if klass.fullname == BASE_STEP), None)
    if base_step is None:
        return None
    for base in info.bases:
        if base.type.has_base(BASE_STEP):
            mapped = map_instance_to_supertype(base, base_step)
            arg = get_proper_type(mapped.args[0]) if mapped.args else None
            if isinstance(arg, Instance) and arg.type.has_base(BASE_CONTEXT):
                return arg.type
            return None
    return None


def check_step_class_flow(ctx: ClassDefContext) -> None:
    """Semantic-pass check: the declared names are fields of the step's context type."""
    if not any(keyword in ctx.cls.keywords for keyword in _KEYWORDS):
        return  # undeclared, or inherits a declaration checked at its own class: nothing to do
    info = ctx.cls.info
    context = _step_context(info)
    if context is None:
        return
    fields = context_fields(context)
    if fields is None:
        return
    check_execute_writes(ctx, _watched_fields(context, fields), context.name)
    for keyword in _KEYWORDS:
        expr = ctx.cls.keywords.get(keyword)
        if not isinstance(expr, TupleExpr):
            continue
        seen: set[str] = set()
        for item in expr.items:
            if isinstance(item, StrExpr) and item.value in seen:
                ctx.api.fail(
                    f'{keyword}= of "{info.name}" names "{item.value}" more than once; the class is refused at run time',
                    item,
                    code=STEPRAIL_FLOW,
                )
            if isinstance(item, StrExpr):
                seen.add(item.value)
            if isinstance(item, StrExpr) and item.value not in fields:
                close = difflib.get_close_matches(item.value, list(fields), n=1)
                hint = f' (did you mean "{close[0]}"?)' if close else ""
                ctx.api.fail(
                    f'{keyword}= of "{info.name}" names "{item.value}", which is not a field of '
                    f'"{context.name}"; the class is refused at run time{hint}',
                    item,
                    code=STEPRAIL_FLOW,
                )


def _watched_fields(context: TypeInfo, fields: dict[str, bool]) -> set[str]:
    """The fields strict mode watches: not ``BaseStepContext``'s own (``errors``,
    ``step_results``...: free for every step) nor private ones (``_cache``)."""
    base = next((klass for klass in context.mro if klass.fullname == BASE_CONTEXT), None)
    own = context_fields(base) if base is not None else None
    return {name for name in fields if not name.startswith("_") and (own is None or name not in own)}


def _leaf_statements(body: list[Statement]) -> Iterator[Statement]:
    """The simple statements of ``body`` and of its compound statements' blocks; nested
    function and class bodies are left out (they may run later, as an undo, or never)."""
    pending = list(body)
    while pending:
        stmt = pending.pop()
        if isinstance(stmt, FuncDef | Decorator | OverloadedFuncDef | ClassDef):
            continue
        blocks = child_blocks(stmt)
        if blocks:
            for block in blocks:
                pending += block.body
        else:
            yield stmt


def check_execute_writes(ctx: ClassDefContext, fields: set[str], context_name: str) -> None:
    """A declared class's own ``execute`` that assigns (or deletes) ``context.<field>`` for a
    watched field its ``provides=`` does not list: strict mode would fail the step, so it is
    reported. ``BaseStepContext``'s own fields and private ones are not watched."""
    info = ctx.cls.info
    flow = _data(info).get("flow")
    if not isinstance(flow, dict) or not isinstance(flow.get("provides"), list):
        return
    provides = set(map(str, flow["provides"]))
    execute = next(
        (stmt for stmt in ctx.cls.defs.body if isinstance(stmt, FuncDef) and stmt.name == "execute"), None
    )
    if execute is None or len(execute.arguments) < 2:
        return
    param = execute.arguments[1].variable.name
    body = execute.body.body
    if binds_name(body, param):
        return  # the parameter may not be the context any more
    for stmt in _leaf_statements(body):
        for where, name in assigned_attributes([stmt], param):
            if name in fields and name not in provides:
                ctx.api.fail(
                    f'execute of "{info.name}" writes field "{name}" of "{context_name}", which its '
                    f"provides= does not declare; later steps that require it are not known to get "
                    f"it, and strict mode (steprail.testing.strict_flow) fails the step",
                    where,
                    code=STEPRAIL_FLOW,
                )
