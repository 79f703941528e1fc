"""The plugin class: looks hooks up by full name in ``Final`` tables, nothing else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from mypy.nodes import TypeInfo
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
from mypy.types import FunctionLike, Type

from ._consts import (
    BASE_STEP,
    INSERT_AFTER,
    INSERT_BEFORE,
    ORCHESTRATOR,
    REGISTER,
    REGISTRY,
    UNREGISTER,
    VALIDATION_STEP,
)
from ._errors import ALL_CODES
from ._features.context import check_orchestrator_context, check_registry_step
from ._features.names import NameChecker
from ._features.step_info import record_step_class
from ._features.weight import check_step_class_weight, check_validation_step_weight

__all__ = ["StepRailPlugin"]

_METHOD_SIGNATURE_HOOKS: Final[dict[str, Callable[[MethodSigContext], FunctionLike]]] = {
    REGISTER: check_registry_step,
    INSERT_BEFORE: check_registry_step,
    INSERT_AFTER: check_registry_step,
}
_FUNCTION_SIGNATURE_HOOKS: Final[dict[str, Callable[[FunctionSigContext], FunctionLike]]] = {
    ORCHESTRATOR: check_orchestrator_context,
}
_FUNCTION_HOOKS: Final[dict[str, Callable[[FunctionContext], Type]]] = {
    VALIDATION_STEP: check_validation_step_weight,
}
#: Methods whose calls the straight-line name check looks at.
_NAME_CHECKED_METHODS: Final = frozenset({REGISTER, INSERT_BEFORE, INSERT_AFTER, UNREGISTER})
_REGISTRY_METHOD_NAMES: Final = frozenset(name.rpartition(".")[2] for name in _NAME_CHECKED_METHODS)


def _analyse_step_class(ctx: ClassDefContext) -> None:
    """Semantic-pass work on a class that derives from ``BaseStep``."""
    if not ctx.cls.info.has_base(BASE_STEP):
        return
    record_step_class(ctx)
    check_step_class_weight(ctx)


class StepRailPlugin(Plugin):
    """Checks steprail workflows: see ``docs/mypy-plugin.md``."""

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        # One per build: it caches the straight-line analysis of each module it has read.
        self._names = NameChecker()
        # Imported here: the package imports this module before it defines __version__.
        from . import __version__

        # Part of mypy's cache key: a new plugin version, or other codes, invalidate the cache.
        self._config_data: dict[str, str | list[str]] = {
            "steprail-plugin": __version__,
            "codes": [code.code for code in ALL_CODES],
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

    def get_method_signature_hook(
        self, fullname: str
    ) -> Callable[[MethodSigContext], FunctionLike] | None:
        return _METHOD_SIGNATURE_HOOKS.get(self._registry_method(fullname))

    def get_function_signature_hook(
        self, fullname: str
    ) -> Callable[[FunctionSigContext], FunctionLike] | None:
        return _FUNCTION_SIGNATURE_HOOKS.get(fullname)

    def get_function_hook(self, fullname: str) -> Callable[[FunctionContext], Type] | None:
        return _FUNCTION_HOOKS.get(fullname)

    def get_method_hook(self, fullname: str) -> Callable[[MethodContext], Type] | None:
        return self._names if self._registry_method(fullname) in _NAME_CHECKED_METHODS else None

    def get_base_class_hook(self, fullname: str) -> Callable[[ClassDefContext], None] | None:
        # Called with each *direct* base of every class: a step class may derive from BaseStep
        # through other step classes, so any base that is itself a step qualifies.
        if fullname == BASE_STEP:
            return _analyse_step_class
        symbol = self.lookup_fully_qualified(fullname)
        if symbol is not None and isinstance(symbol.node, TypeInfo) and symbol.node.has_base(BASE_STEP):
            return _analyse_step_class
        return None

    def report_config_data(self, ctx: ReportConfigContext) -> dict[str, str | list[str]]:
        return self._config_data
