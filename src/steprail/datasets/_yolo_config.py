"""Reading an Ultralytics dataset yaml, with PyYAML's ``safe_load`` and Ultralytics' rules.

* ``path`` is the dataset root: absolute, or relative to the yaml's folder; missing, empty or
  not an existing folder (published yamls name a folder under Ultralytics' datasets directory):
  the yaml's folder.
* ``train``, ``val`` (also ``validation`` or ``valid``) and ``test`` are each a folder, a ``.txt``
  file listing images, or a list of those, relative to the root; an entry starting with ``../``
  that does not exist is retried without it (Roboflow exports write ``../train/images``).
* ``names`` is a list (ids 0..n-1) or a mapping id -> name (gaps allowed); with only ``nc``,
  the names are ``class_0`` ... as Ultralytics makes them.
* ``kpt_shape`` ``[K, D]`` (pose datasets) says each row carries K keypoints of D values;
  ``flip_idx`` and ``kpt_names`` are kept when given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import yaml

from ._regular import special_file_problem

__all__ = [
    "SPLIT_KEYS",
    "YoloConfig",
    "find_yolo_config",
    "read_yolo_config",
]

#: The yaml keys of the splits, and the DM v2 split each becomes.
SPLIT_KEYS: Final = {
    "train": "train",
    "val": "valid",
    "validation": "valid",
    "valid": "valid",
    "test": "test",
}

#: The config file name our writer uses, tried first when a folder is given.
YOLO_CONFIG_NAME: Final = "dataset.yaml"


class YoloConfig:
    """What the importer uses of an Ultralytics dataset yaml.

    ``splits`` maps each split key present to its first folder or list file (kept for callers
    of the earlier reader); ``sources`` to all of them; ``names`` lists the class names in id
    order and ``name_ids`` maps each id to its name (the ids the yaml gives, gaps included).
    """

    def __init__(
        self,
        root: Path,
        sources: dict[str, list[Path]],
        name_ids: dict[int, str],
        kpt_shape: tuple[int, int] | None = None,
        flip_idx: list[int] | None = None,
        kpt_names: list[str] | None = None,
        written: dict[Path, str] | None = None,
    ) -> None:
        """``sources`` maps a split key (``train``, ``val``, ``test``) to its folders/files;
        ``written`` maps such a path to the entry as the yaml wrote it (for error messages)."""
        self.root = root
        self.written = written or {}
        self.sources = sources
        self.splits = {key: paths[0] for key, paths in sources.items()}
        self.name_ids = dict(sorted(name_ids.items()))
        self.names = list(self.name_ids.values())
        self.kpt_shape = kpt_shape
        self.flip_idx = flip_idx
        self.kpt_names = kpt_names


def find_yolo_config(folder: Path) -> Path:
    """The dataset yaml in ``folder``: ``dataset.yaml`` if there, else its only ``*.yaml`` or
    ``*.yml`` file; raises ``ValueError`` naming the folder when there is none or several."""
    preferred = folder / YOLO_CONFIG_NAME
    if preferred.is_file():
        return preferred
    found = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    if len(found) == 1:
        return found[0]
    if not found:
        raise ValueError(f"no dataset yaml (*.yaml) in {str(folder)!r}")
    raise ValueError(
        f"several yaml files in {str(folder)!r} ({[p.name for p in found]}): give the one to use"
    )


def _load(path: Path) -> dict[object, object]:
    problem = special_file_problem(path)
    if problem is not None:
        raise ValueError(f"YOLO config {str(path)!r} {problem}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path} line {mark.line + 1}" if mark is not None else str(path)
        raise ValueError(f"{where}: {exc.problem or exc}") from exc
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"{path}: {str(exc) or type(exc).__name__}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top, got {type(data).__name__}")
    return data


def _class_id(key: object, path: Path) -> int:
    if isinstance(key, int) and not isinstance(key, bool) and key >= 0:
        return key
    if isinstance(key, str) and key.strip().isdigit():
        return int(key)
    raise ValueError(f"{path}: names key {key!r} is not a class id (an integer >= 0)")


def _names(data: dict[object, object], path: Path) -> dict[int, str]:
    names = data.get("names")
    if names is None:
        count = data.get("nc")
        if isinstance(count, int) and not isinstance(count, bool) and count > 0:
            return {index: f"class_{index}" for index in range(count)}
        raise ValueError(f"{path}: no 'names' in the YOLO config")
    if isinstance(names, list):
        result = dict(enumerate(names))
    elif isinstance(names, dict):
        result = {_class_id(key, path): value for key, value in names.items()}
    else:
        raise ValueError(f"{path}: 'names' is neither a list nor a mapping")
    count = data.get("nc")
    if isinstance(count, int) and not isinstance(count, bool) and count != len(result):
        # Ultralytics refuses such a yaml ("'names' length and 'nc' must match").
        raise ValueError(f"{path}: 'names' has {len(result)} name(s) but 'nc' is {count}")
    for class_id, name in result.items():
        # YAML reads a bare on/off/yes/no as a boolean; Ultralytics names the class str() of it
        # ("True"), and so do we: a model trained on this yaml has that name.
        if not isinstance(name, (str, int, float)) or not str(name).strip():
            raise ValueError(f"{path}: class {class_id} has no usable name ({name!r})")
    named = {class_id: str(name) for class_id, name in result.items()}
    if len(set(named.values())) != len(named):
        raise ValueError(f"{path}: 'names' gives one name to several class ids")
    return named


def _split_entry(root: Path, value: object, key: str, path: Path) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{path}: '{key}' entry {value!r} is not a path")
    candidate = root / value
    if not candidate.exists() and value.startswith("../"):
        candidate = root / value[3:]
    return candidate


def read_yolo_config(path: Path) -> YoloConfig:
    """Read the Ultralytics dataset yaml ``path`` (see the module docs for the rules).

    Raises ``ValueError`` naming the file (and the line, for YAML it cannot parse).
    """
    data = _load(path)
    name_ids = _names(data, path)
    raw_root = data.get("path")
    root = path.parent
    if isinstance(raw_root, str) and raw_root.strip():
        given = Path(raw_root)
        candidate = given if given.is_absolute() else path.parent / given
        # Published yamls say `path: coco8` meaning Ultralytics' datasets folder: when that is
        # not beside the yaml, the yaml's own folder is the root (never the working directory).
        root = candidate if candidate.is_dir() else path.parent
    sources: dict[str, list[Path]] = {}
    written: dict[Path, str] = {}
    for key in ("train", "val", "validation", "valid", "test"):
        value = data.get(key)
        if value is None or value == "" or value == []:
            continue  # `test:` with only a comment after it is YAML null: no test split
        if SPLIT_KEYS[key] in {SPLIT_KEYS[k] for k in sources}:
            continue  # `val` wins over `validation`/`valid` when both are given
        values = value if isinstance(value, list) else [value]
        sources[key] = [_split_entry(root, v, key, path) for v in values]
        written.update(zip(sources[key], (str(v) for v in values), strict=True))
    if not sources:
        raise ValueError(f"{path}: no train/val/test entry in the YOLO config")
    kpt_shape: tuple[int, int] | None = None
    raw_shape = data.get("kpt_shape")
    if raw_shape is not None:
        if not (
            isinstance(raw_shape, list)
            and len(raw_shape) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in raw_shape)
            and raw_shape[0] > 0
            and raw_shape[1] in (2, 3)
        ):
            raise ValueError(f"{path}: kpt_shape {raw_shape!r} is not [keypoints, 2 or 3]")
        kpt_shape = (raw_shape[0], raw_shape[1])
    flip_idx = data.get("flip_idx")
    flips = (
        [int(v) for v in flip_idx]
        if isinstance(flip_idx, list) and all(isinstance(v, int) for v in flip_idx)
        else None
    )
    return YoloConfig(
        root, sources, name_ids, kpt_shape, flips, _kpt_names(data, kpt_shape), written
    )


def _kpt_names(data: dict[object, object], kpt_shape: tuple[int, int] | None) -> list[str] | None:
    # Ultralytics' `kpt_names: {class id: [names]}`: the first class's list, when it names all K.
    raw = data.get("kpt_names")
    lists = list(raw.values()) if isinstance(raw, dict) else [raw] if isinstance(raw, list) else []
    for names in lists:
        if isinstance(names, list) and kpt_shape is not None and len(names) == kpt_shape[0]:
            return [str(n) for n in names]
    return None
