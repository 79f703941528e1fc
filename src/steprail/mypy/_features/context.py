"""``steprail-context``: a step, or an orchestrator's context, that does not fit the registry.

Both checks run as *signature* hooks, before mypy checks the call's arguments. When the plugin
finds a mismatch it reports ``steprail-context`` and hands mypy a signature that accepts the
argument as it is, so the generic ``[arg-type]`` (or "cannot infer") error is not printed too:
one error per mistake. Anything the plugin does not recognise keeps the default signature, and
mypy's own checks apply unchanged.
"""

from __future__ import annotations

from mypy import errorcodes
from mypy.checker import TypeChecker
from mypy.nodes import (
    ARG_POS,
    CallExpr,
    Context,
    Expression,
    IndexExpr,
    MemberExpr,
    NameExpr,
    RefExpr,
    TypeInfo,
    Var,
)
from mypy.plugin import FunctionSigContext, MethodSigContext
from mypy.subtypes import is_subtype
from mypy.types import CallableType, FunctionLike, Instance, ProperType, get_proper_type

from .._consts import BASE_CONTEXT, BASE_STEP, REGISTRY, VALIDATION_STEP, WRAPPER_STEP
from .._errors import STEPRAIL_CONTEXT
from ._shared import as_checker, context_arg, describe, init_owner, trial_type

__all__ = ["check_orchestrator_context", "check_registry_step", "check_workflow_context"]


def _single_arg(sig: CallableType, args: list[list[Expression]], name: str) -> tuple[int, Expression] | None:
    """Index and expression of the formal parameter ``name`` when exactly one argument fills it."""
    if name not in sig.arg_names:
        return None
    index = sig.arg_names.index(name)
    if index >= len(args) or len(args[index]) != 1:
        return None
    return index, args[index][0]


def _with_arg_type(sig: CallableType, index: int, typ: ProperType) -> CallableType:
    arg_types = list(sig.arg_types)
    arg_types[index] = typ
    return sig.copy_modified(arg_types=arg_types)


def _class_of(expr: Expression) -> TypeInfo | None:
    """The class an expression instantiates (``Foo()``, ``Foo[Ctx]()``) or a variable's class."""
    if isinstance(expr, CallExpr):
        callee = expr.callee.base if isinstance(expr.callee, IndexExpr) else expr.callee
        if isinstance(callee, RefExpr) and isinstance(callee.node, TypeInfo):
            return callee.node
    elif isinstance(expr, RefExpr) and isinstance(expr.node, Var):
        typ = get_proper_type(expr.node.type)
        if isinstance(typ, Instance):
            return typ.type
    return None


def _obvious_type(expr: Expression) -> Instance | None:
    """The type of ``Foo(...)`` for a plain (non-generic) class, or of a typed variable.

    Enough to accept most correct registrations without a trial inference; anything less
    obvious returns ``None`` and takes the full path.
    """
    if isinstance(expr, CallExpr) and isinstance(expr.callee, RefExpr):
        info = expr.callee.node
        if (
            isinstance(info, TypeInfo)
            and info.has_base(WRAPPER_STEP)
            and len(info.type_vars) == 1
            and init_owner(info) == WRAPPER_STEP
            and expr.arg_kinds == [ARG_POS]
        ):
            # LoggingStep(step) / TimingStep(step): the wrapper runs on its step's context.
            inner = _obvious_type(expr.args[0])
            inner_context = context_arg(inner, BASE_STEP) if inner is not None else None
            return Instance(info, [inner_context]) if inner_context is not None else None
        if isinstance(info, TypeInfo) and not info.type_vars and not info.is_protocol:
            # A custom __new__ or metaclass could return something else: take the full path.
            if info.metaclass_type is None or info.metaclass_type.type.fullname == "abc.ABCMeta":
                if all("__new__" not in base.names for base in info.mro[:-1]):
                    return Instance(info, [])
    elif isinstance(expr, RefExpr) and isinstance(expr.node, Var):
        typ = get_proper_type(expr.node.type)
        if isinstance(typ, Instance):
            return typ
    return None


def _step_label(expr: Expression, step_type: Instance) -> str:
    """How a message names the step: what the code wrote, as far as it is short and clear.

    ``LoadStep`` for ``LoadStep()``, ``LoggingStep(LoadStep)`` when the wrapped step's class is
    visible, ``ValidationStep(check_title)`` with its validator, and the variable (``step`` or
    ``self.step``) for a step passed in a variable, whose declared type is often just
    ``BaseStep``.
    """
    info = step_type.type
    if isinstance(expr, NameExpr | MemberExpr) and not isinstance(expr.node, TypeInfo):
        written = _dotted(expr)
        if written is not None:
            return written
    if isinstance(expr, CallExpr) and expr.args:
        first = expr.args[0]
        if info.has_base(WRAPPER_STEP) and len(expr.args) == 1:
            inner_info = _class_of(first)
            if inner_info is not None:
                return f"{info.name}({_step_label(first, Instance(inner_info, []))})"
        if info.has_base(VALIDATION_STEP):
            validator = _dotted(first)
            if validator is not None:
                return f"{info.name}({validator})"
    return info.name


def _dotted(expr: Expression) -> str | None:
    """``name`` or ``a.b.c`` for a plain reference, else ``None``."""
    if isinstance(expr, NameExpr):
        return expr.name
    if isinstance(expr, MemberExpr):
        base = _dotted(expr.expr)
        return None if base is None else f"{base}.{expr.name}"
    return None


def check_registry_step(ctx: MethodSigContext) -> FunctionLike:
    """Signature hook for ``StepRegistry.register`` / ``insert_before`` / ``insert_after``."""
    sig = ctx.default_signature
    chk = as_checker(ctx.api)
    found = _single_arg(sig, ctx.args, "step")
    registry_context = context_arg(ctx.type, REGISTRY)
    if chk is None or found is None or registry_context is None:
        return sig
    index, arg = found
    expected = sig.arg_types[index]
    quick = _obvious_type(arg)
    if quick is not None and is_subtype(quick, expected):
        return sig  # the common case, decided without inferring anything
    # First the way mypy will see it: inferred against the parameter type. Clean means no
    # mistake, and the plugin stays out of the way.
    typ, had_errors = trial_type(chk, arg, expected)
    if not had_errors and is_subtype(typ, expected):
        return sig
    # Then on its own: the step's real context type, e.g. LoggingStep(StepOnOther()) is a
    # LoggingStep[Other] even though inference against BaseStep[Ctx] blames the inner argument.
    typ, had_errors = trial_type(chk, arg, None)
    step_context = context_arg(typ, BASE_STEP)
    if had_errors or step_context is None or not isinstance(typ, Instance):
        return sig
    if is_subtype(typ, expected) or is_subtype(registry_context, step_context):
        return sig  # not a context mismatch: leave it to mypy's own message
    ctx.api.fail(
        f'Step "{_step_label(arg, typ)}" expects context "{describe(step_context)}", but the '
        f'registry\'s context is "{describe(registry_context)}" (a step must accept '
        f'"{describe(registry_context)}" or one of its base classes)',
        arg,
        code=STEPRAIL_CONTEXT,
    )
    return _with_arg_type(sig, index, typ)


def _silenced_as_misc(chk: TypeChecker, call: Context) -> bool:
    """Whether mypy's own error for ``call`` (code ``misc``) is silenced by the user's code."""
    errors = chk.msg.errors
    if not errors.is_error_code_enabled(errorcodes.MISC):
        return True
    codes = errors.ignored_lines.get(chk.path, {}).get(call.line)
    return codes is not None and errorcodes.MISC.code in codes


def check_orchestrator_context(ctx: FunctionSigContext) -> FunctionLike:
    """Signature hook for ``Orchestrator(registry, context, ...)``."""
    return _check_registry_and_context(ctx, "Orchestrator")


def check_workflow_context(ctx: FunctionSigContext) -> FunctionLike:
    """Signature hook for ``Workflow(registry, context)`` (``steprail.actions``)."""
    return _check_registry_and_context(ctx, "Workflow")


def _check_registry_and_context(ctx: FunctionSigContext, callee: str) -> FunctionLike:
    """The ``context`` argument must be an instance of the ``registry`` argument's context type.

    Only a context class (a ``BaseStepContext``) of the wrong kind is the plugin's to report;
    anything else (``None``, a string, a step) keeps mypy's own ``arg-type`` error.
    """
    sig = ctx.default_signature
    chk = as_checker(ctx.api)
    registry_arg = _single_arg(sig, ctx.args, "registry")
    context_found = _single_arg(sig, ctx.args, "context")
    if chk is None or registry_arg is None or context_found is None:
        return sig
    registry_type: ProperType | None = _obvious_type(registry_arg[1])
    if registry_type is None:
        registry_type, had_errors = trial_type(chk, registry_arg[1], None)
        if had_errors:
            return sig
    registry_context = context_arg(registry_type, REGISTRY)
    if registry_context is None:
        return sig
    index, arg = context_found
    quick = _obvious_type(arg)
    if quick is not None and is_subtype(quick, registry_context):
        return sig
    typ, had_errors = trial_type(chk, arg, registry_context)
    if had_errors or is_subtype(typ, registry_context):
        return sig
    if not (isinstance(typ, Instance) and typ.type.has_base(BASE_CONTEXT)):
        # Not a context at all: mypy's own arg-type says it best. The parameter is pinned to
        # the registry's context type, so mypy reports that rather than "cannot infer".
        return _with_arg_type(sig, index, registry_context)
    if _silenced_as_misc(chk, ctx.context):
        # Without the plugin mypy reports this call as "Cannot infer value of type parameter"
        # [misc]; code that silenced that (an ignore on the line, or misc disabled) keeps
        # mypy's own behaviour, so the plugin adds no error and no unused ignore.
        return sig
    ctx.api.fail(
        f'Context "{describe(typ)}" does not match the registry\'s context type '
        f'"{describe(registry_context)}" ({callee} needs an instance of '
        f'"{describe(registry_context)}" or of a subclass of it)',
        arg,
        code=STEPRAIL_CONTEXT,
    )
    return _with_arg_type(sig, index, typ)
