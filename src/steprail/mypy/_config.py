"""The plugin's own settings, read from the mypy configuration file.

``mypy.ini`` / ``setup.cfg``::

    [steprail-mypy]
    report_internal_errors = True

``pyproject.toml``::

    [tool.steprail-mypy]
    report_internal_errors = true

A missing file or section means the defaults. A value that is not a boolean, or a key the plugin
does not know, is reported on standard error with the file, the section and the key, and the
default is used: the same as mypy does for its own settings (``mypy.ini: [mypy]: strict: Not a
boolean: maybe``). Raising instead would make mypy print "Error constructing plugin instance"
and an ``INTERNAL ERROR``. Both files accept the same values: a boolean, or one of the strings
mypy accepts (``true``/``false``, ``yes``/``no``, ``on``/``off``, ``1``/``0``, any case);
``pyproject.toml`` also takes the integers ``1`` and ``0``, as mypy does.
"""

from __future__ import annotations

import configparser
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TextIO

__all__ = [
    "INI_SECTION",
    "Settings",
    "TOML_SECTION",
    "read_settings",
]

INI_SECTION: Final = "steprail-mypy"
TOML_SECTION: Final = "steprail-mypy"  # under [tool]
_BOOLEANS: Final = {"1": True, "yes": True, "true": True, "on": True, "0": False, "no": False, "false": False, "off": False}
_KEYS: Final = ("report_internal_errors",)


@dataclass(frozen=True)
class Settings:
    """What the plugin can be told.

    Attributes:
        report_internal_errors: report a ``steprail-internal`` note where a check failed
            internally and was skipped (by default such a failure is silent: mypy's own
            checking goes on exactly as without the plugin).
    """

    report_internal_errors: bool = False


def _flag(value: object) -> bool | None:
    """``value`` as a boolean, the way mypy reads its own boolean settings; ``None`` if it is not one."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return value == 1
    if isinstance(value, str):
        return _BOOLEANS.get(value.strip().lower())
    return None


def _section(path: Path) -> tuple[str, dict[str, object]] | str:
    """``(label, key -> value)`` of the plugin's section; a message when the file cannot be read."""
    try:
        if path.suffix == ".toml":
            with path.open("rb") as handle:
                tool = tomllib.load(handle).get("tool", {})
            table = tool.get(TOML_SECTION, {}) if isinstance(tool, dict) else {}
            if not isinstance(table, dict):
                return f"{path}: [tool.{TOML_SECTION}]: expected a table, got {table!r}"
            return f"[tool.{TOML_SECTION}]", dict(table)
        parser = configparser.RawConfigParser()
        parser.read(path, encoding="utf-8")
        values = dict(parser.items(INI_SECTION)) if parser.has_section(INI_SECTION) else {}
        return f"[{INI_SECTION}]", dict(values)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, configparser.Error) as error:
        return f"{path}: cannot read the [{INI_SECTION}] settings ({error})"


def read_settings(config_file: str | None, warnings: TextIO | None = None) -> Settings:
    """The settings found in ``config_file`` (mypy's configuration file), or the defaults.

    Problems are written to ``warnings`` (standard error by default), one line each, and the
    default is used for that setting; this never raises.
    """
    out = warnings if warnings is not None else sys.stderr
    if config_file is None or not Path(config_file).is_file():
        return Settings()
    path = Path(config_file)
    found = _section(path)
    if isinstance(found, str):
        print(f"{found}; using the defaults", file=out)
        return Settings()
    label, values = found
    for key in sorted(set(values) - set(_KEYS)):
        print(f"{path}: {label}: unrecognized option: {key} = {values[key]!r} (known: {', '.join(_KEYS)})", file=out)
    report = False
    if "report_internal_errors" in values:
        raw = values["report_internal_errors"]
        flag = _flag(raw)
        if flag is None:
            print(
                f"{path}: {label}: report_internal_errors: not a boolean: {raw!r} "
                "(use true/false, yes/no, on/off or 1/0); using the default (false)",
                file=out,
            )
        else:
            report = flag
    return Settings(report_internal_errors=report)
