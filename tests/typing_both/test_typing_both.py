"""The same typing cases under mypy (strict, with the steprail plugin) and basedpyright (strict).

Each file in ``cases/`` marks the lines where errors are expected with ``# E: <code> ...``:
codes starting with ``report`` are basedpyright rules, the others mypy error codes. Each checker
must report exactly the marked errors: a missing one is a mistake the checker lets through, an
extra one a false positive on correct code. A line marked for one checker only records a known
difference between them (the step-name class attribute that pyright refuses).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ._checkers import Finding, basedpyright_errors, mypy_errors, mypy_report

CASES = sorted((Path(__file__).parent / "cases").glob("*.py"))
_MARKER = re.compile(r"#\s*E:\s*(?P<codes>[\w -]+)$")


def expected(files: list[Path], pyright: bool) -> set[Finding]:
    """The marked errors of ``files`` for one checker."""
    found: set[Finding] = set()
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            marker = _MARKER.search(line)
            if marker is not None:
                for code in marker["codes"].split():
                    if code.startswith("report") == pyright:
                        found.add((path.name, number, code))
    return found


def test_every_case_marks_errors_for_both_checkers() -> None:
    assert CASES, "no typing cases found"
    assert expected(CASES, pyright=False) and expected(CASES, pyright=True)


def test_mypy_reports_exactly_the_marked_errors() -> None:
    report = mypy_report(CASES)
    assert sorted(mypy_errors(CASES, report)) == sorted(expected(CASES, pyright=False))
    # A misspelt context field gets mypy's own suggestion, as for any class.
    assert 'error: "Decorated" has no attribute "titel"; maybe "title"?  [attr-defined]' in report
    assert 'error: "Undecorated" has no attribute "tag"; maybe "tags"?  [attr-defined]' in report


def test_basedpyright_reports_exactly_the_marked_errors(tmp_path: Path) -> None:
    assert sorted(basedpyright_errors(CASES, tmp_path)) == sorted(expected(CASES, pyright=True))


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_both_checkers_flag_the_same_lines(case: Path) -> None:
    """Apart from lines marked for one checker only, a mistake is caught by both or by neither."""
    one_sided = {
        line
        for line in {found[1] for found in expected([case], pyright=True)}
        ^ {found[1] for found in expected([case], pyright=False)}
    }
    mypy_lines = {found[1] for found in expected([case], pyright=False)} - one_sided
    pyright_lines = {found[1] for found in expected([case], pyright=True)} - one_sided
    assert mypy_lines == pyright_lines
    assert not one_sided or case.stem == "step_spelling", f"{case.name}: lines {sorted(one_sided)} are one-sided"
