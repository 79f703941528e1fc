"""The version and the changelog tell the same story: a development build's version is not one
the changelog calls released, and a release's version has its changelog section."""

from __future__ import annotations

import re
from pathlib import Path

from packaging.version import Version

import steprail

ROOT = Path(__file__).resolve().parents[2]


def released_versions() -> list[Version]:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    return [Version(found) for found in re.findall(r"^## \[(\d[^\]]*)\]", text, flags=re.MULTILINE)]


def test_the_version_matches_the_changelog() -> None:
    version = Version(steprail.__version__)
    released = released_versions()
    if version.is_devrelease or version.is_prerelease:
        # 0.1.0.dev0 comes before 0.1.0: the changelog must not say 0.1.0 is out.
        assert all(found < Version(version.base_version) for found in released), (version, released)
    else:
        assert version in released, f"CHANGELOG.md has no section for the release {version}"
