"""Count what a version of the plugin catches: caught/planted, crashes, false positives.

Run from the project root::

    .venv/bin/python -m tests.mypy_plugin.measure_planted [--plugin-src DIR]

``--plugin-src`` puts another copy of steprail first on the path of the mypy processes, so an
older plugin can be measured against the same cases (for example a ``git archive`` of an older
commit's ``src``). The planted mistakes are the cases of ``tests/typesafety/test_planted.yml``
(each expects one error, at one line, under one code; a case counts as caught when that error
is reported there under that code). False positives are plugin errors on the downstream corpus
(``tests/mypy_plugin/downstream``, correct code) and unexpected plugin errors in the cases.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PLANTED = ROOT / "tests" / "typesafety" / "test_planted.yml"
CONFIG = ROOT / "tests" / "typesafety" / "mypy.ini"
_EXPECTED = re.compile(r"#\s*E:\s*(?P<message>.*?)\s+\[(?P<code>[a-z-]+)\]\s*$")
_REPORTED = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): error: .*\[(?P<code>[a-z-]+)\]$")
_CRASH_MARKERS = ("INTERNAL ERROR", "Traceback (most recent call last)")


@dataclass
class Tally:
    """What one plugin version did."""

    planted: int = 0
    caught: int = 0
    crashes: int = 0
    unexpected: int = 0
    downstream_errors: int = 0


def _mypy(cwd: Path, args: list[str], plugin_src: Path | None, cache: Path) -> str:
    env = dict(os.environ)
    if plugin_src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(plugin_src), env.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "mypy", "--config-file", str(CONFIG), "--cache-dir", str(cache)]
    completed = subprocess.run(
        [*command, "--show-traceback", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    return completed.stdout + completed.stderr


def _crashed(output: str) -> bool:
    return any(marker in output for marker in _CRASH_MARKERS)


def measure(plugin_src: Path | None) -> Tally:
    """Run every planted case and the downstream corpus with the plugin found first on the path."""
    tally = Tally()
    cases = yaml.safe_load(PLANTED.read_text())
    with tempfile.TemporaryDirectory(prefix="steprail-planted-") as tmp:
        cache = Path(tmp) / "cache"
        for case in cases:
            folder = Path(tmp) / case["case"]
            folder.mkdir()
            (folder / "main.py").write_text(case["main"])
            for extra in case.get("files", []):
                (folder / extra["path"]).write_text(extra["content"])
            expected = {
                (number, found["code"])
                for number, line in enumerate(case["main"].splitlines(), start=1)
                if (found := _EXPECTED.search(line)) is not None
            }
            output = _mypy(folder, ["main.py"], plugin_src, cache)
            reported = {
                (int(found["line"]), found["code"])
                for line in output.splitlines()
                if (found := _REPORTED.match(line)) is not None and found["file"] == "main.py"
            }
            tally.planted += len(expected)
            tally.caught += len(expected & reported)
            tally.unexpected += len({item for item in reported - expected if item[1].startswith("steprail-")})
            tally.crashes += _crashed(output)
        output = _mypy(ROOT, ["-p", "tests.mypy_plugin.downstream"], plugin_src, cache)
        tally.crashes += _crashed(output)
        tally.downstream_errors = sum(
            1 for line in output.splitlines() if (found := _REPORTED.match(line)) and found["code"].startswith("steprail-")
        )
    return tally


def main() -> None:
    """Print caught/planted, crashes and false positives for one plugin version."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--plugin-src", type=Path, default=None, help="a src folder to put first on the path")
    args = parser.parse_args()
    tally = measure(args.plugin_src)
    print(
        f"caught {tally.caught}/{tally.planted} planted mistakes; crashes: {tally.crashes}; "
        f"false positives: {tally.downstream_errors} on the downstream corpus, "
        f"{tally.unexpected} unexpected plugin errors in the planted cases"
    )


if __name__ == "__main__":
    main()
