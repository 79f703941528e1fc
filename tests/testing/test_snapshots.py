"""snapshot_tree, snapshot_sqlite and diff_snapshots see every kind of change."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from steprail.testing import diff_snapshots, snapshot_sqlite, snapshot_tree


def test_tree_sees_content_names_empty_folders_and_the_root(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    assert snapshot_tree(root) == {}
    root.mkdir()
    assert snapshot_tree(root) == {".": "dir"}
    (root / "sub").mkdir()
    (root / "sub" / "f.txt").write_text("one")
    first = snapshot_tree(root)
    assert first == {
        ".": "dir",
        "sub": "dir",
        "sub/f.txt": "sha256:7692c3ad3540bb803c020b3aee66cd8887123234ea0c6e7143c0add73ff431ed",
    }
    (root / "sub" / "f.txt").write_text("two")
    assert snapshot_tree(root)["sub/f.txt"] != first["sub/f.txt"]
    (root / "sub" / "f.txt").write_text("one")
    assert snapshot_tree(root) == first  # same content, same snapshot (timestamps do not count)
    (root / "empty").mkdir()
    assert diff_snapshots(first, snapshot_tree(root)) == "added (1):\n  'empty': 'dir'"


def test_tree_records_links_and_ignores_names(tmp_path: Path) -> None:
    (tmp_path / "real.txt").write_text("x")
    os.symlink("real.txt", tmp_path / "link")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "m.pyc").write_bytes(b"\0")
    snapshot = snapshot_tree(tmp_path, ignore=["__pycache__"])
    assert snapshot["link"] == "link:real.txt"
    assert not any("__pycache__" in key for key in snapshot)


def test_sqlite_sees_rows_and_tables_and_does_not_create_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    assert snapshot_sqlite(path) == {}
    assert not path.exists()
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE t (id INTEGER, label TEXT, data BLOB)")
        connection.executemany("INSERT INTO t VALUES (?, ?, ?)", [(2, "b", None), (1, None, b"\1")])
    before = snapshot_sqlite(path)
    assert before["t"] == ((1, None, b"\x01"), (2, "b", None))
    assert before["schema:t"] == (("CREATE TABLE t (id INTEGER, label TEXT, data BLOB)",),)
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE t SET label = 'B' WHERE id = 2")
        connection.execute('CREATE TABLE "odd ""name""" (x)')
        after = snapshot_sqlite(connection)
        assert snapshot_sqlite(connection, tables=["t", "gone"])["schema:gone"] == ()
    difference = diff_snapshots(before, after)
    assert "added (2):\n  'schema:odd \"name\"': (('CREATE TABLE \"odd \"\"name\"\"\" (x)',),)\n  'odd \"name\"': ()" in difference
    assert "changed (1):\n  't': ((1, None, b'\\x01'), (2, 'b', None)) -> ((1, None, b'\\x01'), (2, 'B', None))" in difference


def test_diff_of_equal_and_non_mapping_snapshots() -> None:
    assert diff_snapshots({"a": 1}, {"a": 1}) == ""
    assert diff_snapshots([1, 2], [1, 3]) == "before:\n[1, 2]\nafter:\n[1, 3]"
    many = {str(i): i for i in range(30)}
    text = diff_snapshots({}, many, limit=5)
    assert text.startswith("added (30):\n  '0': 0") and text.endswith("  ... and 25 more")
    assert diff_snapshots({"k": "x" * 500}, {}).endswith("...")


@pytest.mark.parametrize("content", [b"", b"\0" * 200_000])
def test_large_and_empty_files_hash(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "f").write_bytes(content)
    assert snapshot_tree(tmp_path)["f"].startswith("sha256:")


def test_nested_snapshots_are_compared_inside_and_globs_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "a.db").write_text("x")
    (tmp_path / "a.db-wal").write_text("y")
    assert set(snapshot_tree(tmp_path, ignore=["*.db-*"])) == {".", "a.db"}
    before = {"files": {"x": 1, "y": 2}, "rows": {"t": (1,)}}
    after = {"files": {"x": 1, "y": 3, "z": 4}, "rows": {"t": (1,)}}
    assert diff_snapshots(before, after) == "added (1):\n  'files' / 'z': 4\nchanged (1):\n  'files' / 'y': 2 -> 3"
