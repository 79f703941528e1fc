"""``python -m steprail`` behaves like the ``steprail`` console script, also on a core install."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_python_m_steprail_without_the_cli_extra_prints_one_line() -> None:
    # typer and rich made unimportable, as on a core install (see tests/packaging/test_extras.py).
    code = textwrap.dedent(
        """
        import runpy, sys
        sys.modules.update(dict.fromkeys(("typer", "rich")))
        sys.argv = ["steprail", "--help"]
        runpy.run_module("steprail", run_name="__main__", alter_sys=True)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("steprail: the steprail command line needs the [cli] extra")


def test_python_m_steprail_runs_the_command_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "steprail", "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("steprail ")
