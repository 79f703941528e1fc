"""Reading params from a file (JSON, TOML or YAML) and from ``-p key=value`` options.

A ``-p`` value is read by the type of the params field it sets: a text field (``str``, a path,
a string enum or literal, a date) keeps the text as typed, so ``-p name=2024`` is the string
``"2024"``; a structured field (a list, a dict, a model) takes JSON; any other field (numbers,
booleans, optional values) takes a JSON scalar when the text is one (``3``, ``true``,
``null``) and the text otherwise, for pydantic to convert or refuse.
"""

from __future__ import annotations

import datetime
import enum
import json
import sys
import tomllib
import types
import typing
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePath
from typing import Any, Final, Literal, cast

from ..jobs._store import MAX_PARAMS_BYTES
from ._errors import UsageProblem, file_kind, with_article

__all__ = [
    "MAX_PARAMS_DEPTH",
    "MAX_PARAMS_FILE_BYTES",
    "collect_params",
    "field_reading",
    "parse_assignment",
    "read_params_file",
]

#: The largest params file read (1 MiB, the job store's limit for a job's params).
MAX_PARAMS_FILE_BYTES: Final = MAX_PARAMS_BYTES
#: How deeply params may nest (objects and lists inside each other).
MAX_PARAMS_DEPTH: Final = 64
# Python refuses to turn longer digit strings into an int (sys.get_int_max_str_digits()).
_INT_DIGITS_LIMIT: Final = sys.get_int_max_str_digits() or 4300


def _loads_json(text: str, where: str) -> object:
    """``json.loads`` whose every failure is a :class:`UsageProblem` naming ``where``."""
    def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        # json.loads keeps the last of duplicated keys silently; TOML and YAML refuse them.
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise UsageProblem(f"{where} gives the key {key!r} twice in one object; keep one")
            result[key] = value
        return result

    try:
        return json.loads(text, object_pairs_hook=unique_keys)
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


#: How a params file is read, by its suffix (any other suffix is read as JSON).
_FORMATS: Final = {".toml": "TOML", ".yaml": "YAML", ".yml": "YAML"}
_FORMATS_HINT: Final = "params files are JSON, or TOML or YAML when named .toml, .yaml or .yml"


def _no_shared_nodes(value: object, where: str) -> None:
    """Refuse YAML that reuses a node (``&anchor`` / ``*alias``): a few aliases can stand for
    billions of values, and a node can even contain itself."""
    seen: set[int] = set()
    pending: list[object] = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict | list):
            if id(item) in seen:
                raise UsageProblem(f"{where} repeats a node with a YAML alias (*name); write the values out instead")
            seen.add(id(item))
            pending.extend(item.values() if isinstance(item, dict) else item)


def _load_yaml(text: str, where: str) -> object:
    import yaml  # only for YAML params files: PyYAML takes a while to import

    from ._yaml import ParamsYamlLoader

    try:
        data: object = yaml.load(text, Loader=ParamsYamlLoader)  # noqa: S506  # a safe loader (see _yaml)
    except yaml.YAMLError as error:
        raise UsageProblem(f"{where} is not valid YAML: {error}") from error
    except RecursionError:
        raise UsageProblem(f"{where} nests too deeply (at most {MAX_PARAMS_DEPTH} levels)") from None
    _no_shared_nodes(data, where)
    return data


def read_params_file(path: Path) -> dict[str, Any]:
    """The object in a ``.json``, ``.toml``, ``.yaml`` or ``.yml`` file (other names are read
    as JSON). YAML is read as JSON's data model with YAML 1.2 core-schema scalars, without
    aliases or tags that build other types (see :mod:`._yaml`); no format may repeat a key.

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
    if _FORMATS.get(path.suffix.lower()) == "YAML":
        where = f"params file {str(path)!r}"
        loaded = _load_yaml(text, where)
        if loaded is None:  # as for an empty JSON file: say what to write for no params
            raise UsageProblem(f"{where} holds no YAML mapping (it is empty, or only null); write {{}} for no params")
        if not isinstance(loaded, dict):
            raise UsageProblem(
                f"{where} must hold a YAML mapping of names to values, not {with_article(type(loaded).__name__)}"
            )
        if any(not isinstance(key, str) for key in loaded):
            raise UsageProblem(f"{where}: every top-level name must be text (quote names such as 1 or true)")
        _check_depth(loaded, where)
        return cast(dict[str, Any], loaded)
    try:
        data: object = _loads_json(text, f"params file {str(path)!r}")
    except json.JSONDecodeError as error:
        raise UsageProblem(
            f"params file {str(path)!r} is not valid JSON: {error.msg} at line {error.lineno}, "
            f"column {error.colno} ({_FORMATS_HINT})"
        ) from error
    if not isinstance(data, dict):
        raise UsageProblem(
            f"params file {str(path)!r} must hold a JSON object of names to values, "
            f"not {with_article(type(data).__name__)}"
        )
    _check_depth(data, f"params file {str(path)!r}")
    return data


type Reading = Literal["text", "json", "mixed", "auto"]
"""How a ``-p`` value is read: kept as ``text``; parsed as ``json`` (it must be JSON); ``mixed``
(JSON when it starts with ``[`` or ``{``, else the text); or ``auto`` (JSON when it is JSON,
else the text)."""

_TEXT_TYPES: Final = (str, PurePath, datetime.date, datetime.time, datetime.timedelta, uuid.UUID)
_STRUCTURED_ORIGINS: Final = (list, tuple, set, frozenset, dict, Sequence, Mapping)


def _members(annotation: object) -> list[object]:
    """The types a field accepts: ``Annotated`` unwrapped, unions split, ``None`` dropped."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return [member for arg in typing.get_args(annotation) for member in _members(arg)]
    if annotation is None or annotation is type(None):
        return []
    return [annotation]


def _is_text(member: object) -> bool:
    if typing.get_origin(member) is Literal:
        return any(isinstance(value, str) for value in typing.get_args(member))
    if isinstance(member, type):
        if issubclass(member, enum.Enum):
            return any(isinstance(item.value, str) for item in member)
        return issubclass(member, _TEXT_TYPES)
    return False


def _is_structured(member: object) -> bool:
    from pydantic import BaseModel  # loaded with the action already; kept out of --help

    origin = typing.get_origin(member) or member
    if isinstance(origin, type):
        if issubclass(origin, str | bytes):
            return False
        return issubclass(origin, _STRUCTURED_ORIGINS) or issubclass(origin, BaseModel) or hasattr(
            origin, "__dataclass_fields__"
        ) or typing.is_typeddict(origin)
    return False


def _submodel(annotation: object) -> type[Any] | None:
    """The pydantic model a field holds (``Inner`` or ``Inner | None``), if it holds one."""
    from pydantic import BaseModel

    models = [m for m in _members(annotation) if isinstance(m, type) and issubclass(m, BaseModel)]
    return models[0] if len(models) == 1 else None


def field_reading(model: type[Any] | None, path: Sequence[str]) -> tuple[Reading, str]:
    """How ``-p`` reads the value for ``path`` in the params ``model``, and the field's type as
    shown in messages (empty when the field is unknown)."""
    current: type[Any] | None = model
    annotation: object = None
    for depth, part in enumerate(path):
        fields = getattr(current, "model_fields", None)
        if not isinstance(fields, dict) or part not in fields:
            return "auto", ""  # not a declared field (pydantic will say so) or inside a dict
        annotation = fields[part].annotation
        if depth < len(path) - 1:
            current = _submodel(annotation)
    members = _members(annotation)
    shown = _type_name(annotation)
    structured, text = any(_is_structured(m) for m in members), any(_is_text(m) for m in members)
    if structured and text:
        return "mixed", shown  # str | list[str]: JSON when it starts like a list or an object
    if structured:
        return "json", shown
    return ("text" if text else "auto"), shown


def _type_name(annotation: object) -> str:
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def parse_assignment(text: str, model: type[Any] | None = None) -> tuple[list[str], Any]:
    """``'a.b=3'`` -> ``(['a', 'b'], 3)``, the value read by the type of the field it sets in
    the params ``model`` (see the module's docstring); without a model, as JSON when it is
    JSON, else as the text."""
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
    reading, type_name = field_reading(model, path)
    members = _members(_field_annotation(model, path))
    if reading == "text" and raw == "" and any(isinstance(m, type) and issubclass(m, PurePath) for m in members):
        # Path("") is Path("."): an empty value would silently mean the current folder.
        raise UsageProblem(f"-p {shown!r}: the field {key!r} ({type_name}) needs a path, not an empty value; pass . for the current folder")
    if reading == "text" or (reading == "mixed" and raw.lstrip()[:1] not in ("[", "{")):
        return path, raw
    if reading == "mixed":
        reading = "json"
    try:
        value: Any = _loads_json(raw, f"-p {shown!r}")
    except json.JSONDecodeError as error:
        if reading == "json":
            raise UsageProblem(
                f"-p {shown!r}: the field {key!r} ({type_name}) takes a JSON value, and {raw!r} is not JSON"
                f" ({error.msg} at column {error.colno}); for example -p '{key}=[\"a\", \"b\"]' or"
                f" -p '{key}={{\"k\": 1}}', quoted for the shell"
            ) from None
        value = raw
    if isinstance(value, bool) and _numeric_not_bool(members):
        # pydantic's lax mode reads true as 1 for an int field: -p count=true is surely a mistake.
        raise UsageProblem(f"-p {shown!r}: the field {key!r} ({type_name}) takes a number, not {raw.strip()}")
    _check_depth(value, f"-p {shown!r}")
    return path, value


def _field_annotation(model: type[Any] | None, path: Sequence[str]) -> object:
    """The annotation of the params field at ``path``, or ``None`` when it is not a declared field."""
    current: type[Any] | None = model
    annotation: object = None
    for depth, part in enumerate(path):
        fields = getattr(current, "model_fields", None)
        if not isinstance(fields, dict) or part not in fields:
            return None
        annotation = fields[part].annotation
        if depth < len(path) - 1:
            current = _submodel(annotation)
    return annotation


def _numeric_not_bool(members: Sequence[object]) -> bool:
    """Whether a field takes numbers (``int``, ``float``, ``int | None``) and no boolean."""
    kinds = [m for m in members if isinstance(m, type)]
    return (
        bool(kinds)
        and len(kinds) == len(members)
        and all(issubclass(m, int | float) for m in kinds)
        and not any(issubclass(m, bool) for m in kinds)
    )


def collect_params(
    params_file: Path | None, assignments: Sequence[str], model: type[Any] | None = None
) -> dict[str, Any]:
    """The params file (if any) with each ``-p`` applied on top, in order; ``model`` (the
    action's params model) decides how each ``-p`` value is read."""
    params: dict[str, Any] = read_params_file(params_file) if params_file is not None else {}
    for text in assignments:
        path, value = parse_assignment(text, model)
        target = params
        for part in path[:-1]:
            child = target.get(part)
            if not isinstance(child, dict):
                child = {}
                target[part] = child
            target = child
        target[path[-1]] = value
    _check_depth(params, "the params")
    if model is not None:
        _check_nested_keys(params, model, [])
    return params


def _check_nested_keys(params: Mapping[str, Any], model: type[Any], path: list[str]) -> None:
    """Refuse a key inside a nested params model that the model does not know, naming the
    closest known one: pydantic drops such keys silently by default (``-p inner.sise=3`` would
    run with ``inner.size`` unchanged). Top-level keys are checked when the params are validated
    (the job is recorded as failed); a model with ``extra="allow"`` takes any key."""
    import difflib

    fields = getattr(model, "model_fields", None)
    if not isinstance(fields, dict):
        return
    allows_extra = getattr(model, "model_config", {}).get("extra") == "allow"
    by_key = dict(fields)
    by_key.update({field.alias: field for field in fields.values() if isinstance(field.alias, str)})
    for key, value in params.items():
        if key not in by_key:
            if path and not allows_extra:
                known = sorted(fields)
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"did you mean {'.'.join([*path, close[0]])!r}?" if close else f"its keys: {', '.join(known) or '(none)'}"
                raise UsageProblem(f"the params have an unknown key {'.'.join([*path, key])!r}; {hint}")
            continue
        submodel = _submodel(by_key[key].annotation)
        if submodel is not None and isinstance(value, Mapping):
            _check_nested_keys(value, submodel, [*path, key])
