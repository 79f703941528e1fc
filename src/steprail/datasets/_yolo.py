"""YOLO: writing a DM v2 dataset as YOLO, and importing a YOLO dataset back to DM v2.

Output layout (``<split>`` is ``train``, ``valid``, ``test``; a flat dataset has no split level)::

    images/<split>/<stem>.<ext>   the images (hard links to the source when possible)
    labels/<split>/<stem>.txt     one row per box: ``class cx cy w h``; one row per polygon:
                                  ``class x1 y1 x2 y2 ...``; all normalised to [0, 1]
    dataset.yaml                  ``path``, ``train``/``val``/``test``, ``nc`` and ``names``
    audit.json                    what was skipped, and why

Class ids are the indexes of the sorted class names, the same for every split.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from pydantic import ValidationError

from ._audit import AuditLog, AuditReason
from ._convert import ConversionResult, fresh_output
from ._dmv2 import BoundingBox, DMv2Image, DMv2Item, Polygon
from ._source import (
    DatasetInputError,
    NoUsableItemsError,
    annotation_reason,
    check_something_written,
    detect_layout,
    image_size_or_skip,
    iter_checked_items,
    link_or_copy,
    resolve_classes,
    validation_message,
    write_dmv2_item,
    write_manifest,
    write_small_file,
)

__all__ = [
    "YOLO_CONFIG_NAME",
    "YoloConfig",
    "dmv2_to_yolo",
    "read_yolo_config",
    "yolo_to_dmv2",
]

#: The file name of the Ultralytics-style config written at (and read from) a YOLO dataset root.
YOLO_CONFIG_NAME: Final = "dataset.yaml"

# DM v2 split folder -> the key Ultralytics reads in dataset.yaml.
_YAML_KEYS: Final = {"train": "train", "valid": "val", "test": "test"}
_SPLITS_FROM_KEYS: Final = {"train": "train", "val": "valid", "valid": "valid", "test": "test"}
_OUT_DIRS: Final = ("images", "labels")
_IMAGE_SUFFIXES: Final = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
)


def _clamp(value: float, limit: float) -> float:
    return 0.0 if value < 0.0 else limit if value > limit else value


def dmv2_to_yolo(
    source: Path, output: Path, *, splits: Sequence[str] | None = None
) -> ConversionResult:
    """Convert the DM v2 dataset at ``source`` into a new YOLO dataset at ``output``.

    Streams item by item. Bad items and annotations are skipped and listed in
    ``output/audit.json``. Raises :class:`~steprail.datasets.DatasetInputError` when ``source``
    is not a DM v2 dataset, :class:`~steprail.datasets.NoUsableItemsError` when nothing usable
    remains, :class:`~steprail.datasets.OutputExistsError` when ``output`` is not empty; on any
    failure ``output`` is left as it was.
    """
    layout = detect_layout(source, splits)
    names = resolve_classes(layout)
    class_ids = {name: index for index, name in enumerate(names)}
    with fresh_output(output) as out, AuditLog(
        out, source=str(source), target_format="yolo"
    ) as audit:
        folders: dict[str | None, tuple[str, str]] = {}
        for split in layout.splits:
            made = [out / kind if split is None else out / kind / split for kind in _OUT_DIRS]
            for folder in made:
                folder.mkdir(parents=True)
            folders[split] = (str(made[0]), str(made[1]))
        for item in iter_checked_items(layout, audit, class_ids):
            images_dir, labels_dir = folders[item.split]
            w, h = float(item.width), float(item.height)
            rows: list[str] = []
            for box in item.boxes:
                x, y, bw, bh = box.data  # inside the image: iter_checked_items guarantees it
                rows.append(
                    "%d %.6f %.6f %.6f %.6f\n"
                    % (
                        class_ids[box.classification],
                        (x + bw / 2) / w,
                        (y + bh / 2) / h,
                        bw / w,
                        bh / h,
                    )
                )
            for poly in item.polygons:
                coords = " ".join(["%.6f %.6f" % (px / w, py / h) for px, py in poly.data])
                rows.append(f"{class_ids[poly.classification]} {coords}\n")
            link_or_copy(item.image_path, os.path.join(images_dir, item.image_name))
            write_small_file(
                os.path.join(labels_dir, item.stem + ".txt"), "".join(rows).encode("utf-8")
            )
            audit.items_written += 1
            audit.annotations_written += len(rows)
        check_something_written(audit, source)
        config = out / YOLO_CONFIG_NAME
        config.write_text(_yaml(out, layout.splits, names), encoding="utf-8")
        summary = audit.close()
    return ConversionResult(
        path=str(out),
        config_path=str(config),
        format="yolo",
        is_categorized=layout.is_categorized,
        source_path=str(source),
        classes=names,
        splits=[s for s in layout.splits if s is not None],
        audit_path=str(audit.path),
        audit=summary,
    )


def _yaml(root: Path, splits: Sequence[str | None], names: Sequence[str]) -> str:
    # JSON strings are valid YAML double-quoted scalars, so names with any character survive.
    lines = [f"path: {json.dumps(str(root))}"]
    if list(splits) == [None]:
        lines += ["train: images", "val: images"]
    else:
        for split in splits:
            assert split is not None
            lines.append(f"{_YAML_KEYS[split]}: images/{split}")
    lines.append(f"nc: {len(names)}")
    lines.append("names: [" + ", ".join(json.dumps(n) for n in names) + "]")
    return "\n".join(lines) + "\n"


class YoloConfig:
    """The parts of a YOLO ``dataset.yaml`` the importer uses."""

    def __init__(self, root: Path, splits: dict[str, Path], names: list[str]) -> None:
        """``splits`` maps a split key (``train``, ``val``, ``test``) to its images folder."""
        self.root = root
        self.splits = splits
        self.names = names


def _scalar(text: str) -> str:
    text = text.strip()
    if text.startswith('"'):
        value = json.loads(text)
        return str(value)
    if text.startswith("'") and text.endswith("'") and len(text) >= 2:
        return text[1:-1].replace("''", "'")
    if " #" in text:
        text = text.split(" #", 1)[0].rstrip()
    return text


def _flow_list(text: str) -> list[str]:
    inner = text.strip()[1:-1]
    try:
        parsed = json.loads("[" + inner + "]")
        return [str(v) for v in parsed]
    except ValueError:
        return [_scalar(part) for part in inner.split(",") if part.strip()]


def read_yolo_config(path: Path) -> YoloConfig:
    """Read the subset of YAML that YOLO configs use: scalars, and ``names`` as a flow list,
    a block list or a ``index: name`` mapping. Raises ``ValueError`` naming the file (and the
    line, for a line it cannot read)."""
    top: dict[str, str] = {}
    names: list[str] | dict[int, str] | None = None
    current_block: str | None = None
    number = 0
    try:
        for number, raw_line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not raw_line.strip() or raw_line.lstrip().startswith("#"):
                continue
            indented = raw_line[0] in " \t"
            line = raw_line.strip()
            if indented or line.startswith("- "):
                if current_block != "names":
                    continue
                if line.startswith("- "):
                    if not isinstance(names, list):
                        names = []
                    names.append(_scalar(line[2:]))
                elif ":" in line:
                    key, value = line.split(":", 1)
                    if not isinstance(names, dict):
                        names = {}
                    names[int(key.strip())] = _scalar(value)
                continue
            if ":" not in line:
                raise ValueError(f"cannot read {raw_line!r}")
            key, value = (part.strip() for part in line.split(":", 1))
            current_block = key
            if key == "names":
                if value.startswith("["):
                    names = _flow_list(value)
                elif value.startswith("{"):
                    names = {
                        int(k.strip()): _scalar(v)
                        for k, v in (p.split(":", 1) for p in value[1:-1].split(",") if p.strip())
                    }
            else:
                top[key] = _scalar(value)
    except ValueError as exc:  # int(), json.loads() and decoding name neither file nor line
        where = f"{path} line {number}" if number else str(path)
        raise ValueError(f"{where}: {exc}") from exc
    if names is None:
        raise ValueError(f"{path}: no 'names' in the YOLO config")
    name_list = names if isinstance(names, list) else [names[i] for i in sorted(names)]
    base = Path(top["path"]) if top.get("path") else path.parent
    if not base.is_absolute():
        base = path.parent / base
    if not base.is_dir():
        base = path.parent
    splits: dict[str, Path] = {}
    for key in ("train", "val", "valid", "test"):
        if top.get(key):
            folder = Path(top[key])
            if folder.is_absolute():
                splits[key] = folder
                continue
            # Relative to `path`, else to the config's folder; Roboflow exports write
            # `../train/images` meaning `<config folder>/train/images`.
            stripped = Path(*[p for p in folder.parts if p != ".."]) if folder.parts else folder
            candidates = [base / folder, path.parent / folder, path.parent / stripped]
            splits[key] = next((c for c in candidates if c.is_dir()), candidates[0])
    if not splits:
        raise ValueError(f"{path}: no train/val/test entry in the YOLO config")
    return YoloConfig(base, splits, name_list)


def _labels_dir(images_dir: Path) -> Path:
    # Ultralytics finds labels by swapping the last 'images' path component for 'labels'.
    parts = list(images_dir.parts)
    for index in range(len(parts) - 1, -1, -1):
        if parts[index] == "images":
            parts[index] = "labels"
            return Path(*parts)
    return images_dir.parent / "labels"


def yolo_to_dmv2(source: Path, output: Path) -> ConversionResult:
    """Import the YOLO dataset whose ``dataset.yaml`` (or folder holding it) is ``source``.

    Writes a DM v2 dataset at ``output`` (categorized unless every split points at the same
    folder), with pixel coordinates from each image's header, and a manifest. Bad rows are
    skipped and listed in ``output/audit.json``.
    """
    config_path = source / YOLO_CONFIG_NAME if source.is_dir() else source
    if not config_path.is_file():
        raise DatasetInputError(f"no YOLO config {str(config_path)!r}")
    config = read_yolo_config(config_path)
    folders = {key: folder.resolve() for key, folder in config.splits.items()}
    # Our flat output points every key at one folder; a single key is a split only when its
    # folder is named like one (``images/train``), as our categorized output does.
    distinct = set(folders.values())
    flat = len(distinct) == 1 and (
        len(folders) > 1 or next(iter(distinct)).name not in _SPLITS_FROM_KEYS
    )
    plan: list[tuple[str | None, Path]] = (
        [(None, next(iter(folders.values())))]
        if flat
        else [(_SPLITS_FROM_KEYS[k], f) for k, f in folders.items()]
    )
    names = config.names
    for _, images_dir in plan:
        if not images_dir.is_dir():
            raise DatasetInputError(f"YOLO images folder {str(images_dir)!r} does not exist")
    with fresh_output(output) as out, AuditLog(
        out, source=str(source), target_format="dm_v2"
    ) as audit:
        for split, images_dir in plan:
            labels_dir = _labels_dir(images_dir)
            with os.scandir(images_dir) as entries:
                for entry in entries:
                    suffix = os.path.splitext(entry.name)[1]
                    if suffix.lower() not in _IMAGE_SUFFIXES:
                        continue
                    image_path = Path(entry.path)
                    stem = image_path.stem
                    audit.items_total += 1
                    size = image_size_or_skip(image_path, entry.name, audit, split, stem)
                    if size is None:
                        continue
                    width, height = size
                    item = _read_label(
                        labels_dir / f"{stem}.txt", width, height, names, split, stem, audit
                    )
                    write_dmv2_item(out, split, stem, item, image_path)
                    audit.items_written += 1
                    audit.annotations_written += len(item.boxes()) + len(item.polygons())
        if audit.items_written == 0:
            raise NoUsableItemsError(f"no usable image in the YOLO dataset {str(source)!r}")
        write_manifest(out, names, audit.items_written)
        summary = audit.close()
    return ConversionResult(
        path=str(out),
        config_path=str(out / "dataset.json"),
        format="dm_v2",
        is_categorized=not flat,
        source_path=str(source),
        classes=sorted(set(names)),
        splits=[s for s, _ in plan if s is not None],
        audit_path=str(audit.path),
        audit=summary,
    )


def _read_label(
    path: Path,
    width: int,
    height: int,
    names: Sequence[str],
    split: str | None,
    stem: str,
    audit: AuditLog,
) -> DMv2Item:
    boxes: list[BoundingBox] = []
    polygons: list[Polygon] = []
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""  # an image without a label file is a background image in YOLO
    for number, line in enumerate(text.splitlines(), start=1):
        values = line.split()
        if not values:
            continue
        ann_id = f"{stem}-{number}"

        def skip(reason: AuditReason, message: str, kind: str = "row") -> None:
            audit.record(
                split=split,
                item=stem,
                annotation=ann_id,
                kind=kind,
                reason=reason,
                message=f"{path.name} line {number}: {message}",
            )

        try:
            class_id = int(values[0])
            numbers = [float(v) for v in values[1:]]
        except ValueError:
            skip(AuditReason.MALFORMED_ROW, f"not numbers: {line!r}")
            continue
        if not 0 <= class_id < len(names):
            skip(AuditReason.MISSING_CLASS, f"class id {class_id} is not in names")
            continue
        name = names[class_id]
        if len(numbers) == 4:
            cx, cy, bw, bh = numbers
            # Clipped to the image: what a box across the left or top edge loses comes off its
            # size too, so its right and bottom edges stay where the row puts them.
            left, top = (cx - bw / 2) * width, (cy - bh / 2) * height
            x, y = _clamp(left, width), _clamp(top, height)
            data = (
                x,
                y,
                min(bw * width - (x - left), width - x),
                min(bh * height - (y - top), height - y),
            )
            try:
                boxes.append(
                    BoundingBox.model_validate(
                        {"id": ann_id, "classification": name, "data": data}
                    )
                )
            except ValidationError as exc:
                skip(AuditReason.INVALID_ANNOTATION, validation_message(exc), "box")
        elif len(numbers) >= 6 and len(numbers) % 2 == 0:
            points = [
                (_clamp(numbers[i] * width, width), _clamp(numbers[i + 1] * height, height))
                for i in range(0, len(numbers), 2)
            ]
            try:
                polygons.append(
                    Polygon.model_validate({"id": ann_id, "classification": name, "data": points})
                )
            except ValidationError as exc:
                skip(annotation_reason("polygon", exc), validation_message(exc), "polygon")
        else:
            skip(AuditReason.MALFORMED_ROW, f"{len(values)} values is neither a box nor a polygon")
    return DMv2Item(
        images=[DMv2Image(width=width, height=height, bounding_box=boxes, polygon=polygons)]
    )
