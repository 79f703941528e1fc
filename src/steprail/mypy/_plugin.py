"""The plugin class: looks hooks up by full name in ``Final`` tables, every hook guarded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from mypy.checker import TypeChecker
from mypy.nodes import CallExpr, IndexExpr, RefExpr, TypeAlias, TypeInfo
from mypy.options import Options
from mypy.plugin import (
    ClassDefContext,
    FunctionContext,
    FunctionSigContext,
    MethodContext,
    MethodSigContext,
    Plugin,
    ReportConfigContext,
)
from mypy.types import FunctionLike, Instance, Type, get_proper_type

from ._config import read_settings
from ._consts import (
    BASE_STEP,
    INSERT_AFTER,
    INSERT_BEFORE,
    ORCHESTRATOR,
    REGISTER,
    REGISTRY,
    RETRY_POLICY,
    TIME_LIMIT_STEP,
    UNREGISTER,
    WORKFLOW,
)
from ._errors import ALL_CODES, STEPRAIL_NAME
from ._features.flow import check_step_class_flow
from ._features.context import check_orchestrator_context, check_registry_step, check_workflow_context
from ._features.names import NameChecker
from ._features.policy import check_retry_policy, check_time_limit_step
from ._features.step_info import record_step_class
from ._features.weight import check_step_class_weight, check_step_constructor_weight
from ._guard import Guard

__all__ = ["StepRailPlugin"]

#: Methods whose calls the straight-line name check looks at.
_NAME_CHECKED_METHODS: Final = frozenset({REGISTER, INSERT_BEFORE, INSERT_AFTER, UNREGISTER})
_REGISTRY_METHOD_NAMES: Final = frozenset(name.rpartition(".")[2] for name in _NAME_CHECKED_METHODS)

#: Said once per module under the daemon, where the name check is off (see docs/mypy-plugin.md).
DAEMON_NOTE: Final = (
    "steprail-name and the registration check of steprail-flow are off under the mypy daemon "
    "(dmypy): it cannot tell which modules to re-check when a step is renamed or its flow "
    "changes; run mypy itself for duplicate names, missing targets and registration order"
)


def _analyse_step_class(ctx: ClassDefContext) -> None:
    """Semantic-pass work on a class that derives from ``BaseStep``.

    mypy calls base-class hooks once per base expression; the work is done once, for the first.
    """
    if not ctx.cls.info.has_base(BASE_STEP):
        return
    first = next(
        (base for base in ctx.cls.base_type_exprs if isinstance(base, RefExpr | IndexExpr | CallExpr)), None
    )
    if first is not None and ctx.reason is not first:
        return
    record_step_class(ctx)
    check_step_class_weight(ctx)
    check_step_class_flow(ctx)


class _DaemonNote:
    """Method hook used under dmypy instead of the name check.

    One note per checked target (function or module top level) that calls a registry method:
    the daemon keeps and re-checks messages target by target, so the note stays next to the
    code it is about, however the daemon re-checks it.
    """

    def __call__(self, ctx: MethodContext) -> Type:
        chk = ctx.api
        if isinstance(chk, TypeChecker):
            target = chk.msg.errors.current_target()
            reported = chk.msg.errors.error_info_map.get(chk.path, [])
            if not any(info.message == DAEMON_NOTE and info.target == target for info in reported):
                chk.msg.note(DAEMON_NOTE, ctx.context, code=STEPRAIL_NAME)
        return ctx.default_return_type


class StepRailPlugin(Plugin):
    """Checks steprail workflows: see ``docs/mypy-plugin.md``."""

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        settings = read_settings(options.config_file)
        guard = Guard(report=settings.report_internal_errors)
        self._method_signature_hooks: dict[str, Callable[[MethodSigContext], FunctionLike]] = {
            method: guard.method_signature("steprail-context", check_registry_step)
            for method in (REGISTER, INSERT_BEFORE, INSERT_AFTER)
        }
        self._function_signature_hooks: dict[str, Callable[[FunctionSigContext], FunctionLike]] = {
            ORCHESTRATOR: guard.function_signature("steprail-context", check_orchestrator_context),
            WORKFLOW: guard.function_signature("steprail-context", check_workflow_context),
        }
        self._constructor_hook = guard.function("steprail-weight", check_step_constructor_weight)
        self._policy_hooks: dict[str, Callable[[FunctionContext], Type]] = {
            RETRY_POLICY: guard.function("steprail-policy", check_retry_policy),
            TIME_LIMIT_STEP: guard.function("steprail-policy", check_time_limit_step),
        }
        self._class_hook = guard.class_def("step class", _analyse_step_class)
        # The daemon re-checks a module only when what it depends on changes in ways mypy
        # tracks; names recorded in class metadata are not among them (see the docs).
        self._daemon = options.fine_grained_incremental
        # One per build: it caches the straight-line analysis of each module it has read.
        names: Callable[[MethodContext], Type] = _DaemonNote() if self._daemon else NameChecker()
        self._name_hook = guard.method("steprail-name", names)
        # Imported here: the package imports this module before it defines __version__.
        from . import __version__

        # Part of mypy's cache key: a new plugin version, other codes or settings invalidate it.
        self._config_data: dict[str, str | list[str]] = {
            "steprail-plugin": __version__,
            "codes": [code.code for code in ALL_CODES],
            "report_internal_errors": str(settings.report_internal_errors),
        }

    def _registry_method(self, fullname: str) -> str:
        """``fullname`` as StepRegistry's method when called on a subclass that inherits it.

        mypy names a method after the receiver's class (``MyRegistry.register``); the checks
        apply as long as the method itself is StepRegistry's.
        """
        owner, _, method = fullname.rpartition(".")
        if method not in _REGISTRY_METHOD_NAMES or owner == REGISTRY:
            return fullname
        symbol = self.lookup_fully_qualified(owner)
        info = symbol.node if symbol is not None else None
        if isinstance(info, TypeInfo) and info.has_base(REGISTRY):
            definer = next((base for base in info.mro if method in base.names), None)
            if definer is not None and definer.fullname == REGISTRY:
                return f"{REGISTRY}.{method}"
        return fullname

    def _is_step_class(self, fullname: str) -> bool:
        """Whether ``fullname`` names a step class, directly or through a type alias."""
        symbol = self.lookup_fully_qualified(fullname)
        node = symbol.node if symbol is not None else None
        if isinstance(node, TypeAlias):
            target = get_proper_type(node.target)
            node = target.type if isinstance(target, Instance) else None
        return isinstance(node, TypeInfo) and node.has_base(BASE_STEP)

    def get_method_signature_hook(
        self, fullname: str
    ) -> Callable[[MethodSigContext], FunctionLike] | None:
        """mypy API: ``register``/``insert_before``/``insert_after``, whose step must run on the registry's context."""
        return self._method_signature_hooks.get(self._registry_method(fullname))

    def get_function_signature_hook(
        self, fullname: str
    ) -> Callable[[FunctionSigContext], FunctionLike] | None:
        """mypy API: the constructors (``Orchestrator``, ``Workflow``) whose signature ties the context type."""
        return self._function_signature_hooks.get(fullname)

    def get_function_hook(self, fullname: str) -> Callable[[FunctionContext], Type] | None:
        """mypy API: checks of literal arguments to step constructors, retry policies and time limits."""
        # A retry policy or time limit: its literals. Any step class's constructor: a literal
        # progress_weight argument is checked.
        policy = self._policy_hooks.get(fullname)
        if policy is not None:
            return policy
        return self._constructor_hook if self._is_step_class(fullname) else None

    def get_method_hook(self, fullname: str) -> Callable[[MethodContext], Type] | None:
        """mypy API: the step-name checks of ``register``, ``insert_before``/``after`` and ``unregister``."""
        return self._name_hook if self._registry_method(fullname) in _NAME_CHECKED_METHODS else None

    def get_base_class_hook(self, fullname: str) -> Callable[[ClassDefContext], None] | None:
        """mypy API: the class-level checks of step classes (weights, names, data flow)."""
        # Called with each *direct* base of every class. A step class may derive from BaseStep
        # through other step classes or through an alias (CtxStep = BaseStep[Ctx]), and the
        # base may not be fully known yet: the hook itself checks the finished MRO.
        return self._class_hook

    def report_config_data(self, ctx: ReportConfigContext) -> dict[str, str | list[str]]:
        """mypy API: the plugin's version, codes and settings, so a change invalidates mypy's cache."""
        return self._config_data
