"""The ``steprail`` logger hierarchy.

Library modules log through ``logging.getLogger("steprail.<area>")`` (see :func:`get_logger`).
As libraries should, steprail adds only a :class:`logging.NullHandler` to the ``steprail``
logger: nothing is printed unless the application configures logging (``logging.basicConfig``,
its own handlers, structlog or an OpenTelemetry bridge on the root logger).
"""

from __future__ import annotations

import logging

__all__ = ["ROOT_LOGGER_NAME", "get_logger"]

#: The name every steprail logger starts with.
ROOT_LOGGER_NAME = "steprail"

# Without a handler of its own, a warning from the library would reach logging's last-resort
# handler and print to stderr in applications that never asked for logging.
logging.getLogger(ROOT_LOGGER_NAME).addHandler(logging.NullHandler())


def get_logger(name: str) -> logging.Logger:
    """The logger ``name``, which must be ``steprail`` or below it (``steprail.jobs.store``)."""
    if name != ROOT_LOGGER_NAME and not name.startswith(ROOT_LOGGER_NAME + "."):
        raise ValueError(f"steprail loggers are named 'steprail' or 'steprail.<area>', not {name!r}")
    return logging.getLogger(name)
