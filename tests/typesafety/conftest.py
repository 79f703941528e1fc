"""Settings for the YAML typing cases in this folder (run by pytest-mypy-plugins).

The cases share :file:`mypy.ini` next to this file, so pytest can be started from any directory
without extra options. Unless ``--mypy-testing-base`` is given, the cases run in a private
temporary directory: mypy's cache is not safe to share with other processes. pytest-mypy-plugins
runs the ``mypy`` found on ``PATH``; when there is none, the one beside the running interpreter
(this virtualenv's) is used, so the venv need not be activated.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

_HERE = Path(__file__).parent


def pytest_configure(config: pytest.Config) -> None:
    bin_dir = Path(sys.executable).parent
    if shutil.which("mypy") is None and (bin_dir / "mypy").exists():
        os.environ["PATH"] = os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")])
    option = config.option
    if getattr(option, "mypy_ini_file", None) is None and not getattr(
        option, "mypy_pyproject_toml_file", None
    ):
        option.mypy_ini_file = str(_HERE / "mypy.ini")
    if getattr(option, "mypy_testing_base", None) == tempfile.gettempdir():
        base = tempfile.mkdtemp(prefix="steprail-typesafety-")
        option.mypy_testing_base = base
        config.add_cleanup(lambda: shutil.rmtree(base, ignore_errors=True))
