"""Checking that a path is a regular file before opening it.

Opening a FIFO for reading blocks until some process writes to it, which may be never; a
device (``/dev/zero``) never ends. Every reader of a file named by a dataset asks
:func:`special_file_problem` first and audits or refuses what it says, instead of opening.
"""

from __future__ import annotations

import os
import stat

__all__ = ["NotRegularFileError", "special_file_problem"]


class NotRegularFileError(OSError):
    """A path that exists but is not a regular file (a FIFO, socket, device or folder)."""


def special_file_problem(path: str | os.PathLike[str]) -> str | None:
    """What makes ``path`` unsafe to open as a file, or ``None`` when it is a regular file
    (symlinks followed) or does not exist (the caller's open reports that as usual)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None  # absent, a dangling link, no permission: the open says which
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        kind = "a folder"
    elif stat.S_ISFIFO(mode):
        kind = "a FIFO (named pipe)"
    elif stat.S_ISSOCK(mode):
        kind = "a socket"
    else:
        kind = "a device"
    return f"is {kind}, not a regular file; not read (reading it could block forever)"
