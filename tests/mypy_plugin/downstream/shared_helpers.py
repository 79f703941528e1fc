"""A helper that registers on :mod:`.shared_registry`'s registry from another module."""

from __future__ import annotations

from . import shared_registry
from .steps import Fetch


def add_fetch() -> None:
    """Registers ``fetch`` on the shared registry."""
    shared_registry.REGISTRY.register(Fetch())
