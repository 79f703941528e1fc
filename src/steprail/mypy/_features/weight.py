"""``steprail-weight``: a literal ``progress_weight`` outside [0.0, 1.0].

Three spellings are checked, each reported at the literal itself:

- a ``progress_weight`` property that returns a number literal (every ``return`` of a literal
  in the getter, so a bad branch is caught too);
- a ``progress_weight = <literal>`` class attribute (``Final`` or not);
- ``ValidationStep(..., progress_weight=<literal>)`` (keyword or third positional argument).

Anything computed (``return self._weight``, ``0.1 * 3``) is not checked.
"""

from __future__ import annotations

from mypy.nodes import Expression
from mypy.plugin import ClassDefContext, FunctionContext
from mypy.types import Type

from .._consts import WEIGHT_MAX, WEIGHT_MIN
from .._errors import STEPRAIL_WEIGHT
from ._shared import number_literal
from ._walk import returns_of
from .step_info import class_attribute_literal, property_getter

__all__ = ["check_step_class_weight", "check_validation_step_weight"]


def _message(owner: str, value: float) -> str:
    return (
        f'progress_weight of "{owner}" is {value:g}, outside [{WEIGHT_MIN}, {WEIGHT_MAX}]; '
        "the registry refuses this step at run time"
    )


def _out_of_range(expr: Expression | None) -> float | None:
    value = number_literal(expr)
    if value is None or WEIGHT_MIN <= value <= WEIGHT_MAX:
        return None
    return value




def check_step_class_weight(ctx: ClassDefContext) -> None:
    """Semantic-pass check of a step class's literal ``progress_weight``."""
    owner = ctx.cls.name
    for stmt in ctx.cls.defs.body:
        getter = property_getter(stmt, "progress_weight")
        if getter is not None:
            for ret in returns_of(getter):
                value = _out_of_range(ret.expr)
                if value is not None and ret.expr is not None:
                    ctx.api.fail(_message(owner, value), ret.expr, code=STEPRAIL_WEIGHT)
            continue
        assigned = class_attribute_literal(stmt, "progress_weight")
        if assigned is not None:
            value = _out_of_range(assigned[0].rvalue)
            if value is not None:
                ctx.api.fail(_message(owner, value), assigned[0].rvalue, code=STEPRAIL_WEIGHT)


def check_validation_step_weight(ctx: FunctionContext) -> Type:
    """Function hook for ``ValidationStep(...)``: its ``progress_weight`` argument."""
    if "progress_weight" in ctx.callee_arg_names:
        index = ctx.callee_arg_names.index("progress_weight")
        for expr in ctx.args[index]:
            value = _out_of_range(expr)
            if value is not None:
                ctx.api.fail(_message("ValidationStep", value), expr, code=STEPRAIL_WEIGHT)
    return ctx.default_return_type
