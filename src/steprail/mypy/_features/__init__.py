"""One module per check; the plugin entry only dispatches to them."""

from __future__ import annotations

__all__: list[str] = []
