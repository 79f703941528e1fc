"""Imported by :mod:`.shared_registry` to add its steps to the shared registry."""

from __future__ import annotations

from . import shared_registry
from .steps import Parse

shared_registry.REGISTRY.register(Parse())
