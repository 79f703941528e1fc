"""``steprail-policy``: a literal retry policy or time limit the run would refuse.

Checked, each reported at the literal (a number written in place, or a ``Final`` constant):

- ``RetryPolicy(attempts=...)`` below 1 (or a ``bool``); ``wait_initial``, ``wait_max`` or
  ``wait_jitter`` below 0; ``timeout`` of 0 or less;
- ``TimeLimitStep(step, seconds)`` with ``seconds`` of 0 or less.

These are what :class:`steprail.RetryPolicy` and :class:`steprail.TimeLimitStep` refuse with a
``ValueError`` when the object is made; the plugin says so before the code runs. Computed values
are not checked.
"""

from __future__ import annotations

from mypy.plugin import FunctionContext
from mypy.types import Type

from .._errors import STEPRAIL_POLICY
from ._shared import bool_literal, number_literal, show_number

__all__ = ["check_retry_policy", "check_time_limit_step"]

# (argument, the smallest value allowed, whether that value itself is allowed, what it is)
_RETRY_RULES = (
    ("attempts", 1, True, "attempts"),
    ("wait_initial", 0, True, "a wait"),
    ("wait_max", 0, True, "a wait"),
    ("wait_jitter", 0, True, "a wait"),
    ("timeout", 0, False, "the time budget"),
)


def _problem(owner: str, argument: str, value: int | float, floor: int, inclusive: bool, what: str) -> str | None:
    if value > floor or (inclusive and value == floor):
        return None
    bound = f">= {floor}" if inclusive else f"> {floor}"
    return f"{owner}({argument}={show_number(value)}): {what} must be {bound}; it is refused at run time"


def check_retry_policy(ctx: FunctionContext) -> Type:
    """Function hook for ``RetryPolicy(...)``: its literal counts, waits and budget."""
    for argument, floor, inclusive, what in _RETRY_RULES:
        if argument not in ctx.callee_arg_names:
            continue
        for expr in ctx.args[ctx.callee_arg_names.index(argument)]:
            if argument == "attempts" and bool_literal(expr) is not None:
                ctx.api.fail(
                    "RetryPolicy(attempts=...) is a bool, not a count; it is refused at run time", expr, code=STEPRAIL_POLICY
                )
                continue
            value = number_literal(expr)
            message = None if value is None else _problem("RetryPolicy", argument, value, floor, inclusive, what)
            if message is not None:
                ctx.api.fail(message, expr, code=STEPRAIL_POLICY)
    return ctx.default_return_type


def check_time_limit_step(ctx: FunctionContext) -> Type:
    """Function hook for ``TimeLimitStep(step, seconds)``: a literal limit of 0 or less."""
    if "seconds" in ctx.callee_arg_names:
        for expr in ctx.args[ctx.callee_arg_names.index("seconds")]:
            value = number_literal(expr)
            message = None if value is None else _problem("TimeLimitStep", "seconds", value, 0, False, "a time limit")
            if message is not None:
                ctx.api.fail(message, expr, code=STEPRAIL_POLICY)
    return ctx.default_return_type
