"""A console that outlives a closed pipe: ``steprail run ... | head -2`` must not kill the job."""

from __future__ import annotations

import os
import sys

from rich.console import Console

__all__ = ["PipeTolerantConsole"]


class PipeTolerantConsole(Console):
    """A rich ``Console`` that, when its reader goes away (``BrokenPipeError``), stops writing
    and lets the program go on, rather than exiting (rich's default is ``SystemExit(1)``, which
    would end a running job as if interrupted).

    The stream's file descriptor is pointed at ``os.devnull``, so later writes to it (by this
    console, ``typer.echo``, or Python's final flush) vanish instead of failing again.
    """

    def on_broken_pipe(self) -> None:
        """Go quiet and send the stream to ``os.devnull``; do not exit."""
        self.quiet = True
        stream = sys.stderr if self.stderr else sys.stdout
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, stream.fileno())
        finally:
            os.close(devnull)
