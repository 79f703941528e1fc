"""A mypy plugin that checks steprail workflows before they run.

Enable it in ``mypy.ini`` with ``plugins = steprail.mypy`` (or ``plugins = ["steprail.mypy"]``
under ``[tool.mypy]``). It reports, each under its own error code:

- ``steprail-context``: a step whose context type does not fit the registry's, or an
  ``Orchestrator`` context that is not the registry's context type;
- ``steprail-weight``: a literal ``progress_weight`` outside [0.0, 1.0], or a ``bool``;
- ``steprail-name``: in straight-line code, a step name registered twice or empty, or an
  ``insert_before``/``insert_after``/``unregister`` target that was never registered;
- ``steprail-internal`` (only when asked for): a note where a check failed and was skipped.

See ``docs/mypy-plugin.md`` for examples and for what is not checked.
"""

from __future__ import annotations

from .._extras import require_extra

require_extra("mypy", "the steprail mypy plugin (steprail.mypy)")  # mypy comes with steprail[mypy]

from mypy.plugin import Plugin  # noqa: E402  (after the guard, which names the missing extra)

from ._errors import STEPRAIL_CONTEXT, STEPRAIL_INTERNAL, STEPRAIL_NAME, STEPRAIL_POLICY, STEPRAIL_WEIGHT
from ._plugin import StepRailPlugin

__all__ = [
    "STEPRAIL_CONTEXT",
    "STEPRAIL_INTERNAL",
    "STEPRAIL_NAME",
    "STEPRAIL_POLICY",
    "STEPRAIL_WEIGHT",
    "StepRailPlugin",
    "__version__",
    "plugin",
]

#: Bump on every change to the plugin: mypy's cache keys on this entry file and on
#: ``report_config_data``, not on the modules it imports.
__version__ = "1.4.0"


def plugin(version: str) -> type[Plugin]:
    """Entry point called by mypy with its own version; returns the plugin class."""
    return StepRailPlugin
