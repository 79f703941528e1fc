"""Special files given as params or action files are refused at once with exit 2 (real processes:
before the fix a FIFO blocked forever and ``/dev/zero`` grew the process to gigabytes)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.cli.test_cli_process import ACTION, ROOT, _command, _env


def _special(tmp_path: Path, kind: str) -> str:
    if kind == "fifo":
        fifo = tmp_path / "pipe.json"
        os.mkfifo(fifo)
        return str(fifo)
    if kind == "directory":
        return str(tmp_path)
    return "/dev/zero"


@pytest.mark.parametrize(
    ("kind", "said"),
    [("fifo", "is a FIFO (named pipe)"), ("device", "is a character device"), ("directory", "is a directory")],
)
@pytest.mark.parametrize("where", ["params", "action"])
def test_special_files_exit_2_naming_the_file(tmp_path: Path, kind: str, said: str, where: str) -> None:
    if kind == "device" and not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    path = _special(tmp_path, kind)
    args = ["run", ACTION, "--params", path] if where == "params" else ["run", f"{path}:X"]
    done = subprocess.run(
        [*_command(), *args, "-p", f"folder={tmp_path}"],
        cwd=ROOT, env=_env(tmp_path / "home"), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    what = "params file" if where == "params" else "action file"
    assert f"{what} {path!r} {said}" in done.stderr
    assert "Traceback" not in done.stderr
