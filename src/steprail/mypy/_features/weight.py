"""``steprail-weight``: a literal ``progress_weight`` outside [0.0, 1.0], or a ``bool``.

Checked spellings, each reported at the value itself:

- a ``progress_weight`` property that returns a literal (every ``return`` of a literal in the
  getter, so a bad branch is caught too);
- a ``progress_weight = <literal>`` class attribute (``Final`` or not, or a dataclass field's
  default);
- the ``progress_weight`` argument of any step class's constructor (``ValidationStep``, the
  built-in dataset and training steps, your own), keyword or positional, when that class's
  ``__init__`` passes it on unchanged to where the property reads it (the same rule as for
  names, see :mod:`.step_info`); ``self._w = progress_weight / 100`` is not checked.

A literal is a number or ``True``/``False`` written in place, or a ``Final`` constant holding
one (module or class level, from any module). The registry refuses a ``bool`` even though
``bool`` is a subtype of ``float`` for mypy. Anything computed (``0.1 * 3``,
``return self._weight``) is not checked.
"""

from __future__ import annotations

from mypy.nodes import Expression
from mypy.plugin import ClassDefContext, FunctionContext
from mypy.types import Instance, Type, get_proper_type

from .._consts import WEIGHT_MAX, WEIGHT_MIN
from .._errors import STEPRAIL_WEIGHT
from ._shared import VarLookup, bool_literal, number_literal, show_number
from ._walk import returns_of
from .step_info import class_attribute_literal, class_lookup, init_takes_weight, property_getter

__all__ = ["check_step_class_weight", "check_step_constructor_weight", "weight_problem"]


def weight_problem(owner: str, expr: Expression | None, lookup: VarLookup | None = None) -> str | None:
    """The message for a literal weight the registry refuses; ``None`` when fine or unknown."""
    flag = bool_literal(expr, lookup)
    if flag is not None:
        return (
            f'progress_weight of "{owner}" is {flag}, a bool, not a number; '
            "the registry refuses this step at run time"
        )
    value = number_literal(expr, lookup)
    if value is None or WEIGHT_MIN <= value <= WEIGHT_MAX:
        return None
    return (
        f'progress_weight of "{owner}" is {show_number(value)}, outside [{WEIGHT_MIN}, {WEIGHT_MAX}]; '
        "the registry refuses this step at run time"
    )


def check_step_class_weight(ctx: ClassDefContext) -> None:
    """Semantic-pass check of a step class's literal ``progress_weight``."""
    owner = ctx.cls.name
    lookup = class_lookup(ctx)
    for stmt in ctx.cls.defs.body:
        getter = property_getter(stmt, "progress_weight")
        if getter is not None:
            for ret in returns_of(getter):
                message = weight_problem(owner, ret.expr, lookup)
                if message is not None and ret.expr is not None:
                    ctx.api.fail(message, ret.expr, code=STEPRAIL_WEIGHT)
            continue
        assigned = class_attribute_literal(stmt, "progress_weight")
        if assigned is not None:
            message = weight_problem(owner, assigned[0].rvalue, lookup)
            if message is not None:
                ctx.api.fail(message, assigned[0].rvalue, code=STEPRAIL_WEIGHT)


def check_step_constructor_weight(ctx: FunctionContext) -> Type:
    """Function hook for a step class's constructor: its ``progress_weight`` argument."""
    if "progress_weight" not in ctx.callee_arg_names:
        return ctx.default_return_type
    made = get_proper_type(ctx.default_return_type)
    if not isinstance(made, Instance) or not init_takes_weight(made.type):
        # The argument is not known to become the weight (``self._w = progress_weight / 100``).
        return ctx.default_return_type
    owner = made.type.name
    index = ctx.callee_arg_names.index("progress_weight")
    for expr in ctx.args[index]:
        message = weight_problem(owner, expr)
        if message is not None:
            ctx.api.fail(message, expr, code=STEPRAIL_WEIGHT)
    return ctx.default_return_type
