"""YOLO: writing a DM v2 dataset as YOLO, and importing a YOLO dataset back to DM v2.

Output layout (``<split>`` is ``train``, ``valid``, ``test``; a flat dataset has no split level)::

    images/<split>/<name>.<ext>   the images (hard links to the source when possible); <name> is
                                  the item's identity, sub-folders included (camA/0001.jpg)
    labels/<split>/<name>.txt     one row per box: ``class cx cy w h``; one row per polygon:
                                  ``class x1 y1 x2 y2 ...``; all normalised to [0, 1]. The
                                  label path is Ultralytics' own rule (the LAST ``/images/``
                                  of the image path becomes ``/labels/``): a name with a
                                  folder ``images`` has its label inside ``images/`` (audited)
    dataset.yaml                  ``train``/``val``/``test`` relative to the yaml's folder (no
                                  absolute ``path``: the folder can be moved), ``nc``, ``names``
    audit.json                    what was skipped or changed, and why

Class ids: the source's (see :mod:`._classes`) when they are ``0..n-1``; YOLO needs exactly
those, so other ids (COCO's 1..90 with gaps) are mapped to ``0..n-1`` in id order and the
mapping is recorded in the audit. An explicit ``class_map`` is written as given (gaps filled
with ``class_<id>`` placeholders, audited).
"""

from __future__ import annotations

import json
import os
import posixpath
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Final, NamedTuple

from ._audit import AuditLog, AuditReason
from ._classes import resolve_class_map
from ._convert import ConversionResult, fresh_output, write_whole_file
from ._dmv2 import (
    BoundingBox,
    DMv2Category,
    DMv2Image,
    DMv2Item,
    DMv2Keypoints,
    DMv2Source,
    Polygon,
)
from ._paths import ItemKeys, UnsafePathError, utf8_identity
from ._regular import NotRegularFileError, special_file_problem
from ._source import (
    CheckedItem,
    DMv2Layout,
    DatasetInputError,
    NoUsableItemsError,
    check_something_written,
    detect_layout,
    image_size_or_skip,
    iter_checked_items,
    link_or_copy,
    read_manifest,
    refuse_output_inside,
    write_dmv2_item,
    write_manifest,
    write_small_file,
)
from ._yolo_config import (
    SPLIT_KEYS,
    YOLO_CONFIG_NAME,
    YoloConfig,
    find_yolo_config,
    read_yolo_config,
)

__all__ = [
    "PreparedYoloItem",
    "PreparedYoloSource",
    "YOLO_CONFIG_NAME",
    "YoloConfig",
    "dmv2_to_yolo",
    "prepare_yolo_item",
    "read_yolo_config",
    "write_yolo",
    "yolo_ids",
    "yolo_to_dmv2",
]

# DM v2 split folder -> the key Ultralytics reads in dataset.yaml.
_YAML_KEYS: Final = {"train": "train", "valid": "val", "test": "test"}
_OUT_DIRS: Final = ("images", "labels")
# Past the image edge by less than this (pixels) is rounding of the six-decimal rows: clipped
# without an audit entry.
_PIXEL_NOISE: Final = 1e-2
_IMAGE_SUFFIXES: Final = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".dng", ".mpo", ".pfm", ".heic"}
)


def yolo_ids(
    ids: dict[str, int], categories: Sequence[DMv2Category], explicit: bool, audit: AuditLog
) -> tuple[dict[str, int], list[str]]:
    """The class ids and the id-ordered names list of a YOLO output (see the module docs);
    what had to change is recorded in ``audit``."""
    if sorted(ids.values()) == list(range(len(ids))):
        return ids, [name for name, _ in sorted(ids.items(), key=lambda kv: kv[1])]
    if explicit:
        names = [f"class_{index}" for index in range(max(ids.values()) + 1)]
        for name, class_id in ids.items():
            names[class_id] = name
        audit.record_change(
            split=None, item="*", kind="dataset", reason=AuditReason.CLASS_IDS_RENUMBERED,
            message=f"class ids {sorted(set(range(len(names))) - set(ids.values()))} are not in "
            "class_map: written as placeholder names class_<id>",
        )  # fmt: skip
        return ids, names
    ordered = sorted(categories, key=lambda c: c.id)
    mapped = {c.name: index for index, c in enumerate(ordered)}
    changed = {c.name: (c.id, mapped[c.name]) for c in ordered if c.id != mapped[c.name]}
    audit.record_change(
        split=None, item="*", kind="dataset", reason=AuditReason.CLASS_IDS_RENUMBERED,
        message="YOLO needs class ids 0..n-1; source ids mapped in id order: "
        + json.dumps({name: f"{old}->{new}" for name, (old, new) in changed.items()}),
    )  # fmt: skip
    return mapped, [c.name for c in ordered]


def _write_pair(
    images_dir: str, identity: str, image_source: str, label: bytes, made: set[str]
) -> str:
    # Write the label (create-only) where Ultralytics looks for it (``_label_path``) then link
    # the image, as ``identity`` or, when an earlier item already has that label file (x.jpg
    # then x.png, or two paths the images -> labels rule maps to one label) or image, as
    # ``<stem>~2<ext>``...: the name written. The files on disk are the memory of names taken.
    stem, ext = posixpath.splitext(identity)
    name, number = identity, 1
    while True:
        image_path = os.path.join(images_dir, name)
        label_path = _label_path(image_path)
        for parent in (os.path.dirname(label_path), os.path.dirname(image_path)):
            if parent not in made:  # ``made``: folders known to exist (one syscall saved each)
                os.makedirs(parent, exist_ok=True)
                made.add(parent)
        try:
            write_small_file(label_path, label, exclusive=True)
        except FileExistsError:
            pass
        else:
            try:
                link_or_copy(image_source, image_path)
                return name
            except FileExistsError:
                os.unlink(label_path)
        number += 1
        name = f"{stem}~{number}{ext}"


class PreparedYoloItem(NamedTuple):
    """One checked item with its label file's text made: what is left is naming its files in
    the output (which depends on the items before it) and writing them. A named tuple: a
    sharded conversion pickles one per item, and a tuple loads several times faster than a
    dataclass."""

    split: str | None
    stem: str
    image_path: str
    #: The name the item wants in the output (its identity, made UTF-8 text).
    identity: str
    #: Whether ``identity`` had to be made UTF-8 text (audited as a rename).
    encoded: bool
    label: bytes
    rows: int
    boxes: int
    polygons: int


#: Where the checked, prepared items come from (the layout, the audit their skips go to, the
#: class ids and the pose schema): a sharded conversion replays its shards' items through it.
type PreparedYoloSource = Callable[
    [DMv2Layout, AuditLog, Mapping[str, int], DMv2Keypoints | None], Iterator[PreparedYoloItem]
]


def prepare_yolo_item(
    item: CheckedItem, class_ids: Mapping[str, int], pose: DMv2Keypoints | None, audit: AuditLog
) -> PreparedYoloItem:
    """Make ``item``'s label rows (what does not depend on other items), recording what had to
    change in ``audit``."""
    identity = (
        item.source.file_name
        if item.source is not None and item.source.file_name
        else item.image_name
    )
    identity, encoded = utf8_identity(identity)
    w, h = float(item.width), float(item.height)
    rows: list[str] = []
    boxes_written = polygons_written = 0
    if pose is not None:
        rows = _pose_rows(item, class_ids, pose, audit)
        boxes_written += len(rows)
    for box in item.boxes if pose is None else ():
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
        if box.keypoints:
            _keypoints_dropped(audit, item, box.id, "box")
        if box.crowd or box.mask is not None:
            _crowd_as_object(audit, item, box.id, "box")
    for poly in item.polygons if pose is None else ():
        if poly.keypoints:
            _keypoints_dropped(audit, item, poly.id, "polygon")
        if poly.crowd:
            _crowd_as_object(audit, item, poly.id, "polygon")
        for ring in (poly.data, *poly.rings):
            coords = " ".join(["%.6f %.6f" % (px / w, py / h) for px, py in ring])
            rows.append(f"{class_ids[poly.classification]} {coords}\n")
        if poly.rings:
            audit.record_change(
                split=item.split, item=item.stem, annotation=poly.id, kind="polygon",
                reason=AuditReason.POLYGON_RINGS_SPLIT,
                message=f"an object of {1 + len(poly.rings)} polygons written as "
                f"{1 + len(poly.rings)} rows: a YOLO row holds one polygon",
            )  # fmt: skip
    if pose is None:
        boxes_written += len(item.boxes)
        polygons_written += sum(1 + len(poly.rings) for poly in item.polygons)
    return PreparedYoloItem(
        item.split, item.stem, item.image_path, identity, encoded,
        "".join(rows).encode("utf-8"), len(rows), boxes_written, polygons_written,
    )  # fmt: skip


def dmv2_to_yolo(
    source: Path,
    output: Path,
    *,
    splits: Sequence[str] | None = None,
    class_map: Mapping[str, int] | None = None,
) -> ConversionResult:
    """Convert the DM v2 dataset at ``source`` into a new YOLO dataset at ``output``.

    Streams item by item. Bad items and annotations are skipped and listed in
    ``output/audit.json``, with what was changed (renumbered class ids, renamed files). An item
    keeps its identity: ``camA/0001.jpg`` is written as ``images/<split>/camA/0001.jpg``.
    ``class_map`` (class name -> id) fixes the ids, to match a pretrained model; annotations of
    other classes are skipped. Raises :class:`~steprail.datasets.DatasetInputError` when
    ``source`` is not a DM v2 dataset, :class:`~steprail.datasets.NoUsableItemsError` when
    nothing usable remains, :class:`~steprail.datasets.OutputExistsError` when ``output`` is not
    empty or another run is writing it; on any failure ``output`` is left as it was.
    """
    return write_yolo(source, output, splits=splits, class_map=class_map)


def write_yolo(
    source: Path,
    output: Path,
    *,
    splits: Sequence[str] | None = None,
    class_map: Mapping[str, int] | None = None,
    prepared: PreparedYoloSource | None = None,
    tolerated: str | None = None,
) -> ConversionResult:
    """:func:`dmv2_to_yolo`, with its items from ``prepared`` when given (the sharded
    conversion replays its shards' items so): the same items in the same order give the same
    bytes. ``tolerated``: the sharded run's staging folder inside ``output``, if it put it there."""
    layout = detect_layout(source, splits)
    refuse_output_inside(output, layout.root)
    resolved = resolve_class_map(layout, first_id=0, class_map=class_map)
    with fresh_output(output, tolerated) as out, AuditLog(
        out, source=str(source), target_format="yolo"
    ) as audit:
        class_ids, names = yolo_ids(
            resolved.ids, resolved.categories, class_map is not None, audit
        )
        manifest = read_manifest(layout.root)
        # A dataset whose manifest names keypoints is written as a pose dataset (every row a box
        # with K keypoints, as Ultralytics requires); otherwise keypoints are dropped, audited.
        pose = manifest.keypoints if manifest is not None and manifest.keypoints else None
        folders: dict[str | None, tuple[str, str]] = {}
        made: set[str] = set()
        for split in layout.splits:
            made_pair = [out / kind if split is None else out / kind / split for kind in _OUT_DIRS]
            for folder in made_pair:
                folder.mkdir(parents=True)
                made.add(os.fspath(folder))
            folders[split] = (str(made_pair[0]), str(made_pair[1]))
        boxes_written = polygons_written = 0
        items = (
            prepare_yolo_item(item, class_ids, pose, audit)
            for item in iter_checked_items(layout, audit, class_ids)
        ) if prepared is None else prepared(layout, audit, class_ids, pose)  # fmt: skip
        for ready in items:
            images_dir, labels_dir = folders[ready.split]
            boxes_written += ready.boxes
            polygons_written += ready.polygons
            identity = ready.identity
            name = _write_pair(images_dir, identity, ready.image_path, ready.label, made)
            label_path = _label_path(os.path.join(images_dir, name))
            if label_path != os.path.join(labels_dir, posixpath.splitext(name)[0] + ".txt"):
                audit.record_change(
                    split=ready.split, item=ready.stem, reason=AuditReason.LABEL_IN_IMAGES_FOLDER,
                    message=f"{name} has a folder named 'images': Ultralytics takes the label "
                    "path from the LAST /images/ of the image path, so its label is written at "
                    f"{os.path.relpath(label_path, out)}, not under labels/ (tools that map "
                    "the first images folder will not find it)",
                )  # fmt: skip
            if name != identity or ready.encoded:
                audit.record_change(
                    split=ready.split, item=ready.stem, reason=AuditReason.RENAMED_FOR_TARGET,
                    message=f"{identity} written as {name}: YOLO finds a label by the image's "
                    "path without extension, and an earlier image has that label file (or the "
                    "name is not UTF-8 text)",
                )  # fmt: skip
            audit.items_written += 1
            audit.annotations_written += ready.rows
        check_something_written(audit, source)
        if boxes_written and polygons_written:
            audit.record_change(
                split=None, item="*", kind="dataset",
                reason=AuditReason.MIXED_BOXES_AND_POLYGONS,
                message=f"{boxes_written} box row(s) and {polygons_written} polygon row(s): "
                "Ultralytics trains a segmentation model only when every row is a polygon, and "
                "otherwise drops all polygons",
            )  # fmt: skip
        config = out / YOLO_CONFIG_NAME
        yaml_splits = _yaml_splits(layout.splits)
        for key, split in yaml_splits.items():
            if split is not None and _YAML_KEYS[split] != key:
                audit.record_change(
                    split=None, item="*", kind="dataset", reason=AuditReason.SPLIT_FILLED_IN,
                    message=f"the dataset has no {key!r} split: dataset.yaml's {key!r} names "
                    f"images/{split}, since Ultralytics requires both 'train' and 'val'",
                )  # fmt: skip
        write_whole_file(config, _yaml(yaml_splits, names, pose))
        summary = audit.close()
    return ConversionResult(
        path=str(out),
        config_path=str(config),
        format="yolo",
        is_categorized=layout.is_categorized,
        source_path=str(source),
        classes=sorted(set(names) & set(class_ids)),
        splits=[s for s in layout.splits if s is not None],
        audit_path=str(audit.path),
        audit=summary,
    )


def _crowd_as_object(audit: AuditLog, item: CheckedItem, ann_id: str, kind: str) -> None:
    audit.record_change(
        split=item.split, item=item.stem, annotation=ann_id, kind=kind,
        reason=AuditReason.CROWD_AS_BOX,
        message="a crowd region written as an ordinary object (YOLO has no crowd flag; a mask "
        "is written as its box)",
    )  # fmt: skip


def _keypoints_dropped(audit: AuditLog, item: CheckedItem, ann_id: str, kind: str) -> None:
    audit.record_change(
        split=item.split, item=item.stem, annotation=ann_id, kind=kind,
        reason=AuditReason.KEYPOINTS_DROPPED,
        message="keypoints not written: the dataset's manifest names no keypoints, so the "
        "output is not a pose dataset",
    )  # fmt: skip


# (annotation id, class, box (x, y, w, h), keypoints, kind) of one object of a pose row.
type _PoseShape = tuple[
    str, str, tuple[float, float, float, float], list[tuple[float, float, int]], str
]


def _pose_rows(
    item: CheckedItem, class_ids: Mapping[str, int], pose: DMv2Keypoints, audit: AuditLog
) -> list[str]:
    # Ultralytics pose rows: class, box (centre, size) and K keypoints (x, y, visibility), all
    # normalised; an object without keypoints gets K unlabelled ones (0 0 0).
    w, h = float(item.width), float(item.height)
    count = len(pose.names)
    rows: list[str] = []
    shapes: list[_PoseShape] = [
        (b.id, b.classification, b.data, b.keypoints, "box") for b in item.boxes
    ]
    for poly in item.polygons:
        xs = [x for ring in (poly.data, *poly.rings) for x, _ in ring]
        ys = [y for ring in (poly.data, *poly.rings) for _, y in ring]
        box = (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
        shapes.append((poly.id, poly.classification, box, poly.keypoints, "polygon"))
        audit.record_change(
            split=item.split, item=item.stem, annotation=poly.id, kind="polygon",
            reason=AuditReason.POLYGON_AS_BOX,
            message="a pose dataset holds boxes: the polygon is written as its bounding box",
        )  # fmt: skip
    for ann_id, name, (x, y, bw, bh), keypoints, kind in shapes:
        if keypoints and len(keypoints) != count:
            audit.record_change(
                split=item.split, item=item.stem, annotation=ann_id, kind=kind,
                reason=AuditReason.KEYPOINTS_DROPPED,
                message=f"{len(keypoints)} keypoints, the dataset has {count}: written unlabelled",
            )  # fmt: skip
            keypoints = []
        points = keypoints or [(0.0, 0.0, 0)] * count
        tail = " ".join("%.6f %.6f %d" % (px / w, py / h, v) for px, py, v in points)
        rows.append(
            "%d %.6f %.6f %.6f %.6f %s\n"
            % (class_ids[name], (x + bw / 2) / w, (y + bh / 2) / h, bw / w, bh / h, tail)
        )
    return rows


def _yaml_splits(splits: Sequence[str | None]) -> dict[str, str | None]:
    # yaml key -> the split folder it names (None: the flat images folder). Ultralytics'
    # check_det_dataset refuses a yaml without both `train` and `val`, so a missing one points
    # at a split the dataset has: val at test, else train; train at valid, else test.
    if list(splits) == [None]:
        return {"train": None, "val": None}
    keys: dict[str, str | None] = {_YAML_KEYS[s]: s for s in splits if s is not None}
    if "val" not in keys:
        keys["val"] = keys.get("test", keys.get("train"))
    keys.setdefault("train", keys["val"])
    return {key: keys[key] for key in ("train", "val", "test") if key in keys}


def _yaml(
    splits: Mapping[str, str | None], names: Sequence[str], pose: DMv2Keypoints | None = None
) -> str:
    # No `path` key: Ultralytics then takes the yaml's own folder as the root, so the dataset can
    # be moved (a relative `path` would be read against the working directory).
    # JSON strings are valid YAML double-quoted scalars, so names with any character survive.
    lines = ["# Ultralytics dataset: paths are relative to this file's folder"]
    for key, split in splits.items():
        lines.append(f"{key}: images" if split is None else f"{key}: images/{split}")
    lines.append(f"nc: {len(names)}")
    if pose is not None:
        lines.append(f"kpt_shape: [{len(pose.names)}, 3]")
        if pose.flip_idx is not None:
            lines.append(f"flip_idx: {json.dumps(pose.flip_idx)}")
    lines.append("names:" if names else "names: {}")
    lines += [f"  {index}: {json.dumps(name)}" for index, name in enumerate(names)]
    return "\n".join(lines) + "\n"


def _label_path(image_path: str) -> str:
    # Ultralytics' rule: the last "/images/" in the path becomes "/labels/", the extension
    # ".txt"; an image path without an images folder has its label beside it.
    sep_images, sep_labels = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    head, found, tail = image_path.rpartition(sep_images)
    base = head + sep_labels + tail if found else image_path
    return os.path.splitext(base)[0] + ".txt"


def _walk_images(folder: Path) -> list[str]:
    # Every image file under ``folder`` (nested folders too), sorted for a stable item order.
    found: list[str] = []
    for current, dirs, files in os.walk(folder):
        dirs.sort()
        found += [
            os.path.join(current, f)
            for f in sorted(files)
            if os.path.splitext(f)[1].lower() in _IMAGE_SUFFIXES
        ]
    return found


def _listed_images(list_file: Path, root: Path) -> list[str]:
    # Ultralytics' image list: "./x" is relative to the list's folder; other relative lines
    # are taken relative to the dataset root (never the working directory).
    paths: list[str] = []
    for line in list_file.read_text(encoding="utf-8").splitlines():
        entry = line.strip()
        if not entry:
            continue
        if entry.startswith("./"):
            paths.append(os.path.join(list_file.parent, entry[2:]))
        else:
            paths.append(os.path.join(root, entry))
    return paths


# Per split: its (image path, identity) pairs and the images folders it names.
type _Plan = list[tuple[str | None, list[tuple[str, str]], list[Path]]]


def _plan(config: YoloConfig, config_path: Path) -> tuple[_Plan, bool]:
    # Per DM v2 split, (image path, identity) pairs; True when the dataset is flat (every split
    # key names one and the same folder not named like a split, as our flat output does).
    resolved = {key: [p.resolve() for p in paths] for key, paths in config.sources.items()}
    distinct = {tuple(paths) for paths in resolved.values()}
    only = next(iter(config.sources.values()))
    flat = len(distinct) == 1 and len(only) == 1 and only[0].name not in SPLIT_KEYS
    keys = list(config.sources.items())[:1] if flat else _distinct_keys(config, resolved)
    plan: _Plan = []
    for key, paths in keys:
        images: list[tuple[str, str]] = []
        for entry in paths:
            if entry.is_dir():
                base = entry if len(paths) == 1 else config.root
                images += [(p, _identity(p, base)) for p in _walk_images(entry)]
            elif entry.is_file() and entry.suffix == ".txt":
                images += [(p, _identity(p, config.root)) for p in _listed_images(entry, config.root)]
            else:
                raise DatasetInputError(
                    f"{config_path}: '{key}' entry {str(entry)!r} is neither a folder nor a "
                    ".txt image list"
                )
        folders = [entry for entry in paths if entry.is_dir()]
        plan.append((None if flat else SPLIT_KEYS[key], images, folders))
    return plan, flat


def _distinct_keys(
    config: YoloConfig, resolved: dict[str, list[Path]]
) -> list[tuple[str, list[Path]]]:
    # Keys naming the same folders as another key (our own output's `val: images/train` when
    # the dataset has no valid split) are read once, under the key whose folder carries its
    # split's name, else the first: the same images are not imported twice.
    groups: dict[tuple[Path, ...], list[str]] = {}
    for key, paths in resolved.items():
        groups.setdefault(tuple(paths), []).append(key)
    chosen: set[str] = set()
    for folder, group in groups.items():
        named = [k for k in group if len(folder) == 1 and folder[0].name in (k, SPLIT_KEYS[k])]
        chosen.add((named or group)[0])
    return [(key, paths) for key, paths in config.sources.items() if key in chosen]


def _identity(path: str, base: Path) -> str:
    relative = os.path.relpath(os.path.normpath(path), base)
    return relative.replace(os.sep, "/")


def _check_inside(root_real: str, path: str) -> str:
    real = os.path.realpath(path)
    if os.path.commonpath([root_real, real]) != root_real:
        raise UnsafePathError(f"{path} resolves to {real}, outside the dataset root {root_real}")
    return real


def yolo_to_dmv2(source: Path, output: Path) -> ConversionResult:
    """Import the Ultralytics/YOLO dataset ``source`` (its yaml, or the folder holding it).

    The yaml may have any name (a folder is searched for ``dataset.yaml``, else its only yaml)
    and is read with Ultralytics' rules (see :func:`read_yolo_config`). Writes a DM v2 dataset
    at ``output`` (categorized unless every split names the same folder) with pixel coordinates
    from each image's header, the item identities (paths relative to the split's images folder)
    and a manifest keeping the yaml's class ids. Images or labels whose path leaves the dataset
    root, bad rows, labels without an image, and rows moved onto the image edge are listed in
    ``output/audit.json``.
    """
    if source.is_dir():
        try:
            config_path = find_yolo_config(source)
        except ValueError as exc:
            raise DatasetInputError(str(exc)) from exc
    else:
        config_path = source
    if not config_path.is_file():
        raise DatasetInputError(f"no YOLO config {str(config_path)!r}")
    try:
        config = read_yolo_config(config_path)
    except ValueError as exc:
        raise DatasetInputError(str(exc)) from exc
    for paths in config.sources.values():
        for entry in paths:
            if not entry.exists():
                # As written and as resolved: the `../` retry rule may have changed the path.
                as_written = config.written.get(entry, str(entry))
                tried = [os.path.abspath(config.root / as_written), os.path.abspath(entry)]
                resolved = " nor ".join(repr(p) for p in dict.fromkeys(tried))
                raise DatasetInputError(
                    f"YOLO images folder or list {as_written!r} (from {config_path}) does not "
                    f"exist: neither {resolved}"
                    if len(set(tried)) > 1
                    else f"YOLO images folder or list {as_written!r} (from {config_path}) does "
                    f"not exist: resolved to {resolved}"
                )
    refuse_output_inside(output, config.root)
    plan, flat = _plan(config, config_path)
    root_real = os.path.realpath(config.root)
    ids_by_name = {name: class_id for class_id, name in config.name_ids.items()}
    with fresh_output(output) as out, AuditLog(
        out, source=str(source), target_format="dm_v2"
    ) as audit:
        for split, images, image_folders in plan:
            keys = ItemKeys()
            seen: set[str] = set()
            labels_used: set[str] = set()
            for image_path, identity in images:
                audit.items_total += 1
                label = _label_path(image_path)
                # The image's entry accounts for its label, whatever becomes of the image: the
                # label is not reported again as one without an image.
                labels_used.add(os.path.normpath(label))
                try:
                    real = _check_inside(root_real, image_path)
                    if os.path.lexists(label):
                        _check_inside(root_real, label)
                except UnsafePathError as exc:
                    audit.record(
                        split=split, item=identity, reason=AuditReason.UNSAFE_PATH,
                        message=str(exc),
                    )  # fmt: skip
                    continue
                if real in seen:
                    audit.record(
                        split=split, item=identity, reason=AuditReason.DUPLICATE_IMAGE,
                        message=f"{identity} is listed more than once in this split",
                    )  # fmt: skip
                    continue
                seen.add(real)
                if not os.path.isfile(image_path):
                    problem = special_file_problem(image_path)
                    audit.record(
                        split=split, item=identity,
                        reason=AuditReason.MISSING_IMAGE if problem is None
                        else AuditReason.UNREADABLE_IMAGE,
                        message=f"{image_path} {problem or 'does not exist'}",
                    )  # fmt: skip
                    continue
                size = image_size_or_skip(image_path, identity, audit, split, identity)
                if size is None:
                    continue
                width, height = size
                # Annotation ids and audit entries are built from the identity: the text form.
                text_identity, encoded = utf8_identity(identity)
                item = _read_label(
                    Path(label), width, height, config, split, text_identity, audit
                )
                if encoded:
                    audit.record_change(
                        split=split, item=text_identity, reason=AuditReason.RENAMED_FOR_TARGET,
                        message="the file name is not UTF-8 text: its identity is kept "
                        "percent-encoded",
                    )  # fmt: skip
                item = item.model_copy(update={"source": DMv2Source(file_name=text_identity)})
                write_dmv2_item(out, split, keys.key(identity), item, image_path)
                audit.items_written += 1
                audit.annotations_written += len(item.boxes()) + len(item.polygons())
            _audit_orphan_labels(images, image_folders, labels_used, split, audit)
        if audit.items_written == 0:
            raise NoUsableItemsError(
                f"no usable image in the YOLO dataset {str(source)!r}: "
                f"{audit.items_total} image(s), all skipped ({dict(audit.reasons)})"
            )
        categories = [
            DMv2Category(id=class_id, name=name) for name, class_id in ids_by_name.items()
        ]
        keypoints = None
        if config.kpt_shape is not None:
            names = config.kpt_names or [str(i) for i in range(config.kpt_shape[0])]
            keypoints = DMv2Keypoints(
                names=names, flip_idx=config.flip_idx, classes=list(config.names)
            )
        write_manifest(
            out, config.names, audit.items_written, categories=categories, keypoints=keypoints
        )
        summary = audit.close()
    return ConversionResult(
        path=str(out),
        config_path=str(out / "dataset.json"),
        format="dm_v2",
        is_categorized=not flat,
        source_path=str(source),
        classes=sorted(set(config.names)),
        splits=[s for s, _, _ in plan if s is not None],
        audit_path=str(audit.path),
        audit=summary,
    )


def _audit_orphan_labels(
    images: list[tuple[str, str]],
    folders: Sequence[Path],
    labels_used: set[str],
    split: str | None,
    audit: AuditLog,
) -> None:
    # Label files that no image of the split uses: their annotations have no image, so they
    # are audited rather than lost without a word. Looked for beside the split's labels and,
    # for each images folder of the split, in the whole labels tree Ultralytics maps it to
    # (sub-folders included: ``labels/train/sub/x.txt``).
    flat_dirs = {os.path.dirname(_label_path(path)) for path, _ in images}
    tree_roots: set[str] = set()
    for folder in folders:
        labels_root = os.path.dirname(_label_path(os.path.join(folder, "x")))
        if os.path.normpath(labels_root) != os.path.normpath(folder):
            tree_roots.add(labels_root)  # not beside the images: every .txt below is a label
    orphans: dict[str, str] = {}  # label path -> its name in the audit
    for root in sorted(tree_roots):
        for current, dirs, files in os.walk(root):
            dirs.sort()
            for name in files:
                if name.endswith(".txt"):
                    path = os.path.normpath(os.path.join(current, name))
                    orphans[path] = os.path.relpath(path, root).replace(os.sep, "/")
    for labels_dir in sorted(flat_dirs):
        if os.path.isdir(labels_dir):
            with os.scandir(labels_dir) as entries:
                for entry in entries:
                    if entry.name.endswith(".txt"):
                        orphans.setdefault(os.path.normpath(entry.path), entry.name)
    for path, name in sorted(orphans.items()):
        if path in labels_used or not os.path.isfile(path):
            continue
        audit.items_total += 1  # an item of its own: skipped, so counts add up
        audit.record(
            split=split, item=name, reason=AuditReason.MISSING_IMAGE,
            message=f"label file {path} has no image",
        )  # fmt: skip


def _row_keypoints(
    values: Sequence[float], dims: int, width: int, height: int
) -> list[tuple[float, float, int]] | None:
    # A pose row's keypoints in pixels with COCO visibility; with 2 dims, (0, 0) is unlabelled
    # and anything else visible. None when a visibility is not 0, 1 or 2.
    points: list[tuple[float, float, int]] = []
    for index in range(0, len(values), dims):
        x, y = values[index], values[index + 1]
        if dims == 3:
            if values[index + 2] not in (0.0, 1.0, 2.0):
                return None
            visibility = int(values[index + 2])
        else:
            visibility = 0 if x == 0 and y == 0 else 2
        points.append((x * width, y * height, visibility))
    return points


def _finite(values: Sequence[float]) -> bool:
    return all(v == v and abs(v) != float("inf") for v in values)


def _class_id(text: str) -> int:
    # A class id as Ultralytics reads it: a number with an integral value (`1` or `1.0`).
    try:
        return int(text)
    except ValueError:
        value = float(text)
        if not value.is_integer():
            raise
        return int(value)


def _read_label(
    path: Path,
    width: int,
    height: int,
    config: YoloConfig,
    split: str | None,
    item_name: str,
    audit: AuditLog,
) -> DMv2Item:
    boxes: list[BoundingBox] = []
    polygons: list[Polygon] = []
    problem = special_file_problem(path)
    try:
        if problem is not None:
            raise NotRegularFileError(problem)
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""  # an image without a label file is a background image in YOLO
    except (OSError, UnicodeDecodeError) as exc:
        why = problem if problem is not None else f"is unreadable ({exc})"
        audit.record_change(
            split=split, item=item_name, reason=AuditReason.LABEL_UNREADABLE,
            message=f"{path.name} {why}; the image is kept without annotations",
        )  # fmt: skip
        text = ""
    keypoint_values = config.kpt_shape[0] * config.kpt_shape[1] if config.kpt_shape else None
    for number, line in enumerate(text.splitlines(), start=1):
        values = line.split()
        if not values:
            continue
        ann_id = f"{posixpath.splitext(item_name)[0]}-{number}"

        def skip(reason: AuditReason, message: str, kind: str = "row") -> None:
            audit.record(
                split=split, item=item_name, annotation=ann_id, kind=kind, reason=reason,
                message=f"{path.name} line {number}: {message}",
            )  # fmt: skip

        def changed(reason: AuditReason, message: str, kind: str) -> None:
            audit.record_change(
                split=split, item=item_name, annotation=ann_id, kind=kind, reason=reason,
                message=f"{path.name} line {number}: {message}",
            )  # fmt: skip

        try:
            # Python's float() also takes `0_2` and non-ASCII digits, which no YOLO tool writes
            # or reads: such a row is malformed (one cheap test for the whole line).
            if "_" in line or not line.isascii():
                raise ValueError(line)
            numbers = [float(v) for v in values[1:]]
            class_id = _class_id(values[0])
        except ValueError:
            skip(AuditReason.MALFORMED_ROW, f"not numbers: {line!r}")
            continue
        name = config.name_ids.get(class_id)
        if name is None:
            skip(AuditReason.MISSING_CLASS, f"class id {class_id} is not in names")
            continue
        keypoints: list[tuple[float, float, int]] = []
        if keypoint_values is not None and len(numbers) == 4 + keypoint_values:
            assert config.kpt_shape is not None
            parsed = _row_keypoints(numbers[4:], config.kpt_shape[1], width, height)
            if parsed is None:
                skip(AuditReason.MALFORMED_ROW, "keypoint visibility is not 0, 1 or 2", "box")
                continue
            keypoints, numbers = parsed, numbers[:4]
        if len(numbers) == 4:
            if not _finite(numbers):
                skip(AuditReason.BOX_NON_FINITE, f"box {numbers} is not finite", "box")
                continue
            cx, cy, bw, bh = numbers
            # Pixel edges; a row reaching past the image is clipped to it (audited), so what it
            # loses comes off its size and its other edges stay where the row puts them.
            left, top = cx * width - bw * width / 2, cy * height - bh * height / 2
            right, bottom = left + bw * width, top + bh * height
            if bw <= 0 or bh <= 0:
                skip(AuditReason.BOX_NON_POSITIVE, f"box {numbers} has no area", "box")
                continue
            if left < 0 or top < 0 or right > width or bottom > height:
                overshoot = max(-left, -top, right - width, bottom - height)
                left, top = max(left, 0.0), max(top, 0.0)
                right, bottom = min(right, float(width)), min(bottom, float(height))
                if right <= left or bottom <= top:
                    skip(AuditReason.BOX_OUTSIDE_IMAGE, f"box {numbers} is outside the image", "box")
                    continue
                if overshoot > _PIXEL_NOISE:  # six-decimal rounding is not worth an entry
                    changed(
                        AuditReason.CLAMPED_TO_IMAGE,
                        f"box {numbers} reaches past the image: clipped to it", "box",
                    )  # fmt: skip
            data = (left, top, right - left, bottom - top)
            boxes.append(
                BoundingBox(id=ann_id, classification=name, data=data, keypoints=keypoints)
            )
        elif len(numbers) >= 6 and len(numbers) % 2 == 0:
            if not _finite(numbers):
                skip(AuditReason.POLYGON_NON_FINITE, "a polygon point is not finite", "polygon")
                continue
            if (
                min(numbers) * max(width, height) < -_PIXEL_NOISE
                or (max(numbers) - 1.0) * max(width, height) > _PIXEL_NOISE
            ):
                changed(
                    AuditReason.CLAMPED_TO_IMAGE,
                    "polygon points past the image moved onto its edge", "polygon",
                )  # fmt: skip
            points = [
                (min(max(numbers[i], 0.0), 1.0) * width, min(max(numbers[i + 1], 0.0), 1.0) * height)
                for i in range(0, len(numbers), 2)
            ]
            if len(set(points)) < 3:
                skip(
                    AuditReason.POLYGON_TOO_FEW_POINTS,
                    "a polygon needs at least three distinct points", "polygon",
                )  # fmt: skip
                continue
            polygons.append(Polygon(id=ann_id, classification=name, data=points))
        else:
            skip(AuditReason.MALFORMED_ROW, f"{len(values)} values is neither a box nor a polygon")
    return DMv2Item(
        images=[DMv2Image(width=width, height=height, bounding_box=boxes, polygon=polygons)]
    )
