"""The ``steprail`` command line (typer): ``run``, ``plan``, ``jobs list``, ``jobs show``, ``demo``.

Exit codes: 0 success, 1 the job failed, 2 bad input (the message says what to fix), 130 the job
was cancelled (SIGTERM or Ctrl-C).
"""

from ._app import app, main
from ._errors import EXIT_BAD_INPUT, EXIT_CANCELLED, EXIT_FAILED, EXIT_OK, UsageProblem

__all__ = ["EXIT_BAD_INPUT", "EXIT_CANCELLED", "EXIT_FAILED", "EXIT_OK", "UsageProblem", "app", "main"]
