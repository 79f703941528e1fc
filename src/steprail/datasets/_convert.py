"""What a conversion returns, and the output-folder discipline every converter shares."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ._audit import AuditSummary

__all__ = [
    "ConversionResult",
    "OutputExistsError",
    "fresh_output",
]


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


@contextmanager
def fresh_output(output: Path) -> Iterator[Path]:
    """Create ``output`` (it must be absent or empty) and remove it again if the body fails.

    Only what this call created is removed: an empty folder that existed is emptied, not deleted,
    and parent folders made for it are removed again.
    """
    output = output.absolute()
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise OutputExistsError(f"output folder {str(output)!r} exists and is not empty")
    existed = output.exists()
    made: list[Path] = []
    parent = output.parent
    while not parent.exists():
        made.append(parent)
        parent = parent.parent
    output.mkdir(parents=True, exist_ok=True)
    try:
        yield output
    except BaseException:
        if existed:
            for child in output.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
        else:
            shutil.rmtree(output, ignore_errors=True)
            for folder in made:
                try:
                    folder.rmdir()
                except OSError:
                    break
        raise
