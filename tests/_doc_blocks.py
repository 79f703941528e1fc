"""Pull the ```python blocks out of a docs page, so a test can run and type-check them.

Each block is preceded by a marker line that says what it is:

- ``<!-- doc-test: runnable -->``: a complete script, run as pasted;
- ``<!-- doc-test: continues -->``: runs appended to the script just above it on the page;
- ``<!-- doc-test: fragment -->``: not runnable; its first line is a ``# Fragment:`` comment that
  names the placeholders (the names it uses but does not define or import);
- ``<!-- doc-test: type-errors -->``: code that continues the script above it and that mypy (with
  the steprail plugin) must refuse with exactly the errors of the ```text block that follows it
  (tests/docs checks this); it is not run;
- ``<!-- file: examples/NAME.py -->``: the whole of that example file, which its own tests run
  (the block must equal the file).

A block with no marker fails the page's test, so a new snippet cannot slip in untested.
"""

from __future__ import annotations

import re
import runpy
from dataclasses import dataclass
from pathlib import Path

from mypy import api as mypy_api

__all__ = ["Block", "read_blocks", "run_script", "scripts_of", "type_check"]

ROOT = Path(__file__).resolve().parents[1]
_BLOCK = re.compile(
    r"(?:<!-- (?:doc-test: (?P<kind>[a-z-]+)|file: (?P<file>[\w./-]+)) -->\n)?```python\n(?P<code>.*?)```", re.DOTALL
)
KINDS = ("runnable", "continues", "fragment", "type-errors", "file")


@dataclass(frozen=True)
class Block:
    """One ```python block: its marker (``None`` when unmarked; ``"file"`` for a file marker),
    code, first line number, and the example file it copies (for ``"file"``)."""

    kind: str | None
    code: str
    line: int
    file: str | None = None


def read_blocks(page: Path) -> list[Block]:
    """Every ```python block of ``page``, in order."""
    text = page.read_text(encoding="utf-8")
    return [
        Block(
            "file" if match["file"] else match["kind"],
            match["code"],
            text.count("\n", 0, match.start("code")) + 1,
            match["file"],
        )
        for match in _BLOCK.finditer(text)
    ]


def scripts_of(page: Path) -> list[tuple[int, str]]:
    """The runnable scripts of ``page`` (each with the blocks that continue it), keyed by the
    line of its first block. Fails, naming the page and line, on a block that is not marked, an
    unknown marker, a ``continues`` with nothing to continue, or a fragment that does not say so
    in its first line."""
    scripts: list[tuple[int, str]] = []
    current: tuple[int, str] | None = None
    for block in read_blocks(page):
        where = f"{page.name}, line {block.line}"
        assert block.kind in KINDS, (
            f"{where}: mark the block with <!-- doc-test: runnable|continues|fragment|type-errors --> "
            "(see CONTRIBUTING.md)"
        )
        if block.kind == "file":
            assert block.file is not None
            copied = ROOT / block.file
            assert copied.is_file(), f"{where}: {block.file} does not exist"
            assert copied.read_text(encoding="utf-8") == block.code, f"{where}: the block differs from {block.file}"
            current = None
        elif block.kind == "type-errors":
            assert current is not None, f"{where}: 'type-errors' must follow a runnable block"
        elif block.kind == "fragment":
            assert block.code.startswith("# Fragment:"), f"{where}: a fragment's first line names its placeholders"
            current = None
        elif block.kind == "runnable":
            current = (block.line, block.code)
            scripts.append(current)
        else:
            assert current is not None, f"{where}: 'continues' must follow a runnable block"
            current = (current[0], current[1] + "\n" + block.code)
            scripts[-1] = current
    return scripts


def run_script(code: str, folder: Path, name: str) -> dict[str, object]:
    """Write ``code`` to ``folder/name.py`` and run it as ``__main__`` (the caller chdirs)."""
    script = folder / f"{name}.py"
    script.write_text(code, encoding="utf-8")
    # run_path installs a real __main__ module while it runs, which dataclasses need.
    return runpy.run_path(str(script), run_name="__main__")


def type_check(scripts: list[tuple[int, str]], folder: Path, prefix: str) -> str:
    """Run mypy with the project's ``mypy.ini`` on every script; return its report if it failed,
    else an empty string."""
    files = []
    for line, code in scripts:
        path = folder / f"{prefix}_line_{line}.py"
        path.write_text(code, encoding="utf-8")
        files.append(str(path))
    stdout, stderr, status = mypy_api.run(
        ["--config-file", str(ROOT / "mypy.ini"), "--cache-dir", str(ROOT / ".mypy_cache"), *files]
    )
    return "" if status == 0 else stdout + stderr
