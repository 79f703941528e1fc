"""Snapshots of common kinds of state, and a readable difference between two snapshots.

A snapshot is plain data that compares with ``==``: take one before a run and one after its
rollback, and they must be equal.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import pprint
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["TableRows", "diff_snapshots", "snapshot_sqlite", "snapshot_tree"]

type TableRows = tuple[tuple[object, ...], ...]
"""A table's rows, sorted."""

_CHUNK = 1 << 16


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def snapshot_tree(root: str | os.PathLike[str], *, ignore: Iterable[str] = ()) -> dict[str, str]:
    """Every entry under ``root``: relative POSIX path to ``"dir"``, ``"link:<target>"`` or the
    file's ``"sha256:<hex>"``.

    ``root`` itself appears as ``"."`` when it exists, so creating or deleting the folder shows
    up too; a missing ``root`` gives ``{}``. Symbolic links are recorded, not followed.

    Args:
        root: The folder to describe.
        ignore: Names or glob patterns of entries to leave out, matched against each name (not
            the path), such as ``"__pycache__"`` or ``"*.sqlite3-*"``. A left-out folder is not
            entered.
    """
    base = Path(root)
    if not base.exists() and not base.is_symlink():
        return {}
    patterns = tuple(ignore)

    def skipped(name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)

    entries: dict[str, str] = {".": "dir" if base.is_dir() else _describe(base)}
    if not base.is_dir():
        return entries
    for folder, dirs, files in os.walk(base):
        dirs[:] = sorted(name for name in dirs if not skipped(name))
        here = Path(folder)
        for name in dirs:
            path = here / name
            entries[path.relative_to(base).as_posix()] = _describe(path)
        for name in sorted(files):
            if not skipped(name):
                path = here / name
                entries[path.relative_to(base).as_posix()] = _describe(path)
    return dict(sorted(entries.items()))


def _describe(path: Path) -> str:
    if path.is_symlink():
        return "link:" + os.readlink(path)
    if path.is_dir():
        return "dir"
    return _file_digest(path)


def _sort_key(row: tuple[object, ...]) -> tuple[tuple[str, str], ...]:
    # Rows can mix NULL, numbers, text and blobs, which do not order against each other.
    return tuple((type(value).__name__, repr(value)) for value in row)


def snapshot_sqlite(
    database: str | os.PathLike[str] | sqlite3.Connection, *, tables: Iterable[str] | None = None
) -> dict[str, TableRows]:
    """Every row of every table (or of ``tables``), sorted, keyed by table name.

    Each table's ``CREATE`` statement is included under ``"schema:<table>"`` so that a created or
    dropped table shows up. A database file that does not exist gives ``{}`` (and is not created).

    Args:
        database: A path to a SQLite file, or an open connection (left open).
        tables: Only these tables; default every table except SQLite's own.
    """
    if isinstance(database, sqlite3.Connection):
        return _snapshot_connection(database, tables)
    path = Path(database)
    if not path.exists():
        return {}
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return _snapshot_connection(connection, tables)
    finally:
        connection.close()


def _snapshot_connection(
    connection: sqlite3.Connection, tables: Iterable[str] | None
) -> dict[str, TableRows]:
    schema: dict[str, str] = {
        name: sql
        for name, sql in connection.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    }
    wanted = sorted(schema) if tables is None else sorted(set(tables))
    snapshot: dict[str, TableRows] = {}
    for name in wanted:
        if name not in schema:
            snapshot[f"schema:{name}"] = ()
            continue
        snapshot[f"schema:{name}"] = ((schema[name],),)
        quoted = '"' + name.replace('"', '""') + '"'
        rows = [tuple(row) for row in connection.execute(f"SELECT * FROM {quoted}")]  # noqa: S608 - quoted identifier
        snapshot[name] = tuple(sorted(rows, key=_sort_key))
    return snapshot


def _short(value: object, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def diff_snapshots(before: object, after: object, *, limit: int = 20) -> str:
    """Describe how ``after`` differs from ``before`` ("" when they are equal).

    Mappings (such as the snapshots above) are compared key by key, listing keys added, removed
    and changed; nested mappings (a dict of snapshots) are compared inside, their keys shown as
    ``outer / inner``. Anything else is shown whole, before and after.

    Args:
        limit: At most this many keys are listed per kind of change.
    """
    if before == after:
        return ""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        added: list[str] = []
        removed: list[str] = []
        changed: list[str] = []
        _compare(before, after, "", added, removed, changed)
        lines: list[str] = []
        for title, shown in (("added", added), ("removed", removed), ("changed", changed)):
            if shown:
                lines.append(f"{title} ({len(shown)}):")
                lines += [f"  {line}" for line in shown[:limit]]
                if len(shown) > limit:
                    lines.append(f"  ... and {len(shown) - limit} more")
        return "\n".join(lines)
    return f"before:\n{pprint.pformat(before)}\nafter:\n{pprint.pformat(after)}"


def _compare(
    before: Mapping[object, object],
    after: Mapping[object, object],
    prefix: str,
    added: list[str],
    removed: list[str],
    changed: list[str],
) -> None:
    for key, value in after.items():
        if key not in before:
            added.append(f"{prefix}{key!r}: {_short(value)}")
    for key, old in before.items():
        if key not in after:
            removed.append(f"{prefix}{key!r}: {_short(old)}")
            continue
        new = after[key]
        if old == new:
            continue
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            _compare(old, new, f"{prefix}{key!r} / ", added, removed, changed)
        else:
            changed.append(f"{prefix}{key!r}: {_short(old)} -> {_short(new)}")
