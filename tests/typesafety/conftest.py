"""Settings for the YAML typing cases in this folder (run by pytest-mypy-plugins).

The cases share :file:`mypy.ini` next to this file, so pytest can be started from any directory
without extra options. Unless ``--mypy-testing-base`` is given, the cases run in a private
temporary directory: mypy's cache is not safe to share with other processes.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

_HERE = Path(__file__).parent


def pytest_configure(config: pytest.Config) -> None:
    option = config.option
    if getattr(option, "mypy_ini_file", None) is None and not getattr(
        option, "mypy_pyproject_toml_file", None
    ):
        option.mypy_ini_file = str(_HERE / "mypy.ini")
    if getattr(option, "mypy_testing_base", None) == tempfile.gettempdir():
        base = tempfile.mkdtemp(prefix="steprail-typesafety-")
        option.mypy_testing_base = base
        config.add_cleanup(lambda: shutil.rmtree(base, ignore_errors=True))
