"""``steprail-name``: duplicate step names and unknown targets, in straight-line code.

The check reads one body at a time (a function's, or a module's top level) and follows each
registry *variable* through the statements directly in that body, in order:

- ``r = StepRegistry[...]()`` starts a registry known to be empty ("closed");
- a registry the body did not create (a parameter such as ``setup_steps(self, registry)``, a
  global) may already hold steps ("open"): only names this body registered or removed are known;
- ``r.register(step)``, ``r.insert_before(name, step)``, ``r.insert_after(name, step)`` and
  ``r.unregister(name)`` update what is known.

A step's name is known when its class's ``name`` is a string literal (recorded by
:mod:`.step_info`), through ``LoggingStep``/``TimingStep`` prefixes and ``ValidationStep(name=...)``,
and through a variable assigned in the same straight-line code.

The check gives up on a registry (no more errors for it in that body) as soon as anything it
cannot follow touches it: any other use of the variable (passed to a function, aliased, used in a
loop, branch, ``with``, ``try`` or nested function), or ``unregister`` of a name that is not a
literal. A step whose name is not known makes the registry "open" from then on. A registry other code
can reach (one the body did not create, or any at a module's or class's top level) is dropped
as soon as code runs that might get at it: a call, an import, or anything :mod:`._user_code`
says may run user code (a property, an operator on a user class...). Step variables other code
can rebind (``global``/``nonlocal`` ones, a module's or class's) are forgotten at the same
points. This keeps the check free of false positives: it reports only calls that fail every
time they run.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Final

from mypy.nodes import (
    ARG_NAMED,
    ARG_POS,
    AssignmentStmt,
    CallExpr,
    ClassDef,
    Decorator,
    Expression,
    ExpressionStmt,
    FuncDef,
    GlobalDecl,
    IndexExpr,
    MemberExpr,
    MypyFile,
    NameExpr,
    NonlocalDecl,
    OverloadedFuncDef,
    RefExpr,
    Statement,
    StrExpr,
    TupleExpr,
    TypeInfo,
)
from mypy.plugin import MethodContext
from mypy.types import Type

from mypy.nodes import TypeApplication
from mypy.types import Instance, get_proper_type

from ..._flow import unmet_message
from .._consts import COMPUTED_DEFAULT_NAMES, ORCHESTRATOR, REGISTRY, WRAPPER_STEP
from .._errors import STEPRAIL_FLOW, STEPRAIL_NAME
from .flow import call_flow, context_fields, supplied_fields
from ._shared import as_checker, init_owner, str_literal
from ._user_code import UserCode
from ._walk import name_uses, bodies_in, child_blocks, expression_may_call, expression_names, mentioned_names, statement_may_call
from .step_info import UNKNOWN_POSITION, init_name_of, prefix_of, recorded_name

__all__ = ["NameChecker"]

_METHODS = ("register", "insert_before", "insert_after", "unregister")
# Formal parameters of each method, in order: where to find the target name and the step.
_PARAMS: dict[str, tuple[str, ...]] = {
    "register": ("step",),
    "insert_before": ("before_name", "step"),
    "insert_after": ("after_name", "step"),
    "unregister": ("name",),
}


@dataclass
class _Registry:
    """What one body's straight-line code knows about one registry variable."""

    variable: str
    closed: bool  # known to hold only the names in ``present``
    reachable: bool  # other code (a call, an import) can get at it
    present: dict[str, int] = field(default_factory=dict)  # name -> line that added it
    absent: set[str] = field(default_factory=set)  # names removed by this body
    # The fields available to the next appended step (steprail-flow); None: not followed (the
    # context or inputs are not known, a step's flow is unknown, or something was inserted or
    # removed).
    available: set[str] | None = None

    def add(self, name: str | None, line: int) -> None:
        if name is None:
            # Unknown name: anything might be registered now, including a removed name.
            self.closed = False
            self.absent.clear()
            return
        self.present[name] = line
        self.absent.discard(name)

    def missing(self, name: str) -> bool:
        return name not in self.present and (self.closed or name in self.absent)




def _declared_global(body: list[Statement]) -> set[str]:
    """Names a function body declares ``global`` or ``nonlocal`` (at any depth of its blocks)."""
    declared: set[str] = set()
    pending = list(body)
    while pending:
        stmt = pending.pop()
        if isinstance(stmt, GlobalDecl | NonlocalDecl):
            declared.update(stmt.names)
        for block in child_blocks(stmt):
            pending += block.body
    return declared


def _callee_class(call: CallExpr) -> TypeInfo | None:
    callee = call.callee.base if isinstance(call.callee, IndexExpr) else call.callee
    if isinstance(callee, RefExpr) and isinstance(callee.node, TypeInfo):
        return callee.node
    return None


def _argument(call: CallExpr, params: tuple[str, ...], wanted: str) -> Expression | None:
    """The expression passed for parameter ``wanted``; ``None`` if absent or not plain."""
    for index, (kind, name) in enumerate(zip(call.arg_kinds, call.arg_names, strict=True)):
        if kind == ARG_POS and index < len(params) and params[index] == wanted:
            return call.args[index]
        if kind == ARG_NAMED and name == wanted:
            return call.args[index]
    return None


def _constructor_name(call: CallExpr, info: TypeInfo) -> str | None:
    """The name a constructor call gives its step (``name=`` argument, or the default)."""
    taken = init_name_of(info)
    if taken is None:
        return None
    index, default = taken
    if "name" in call.arg_names:
        return str_literal(call.args[call.arg_names.index("name")])
    positional = sum(1 for kind in call.arg_kinds if kind == ARG_POS)
    if index >= 0 and positional > index:
        return str_literal(call.args[index])
    if index == UNKNOWN_POSITION and positional > 0:
        return None  # a dataclass field may have been given by position
    if default is None and init_owner(info) in COMPUTED_DEFAULT_NAMES:
        return _computed_default_name(call, COMPUTED_DEFAULT_NAMES[init_owner(info) or ""])
    return default


def _computed_default_name(call: CallExpr, rule: tuple[str, str, int, str]) -> str | None:
    """The default name of a built-in step that builds it from another argument."""
    prefix, parameter, position, default = rule
    if parameter in call.arg_names:
        value = str_literal(call.args[call.arg_names.index(parameter)])
    elif sum(1 for kind in call.arg_kinds if kind == ARG_POS) > position:
        value = str_literal(call.args[position])
    else:
        value = default
    return None if value is None else prefix + value


def _plain_call(call: CallExpr) -> bool:
    return all(kind in (ARG_POS, ARG_NAMED) for kind in call.arg_kinds)


def _is_new_registry(expr: Expression) -> bool:
    """``StepRegistry()`` or ``StepRegistry[Ctx]()``, with no arguments or only ``inputs=``."""
    if not isinstance(expr, CallExpr) or any(
        kind != ARG_NAMED or name != "inputs" for kind, name in zip(expr.arg_kinds, expr.arg_names, strict=True)
    ):
        return False
    info = _callee_class(expr)
    return info is not None and info.fullname == REGISTRY


def _registry_context(expr: CallExpr) -> TypeInfo | None:
    """The context class written in ``StepRegistry[Ctx](...)``; ``None`` when not written out."""
    callee = expr.callee
    if not isinstance(callee, IndexExpr) or not isinstance(callee.analyzed, TypeApplication):
        return None
    if len(callee.analyzed.types) != 1:
        return None
    context = get_proper_type(callee.analyzed.types[0])
    return context.type if isinstance(context, Instance) else None


def _unknown_inputs(expr: CallExpr) -> list[tuple[StrExpr, str]]:
    """For ``StepRegistry[Ctx](inputs=(<literals>))``: each input that is not a field of ``Ctx``,
    with its message. No step of that registry can require such a field (its class is refused),
    so the input is a mistake, and the run refuses it (FlowError) before any step."""
    if not expr.args or not isinstance(expr.args[0], TupleExpr):
        return []
    context = _registry_context(expr)
    fields = context_fields(context) if context is not None else None
    if context is None or fields is None:
        return []
    found: list[tuple[StrExpr, str]] = []
    for item in expr.args[0].items:
        if isinstance(item, StrExpr) and item.value not in fields:
            close = difflib.get_close_matches(item.value, list(fields), n=1)
            hint = f' (did you mean "{close[0]}"?)' if close else ""
            found.append(
                (
                    item,
                    f'inputs= of the registry names "{item.value}", which is not a field of "{context.name}"; '
                    f"the run refuses it{hint}",
                )
            )
    return found


def _registry_supplied(expr: CallExpr) -> set[str] | None:
    """For ``StepRegistry[Ctx](inputs=(<literals>))``: the fields supplied before the first
    step; ``None`` when the context class or the inputs are not written out."""
    inputs: tuple[str, ...] = ()
    if expr.args:
        value = expr.args[0]
        if not isinstance(value, TupleExpr) or not all(isinstance(item, StrExpr) for item in value.items):
            return None
        inputs = tuple(item.value for item in value.items if isinstance(item, StrExpr))
    context = _registry_context(expr)
    return None if context is None else supplied_fields(context, inputs)


# Calls that can hand a frame's variables to other code by name.
_FRAME_READERS: Final = frozenset({"locals", "vars", "eval", "exec", "globals"})


def _is_orchestrator_run(expr: Expression, variable: str) -> NameExpr | None:
    """For ``Orchestrator(<variable>, ...).execute(...)``: the registry argument. The run checks
    the flow before any step (the same finding, as a FlowError) and the orchestrator is not kept,
    so nothing can reorder the registry between the registrations and that check."""
    if not (
        isinstance(expr, CallExpr)
        and isinstance(expr.callee, MemberExpr)
        and expr.callee.name == "execute"
        and isinstance(expr.callee.expr, CallExpr)
    ):
        return None
    made = expr.callee.expr
    info = _callee_class(made)
    if info is None or info.fullname != ORCHESTRATOR or not made.args:
        return None
    first = made.args[0]
    if made.arg_kinds[0] != ARG_POS or not isinstance(first, NameExpr) or first.name != variable:
        return None
    return first


def _only_appended(body: list[Statement], variable: str, made: Expression) -> bool:
    """Whether every use of ``variable`` in ``body`` (at any depth) is the assignment that makes
    the registry (``variable = made``), a ``variable.register(...)`` statement of the body's own
    blocks, or ``Orchestrator(variable, ...).execute(...)``.

    Only then can nothing reorder the registry after a registration: a return, an alias, a
    call that receives it, a bound method (``add = r.insert_before``), ``getattr``, a container
    or a nested function could all put a provider in front of a step later, so the flow check
    keeps quiet for them (a finding at a registration cannot be withdrawn afterwards).
    """
    allowed: set[int] = set()
    pending = list(body)
    while pending:
        stmt = pending.pop()
        if isinstance(stmt, FuncDef | Decorator | OverloadedFuncDef | ClassDef):
            continue  # another scope: its uses are not allowed
        if isinstance(stmt, AssignmentStmt) and stmt.rvalue is made:
            allowed.update(id(lvalue) for lvalue in stmt.lvalues if isinstance(lvalue, NameExpr))
        if isinstance(stmt, ExpressionStmt):
            expr = stmt.expr
            if (
                isinstance(expr, CallExpr)
                and isinstance(expr.callee, MemberExpr)
                and expr.callee.name == "register"
                and isinstance(expr.callee.expr, NameExpr)
                and expr.callee.expr.name == variable
            ):
                allowed.add(id(expr.callee.expr))
            run = _is_orchestrator_run(expr, variable)
            if run is not None:
                allowed.add(id(run))
        if isinstance(stmt, AssignmentStmt):
            run = _is_orchestrator_run(stmt.rvalue, variable)
            if run is not None:
                allowed.add(id(run))
        pending += [inner for block in child_blocks(stmt) for inner in block.body]
    found = name_uses(body, _FRAME_READERS | {variable})
    if found is None or any(found[reader] != [] for reader in _FRAME_READERS - {variable}):
        return False  # a kind of code not known here, or locals()/vars()/eval(): may reach it
    uses = found[variable]
    return uses is not None and all(id(use) in allowed for use in uses)


def _is_registry_call_stmt(stmt: Statement) -> bool:
    """``name.<registry method>(...)`` as a statement of its own."""
    return (
        isinstance(stmt, ExpressionStmt)
        and isinstance(stmt.expr, CallExpr)
        and isinstance(stmt.expr.callee, MemberExpr)
        and isinstance(stmt.expr.callee.expr, NameExpr)
        and stmt.expr.callee.name in _METHODS
    )


class _BodyWalker:
    """Follows the registries of one body and records the findings for their calls."""

    def __init__(
        self, findings: dict[CallExpr, str], shared: bool, body: list[Statement], user_code: UserCode
    ) -> None:
        self.findings = findings
        self.flow_findings: dict[CallExpr, str] = {}
        # Found at a statement that is not a registry call (a misspelt ``inputs=``): reported by
        # the next hook call of this body.
        self.pending_flow: list[tuple[Expression, str]] = []
        self.body = body
        # A module's or class's top level: its variables are reachable from anywhere.
        self.shared = shared
        self.registries: dict[str, _Registry | None] = {}  # None: given up
        self.steps: dict[str, str | None] = {}  # variable -> name of the step it holds
        self.everything_forgotten = False
        # Step variables other code can rebind: every variable of a module or class body,
        # the names a function declares global or nonlocal. Final ones cannot change.
        self.rebindable = _declared_global(body)
        self.final_steps: set[str] = set()
        self.user_code = user_code

    def _strict(self) -> bool:
        """Whether some followed registry or step variable can be reached by other code, so
        that any code that may run user code (a property, an operator) stops following it."""
        return any(registry is not None and registry.reachable for registry in self.registries.values()) or any(
            self._rebindable(variable) for variable in self.steps
        )

    def _rebindable(self, variable: str) -> bool:
        return variable not in self.final_steps and (self.shared or variable in self.rebindable)

    def _may_run_code(self, stmt: Statement | None, exprs: list[Expression]) -> bool:
        if any(expression_may_call(expr) for expr in exprs):
            return True
        if stmt is not None and statement_may_call(stmt):
            return True
        if not self._strict():
            return False
        if stmt is not None:
            return self.user_code.statement(stmt)
        return any(self.user_code.expression(expr) for expr in exprs)

    # -- names of steps ------------------------------------------------------------------------
    def step_name(self, expr: Expression | None) -> str | None:
        if isinstance(expr, NameExpr):
            return self.steps.get(expr.name)
        if not isinstance(expr, CallExpr) or not _plain_call(expr):
            return None
        info = _callee_class(expr)
        if info is None:
            return None
        owner = next((base for base in info.mro if "name" in base.names), None)
        if owner is None:
            return None
        if owner.fullname == WRAPPER_STEP and init_owner(info) == WRAPPER_STEP:
            prefix = prefix_of(info)
            inner = self.step_name(_argument(expr, ("step",), "step"))
            return None if prefix is None or inner is None else prefix + inner
        fixed = recorded_name(info)
        if fixed is not None:
            return fixed
        return _constructor_name(expr, info)

    # -- statements ----------------------------------------------------------------------------
    def forget(self, names: set[str] | None) -> None:
        """Nothing these names hold is known any more (``None``: nothing at all is known)."""
        if names is None:
            self.registries = dict.fromkeys(self.registries)
            self.steps.clear()
            self.everything_forgotten = True
            return
        for name in names:
            self.registries[name] = None
            self.steps.pop(name, None)

    def reached(self) -> None:
        """Code ran that may get at registries this body did not create itself, or at any
        registry of a module or class body (a function call, an import, a property...): stop
        following them, and forget the steps held by variables that code could rebind."""
        for variable, registry in self.registries.items():
            if registry is not None and registry.reachable:
                self.registries[variable] = None
        for variable in [variable for variable in self.steps if self._rebindable(variable)]:
            del self.steps[variable]

    def escape(self, expr: Expression) -> None:
        """``expr`` was evaluated: a registry it mentions may now be changed elsewhere.

        Variables known to hold steps stay known (reading a step does not rename it).
        """
        names = expression_names(expr)
        if names is None:
            self.forget(None)
            return
        for name in names - self.steps.keys():
            self.registries[name] = None

    def walk(self, statements: list[Statement], confirmed: set[CallExpr]) -> None:
        """Follow ``statements`` in order, recording findings for the registry calls.

        Only calls mypy has confirmed as StepRegistry's own methods count as registrations;
        any other ``x.register(...)`` (an override, an ``Any`` receiver) is an unknown use.
        """
        for stmt in statements:
            if (
                isinstance(stmt, ExpressionStmt)
                and isinstance(stmt.expr, CallExpr)
                and stmt.expr in confirmed
                and self.registry_call(stmt.expr)
            ):
                continue
            if (
                isinstance(stmt, AssignmentStmt)
                and len(stmt.lvalues) == 1
                and isinstance(stmt.lvalues[0], NameExpr)
            ):
                if self._may_run_code(None, [stmt.rvalue]):
                    self.reached()
                self.assignment(stmt.lvalues[0].name, stmt.rvalue)
                if stmt.is_final_def:
                    self.final_steps.add(stmt.lvalues[0].name)
                continue
            if self._may_run_code(stmt, []):
                self.reached()
            self.forget(mentioned_names(stmt))

    def assignment(self, target: str, value: Expression) -> None:
        self.escape(value)  # e.g. ``other = registry``: no longer followed
        if _is_new_registry(value):
            assert isinstance(value, CallExpr)
            self.pending_flow += _unknown_inputs(value)
            # Empty when made; reachable when other code can see the variable (a global).
            registry = _Registry(target, closed=True, reachable=self._rebindable(target))
            supplied = _registry_supplied(value)
            if supplied is not None and _only_appended(self.body, target, value):
                registry.available = supplied
            self.registries[target] = registry
            self.steps.pop(target, None)
            return
        if target in self.registries:
            self.registries[target] = None
        self.steps[target] = self.step_name(value)

    def registry_call(self, expr: Expression) -> bool:
        """Handle ``r.<method>(...)``; ``False`` when ``expr`` is not such a call."""
        if not (
            isinstance(expr, CallExpr)
            and isinstance(expr.callee, MemberExpr)
            and isinstance(expr.callee.expr, NameExpr)
            and expr.callee.name in _METHODS
        ):
            return False
        variable = expr.callee.expr.name
        method = expr.callee.name
        # The arguments run first; they may mention registries (passing one along: those
        # escape) or call code that can reach one.
        if self._may_run_code(None, list(expr.args)):
            self.reached()
        for arg in expr.args:
            self.escape(arg)
        if variable not in self.registries:
            if self.everything_forgotten:
                # An earlier statement might have done anything to it.
                self.registries[variable] = None
                return True
            # First use of a registry this body did not create: it may already hold steps.
            self.registries[variable] = _Registry(variable, closed=False, reachable=True)
        registry = self.registries[variable]
        if registry is None:
            return True
        if not _plain_call(expr):
            self.registries[variable] = None
            return True
        params = _PARAMS[method]
        if method != "register":
            registry.available = None  # the order is no longer what the appends made it
        if method == "unregister":
            self.unregister(registry, expr, _argument(expr, params, "name"))
            return True
        if method != "register":
            target = str_literal(_argument(expr, params, params[0]))
            if target is not None and registry.missing(target):
                self.findings[expr] = _missing(registry, method, target)
        name = self.step_name(_argument(expr, params, "step"))
        if name == "":
            # The registry refuses an empty name (TypeError): the step is never added.
            self.findings.setdefault(
                expr, f'Step name is empty (""); the registry refuses it, so {method} fails at run time'
            )
            return True
        if name is not None and name in registry.present:
            self.findings.setdefault(
                expr,
                f'Step name "{name}" is already registered on "{registry.variable}" '
                f"(line {registry.present[name]}); registering it again fails at run time",
            )
        registry.add(name, expr.line)
        if registry.available is not None:
            self.flow(registry, expr, _argument(expr, params, "step"), name)
        return True

    def flow(self, registry: _Registry, call: CallExpr, step: Expression | None, name: str | None) -> None:
        """steprail-flow: a step appended before any step that provides a field it requires."""
        available = registry.available
        assert available is not None
        declared = call_flow(step)
        if declared is None or name is None:
            registry.available = None  # an unknown step may provide anything: stop here
            return
        requires, provides = declared
        unmet = next((field for field in requires if field not in available), None)
        if unmet is not None:
            self.flow_findings[call] = unmet_message(name, unmet, self.providers(registry.variable, call, unmet))
        available.update(provides)

    def providers(self, variable: str, call: CallExpr, field: str) -> list[str]:
        """Names of the steps this body registers on ``variable`` elsewhere that provide ``field``."""
        found: list[str] = []
        for stmt in self.body:
            if not _is_registry_call_stmt(stmt):
                continue
            assert isinstance(stmt, ExpressionStmt) and isinstance(stmt.expr, CallExpr)
            other = stmt.expr
            assert isinstance(other.callee, MemberExpr) and isinstance(other.callee.expr, NameExpr)
            if other is call or other.callee.expr.name != variable or other.callee.name == "unregister":
                continue
            step = _argument(other, _PARAMS[other.callee.name], "step")
            declared = call_flow(step)
            if declared is not None and field in declared[1]:
                name = self.step_name(step)
                info = _callee_class(step) if isinstance(step, CallExpr) else None
                found.append(name if name is not None else info.name if info is not None else "?")
        return found

    def unregister(self, registry: _Registry, call: CallExpr, arg: Expression | None) -> None:
        target = str_literal(arg)
        if target is None:
            # Some unknown step was removed: nothing about this registry is certain any more.
            self.registries[registry.variable] = None
            return
        if registry.missing(target):
            self.findings[call] = _missing(registry, "unregister", target)
        registry.present.pop(target, None)
        registry.absent.add(target)


def _missing(registry: _Registry, method: str, target: str) -> str:
    known = list(registry.present)
    # A wrapper prefix (logged_, timed_) is the usual reason; then near spellings.
    wrapped = [name for name in known if name.endswith("_" + target)]
    close = difflib.get_close_matches(target, known, n=3, cutoff=0.6)
    hints = list(dict.fromkeys(wrapped + close))
    message = (
        f'No step named "{target}" is registered on "{registry.variable}" at this point; '
        f"{method} fails at run time"
    )
    if hints:
        message += " (did you mean " + " or ".join(f'"{hint}"' for hint in hints) + "?)"
    return message


class NameChecker:
    """Method hook for the four registry methods.

    mypy checks a body's statements in order, so when the hook runs for one call, every earlier
    call of that body has been seen: the hook remembers which ones were StepRegistry's methods,
    and follows the body from where it stopped last time up to the current call.
    """

    def __init__(self) -> None:
        # Per module path: the tree (a re-parsed module is indexed again), the body and position
        # of each straight-line registry call, the calls confirmed as StepRegistry methods, and
        # for each body how far its walker got.
        self._modules: dict[str, _ModuleState] = {}

    def _state(self, tree: MypyFile) -> _ModuleState:
        state = self._modules.get(tree.path)
        if state is not None and state.tree is tree:
            return state
        state = _ModuleState(tree)
        for body, shared in [(tree.defs, True), *bodies_in(tree.defs)]:
            state.shared[id(body)] = shared
            for index, stmt in enumerate(body):
                # Only straight-line registry calls can be reported.
                if _is_registry_call_stmt(stmt):
                    assert isinstance(stmt, ExpressionStmt) and isinstance(stmt.expr, CallExpr)
                    state.calls[stmt.expr] = (body, index)
        self._modules[tree.path] = state
        return state

    def __call__(self, ctx: MethodContext) -> Type:
        chk = as_checker(ctx.api)
        call = ctx.context
        if chk is None or not isinstance(call, CallExpr):
            return ctx.default_return_type
        state = self._state(chk.tree)
        state.confirmed.add(call)
        located = state.calls.get(call)
        if located is None:
            return ctx.default_return_type
        body, index = located
        walker, start = state.progress.get(id(body), (None, 0))
        if walker is None or start > index:
            # First call of this body, or mypy checks the body again (a deferred function).
            walker, start = _BodyWalker({}, state.shared[id(body)], body, UserCode(chk)), 0
        walker.walk(body[start : index + 1], state.confirmed)
        state.progress[id(body)] = (walker, index + 1)
        message = walker.findings.get(call)
        if message is not None:
            ctx.api.fail(message, call, code=STEPRAIL_NAME)
        message = walker.flow_findings.get(call)
        if message is not None:
            ctx.api.fail(message, call, code=STEPRAIL_FLOW)
        for where, pending in walker.pending_flow:
            ctx.api.fail(pending, where, code=STEPRAIL_FLOW)
        walker.pending_flow.clear()
        return ctx.default_return_type


class _ModuleState:
    """What :class:`NameChecker` keeps about one module while mypy checks it."""

    def __init__(self, tree: MypyFile) -> None:
        self.tree = tree
        self.calls: dict[CallExpr, tuple[list[Statement], int]] = {}
        self.confirmed: set[CallExpr] = set()
        self.progress: dict[int, tuple[_BodyWalker, int]] = {}
        self.shared: dict[int, bool] = {}  # id(body) -> module or class body
