"""Every ```python block of docs/actions.md is marked; the runnable ones run (twice, so they are
re-runnable), print what the page says, leave the working folder clean, and pass strict mypy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .._doc_blocks import ROOT, read_blocks, run_script, scripts_of, type_check

PAGE = ROOT / "docs" / "actions.md"

# What each runnable script prints, in page order.
EXPECTED = [
    [  # Greet, then the invalid params
        "invalid params for __main__:Greet (2 problems):",
        "  - name: Field required",
        "  - count: Input should be greater than or equal to 1 (got 0)",
    ],
    [  # setup_steps with the built-in steps
        "['logged_export_dataset', 'logged_train', 'logged_upload_model']",
        "my-model",
    ],
    [],  # target_format: only defines the action
    ["[0.5, 0.25]"],  # own context type
    ["False"],  # cancellation_signals
    [  # plan_steps
        "[('logged_export_dataset', 0.5, True), ('convert_to_coco', 0.5, True)]",
        "flowchart TD",
    ],
]


def test_blocks_are_marked_and_fragments_name_their_placeholders() -> None:
    blocks = read_blocks(PAGE)
    kinds = [block.kind for block in blocks]
    assert kinds.count("fragment") == 1 and len(scripts_of(PAGE)) == len(EXPECTED)
    fragment = next(block for block in blocks if block.kind == "fragment")
    for name in ("SlowParams", "JobContext", "WriteDraftStep", "SlowStep"):
        assert name in fragment.code.splitlines()[0]


def test_no_block_uses_a_name_steprail_does_not_have() -> None:
    # The review found LoadDatasetStep (only in examples/) used as if it were steprail's.
    for block in read_blocks(PAGE):
        if block.kind != "fragment":
            assert "LoadDatasetStep" not in block.code, f"line {block.line}"


@pytest.mark.parametrize("index", range(len(EXPECTED)))
def test_runnable_block_runs_twice_and_prints_what_the_page_says(
    index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    line, code = scripts_of(PAGE)[index]
    scripts, work = tmp_path / "scripts", tmp_path / "cwd"
    scripts.mkdir()
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("STEPRAIL_HOME", raising=False)
    for attempt in range(2):
        run_script(code, scripts, f"actions_line_{line}")
        assert capsys.readouterr().out.splitlines() == EXPECTED[index], f"run {attempt + 1} of line {line}"
    # Nothing left behind in the working folder (no ./.steprail backend made by mistake).
    assert os.listdir(work) == []


def test_runnable_blocks_pass_strict_mypy(tmp_path: Path) -> None:
    report = type_check(scripts_of(PAGE), tmp_path, "docs_actions")
    assert report == "", report
