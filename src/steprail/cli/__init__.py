"""The ``steprail`` command line (typer): ``run``, ``plan``, ``jobs list``, ``jobs show``, ``demo``.

Exit codes: 0 success, 1 the job failed (a step's ``sys.exit()`` included), 2 bad input (the
message says what to fix; no step ran), 3 the job store failed while the job ran (the message
says how the job ended), 130 the job was cancelled (SIGTERM, Ctrl-C, SIGHUP, SIGQUIT, or a step's task cancelled).
"""

from .._extras import require_extra

require_extra("cli", "the steprail command line")  # typer and rich come with steprail[cli]

from ._app import app, main  # noqa: E402  (after the guard, which names the missing extra)
from ._errors import EXIT_BAD_INPUT, EXIT_CANCELLED, EXIT_FAILED, EXIT_OK, EXIT_STORE_FAILED, UsageProblem

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_CANCELLED",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_STORE_FAILED",
    "UsageProblem",
    "app",
    "main",
]
