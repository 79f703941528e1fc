"""A docs fragment that says it comes from an example file is a true excerpt of it: its code
(after the ``# Fragment:`` line) appears in that file exactly as shown, so the page cannot drift
from the example its test runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests._doc_blocks import read_blocks

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
_FROM_EXAMPLE = re.compile(r"^# Fragment: .* defined in (?P<file>examples/[\w./-]+\.py)\s*$")


def excerpts() -> list[object]:
    found: list[object] = []
    for page in PAGES:
        for block in read_blocks(page):
            first, _, rest = block.code.partition("\n")
            if block.kind == "fragment" and (match := _FROM_EXAMPLE.match(first)):
                page_name = page.relative_to(ROOT).as_posix()
                found.append(pytest.param(match["file"], rest, id=f"{page_name}:{block.line}"))
    return found


def test_the_excerpts_are_found() -> None:
    # docs/actions.md shows SlowJob from examples/cancellable_job.py.
    assert len(excerpts()) >= 1


@pytest.mark.parametrize(("example", "code"), excerpts())
def test_a_fragment_from_an_example_is_copied_from_it_unchanged(example: str, code: str) -> None:
    assert code.strip(), "the fragment shows no code"
    assert code.strip("\n") in (ROOT / example).read_text(encoding="utf-8"), f"not an excerpt of {example}"
