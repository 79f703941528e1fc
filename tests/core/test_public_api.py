"""The curated public API: sorted, importable, documented, and cheap to import."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import steprail

PUBLIC_PACKAGES = [
    "steprail",
    "steprail.actions",
    "steprail.datasets",
    "steprail.jobs",
    "steprail.testing",
]


@pytest.mark.parametrize("package", PUBLIC_PACKAGES)
def test_all_is_sorted_and_every_name_is_documented(package: str) -> None:
    module = importlib.import_module(package)
    names = list(module.__all__)
    assert names == sorted(names)
    undocumented = [
        name
        for name in names
        if callable(value := getattr(module, name)) and not (getattr(value, "__doc__", None) or "").strip()
    ]
    assert undocumented == []


def test_public_names_are_loaded_on_first_access() -> None:
    # `import steprail` alone (what the mypy plugin pays) loads neither pydantic nor the datasets.
    code = (
        "import sys, steprail, steprail.mypy\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('pydantic', 'steprail.datasets', 'PIL')))\n"
        "assert not loaded, loaded\n"
        "from steprail import ExportDatasetStep, Orchestrator\n"
        "assert ExportDatasetStep.__module__.startswith('steprail.datasets')\n"
        "assert Orchestrator.__module__ == 'steprail._orchestrator'\n"
        "assert set(steprail.__all__) <= set(dir(steprail))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        getattr(steprail, "Nope")
