"""Optional parts of steprail and the clear error raised when one is used without its extra.

The core (steps, registry, orchestrator, context, actions, the job store) needs only pydantic and
typing-extensions. The command line, the datasets, the hypothesis strategies, the mypy plugin and
retry policies need packages that come with an extra (``steprail[cli]`` and so on).

steprail is not on a package index, so the advice never reads as a bare
``pip install 'steprail[x]'``: pasted as is, that would install whatever package holds the name
there. It names the user's own checkout or wheel instead.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Final

__all__ = [
    "EXTRAS",
    "MissingExtraAttributeError",
    "MissingExtraError",
    "extra_name_error",
    "install_advice",
    "missing_extra_error",
    "missing_packages",
    "require_extra",
]

#: For each extra, the importable module of each distribution it brings and that distribution.
EXTRAS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "cli": (("typer", "typer"), ("rich", "rich")),
    "datasets": (
        ("PIL", "pillow"), ("yaml", "pyyaml"), ("defusedxml", "defusedxml"), ("orjson", "orjson"),
    ),
    "testing": (("hypothesis", "hypothesis"),),
    "mypy": (("mypy", "mypy"),),
    "retries": (("tenacity", "tenacity"),),
    "ray": (("ray", "ray"),),
}


class MissingExtraError(ModuleNotFoundError):
    """A part of steprail used without the extra that brings its packages. A
    :class:`ModuleNotFoundError` (so ``except ImportError`` catches it) whose ``name`` is the
    first missing module and whose message names every missing package and the extra."""


class MissingExtraAttributeError(AttributeError):
    """The same failure met through an attribute (``steprail.ExportDatasetStep``, ``hasattr``,
    ``getattr``): an :class:`AttributeError`, as introspection expects, with the same message.

    An exception cannot be both an :class:`ImportError` and an :class:`AttributeError` (their
    layouts differ), so a package's lazy ``__getattr__`` raises this one to attribute look-ups
    and :class:`MissingExtraError` to ``from package import name``."""


def install_advice(extra: str) -> str:
    """How to get ``extra``, worded so that it cannot fetch someone else's package."""
    return f"pip install '<your steprail checkout or wheel>[{extra}]'"


def missing_packages(extra: str) -> list[tuple[str, str]]:
    """The (module, distribution) pairs of ``extra`` that cannot be found. Looks the modules up
    without importing them, so a check costs next to nothing."""
    return [(module, dist) for module, dist in EXTRAS[extra] if importlib.util.find_spec(module) is None]


def _message(extra: str, feature: str, missing: list[tuple[str, str]]) -> str:
    names = ", ".join(dist for _module, dist in missing)
    return f"{feature} needs the [{extra}] extra (missing: {names}): {install_advice(extra)}"


def missing_extra_error(extra: str, feature: str, module: str | None = None) -> MissingExtraError:
    """The error for ``feature`` used without its extra. Names every package of ``extra`` that
    is missing (or ``module``'s distribution, when that one failed to import although the others
    are there)."""
    missing = missing_packages(extra)
    if module is not None and module not in {name for name, _dist in missing}:
        missing.append((module, dict(EXTRAS[extra]).get(module, module)))
    first = missing[0][0] if missing else module
    return MissingExtraError(_message(extra, feature, missing), name=first)


def require_extra(extra: str, feature: str) -> None:
    """Raise :class:`MissingExtraError` if any package of ``extra`` cannot be found."""
    missing = missing_packages(extra)
    if missing:
        raise MissingExtraError(_message(extra, feature, missing), name=missing[0][0])


def _asked_by_an_import_statement() -> bool:
    # `from package import name` asks the package through importlib's _handle_fromlist (a
    # hasattr) before the IMPORT_FROM opcode's getattr. An ImportError raised there reaches the
    # user as is; an AttributeError would be swallowed and turned into a bare "cannot import
    # name". Frame 0 is this function, 1 extra_name_error, 2 the package's __getattr__, 3 its
    # caller.
    try:
        caller = sys._getframe(3)
    except ValueError:  # no Python frame asked (a look-up from C code): not an import statement
        return False
    return caller.f_code.co_name == "_handle_fromlist" and caller.f_globals.get("__name__") == "importlib._bootstrap"


def extra_name_error(extra: str, feature: str) -> MissingExtraError | MissingExtraAttributeError | None:
    """For a package's lazy ``__getattr__``, about a name that needs ``extra``: None when the
    extra is installed, else the error to raise. An import statement gets the
    :class:`MissingExtraError`; any other look-up (``hasattr``, ``getattr``, ``inspect``, a plain
    ``package.name``) gets a :class:`MissingExtraAttributeError` with the same message, so
    introspection sees an absent attribute and ``hasattr`` answers False."""
    missing = missing_packages(extra)
    if not missing:
        return None
    message = _message(extra, feature, missing)
    if _asked_by_an_import_statement():
        return MissingExtraError(message, name=missing[0][0])
    return MissingExtraAttributeError(message)
