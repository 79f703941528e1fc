"""The README's example and the docs pages' code run as pasted, and type-check strictly under
mypy (with the plugin) and basedpyright."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest
from mypy import api as mypy_api

from tests._doc_blocks import run_script, scripts_of, type_check
from tests.typing_both._checkers import basedpyright_errors

ROOT = Path(__file__).resolve().parents[2]
PAGES = {
    "README.md": ROOT / "README.md",
    "getting-started.md": ROOT / "docs" / "getting-started.md",
}


def script_of(page: Path) -> str:
    """Every ```python block of the page, in order, as one script."""
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.DOTALL)
    assert blocks, f"{page} has no python blocks"
    return "\n".join(blocks)


def run_page(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    script = tmp_path / "pasted.py"
    script.write_text(script_of(PAGES[page]))
    # run_path registers a real module while it runs, which dataclasses need.
    runpy.run_path(str(script), run_name="pasted")


def test_readme_example_prints_what_the_readme_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run_page("README.md", tmp_path, monkeypatch)
    assert capsys.readouterr().out.splitlines() == [
        "40/100",
        "100/100",
        "{'success': True, 'steps_executed': 2, 'steps_total': 2, 'steps_skipped': 0}",
        "['TYPED', 'STEPS']",
    ]


def test_getting_started_runs_and_prints_what_the_page_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run_page("getting-started.md", tmp_path, monkeypatch)
    lines = capsys.readouterr().out.splitlines()
    assert lines[:6] == [
        "progress 20/100",
        "progress 46/100",
        "progress 73/100",
        "progress 99/100",
        "progress 100/100",
        "{'success': True, 'steps_executed': 2, 'steps_total': 2, 'steps_skipped': 0}",
    ]
    assert lines[6] == "['note-1.txt', 'note-2.txt', 'note-3.txt']"
    assert lines[7] == "['step_start', 'step_end']"
    assert lines[8:] == [
        "Step 'publish' failed: the notice board is offline",
        "['logged_write', 'collect']",
        "[]",
    ]


@pytest.mark.parametrize("page", sorted(PAGES))
def test_page_type_checks_strictly(page: str, tmp_path: Path) -> None:
    script = tmp_path / f"{page.replace('-', '_').replace('.', '_')}.py"
    script.write_text(script_of(PAGES[page]))
    stdout, stderr, status = mypy_api.run(
        ["--config-file", str(ROOT / "mypy.ini"), "--cache-dir", str(ROOT / ".mypy_cache"), str(script)]
    )
    assert status == 0, stdout + stderr


# Pages whose blocks are marked (<!-- doc-test: ... -->). Each page's own tests run its scripts;
# context.md and steps.md are run here.
MARKED_PAGES = sorted(page for page in (ROOT / "docs").glob("*.md") if "<!-- doc-test:" in page.read_text())


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("context.md", ["0 Typed steps", "MyContext has no field 'procesed_count'; did you mean 'processed_count'? "
                        "(declare new state as a field of the class; names starting with '_' are free)"]),
        ("steps.md", ["{'publish': 0, 'notify_mail': 1, 'notify_chat': 2}"]),
        ("data-flow.md", [
            "step 'train' requires field 'dataset_path', which no earlier step provides and which is not an input; "
            "provided by 'export': register it before",
            "[]",
            "data/dataset/model.pt",
            "step 'sloppy' wrote field 'model_path', which it does not declare (declared for writing (provides): "
            "nothing); add it to the step class's provides=",
        ]),
    ],
)
def test_page_runs_prints_what_it_says_and_type_checks(
    page: str, expected: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    scripts = scripts_of(ROOT / "docs" / page)
    assert len(scripts) == 1
    run_script(scripts[0][1], tmp_path, page.replace(".md", ""))
    assert capsys.readouterr().out.splitlines() == expected
    assert type_check(scripts, tmp_path, page.replace(".md", "")) == ""


def test_all_docs_code_type_checks_under_basedpyright_strict(tmp_path: Path) -> None:
    """What a pyright or Pylance user pastes from the docs must be clean for them too."""
    files: list[Path] = []
    for page, path in PAGES.items():
        files.append(tmp_path / f"{page.replace('-', '_').replace('.', '_')}.py")
        files[-1].write_text(script_of(path))
    for path in MARKED_PAGES:
        for line, code in scripts_of(path):
            files.append(tmp_path / f"{path.stem.replace('-', '_')}_line_{line}.py")
            files[-1].write_text(code)
    assert {"README_md", "getting_started_md", "context", "steps", "actions", "datasets"} <= {
        file.stem.split("_line_")[0] for file in files
    }
    assert sorted(basedpyright_errors(files, tmp_path)) == []
