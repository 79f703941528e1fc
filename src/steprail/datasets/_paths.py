"""Paths from inside a dataset: kept inside its root, and turned into item keys.

Everything a dataset names (a COCO ``file_name``, a line of a YOLO image list, a DM v2 image) is
untrusted. :func:`inside_root` is the one gate: a path that is absolute, climbs out with ``..``
or reaches a symlink pointing outside the root is refused before anything reads it.

An item's identity is its path relative to the images root (``camA/0001.jpg``). DM v2 stores an
item as ``json/<key>.json`` beside ``original_files/<key><ext>``: :class:`ItemKeys` derives a key
per identity that is a plain file name, unique in its split and stable for a given input order.
"""

from __future__ import annotations

import os
import posixpath
from typing import Final
from urllib.parse import quote

__all__ = [
    "ItemKeys",
    "UnsafePathError",
    "inside_root",
    "relative_identity",
    "utf8_identity",
]

# Characters left as they are in an item key; everything else (the folder separator among them)
# is percent-encoded, so a key is one valid file name and maps back to one identity.
_KEY_SAFE: Final = " !#$&'()+,-.;=@[]^_`{}~"


class UnsafePathError(ValueError):
    """A path named by the dataset leaves its root."""


def relative_identity(name: str) -> str:
    """``name`` as a normalised relative POSIX path; raises :class:`UnsafePathError` when it is
    absolute (``/x``, ``C:\\x``, ``\\\\host``), empty, or climbs out of its root with ``..``."""
    text = name.replace("\\", "/")
    if not text or text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise UnsafePathError(f"{name!r} is not a relative path")
    normal = posixpath.normpath(text)
    if normal == ".." or normal.startswith("../") or normal in (".", ""):
        raise UnsafePathError(f"{name!r} leaves the dataset root")
    return normal


def inside_root(root_real: str, path: str) -> str:
    """``path`` (absolute, under ``root_real``, which must already be a real path) if it and
    whatever symlinks it goes through stay inside ``root_real``; else :class:`UnsafePathError`.

    A path whose every component is a plain file or folder costs one ``lstat`` walk; only a path
    through a symlink is resolved.
    """
    normal = os.path.normpath(path)
    if os.path.commonpath([root_real, normal]) != root_real:
        raise UnsafePathError(f"{path!r} is outside the dataset root {root_real!r}")
    real = os.path.realpath(normal)
    if real != normal and os.path.commonpath([root_real, real]) != root_real:
        raise UnsafePathError(f"{path!r} is a symlink to {real!r}, outside the dataset root")
    return normal


def utf8_identity(identity: str) -> tuple[str, bool]:
    """``identity`` if it is valid text, else (a file name holding bytes that are not UTF-8, which
    JSON cannot carry) its percent-encoded form; True when it had to be encoded."""
    try:
        identity.encode("utf-8")
    except UnicodeEncodeError:
        return quote(identity, safe="/" + _KEY_SAFE, errors="surrogateescape"), True
    return identity, False


class ItemKeys:
    """Assigns each identity in a split a DM v2 key: the identity without its extension,
    percent-encoded; when that key is taken (``x.jpg`` then ``x.png``) the extension is kept
    too, then a counter is added."""

    def __init__(self) -> None:
        """Start with no key used."""
        self._used: set[str] = set()

    def key(self, identity: str) -> str:
        """The key for ``identity`` (a relative POSIX path), never one handed out before."""
        stem, _ = posixpath.splitext(identity)
        for candidate in (stem, identity):
            key = quote(candidate, safe=_KEY_SAFE, errors="surrogateescape")
            if key not in self._used and not key.startswith("."):
                self._used.add(key)
                return key
        base = quote(identity, safe=_KEY_SAFE, errors="surrogateescape").lstrip(".") or "item"
        number = 2
        while f"{base}~{number}" in self._used:
            number += 1
        key = f"{base}~{number}"
        self._used.add(key)
        return key
