"""Every error code the plugin reports. Users silence one with ``# type: ignore[<code>]``."""

from __future__ import annotations

from typing import Final

from mypy import errorcodes
from mypy.errorcodes import ErrorCode

__all__ = [
    "ALL_CODES",
    "STEPRAIL_CATEGORY",
    "STEPRAIL_CONTEXT", "STEPRAIL_FLOW", "STEPRAIL_INTERNAL", "STEPRAIL_NAME", "STEPRAIL_POLICY", "STEPRAIL_WEIGHT",
]

#: Category of every code above (mypy groups codes by it).
STEPRAIL_CATEGORY: Final = "steprail"

#: ``steprail-context``: a step, wrapper or context whose type does not fit the registry's
#: (or orchestrator's) context type. A sub-code of ``arg-type`` (it replaces mypy's own
#: ``arg-type`` error), so ``# type: ignore[arg-type]`` and ``disable_error_code = arg-type``
#: cover it too.
STEPRAIL_CONTEXT: Final = ErrorCode(
    "steprail-context",
    "A step or context does not fit the registry's context type",
    STEPRAIL_CATEGORY,
    sub_code_of=errorcodes.ARG_TYPE,
)
#: ``steprail-weight``: a literal ``progress_weight`` below 0.0 or above 1.0, or a ``bool``.
STEPRAIL_WEIGHT: Final = ErrorCode(
    "steprail-weight",
    "A literal progress_weight lies outside [0.0, 1.0] or is a bool",
    STEPRAIL_CATEGORY,
)
#: ``steprail-name``: in straight-line code, a step name registered twice, or an
#: ``insert_before``/``insert_after``/``unregister`` target never registered.
STEPRAIL_NAME: Final = ErrorCode(
    "steprail-name",
    "A step name is registered twice, or a name given to insert/unregister is not registered",
    STEPRAIL_CATEGORY,
)
#: ``steprail-flow``: a declared ``requires=``/``provides=`` name that is not a field of the
#: step's context, or, in straight-line code, a step registered before any step that provides a
#: field it requires (see docs/data-flow.md).
STEPRAIL_FLOW: Final = ErrorCode(
    "steprail-flow",
    "A step requires a context field that no earlier step provides, or declares a field that does not exist",
    STEPRAIL_CATEGORY,
)
#: ``steprail-policy``: a literal ``RetryPolicy`` count, wait or budget, or a ``TimeLimitStep``
#: limit, that the run refuses (attempts below 1, a negative wait, a budget or limit of 0 or less).
STEPRAIL_POLICY: Final = ErrorCode(
    "steprail-policy",
    "A literal retry policy or time limit is out of range",
    STEPRAIL_CATEGORY,
)
#: ``steprail-internal``: a note that one of the plugin's checks failed on some code and was
#: skipped (mypy's own checking went on unchanged). Only reported when the ``report_internal``
#: setting asks for it.
STEPRAIL_INTERNAL: Final = ErrorCode(
    "steprail-internal",
    "A steprail check failed internally and was skipped",
    STEPRAIL_CATEGORY,
)

ALL_CODES: Final = (STEPRAIL_CONTEXT, STEPRAIL_WEIGHT, STEPRAIL_NAME, STEPRAIL_FLOW, STEPRAIL_POLICY, STEPRAIL_INTERNAL)
