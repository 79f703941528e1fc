"""What a conversion returns, and the output-folder discipline every converter shares."""

from __future__ import annotations

import os
import shutil
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ._audit import AuditSummary

__all__ = [
    "CLAIM_FILE_NAME",
    "ConversionResult",
    "DatasetFormat",
    "OutputExistsError",
    "fresh_output",
    "partial_path",
    "write_whole_file",
]

type DatasetFormat = Literal["dm_v2", "yolo", "coco", "voc"]
"""The dataset formats steprail reads and writes: DM v2 (the hub), YOLO/Ultralytics, COCO and
Pascal VOC. :class:`~steprail.datasets.ConvertDatasetStep` and
:meth:`~steprail.datasets.LocalBackend.import_dataset` take these names."""


class OutputExistsError(FileExistsError):
    """The output folder already exists and is not empty; converters never write over data."""


class ConversionResult(BaseModel):
    """Where a conversion wrote its output, and what it skipped.

    ``config_path`` is the file a trainer is pointed at: ``dataset.yaml`` for YOLO, the
    ``annotations/`` folder for COCO, the manifest ``dataset.json`` for DM v2.
    """

    model_config = ConfigDict(frozen=True)

    path: str
    config_path: str
    format: str
    is_categorized: bool
    source_path: str
    classes: list[str]
    splits: list[str]
    audit_path: str
    audit: AuditSummary


#: The file a run creates (exclusively) in its output folder to claim it; removed on success.
CLAIM_FILE_NAME = ".steprail-claim"


def _claim(output: Path) -> None:
    # O_CREAT | O_EXCL is atomic: of two runs racing for one folder exactly one creates the file.
    try:
        fd = os.open(output / CLAIM_FILE_NAME, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise OutputExistsError(
            f"output folder {str(output)!r} is being written by another run"
        ) from None
    try:
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
    finally:
        os.close(fd)


def partial_path(path: Path) -> Path:
    """Where ``path`` is written until it is complete (a hidden name beside it): a run killed
    half way leaves no file under the real name that looks whole."""
    return path.with_name(f".{path.name}.partial")


def write_whole_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` under its partial name, then rename it into place."""
    partial = partial_path(path)
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def _interrupted_run_message(output: Path) -> str | None:
    # A claim file with no audit.json beside it and its writer gone: a run died half way
    # (kill -9, power loss). A live writer (same machine) still holds the folder.
    from ._audit import AUDIT_FILE_NAME

    claim = output / CLAIM_FILE_NAME
    if not claim.is_file() or (output / AUDIT_FILE_NAME).exists():
        return None
    try:
        pid = int(claim.read_text(encoding="ascii").strip() or "0")
    except (OSError, ValueError, UnicodeDecodeError):
        pid = 0
    if pid > 0:
        try:
            os.kill(pid, 0)
            return None  # still running
        except ProcessLookupError:
            pass
        except PermissionError:
            return None  # alive, someone else's
    return (
        f"output folder {str(output)!r} was left by an interrupted run (claim file "
        f"{CLAIM_FILE_NAME}, no audit.json); remove it"
    )


class TerminatedError(SystemExit):
    """SIGTERM arrived while a converter was writing: raised so its output is removed, as on
    Ctrl-C; the process then exits with status 143 (128 + SIGTERM) as it would have."""


# The status of the last SIGTERM turned into TerminatedError: code that runs Python signal
# handlers and turns their exception into another (Ray's ray.wait raises SystemExit(1) instead)
# can raise it again with ``raised_termination``.
_last_termination: list[int] = []


def _raise_terminated(signum: int, frame: object) -> None:
    _last_termination[:] = [128 + signum]
    raise TerminatedError(128 + signum)


def raised_termination() -> TerminatedError | None:
    """The :class:`TerminatedError` a SIGTERM raised during this conversion, if one did (for
    callers whose library replaced it with another exception on its way out)."""
    return TerminatedError(_last_termination[0]) if _last_termination else None


@contextmanager
def _sigterm_cleans_up() -> Iterator[None]:
    # A SIGTERM (timeout, docker stop, CI cancellation) kills a process without unwinding, which
    # would leave a half-written output. Where nothing else handles it (the default action, in
    # the main thread: the actions layer installs its own), it raises instead while the body runs.
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_DFL:
        yield
        return
    _last_termination.clear()
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def refuse_used_output(output: Path, tolerated: str | None = None) -> None:
    """Raise :class:`OutputExistsError` unless ``output`` is absent or an empty folder (a file,
    a folder with something in it, or one an interrupted run left, each with its own message);
    an entry named ``tolerated`` (this run's own staging folder) does not count."""
    if output.exists() and not output.is_dir():
        raise OutputExistsError(f"output {str(output)!r} exists and is not a folder")
    if output.exists() and any(child.name != tolerated for child in output.iterdir()):
        interrupted = _interrupted_run_message(output)
        raise OutputExistsError(
            interrupted or f"output folder {str(output)!r} exists and is not empty"
        )


@contextmanager
def fresh_output(output: Path, tolerated: str | None = None) -> Iterator[Path]:
    """Claim ``output`` (it must be absent or empty) and remove what the body made if it fails.

    The claim is atomic: when two runs target one folder, exactly one proceeds and the other
    raises :class:`OutputExistsError` before touching anything in it. Only what this call
    created is removed on failure: an empty folder that existed is emptied, not deleted, and
    parent folders made for it are removed again. A SIGTERM while the body runs cleans up
    the same way (when the process has no SIGTERM handler of its own), then exits with 143.
    ``tolerated``: the name of an entry the caller made in ``output`` (a sharded run's staging
    folder), neither counted nor removed here.
    """
    output = output.absolute()
    refuse_used_output(output, tolerated)
    made: list[Path] = []
    parent = output.parent
    while not parent.exists():
        made.append(parent)
        parent = parent.parent
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        output.mkdir()
        existed = False
    except FileExistsError:
        existed = True
        if not output.is_dir():
            raise OutputExistsError(f"output {str(output)!r} exists and is not a folder") from None
    _claim(output)
    # Claimed: now nothing else may be in it (a run that finished just before us, say).
    if any(child.name not in (CLAIM_FILE_NAME, tolerated) for child in output.iterdir()):
        (output / CLAIM_FILE_NAME).unlink(missing_ok=True)
        raise OutputExistsError(f"output folder {str(output)!r} exists and is not empty")
    try:
        with _sigterm_cleans_up():
            yield output
    except BaseException:
        if existed:
            for child in output.iterdir():
                if child.name in (CLAIM_FILE_NAME, tolerated):
                    continue
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
            (output / CLAIM_FILE_NAME).unlink(missing_ok=True)
        else:
            shutil.rmtree(output, ignore_errors=True)
            for folder in made:
                try:
                    folder.rmdir()
                except OSError:
                    break
        raise
    (output / CLAIM_FILE_NAME).unlink(missing_ok=True)
