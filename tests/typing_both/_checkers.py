"""Run mypy (strict, with the steprail plugin: the project's mypy.ini) and basedpyright (strict)
on some files, and return the errors each reports as ``(file name, line, code)``.

mypy's code is the one in brackets (``attr-defined``); basedpyright's is its rule
(``reportAttributeAccessIssue``), or ``-`` for the few errors that have none.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from mypy import api as mypy_api

__all__ = ["PYRIGHT_CONFIG", "Finding", "basedpyright_errors", "mypy_errors", "mypy_report"]

ROOT = Path(__file__).resolve().parents[2]
type Finding = tuple[str, int, str]

# What users of a typed library run: strict mode, the project's Python version.
PYRIGHT_CONFIG = {"typeCheckingMode": "strict", "pythonVersion": "3.12"}

_MYPY_ERROR = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+): error: .*?(?:  \[(?P<code>[a-z0-9-]+)\])?$", re.MULTILINE)


def mypy_report(files: Sequence[Path]) -> str:
    """mypy's report on ``files`` with the project's configuration."""
    stdout, stderr, status = mypy_api.run(
        ["--config-file", str(ROOT / "mypy.ini"), "--cache-dir", str(ROOT / ".mypy_cache"), *map(str, files)]
    )
    assert status in (0, 1), f"mypy did not run: {stdout}{stderr}"
    return stdout


def mypy_errors(files: Sequence[Path], report: str | None = None) -> set[Finding]:
    """Every error mypy reports on ``files`` (read from ``report`` when the caller has it)."""
    text = mypy_report(files) if report is None else report
    return {
        (Path(match["file"]).name, int(match["line"]), match["code"] or "-") for match in _MYPY_ERROR.finditer(text)
    }


def basedpyright_errors(files: Sequence[Path], folder: Path) -> set[Finding]:
    """Every error basedpyright (strict) reports on ``files``; its config is written to ``folder``."""
    config = folder / "pyrightconfig.json"
    config.write_text(json.dumps(PYRIGHT_CONFIG), encoding="utf-8")
    command = [str(Path(sys.executable).parent / "basedpyright"), "--outputjson", "--pythonpath", sys.executable]
    completed = subprocess.run(
        [*command, "--project", str(config), *map(str, files)], capture_output=True, text=True, check=False
    )
    assert completed.returncode in (0, 1), f"basedpyright did not run: {completed.stdout}{completed.stderr}"
    report = json.loads(completed.stdout)
    return {
        (Path(item["file"]).name, item["range"]["start"]["line"] + 1, item.get("rule", "-"))
        for item in report["generalDiagnostics"]
        if item["severity"] == "error"
    }
