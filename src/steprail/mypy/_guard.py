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

    def method_signature(
        self, check: str, hook: Callable[[MethodSigContext], FunctionLike]
    ) -> Callable[[MethodSigContext], FunctionLike]:
        def run(ctx: MethodSigContext) -> FunctionLike:
            try:
                return hook(ctx)
            except CompileError:
                raise  # mypy's own way to stop on a blocking error: not a crash
            except Exception as error:  # noqa: BLE001 - the point of the guard
                self._note(ctx.api, ctx.context, check, error)
                return ctx.default_signature

        return run

    def function_signature(
        self, check: str, hook: Callable[[FunctionSigContext], FunctionLike]
    ) -> Callable[[FunctionSigContext], FunctionLike]:
        def run(ctx: FunctionSigContext) -> FunctionLike:
            try:
                return hook(ctx)
            except CompileError:
                raise
            except Exception as error:  # noqa: BLE001
                self._note(ctx.api, ctx.context, check, error)
                return ctx.default_signature

        return run

    def function(
        self, check: str, hook: Callable[[FunctionContext], Type]
    ) -> Callable[[FunctionContext], Type]:
        def run(ctx: FunctionContext) -> Type:
            try:
                return hook(ctx)
            except CompileError:
                raise
            except Exception as error:  # noqa: BLE001
                self._note(ctx.api, ctx.context, check, error)
                return ctx.default_return_type

        return run

    def method(self, check: str, hook: Callable[[MethodContext], Type]) -> Callable[[MethodContext], Type]:
        def run(ctx: MethodContext) -> Type:
            try:
                return hook(ctx)
            except CompileError:
                raise
            except Exception as error:  # noqa: BLE001
                self._note(ctx.api, ctx.context, check, error)
                return ctx.default_return_type

        return run

    def class_def(
        self, check: str, hook: Callable[[ClassDefContext], None]
    ) -> Callable[[ClassDefContext], None]:
        def run(ctx: ClassDefContext) -> None:
            try:
                hook(ctx)
            except CompileError:
                raise
            except Exception as error:  # noqa: BLE001
                self._note(ctx.api, ctx.cls, check, error)

        return run
