"""The plugin's own settings, read from the mypy configuration file.

``mypy.ini`` / ``setup.cfg``::

    [steprail-mypy]
    report_internal_errors = True

``pyproject.toml``::

    [tool.steprail-mypy]
    report_internal_errors = true

A missing file or section means the defaults; an unreadable value is an error that names the
file, the section and the key (mypy prints it and stops, like for its own settings).
"""

from __future__ import annotations

import configparser
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = [
    "INI_SECTION",
    "Settings",
    "TOML_SECTION",
    "read_settings",
]

INI_SECTION: Final = "steprail-mypy"
TOML_SECTION: Final = "steprail-mypy"  # under [tool]
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True)
class Settings:
    """What the plugin can be told.

    Attributes:
        report_internal_errors: report a ``steprail-internal`` note where a check failed
            internally and was skipped (by default such a failure is silent: mypy's own
            checking goes on exactly as without the plugin).
    """

    report_internal_errors: bool = False


def _flag(value: object, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"{where}: expected true or false, got {value!r}")


def read_settings(config_file: str | None) -> Settings:
    """The settings found in ``config_file`` (mypy's configuration file), or the defaults."""
    if config_file is None:
        return Settings()
    path = Path(config_file)
    if not path.is_file():
        return Settings()
    key = "report_internal_errors"
    if path.suffix == ".toml":
        with path.open("rb") as handle:
            table = tomllib.load(handle).get("tool", {}).get(TOML_SECTION, {})
        if key not in table:
            return Settings()
        return Settings(_flag(table[key], f"{path}: [tool.{TOML_SECTION}] {key}"))
    parser = configparser.ConfigParser()
    parser.read(path, encoding="utf-8")
    if not parser.has_option(INI_SECTION, key):
        return Settings()
    return Settings(_flag(parser.get(INI_SECTION, key), f"{path}: [{INI_SECTION}] {key}"))
