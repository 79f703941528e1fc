"""``python -m steprail``: the same as the ``steprail`` command (and, like it, one line instead of
a traceback when the ``[cli]`` extra is not installed)."""

from steprail._console import main

main()
