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


def test_dataset_steps_are_exported_from_the_top_level_but_loaded_lazily() -> None:
    code = (
        "import sys, steprail\n"
        "assert 'steprail.datasets' not in sys.modules, 'import steprail loaded the dataset steps'\n"
        "from steprail import ExportDatasetStep\n"
        "assert ExportDatasetStep.__module__.startswith('steprail.datasets')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        getattr(steprail, "Nope")
