"""Optional parts of steprail and the clear error raised when one is used without its extra.

The core (steps, registry, orchestrator, context, actions, the job store) needs only pydantic and
typing-extensions. The command line, the datasets and the hypothesis strategies need packages
that come with an extra: ``pip install 'steprail[cli]'`` and so on.
"""

from __future__ import annotations

import importlib.util
from typing import Final

__all__ = ["EXTRAS", "missing_extra_error", "require_extra"]

#: For each extra, the importable module of each distribution it brings and that distribution.
EXTRAS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "cli": (("typer", "typer"), ("rich", "rich")),
    "datasets": (
        ("PIL", "pillow"), ("yaml", "pyyaml"), ("defusedxml", "defusedxml"), ("orjson", "orjson"),
    ),
    "testing": (("hypothesis", "hypothesis"),),
    "mypy": (("mypy", "mypy"),),
}


def missing_extra_error(extra: str, feature: str, module: str) -> ModuleNotFoundError:
    """The error for ``feature`` used without ``module``: names the distribution and the extra
    that brings it. A :class:`ModuleNotFoundError` (an :class:`ImportError`) whose ``name`` is
    the missing module, so ``except ImportError`` still catches it."""
    distribution = dict(EXTRAS[extra]).get(module, module)
    return ModuleNotFoundError(
        f"{feature} needs the {distribution!r} package, which is not installed; "
        f"install it with: pip install 'steprail[{extra}]'",
        name=module,
    )


def require_extra(extra: str, feature: str) -> None:
    """Raise :func:`missing_extra_error` for the first module of ``extra`` that cannot be
    found. Looks the modules up without importing them, so a guard costs next to nothing."""
    for module, _distribution in EXTRAS[extra]:
        if importlib.util.find_spec(module) is None:
            raise missing_extra_error(extra, feature, module)
