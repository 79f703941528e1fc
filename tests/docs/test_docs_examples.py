"""Every ```python block of the README and of every page under docs/ is marked (see
CONTRIBUTING.md, "How the docs are tested") and the marked code does what the page says:

- runnable scripts (with the blocks that continue them) run as pasted in an empty folder, and
  type-check strictly under mypy (with the plugin) and basedpyright; where the page says
  "It prints `a`, `b`", those lines are printed, in that order;
- ``type-errors`` blocks get exactly the mypy errors the page shows after them;
- fragments say so in their first line; ``file:`` blocks equal their example file.

New pages are covered without being listed here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from mypy import api as mypy_api

from tests._doc_blocks import read_blocks, run_script, scripts_of, type_check
from tests.typing_both._checkers import basedpyright_errors

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])


def page_id(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def page_params() -> list[object]:
    return [
        pytest.param(page, id=page_id(page))
        for page in PAGES
    ]


@dataclass(frozen=True)
class Script:
    """A runnable block with the blocks that continue it, and where it ends on the page."""

    line: int
    code: str
    end_line: int  # the line of the closing fence of its last block


def scripts_with_ends(page: Path) -> list[Script]:
    scripts: list[Script] = []
    for block in read_blocks(page):
        end_line = block.line + block.code.count("\n")
        if block.kind == "runnable":
            scripts.append(Script(block.line, block.code, end_line))
        elif block.kind == "continues":
            last = scripts[-1]
            scripts[-1] = Script(last.line, last.code + "\n" + block.code, end_line)
    return scripts


def promised_output(page: Path, script: Script) -> list[str]:
    """The backticked values of an "It prints ..." sentence right after the script, if any."""
    after = page.read_text(encoding="utf-8").splitlines()[script.end_line :]
    paragraph: list[str] = []
    for line in after:
        if not line.strip():
            if paragraph:
                break
            continue
        paragraph.append(line)
    text = " ".join(paragraph)
    if not text.startswith("It prints "):
        return []
    sentence = text.split(". ")[0]
    return re.findall(r"`([^`]+)`", sentence)


@pytest.mark.parametrize("page", page_params())
def test_every_block_is_marked_and_every_script_runs_and_prints_what_the_page_says(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    scripts = scripts_of(page)  # fails on an unmarked block, naming the page and line
    monkeypatch.chdir(tmp_path)
    for number, script in enumerate(scripts_with_ends(page)):
        folder = tmp_path / f"script_{number}"
        folder.mkdir()
        monkeypatch.chdir(folder)
        run_script(script.code, folder, f"{page.stem.replace('-', '_')}_line_{script.line}")
        printed = capsys.readouterr().out.splitlines()
        expected = promised_output(page, script)
        lines = iter(printed)
        missing = [value for value in expected if not any(line == value for line in lines)]
        assert not missing, f"{page_id(page)}, line {script.line}: not printed (in order): {missing}; got {printed}"
    if scripts:
        assert type_check(scripts, tmp_path, page.stem.replace("-", "_")) == ""


_LOCATION = re.compile(r"^[^:]+\.py:(?P<line>\d+): error: (?P<message>.*)$")
_LINE_REF = re.compile(r"\(line (\d+)\)")


def type_error_cases() -> list[object]:
    cases: list[object] = []
    for page in PAGES:
        for block in read_blocks(page):
            if block.kind == "type-errors":
                cases.append(pytest.param(page, block.line, id=f"{page_id(page)}:{block.line}"))
    return cases


def expected_errors(page: Path, after_line: int) -> list[str]:
    """The ``error: ...`` lines of the first ```text block after ``after_line``."""
    lines = page.read_text(encoding="utf-8").splitlines()[after_line:]
    start = lines.index("```text") + 1
    end = lines.index("```", start)
    return [line.removeprefix("error: ") for line in lines[start:end] if line.startswith("error: ")]


@pytest.mark.parametrize(("page", "line"), type_error_cases())
def test_type_error_examples_get_exactly_the_errors_shown(page: Path, line: int, tmp_path: Path) -> None:
    source = ""
    block_start = block_end = 0
    for block in read_blocks(page):
        if block.kind == "runnable":
            source = block.code
        elif block.kind in ("continues", "type-errors"):
            source += "\n" + block.code
        if block.line == line:
            block_end = source.count("\n")  # the block's last line (the code ends with a newline)
            block_start = block_end - block.code.count("\n") + 1
            break
    script = tmp_path / "example.py"
    script.write_text(source, encoding="utf-8")
    stdout, stderr, _status = mypy_api.run(
        ["--config-file", str(ROOT / "mypy.ini"), "--cache-dir", str(ROOT / ".mypy_cache"), str(script)]
    )
    found: list[str] = []
    for report_line in stdout.splitlines():
        match = _LOCATION.match(report_line)
        if match and block_start <= int(match["line"]) <= block_end:
            # "(line N)" in a message is shown on the page counted from the block's first line.
            found.append(
                _LINE_REF.sub(lambda ref: f"(line {int(ref[1]) - block_start + 1})", match["message"])
            )
    block_last_page_line = line + next(b for b in read_blocks(page) if b.line == line).code.count("\n")
    assert found == expected_errors(page, block_last_page_line), stdout + stderr


def test_the_type_error_examples_are_found() -> None:
    """The mypy plugin's page shows one refused example per check (guards the marker regex)."""
    assert len([case for case in type_error_cases() if "mypy-plugin.md" in str(case)]) >= 4


def test_all_docs_code_type_checks_under_basedpyright_strict(tmp_path: Path) -> None:
    """What a pyright or Pylance user pastes from the docs must be clean for them too."""
    files: list[Path] = []
    for page in PAGES:
        # A page with refused examples imports, for them, names its runnable part does not use
        # (which pyright's strict mode reports); those pages are about mypy.
        if any(block.kind == "type-errors" for block in read_blocks(page)):
            continue
        for line, code in scripts_of(page):
            files.append(tmp_path / f"{page.stem.replace('-', '_')}_line_{line}.py")
            files[-1].write_text(code, encoding="utf-8")
    assert {"README", "getting_started", "context", "steps", "actions", "orchestrator", "registry"} <= {
        file.stem.split("_line_")[0] for file in files
    }
    assert sorted(basedpyright_errors(files, tmp_path)) == []


# The README's and three pages' complete output (the general test above checks only the values an
# "It prints" sentence names).


def run_only_script(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (script,) = scripts_of(page)
    run_script(script[1], tmp_path, "pasted")


def test_readme_example_prints_what_the_readme_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run_only_script(ROOT / "README.md", tmp_path, monkeypatch)
    assert capsys.readouterr().out.splitlines() == [
        "40/100",
        "100/100",
        "{'success': True, 'steps_executed': 2, 'steps_total': 2, 'steps_skipped': 0}",
        "['TYPED', 'STEPS']",
    ]


def test_getting_started_runs_and_prints_what_the_page_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run_only_script(ROOT / "docs" / "getting-started.md", tmp_path, monkeypatch)
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
        "Step 'publish' failed: ConnectionError: the notice board is offline",
        "['logged_write', 'collect']",
        "[]",
    ]


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
def test_page_prints_exactly_what_it_says(
    page: str, expected: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run_only_script(ROOT / "docs" / page, tmp_path, monkeypatch)
    assert capsys.readouterr().out.splitlines() == expected
