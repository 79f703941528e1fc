"""The transcripts in docs/cli.md are what the commands print.

Every ``console`` block of the page is run, in page order, in one fresh home: each ``$ `` line
through bash from the repository's root, with the ``steprail`` of this virtualenv first on
``PATH``, ``/tmp/`` in commands moved into a temporary folder, and stdout and stderr read
together from a pipe (as when output goes to a file). ``$ echo $?`` checks the previous
command's exit code. A block preceded by ``<!-- signal: SIGTERM after "TEXT" -->`` sends that
signal to its first command once TEXT was printed.

Compared after masking what varies from run to run: durations, dates, the temporary folder, and
in tracebacks the location of steprail's own files, their line numbers and the ``^^^`` markers
(which differ between Python versions); paths inside the repository are shown relative to it.

To rewrite the page's blocks from a run: ``STEPRAIL_REGENERATE_TRANSCRIPTS=1 .venv/bin/pytest
tests/cli/test_cli_transcripts.py`` (then read the diff).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "cli.md"
_BLOCK = re.compile(r"(?:<!-- signal: (?P<signal>\w+) after \"(?P<after>[^\"]+)\" -->\n)?```console\n(?P<body>.*?)```", re.S)


@dataclass
class _Command:
    line: str
    expected: list[str]


def _commands(body: str) -> list[_Command]:
    commands: list[_Command] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            commands.append(_Command(line[2:], []))
        else:
            assert commands, f"a console block must start with a command, not {line!r}"
            commands[-1].expected.append(line)
    return commands


def _mask(lines: list[str]) -> list[str]:
    masked = []
    for line in lines:
        if re.fullmatch(r"\s*[\^~]+\s*", line):
            continue  # traceback markers: their layout differs between Python versions
        # Files outside the repository by name only; line numbers of every frame (steprail's
        # own change with its code).
        line = re.sub(r'File "/[^"]*/([^"/]+)", line \d+', r'File ".../\1", line N', line)
        line = re.sub(r'(File "[^"]+"), line \d+', r"\1, line N", line)
        line = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "<date>", line)
        line = re.sub(r"\b\d\d-\d\d \d\d:\d\d:\d\d\b", "<date>", line)
        line = re.sub(r"\b\d+\.\d\ds\b", "<t>", line)
        masked.append(line.rstrip())
    return masked


class _Shell:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.status = 0
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("STEPRAIL_") and key not in ("CI", "COLUMNS", "LINES")
        }
        self.env.update(
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{self.env.get('PATH', '')}",
            STEPRAIL_HOME=f"{tmp}/docshome",
            PYTHONUNBUFFERED="1",  # stdout and stderr in the order they were written
        )

    def run(self, command: str, signum: int | None, after: str | None) -> list[str]:
        if command == "echo $?":
            return [str(self.status)]
        real = command.replace("/tmp/", f"{self.tmp}/").replace("/tmp ", f"{self.tmp} ")
        process = subprocess.Popen(
            ["bash", "-c", real], cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 120
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if signum is not None and after is not None and after in line:
                time.sleep(0.3)
                process.send_signal(signum)
                signum = None
            assert time.monotonic() < deadline, f"{command!r} runs too long"
        self.status = process.wait(timeout=60)
        return [line.replace(str(self.tmp), "/tmp").replace(f"{ROOT}{os.sep}", "") for line in lines]


def _run_page(tmp: Path) -> tuple[str, list[tuple[str, list[str], list[str]]]]:
    """Run every block; return the page with its blocks rewritten from the run, and each
    command with what the page expects and what it printed."""
    page = DOC.read_text(encoding="utf-8")
    shell = _Shell(tmp)
    results: list[tuple[str, list[str], list[str]]] = []

    def rewrite(match: re.Match[str]) -> str:
        signum = getattr(signal, match["signal"]) if match["signal"] else None
        body: list[str] = []
        for index, command in enumerate(_commands(match["body"])):
            printed = shell.run(command.line, signum if index == 0 else None, match["after"])
            results.append((command.line, command.expected, printed))
            body += [f"$ {command.line}", *printed]
        head = match.group(0)[: match.group(0).index("```console")]
        return head + "```console\n" + "\n".join(body) + "\n```"

    return _BLOCK.sub(rewrite, page), results


@pytest.mark.slow
def test_the_cli_page_transcripts_are_what_the_commands_print(tmp_path: Path) -> None:
    regenerated, results = _run_page(tmp_path)
    assert len(results) > 20
    if os.environ.get("STEPRAIL_REGENERATE_TRANSCRIPTS"):
        DOC.write_text(regenerated, encoding="utf-8")
        return
    for command, expected, printed in results:
        assert _mask(printed) == _mask(expected), f"docs/cli.md: the output of `{command}` changed"
