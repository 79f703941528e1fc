"""``python -m steprail``: the same as the ``steprail`` command."""

from steprail.cli import main

main()
