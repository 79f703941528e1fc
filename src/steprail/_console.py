"""The ``steprail`` console script: the command line, or one clear line when its extra is missing.

The script is installed with the core package, so a core install has it too. There, importing
:mod:`steprail.cli` fails with a :class:`~steprail._extras.MissingExtraError`; a command line
should say so in one line and exit non-zero, not print a traceback.
"""

from __future__ import annotations

import sys

from ._extras import MissingExtraError

__all__ = ["main"]

#: The exit status when the command line cannot start (as for any uncaught error).
EXIT_NOT_INSTALLED = 1


def main() -> None:
    """Run the ``steprail`` command line (:func:`steprail.cli.main`)."""
    try:
        from .cli import main as cli_main
    except MissingExtraError as error:
        print(f"steprail: {error}", file=sys.stderr)
        raise SystemExit(EXIT_NOT_INSTALLED) from None
    cli_main()
