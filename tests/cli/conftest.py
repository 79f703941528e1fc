"""The command-line tests' shared fixture."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ``STEPRAIL_HOME`` for the commands, a wide terminal so tables do not wrap, and no
    ``CI`` (which would switch the live output to plain lines). Files that need other settings
    define their own ``home``."""
    monkeypatch.setenv("STEPRAIL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "160")
    monkeypatch.delenv("CI", raising=False)
    return tmp_path / "home"
