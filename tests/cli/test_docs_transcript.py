"""The demo transcript in docs/demo.md is what the demo prints (durations and paths aside)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from steprail.cli import app

DOC = Path(__file__).resolve().parents[2] / "docs" / "demo.md"


def _events(text: str, home: str) -> list[str]:
    """The plain event lines (before the step table), with durations and the home folder masked."""
    lines = []
    for line in text.splitlines():
        if line.startswith(("┏", " job ", "job 1:")) or "━━━" in line:
            break
        line = line.replace(home, "<home>")
        lines.append(re.sub(r"\d+\.\d+s\b", "<t>", line))
    return lines


def test_the_demo_transcript_in_the_docs_is_current(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.delenv("CI", raising=False)
    home = tmp_path / "project" / ".steprail"
    result = CliRunner().invoke(app, ["demo", "--home", str(home), "--plain"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    doc = DOC.read_text(encoding="utf-8")
    block = doc.split("$ cd /tmp/project && steprail demo\n", 1)[1].split("\n$ echo $?", 1)[0]
    printed = _events(result.output, str(home))
    assert len(printed) > 25 and any("mean_iou=" in line for line in printed)
    assert printed == _events(block, "/tmp/project/.steprail")
