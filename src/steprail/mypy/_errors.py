"""Every error code the plugin reports. Users silence one with ``# type: ignore[<code>]``."""

from __future__ import annotations

from typing import Final

from mypy.errorcodes import ErrorCode

__all__ = ["ALL_CODES", "STEPRAIL_CONTEXT", "STEPRAIL_NAME", "STEPRAIL_WEIGHT"]

_CATEGORY: Final = "steprail"

#: ``steprail-context``: a step, wrapper or context whose type does not fit the registry's
#: (or orchestrator's) context type.
STEPRAIL_CONTEXT: Final = ErrorCode(
    "steprail-context",
    "A step or context does not fit the registry's context type",
    _CATEGORY,
)
#: ``steprail-weight``: a literal ``progress_weight`` below 0.0 or above 1.0.
STEPRAIL_WEIGHT: Final = ErrorCode(
    "steprail-weight",
    "A literal progress_weight lies outside [0.0, 1.0]",
    _CATEGORY,
)
#: ``steprail-name``: in straight-line code, a step name registered twice, or an
#: ``insert_before``/``insert_after``/``unregister`` target never registered.
STEPRAIL_NAME: Final = ErrorCode(
    "steprail-name",
    "A step name is registered twice, or a name given to insert/unregister is not registered",
    _CATEGORY,
)

ALL_CODES: Final = (STEPRAIL_CONTEXT, STEPRAIL_WEIGHT, STEPRAIL_NAME)
