"""Every hook runs behind a guard: a failing check is skipped, mypy never crashes.

A bug in a check, or code shaped in a way the check did not expect, must not turn into a mypy
``INTERNAL ERROR``. The guard catches the failure and hands mypy what it would have used
without the plugin (the default signature or return type; nothing for a class hook), so the
rest of the run is exactly mypy's own. When the ``report_internal_errors`` setting is on, it
also reports one ``steprail-internal`` note at the code the check was looking at.
"""

from __future__ import annotations

from collections.abc import Callable

from mypy.checker import TypeChecker
from mypy.errors import CompileError
from mypy.nodes import Context
from mypy.plugin import (
    CheckerPluginInterface,
    ClassDefContext,
    FunctionContext,
    FunctionSigContext,
    MethodContext,
    MethodSigContext,
    SemanticAnalyzerPluginInterface,
)
from mypy.semanal import SemanticAnalyzer
from mypy.types import FunctionLike, Type

from ._errors import STEPRAIL_INTERNAL

__all__ = ["Guard"]


type _Api = CheckerPluginInterface | SemanticAnalyzerPluginInterface
type _CallContext = MethodSigContext | FunctionSigContext | FunctionContext | MethodContext


def _at_call(ctx: _CallContext) -> tuple[_Api, Context]:
    return ctx.api, ctx.context


class Guard:
    """Wraps hooks so that an exception inside one falls back to mypy's default."""

    def __init__(self, report: bool) -> None:
        self.report = report

    def _note(
        self,
        api: CheckerPluginInterface | SemanticAnalyzerPluginInterface,
        where: Context,
        check: str,
        error: Exception,
    ) -> None:
        if not self.report:
            return
        message = (
            f"steprail: the {check} check failed on this code and was skipped "
            f"({type(error).__name__}: {error}); please report it"
        )
        try:
            if isinstance(api, TypeChecker | SemanticAnalyzer):
                api.note(message, where, code=STEPRAIL_INTERNAL)
        except Exception:  # noqa: BLE001 - the note is best effort; never crash because of it
            return

    def _guarded[X, R](
        self,
        check: str,
        hook: Callable[[X], R],
        fallback: Callable[[X], R],
        where: Callable[[X], tuple[_Api, Context]],
    ) -> Callable[[X], R]:
        def run(ctx: X) -> R:
            try:
                return hook(ctx)
            except CompileError:
                raise  # mypy's own way to stop on a blocking error: not a crash
            except Exception as error:  # noqa: BLE001 - the point of the guard
                self._note(*where(ctx), check, error)
                return fallback(ctx)

        return run

    def method_signature(
        self, check: str, hook: Callable[[MethodSigContext], FunctionLike]
    ) -> Callable[[MethodSigContext], FunctionLike]:
        return self._guarded(check, hook, lambda ctx: ctx.default_signature, _at_call)

    def function_signature(
        self, check: str, hook: Callable[[FunctionSigContext], FunctionLike]
    ) -> Callable[[FunctionSigContext], FunctionLike]:
        return self._guarded(check, hook, lambda ctx: ctx.default_signature, _at_call)

    def function(
        self, check: str, hook: Callable[[FunctionContext], Type]
    ) -> Callable[[FunctionContext], Type]:
        return self._guarded(check, hook, lambda ctx: ctx.default_return_type, _at_call)

    def method(self, check: str, hook: Callable[[MethodContext], Type]) -> Callable[[MethodContext], Type]:
        return self._guarded(check, hook, lambda ctx: ctx.default_return_type, _at_call)

    def class_def(
        self, check: str, hook: Callable[[ClassDefContext], None]
    ) -> Callable[[ClassDefContext], None]:
        return self._guarded(check, hook, lambda ctx: None, lambda ctx: (ctx.api, ctx.cls))
