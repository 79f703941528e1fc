"""A module-level registry that other code changes: through a call and through an import.

Both happen before the ``insert_after`` calls below, which are therefore correct: the plugin
must not follow the registry past them (the issue's false positive (b)).
"""

from __future__ import annotations

from steprail import StepRegistry

from .contexts import IngestContext
from .steps import Copy, Fetch

REGISTRY = StepRegistry[IngestContext]()


def add_fetch() -> None:
    """Registers ``fetch`` on the shared registry."""
    REGISTRY.register(Fetch())


add_fetch()
REGISTRY.insert_after("fetch", Copy("copy_after_fetch"))

from . import shared_plugins  # noqa: E402  # registers "parse" when imported

REGISTRY.insert_after("parse", Copy("copy_after_parse"))
