"""``python -m steprail.cli``: the same as the ``steprail`` command."""

from ._app import main

main()
