"""Reading params from a file (JSON or TOML) and from ``-p key=value`` options."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._errors import UsageProblem, with_article

__all__ = ["collect_params", "parse_assignment", "read_params_file"]


def read_params_file(path: Path) -> dict[str, Any]:
    """The object in a ``.json`` or ``.toml`` file (other names are read as JSON).

    Raises:
        UsageProblem: the file is missing, unreadable, malformed, or not an object/table.
    """
    if not path.exists():
        raise UsageProblem(f"params file {str(path)!r} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageProblem(f"cannot read params file {str(path)!r}: {error}") from error
    if path.suffix.lower() == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise UsageProblem(f"params file {str(path)!r} is not valid TOML: {error}") from error
    try:
        data: object = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageProblem(
            f"params file {str(path)!r} is not valid JSON: {error.msg} at line {error.lineno}, "
            f"column {error.colno}"
        ) from error
    if not isinstance(data, dict):
        raise UsageProblem(
            f"params file {str(path)!r} must hold a JSON object of names to values, "
            f"not {with_article(type(data).__name__)}"
        )
    return data


def parse_assignment(text: str) -> tuple[list[str], Any]:
    """``'a.b=3'`` -> ``(['a', 'b'], 3)``. The value is read as JSON when it is JSON
    (numbers, ``true``, lists, quoted strings), else kept as the text."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UsageProblem(f"-p expects KEY=VALUE, got {text!r} (for example -p dataset=1)")
    path = key.split(".")
    if any(not part for part in path):
        raise UsageProblem(f"-p {text!r}: the key {key!r} has an empty part")
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return path, value


def collect_params(params_file: Path | None, assignments: Sequence[str]) -> dict[str, Any]:
    """The params file (if any) with each ``-p`` applied on top, in order."""
    params: dict[str, Any] = read_params_file(params_file) if params_file is not None else {}
    for text in assignments:
        path, value = parse_assignment(text)
        target = params
        for part in path[:-1]:
            child = target.get(part)
            if not isinstance(child, dict):
                child = {}
                target[part] = child
            target = child
        target[path[-1]] = value
    return params
