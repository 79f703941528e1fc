"""The documentation site builds with ``mkdocs build --strict`` (a broken link, a missing page
or an API reference that does not resolve fails), and its API reference documents every name of
every public module's ``__all__``."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "steprail"


def public_modules() -> list[str]:
    """Every module of the package whose dotted name has no part starting with ``_``."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if not any(part.startswith("_") for part in parts):
            names.append(".".join(parts))
    return names


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    # Not --quiet: it drops the warnings that --strict turns into a failed build.
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert built.returncode == 0, built.stdout + built.stderr
    return out


def test_the_public_modules_are_found() -> None:
    assert {"steprail", "steprail.jobs", "steprail.testing.pytest_plugin"} <= set(public_modules())
    assert not any("._" in name for name in public_modules())


@pytest.mark.parametrize("module", public_modules())
def test_every_public_name_has_an_api_reference_entry(site: Path, module: str) -> None:
    page = site / "reference" / module / "index.html"
    assert page.is_file(), f"no API reference page for {module}: add docs/reference/{module}.md and list it in mkdocs.yml"
    html = page.read_text(encoding="utf-8")
    documented = set(re.findall(rf'id="{re.escape(module)}\.([A-Za-z_][A-Za-z_0-9]*)"', html))
    exported = set(importlib.import_module(module).__all__)
    assert sorted(exported - documented) == []


def test_the_reference_shows_no_restructuredtext_roles(site: Path) -> None:
    """The docstrings' ``:class:`X``` roles render as plain code on the site (docs_hooks/roles.py)."""
    leaks = {
        page.relative_to(site).as_posix(): sorted(set(re.findall(r":(?:class|func|meth|attr|mod|exc|data):", text)))
        for page in (site / "reference").rglob("index.html")
        if re.search(r":(?:class|func|meth|attr|mod|exc|data):", text := page.read_text(encoding="utf-8"))
    }
    assert leaks == {}


def test_every_docs_page_is_in_the_navigation() -> None:
    """A page left out of ``nav`` still builds but cannot be reached from the site's menu."""
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    listed = set(re.findall(r":\s*([\w./-]+\.md)\s*$", config, flags=re.MULTILINE))
    pages = {page.relative_to(ROOT / "docs").as_posix() for page in (ROOT / "docs").rglob("*.md")}
    assert sorted(pages - listed) == []


def test_the_strategies_outside_all_still_have_reference_entries(site: Path) -> None:
    # steprail.testing's strategies need the [testing] extra, so they are not in its __all__;
    # its reference page documents them from their own module.
    html = (site / "reference" / "steprail.testing" / "index.html").read_text(encoding="utf-8")
    documented = set(re.findall(r'id="steprail\.testing\._strategies\.([A-Za-z_][A-Za-z_0-9]*)"', html))
    lazy: frozenset[str] = importlib.import_module("steprail.testing")._STRATEGIES
    assert sorted(lazy - documented) == []
