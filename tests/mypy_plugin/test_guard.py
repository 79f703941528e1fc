"""A check that fails falls back to mypy's own behaviour; the note appears only when asked for.

The checks are replaced by ones that raise (as a bug or an unforeseen code shape would), then
mypy runs in-process: it must finish normally, report exactly what it reports without the plugin
for that code, and add one ``steprail-internal`` note per failure only when
``report_internal_errors`` is on.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mypy import api
from mypy.plugin import ClassDefContext, FunctionContext, MethodSigContext
from mypy.types import FunctionLike, Type

import steprail.mypy._plugin as plugin_module
from steprail.mypy._config import Settings, read_settings

SOURCE = """
from dataclasses import dataclass

from steprail import BaseStep, BaseStepContext, StepRegistry, StepResult
from steprail.datasets import ExportDatasetStep


@dataclass
class Ctx(BaseStepContext):
    count: int = 0


@dataclass
class OtherCtx(BaseStepContext):
    label: str = ""


class OnOther(BaseStep[OtherCtx]):
    @property
    def name(self) -> str:
        return "on_other"

    @property
    def progress_weight(self) -> float:
        return 0.5

    def execute(self, context: OtherCtx) -> StepResult:
        return StepResult()


registry = StepRegistry[Ctx]()
registry.register(OnOther())
ExportDatasetStep(progress_weight=1.5)
"""


def _broken_signature_check(ctx: MethodSigContext) -> FunctionLike:
    raise RuntimeError("boom in the context check")


def _broken_weight_check(ctx: FunctionContext) -> Type:
    raise OverflowError("boom in the weight check")


def _broken_class_check(ctx: ClassDefContext) -> None:
    raise KeyError("boom in the class check")


def _mypy(tmp_path: Path, config: str) -> tuple[str, int]:
    (tmp_path / "mypy.ini").write_text(config)
    (tmp_path / "main.py").write_text(SOURCE)
    previous = Path.cwd()
    os.chdir(tmp_path)
    try:
        stdout, stderr, status = api.run(["--config-file", "mypy.ini", "--no-incremental", "main.py"])
    finally:
        os.chdir(previous)
    return stdout + stderr, status


@pytest.fixture
def broken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plugin_module, "check_registry_step", _broken_signature_check)
    monkeypatch.setattr(plugin_module, "check_step_constructor_weight", _broken_weight_check)
    monkeypatch.setattr(plugin_module, "_analyse_step_class", _broken_class_check)


@pytest.mark.usefixtures("broken")
def test_failing_checks_fall_back_to_mypy_silently(tmp_path: Path) -> None:
    output, status = _mypy(tmp_path, "[mypy]\nstrict = True\nplugins = steprail.mypy\n")
    assert status == 1, output
    # mypy's own error for the wrong-context step, as without the plugin; nothing else.
    assert 'main.py:32: error: Argument 1 to "register" of "StepRegistry" has incompatible type' in output
    assert "[arg-type]" in output
    assert "steprail" not in output.replace('"StepRegistry"', ""), output
    assert "INTERNAL ERROR" not in output


@pytest.mark.usefixtures("broken")
def test_failing_checks_are_noted_when_asked(tmp_path: Path) -> None:
    config = "[mypy]\nstrict = True\nplugins = steprail.mypy\n[steprail-mypy]\nreport_internal_errors = True\n"
    output, status = _mypy(tmp_path, config)
    assert status == 1, output
    assert "main.py:32: note: steprail: the steprail-context check failed on this code and was skipped " \
        "(RuntimeError: boom in the context check); please report it" in output
    assert "main.py:33: note: steprail: the steprail-weight check failed on this code and was skipped " \
        "(OverflowError: boom in the weight check)" in output
    assert "main.py:9: note: steprail: the step class check failed on this code and was skipped (KeyError" in output
    assert "[arg-type]" in output


def test_settings_from_ini_and_pyproject(tmp_path: Path) -> None:
    ini = tmp_path / "mypy.ini"
    ini.write_text("[mypy]\nstrict = True\n")
    assert read_settings(str(ini)) == Settings()
    ini.write_text("[mypy]\n[steprail-mypy]\nreport_internal_errors = yes\n")
    assert read_settings(str(ini)) == Settings(report_internal_errors=True)
    toml = tmp_path / "pyproject.toml"
    toml.write_text("[tool.steprail-mypy]\nreport_internal_errors = true\n")
    assert read_settings(str(toml)) == Settings(report_internal_errors=True)
    assert read_settings(None) == Settings()
    assert read_settings(str(tmp_path / "missing.ini")) == Settings()


@pytest.mark.parametrize(
    ("file_name", "text", "shown"),
    [
        ("mypy.ini", "[steprail-mypy]\nreport_internal_errors = maybe\n", "'maybe'"),
        ("mypy.ini", "[steprail-mypy]\nreport_internal_errors =\n", "''"),
        ("pyproject.toml", '[tool.steprail-mypy]\nreport_internal_errors = "maybe"\n', "'maybe'"),
        ("pyproject.toml", "[tool.steprail-mypy]\nreport_internal_errors = 2\n", "2"),
        ("pyproject.toml", "[tool.steprail-mypy]\nreport_internal_errors = [true]\n", "[True]"),
    ],
)
def test_a_bad_setting_is_reported_and_mypy_runs_on(tmp_path: Path, file_name: str, text: str, shown: str) -> None:
    """A real mypy process: no INTERNAL ERROR, a line naming file, section and key, default kept."""
    mypy_section = "[mypy]\nplugins = steprail.mypy\n" if file_name == "mypy.ini" else '[tool.mypy]\nplugins = ["steprail.mypy"]\n'
    (tmp_path / file_name).write_text(mypy_section + text)
    (tmp_path / "main.py").write_text("x: int = 1\n")
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", file_name, "--no-incremental", "main.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "INTERNAL ERROR" not in run.stdout + run.stderr
    section = "[steprail-mypy]" if file_name == "mypy.ini" else "[tool.steprail-mypy]"
    assert f"{file_name}: {section}: report_internal_errors: not a boolean: {shown}" in run.stderr
    assert "using the default (false)" in run.stderr


@pytest.mark.parametrize("value", ["true", "True", "YES", "on", "1"])
def test_ini_and_pyproject_accept_the_same_booleans(tmp_path: Path, value: str) -> None:
    ini = tmp_path / "mypy.ini"
    ini.write_text(f"[steprail-mypy]\nreport_internal_errors = {value}\n")
    toml = tmp_path / "pyproject.toml"
    toml_value = value if value in ("true", "1") else f'"{value}"'
    toml.write_text(f"[tool.steprail-mypy]\nreport_internal_errors = {toml_value}\n")
    warnings = io.StringIO()
    assert read_settings(str(ini), warnings) == Settings(report_internal_errors=True)
    assert read_settings(str(toml), warnings) == Settings(report_internal_errors=True)
    assert warnings.getvalue() == ""


def test_unknown_keys_are_named(tmp_path: Path) -> None:
    ini = tmp_path / "setup.cfg"
    ini.write_text("[steprail-mypy]\nreport_internal_error = true\n")
    warnings = io.StringIO()
    assert read_settings(str(ini), warnings) == Settings()
    assert f"{ini}: [steprail-mypy]: unrecognized option: report_internal_error = 'true'" in warnings.getvalue()
