"""The plugin's entry point, its reported settings, and a run over this repository."""

from __future__ import annotations

from pathlib import Path

import pytest
from mypy import api
from mypy.errorcodes import error_codes
from mypy.options import Options
from mypy.plugin import Plugin, ReportConfigContext

import steprail.mypy
from steprail.mypy import (
    STEPRAIL_CONTEXT,
    STEPRAIL_INTERNAL,
    STEPRAIL_NAME,
    STEPRAIL_POLICY,
    STEPRAIL_WEIGHT,
    StepRailPlugin,
    plugin,
)

ROOT = Path(__file__).resolve().parents[2]


def test_entry_point_returns_the_plugin_class() -> None:
    cls = plugin("2.4.1")
    assert cls is StepRailPlugin
    assert issubclass(cls, Plugin)


def test_error_codes_are_registered_with_mypy() -> None:
    codes = {code.code for code in (STEPRAIL_CONTEXT, STEPRAIL_NAME, STEPRAIL_WEIGHT, STEPRAIL_POLICY, STEPRAIL_INTERNAL)}
    assert codes == {"steprail-context", "steprail-name", "steprail-weight", "steprail-policy", "steprail-internal"}
    for code in codes:
        assert error_codes[code].category == "steprail"
    # An ignore[arg-type] or disable_error_code = arg-type covers steprail-context too.
    assert STEPRAIL_CONTEXT.sub_code_of is not None
    assert STEPRAIL_CONTEXT.sub_code_of.code == "arg-type"


def test_report_config_data_carries_the_version() -> None:
    instance = StepRailPlugin(Options())
    data = instance.report_config_data(ReportConfigContext("mod", "mod.py", is_check=False))
    assert data["steprail-plugin"] == steprail.mypy.__version__
    assert data["codes"] == ["steprail-context", "steprail-weight", "steprail-name", "steprail-flow", "steprail-policy", "steprail-internal"]
    assert data["report_internal_errors"] == "False"


def test_hooks_are_looked_up_by_full_name() -> None:
    instance = StepRailPlugin(Options())
    assert instance.get_method_signature_hook("steprail._registry.StepRegistry.register") is not None
    assert instance.get_method_signature_hook("steprail._registry.StepRegistry.unregister") is None
    assert instance.get_method_hook("steprail._registry.StepRegistry.unregister") is not None
    assert instance.get_function_signature_hook("steprail._orchestrator.Orchestrator") is not None
    assert instance.get_function_signature_hook("steprail.actions._base.Workflow") is not None
    assert instance.get_method_hook("builtins.list.append") is None
    assert instance.get_function_signature_hook("builtins.print") is None


@pytest.mark.slow
def test_repository_type_checks_with_the_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The project's own code (sources, tests, examples, benchmarks) is clean with the plugin.

    Only the plugin's share is asserted (no crash, no steprail-* error): other errors belong to
    the checks of the code's owners.
    """
    monkeypatch.chdir(ROOT)
    stdout, stderr, _status = api.run(
        ["--config-file", str(ROOT / "mypy.ini"), "--cache-dir", str(tmp_path), "--show-traceback"]
    )
    assert "INTERNAL ERROR" not in stdout + stderr
    assert "Traceback" not in stderr
    assert "[steprail-" not in stdout, stdout
    assert "Error importing plugin" not in stdout


def test_computed_default_names_match_the_real_steps() -> None:
    """The plugin's table of computed default names agrees with the classes it describes."""
    import importlib

    from steprail.mypy._consts import COMPUTED_DEFAULT_NAMES

    for fullname, (prefix, parameter, position, default) in COMPUTED_DEFAULT_NAMES.items():
        module_name, _, class_name = fullname.rpartition(".")
        cls = importlib.import_module(module_name).__dict__[class_name]
        assert cls().name == prefix + default
        assert cls(**{parameter: "coco"}).name == prefix + "coco"
        positional = [None] * position + ["coco"]
        assert cls(*positional).name == prefix + "coco"
