"""Reading params from a file (JSON or TOML) and from ``-p key=value`` options."""

from __future__ import annotations

import json
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from ..jobs._store import MAX_PARAMS_BYTES
from ._errors import UsageProblem, file_kind, with_article

__all__ = ["MAX_PARAMS_DEPTH", "MAX_PARAMS_FILE_BYTES", "collect_params", "parse_assignment", "read_params_file"]

#: The largest params file read (1 MiB, the job store's limit for a job's params).
MAX_PARAMS_FILE_BYTES: Final = MAX_PARAMS_BYTES
#: How deeply params may nest (objects and lists inside each other).
MAX_PARAMS_DEPTH: Final = 64
# Python refuses to turn longer digit strings into an int (sys.get_int_max_str_digits()).
_INT_DIGITS_LIMIT: Final = sys.get_int_max_str_digits() or 4300


def _loads_json(text: str, where: str) -> object:
    """``json.loads`` whose every failure is a :class:`UsageProblem` naming ``where``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise UsageProblem(f"{where} nests too deeply (at most {MAX_PARAMS_DEPTH} levels)") from None
    except ValueError as error:  # an integer longer than Python converts
        raise UsageProblem(
            f"{where} holds a number with more than {_INT_DIGITS_LIMIT} digits ({error}); pass it as a string"
        ) from None


def _check_depth(value: object, where: str) -> None:
    """Refuse params nested deeper than :data:`MAX_PARAMS_DEPTH` (iteratively: no recursion)."""
    pending: list[tuple[object, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth >= MAX_PARAMS_DEPTH:
                raise UsageProblem(f"{where} nests too deeply (at most {MAX_PARAMS_DEPTH} levels)")
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)


def read_params_file(path: Path) -> dict[str, Any]:
    """The object in a ``.json`` or ``.toml`` file (other names are read as JSON).

    Raises:
        UsageProblem: the file is missing, unreadable, malformed, or not an object/table.
    """
    shown = repr(str(path))
    try:
        kind = file_kind(path)
    except FileNotFoundError:
        raise UsageProblem(f"params file {shown} does not exist") from None
    except OSError as error:
        raise UsageProblem(f"cannot read params file {shown}: {error}") from error
    if kind is not None:  # a FIFO would block forever, /dev/zero never ends
        raise UsageProblem(f"params file {shown} is {kind}, not a regular file")
    try:
        # At most one byte past the limit, whatever the file's size claims to be (it may grow,
        # or a special file may report 0): a huge file is never loaded whole.
        with path.open("rb") as stream:
            raw = stream.read(MAX_PARAMS_FILE_BYTES + 1)
    except OSError as error:
        raise UsageProblem(f"cannot read params file {shown}: {error}") from error
    if len(raw) > MAX_PARAMS_FILE_BYTES:
        raise UsageProblem(f"params file {shown} is more than the limit of {MAX_PARAMS_FILE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UsageProblem(f"cannot read params file {shown}: {error}") from error
    if path.suffix.lower() == ".toml":
        try:
            table = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise UsageProblem(f"params file {str(path)!r} is not valid TOML: {error}") from error
        except RecursionError:
            raise UsageProblem(
                f"params file {str(path)!r} nests too deeply (at most {MAX_PARAMS_DEPTH} levels)"
            ) from None
        _check_depth(table, f"params file {str(path)!r}")
        return table
    try:
        data: object = _loads_json(text, f"params file {str(path)!r}")
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
    _check_depth(data, f"params file {str(path)!r}")
    return data


def parse_assignment(text: str) -> tuple[list[str], Any]:
    """``'a.b=3'`` -> ``(['a', 'b'], 3)``. The value is read as JSON when it is JSON
    (numbers, ``true``, lists, quoted strings), else kept as the text."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UsageProblem(f"-p expects KEY=VALUE, got {text!r} (for example -p dataset=1)")
    shown = text if len(text) <= 60 else text[:57] + "..."
    if len(text.encode("utf-8", "surrogatepass")) > MAX_PARAMS_FILE_BYTES:
        raise UsageProblem(f"-p {shown!r} is longer than the limit of {MAX_PARAMS_FILE_BYTES} bytes")
    path = key.split(".")
    if any(not part for part in path):
        raise UsageProblem(f"-p {shown!r}: the key {key!r} has an empty part")
    if len(path) > MAX_PARAMS_DEPTH:
        raise UsageProblem(f"-p {shown!r}: the key nests too deeply (at most {MAX_PARAMS_DEPTH} levels)")
    try:
        value: Any = _loads_json(raw, f"-p {shown!r}")
    except json.JSONDecodeError:
        value = raw
    _check_depth(value, f"-p {shown!r}")
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
    _check_depth(params, "the params")
    return params
