"""Names and weights kept as ``Final`` constants (module level), used from other modules."""

from __future__ import annotations

from typing import Final

FETCH: Final = "fetch"
PARSE: Final = "parse"
FETCH_WEIGHT: Final = 0.25
PARSE_WEIGHT: Final = 0.25
AUDIT_PREFIX: Final = "audit_"
