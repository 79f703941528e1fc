"""docs/datasets.md: its ```python blocks are marked, the runnable ones run twice in a row (the
first snippet used to fail on a second run) without leaving anything behind, and pass strict mypy;
and the page names every public name of steprail.datasets."""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path

import pytest

import steprail.datasets

from .._doc_blocks import ROOT, run_script, scripts_of, type_check

PAGE = ROOT / "docs" / "datasets.md"


def test_the_page_names_every_public_name() -> None:
    text = PAGE.read_text(encoding="utf-8")
    missing = [name for name in steprail.datasets.__all__ if not re.search(rf"`{name}\b", text)]
    assert missing == []


def test_the_first_snippet_runs_twice_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    scripts = scripts_of(PAGE)
    assert len(scripts) == 1
    line, code = scripts[0]
    folder, work = tmp_path / "scripts", tmp_path / "cwd"
    folder.mkdir()
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("STEPRAIL_HOME", raising=False)
    config_paths = []
    for _ in range(2):
        namespace = run_script(code, folder, f"datasets_line_{line}")
        config, count = capsys.readouterr().out.splitlines()
        assert config.endswith(os.path.join("work", "shapes_yolo", "dataset.yaml")) and count == "20"
        config_paths.append(config)
        tmp = Path(str(namespace["tmp"]))
        assert not tmp.exists()  # the temporary folder is gone, with the backend in it
        backend = namespace["backend"]
        assert isinstance(backend, steprail.datasets.LocalBackend)
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            backend.list_datasets()  # the with block closed its catalogue
    assert config_paths[0] != config_paths[1]  # a fresh folder each run
    assert os.listdir(work) == []  # no ./.steprail or ./sample made in the working folder


def test_runnable_blocks_pass_strict_mypy(tmp_path: Path) -> None:
    report = type_check(scripts_of(PAGE), tmp_path, "docs_datasets")
    assert report == "", report
