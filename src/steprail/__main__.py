"""``python -m steprail``: the same as the ``steprail`` command."""

from steprail.cli._app import main

main()
