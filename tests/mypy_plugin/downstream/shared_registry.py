"""A module-level registry that other code changes: through a call and through an import.

Each happens before the ``insert_after`` calls below, which are therefore correct: the plugin
must not follow the registry past them (the issue's false positive (b)).
"""

from __future__ import annotations

from steprail import StepRegistry, ValidationStep

from .contexts import IngestContext
from .shared_helpers import add_fetch
from .steps import Copy, first_path_present

REGISTRY: StepRegistry[IngestContext] = StepRegistry[IngestContext]()

from . import shared_plugins  # noqa: E402, F401  # registers "parse" when imported

REGISTRY.insert_after("parse", ValidationStep(first_path_present, name="check_after_parse"))

add_fetch()  # registers "fetch" on REGISTRY
REGISTRY.insert_after("fetch", Copy("copy_after_fetch"))
