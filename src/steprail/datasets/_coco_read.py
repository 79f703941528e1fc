"""Importing COCO instances into DM v2: the layouts real datasets come in, and what is kept.

Accepted as ``source``:

* a folder with ``annotations/instances_<split>.json`` (any other ``annotations/*.json`` when
  there is no ``instances*`` file), images in ``images/<split>/``, ``<split>/`` (the COCO 2017
  layout: ``val2017/``), ``images/`` or the folder itself;
* a folder holding one ``*.json`` (a tool's export beside its ``JPEGImages/``; of several, the
  one named like ``annotations``, ``instances`` or ``coco``);
* one annotations JSON file, its ``file_name`` entries resolved under ``images_root`` (by
  default the file's folder); ``file_name`` may hold sub-folders.

Split names: a year or other suffix is dropped (``val2017`` is ``val``), then ``train`` is
``train``, ``val``/``valid``/``validation`` is ``valid`` and ``test``/``test-dev`` is ``test``.

Kept: each image's identity (its ``file_name``, sub-folders included) and id, every category
with its id, name and ``supercategory`` (unused ones too) in the manifest, each annotation's id.
Audited: a ``file_name`` that leaves the images root, a missing image, an annotation whose image
is not listed, duplicate image ids or file names, and an image file under an images root that no
``images`` entry lists (the JSON defines the dataset: such a file is skipped, ``unlisted_image``).
A crowd region keeps its RLE mask and its crowd flag. An object of several polygons stays one
polygon with several rings; keypoints are kept on it, the categories' keypoint names and
skeleton in the manifest.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError

from ._audit import AuditLog, AuditReason
from ._convert import ConversionResult, fresh_output
from ._dmv2 import (
    IMAGE_EXTENSIONS,
    BoundingBox,
    DMv2Category,
    DMv2Image,
    DMv2Item,
    DMv2Keypoints,
    DMv2Source,
    Polygon,
    RleMask,
)
from ._paths import ItemKeys, UnsafePathError, relative_identity, utf8_identity
from ._regular import special_file_problem
from ._rle import rle_problem
from ._source import (
    DatasetInputError,
    NoUsableItemsError,
    checked_box,
    checked_declared_size,
    image_size_or_skip,
    refuse_output_inside,
    write_dmv2_item,
    write_manifest,
)

__all__ = [
    "coco_to_dmv2",
]

_SPLIT_WORDS: Final = {
    "train": "train",
    "val": "valid",
    "valid": "valid",
    "validation": "valid",
    "test": "test",
    "testdev": "test",
}
_SUFFIX: Final = re.compile(r"[-_]?\d+$")
_ANNOTATIONS_NAME: Final = re.compile(r"annotations|instances|coco", re.IGNORECASE)


def split_of(raw: str) -> str | None:
    """The DM v2 split a COCO split name stands for (``val2017`` -> ``valid``), or ``None``."""
    word = _SUFFIX.sub("", raw.lower()).replace("-", "").replace("_", "")
    return _SPLIT_WORDS.get(word)


@dataclass(slots=True)
class _Job:
    split: str | None
    path: Path
    images_root: Path


@dataclass(slots=True)
class _Totals:
    categories: dict[int, DMv2Category] = field(default_factory=dict)
    max_image_id: int = 0
    max_annotation_id: int = 0
    keypoints: DMv2Keypoints | None = None


def _raw_split(path: Path) -> str:
    if path.stem.startswith(_IMAGE_INFO):
        return path.stem.removeprefix(_IMAGE_INFO)
    return path.stem.removeprefix("instances_").removeprefix("instances")


# COCO's test splits have no annotations: `image_info_test2017.json` (and its subset
# `image_info_test-dev2017.json`) list their images, imported as items without annotations.
_IMAGE_INFO: Final = "image_info_"


def _with_image_info(annotations: Path, files: list[Path]) -> list[Path]:
    # ``files`` plus, for each split they do not cover, its image_info file: the full test2017
    # listing before the test-dev subset, one per split.
    covered = {split_of(_raw_split(p)) for p in files}
    infos = sorted(annotations.glob(f"{_IMAGE_INFO}*.json"), key=lambda p: ("-dev" in p.stem, p.name))
    for info in infos:
        split = split_of(_raw_split(info))
        if info not in files and split is not None and split not in covered:
            files.append(info)
            covered.add(split)
    return files


def _plan(source: Path, images_root: Path | None) -> list[_Job]:
    if source.is_file():
        split = split_of(_raw_split(source))
        return [_Job(split, source, images_root or source.parent)]
    if not source.is_dir():
        problem = special_file_problem(source)
        if problem is not None:  # a FIFO is neither a file nor a folder; it exists
            raise DatasetInputError(f"COCO annotations {str(source)!r} {problem}")
        raise DatasetInputError(f"COCO dataset {str(source)!r} does not exist")
    annotations = source / "annotations"
    files: list[Path] = []
    if annotations.is_dir():
        files = sorted(annotations.glob("instances*.json")) or [
            p for p in sorted(annotations.glob("*.json")) if not p.name.startswith(_IMAGE_INFO)
        ]
        files = _with_image_info(annotations, files)
    if not files:
        top = sorted(p for p in source.glob("*.json") if p.is_file())
        if len(top) > 1:  # several: the ones named like annotations (tools add other JSON files)
            top = [p for p in top if _ANNOTATIONS_NAME.search(p.name)] or top
        if len(top) == 1:
            return [_Job(split_of(_raw_split(top[0])), top[0], images_root or source)]
        if top:
            raise DatasetInputError(
                f"several JSON files in {str(source)!r} ({[p.name for p in top]}): "
                "give the annotations file to import"
            )
        split_jobs = _split_folder_jobs(source, images_root)
        if split_jobs:
            return split_jobs
        raise DatasetInputError(
            f"no COCO annotations in {str(source)!r}: expected annotations/instances*.json "
            "or one *.json file"
        )
    if len(files) == 1 and _raw_split(files[0]) == "":
        return [_Job(None, files[0], _images_folder(source, images_root, None, None))]
    jobs: list[_Job] = []
    for path in files:
        raw = _raw_split(path)
        split = split_of(raw)
        if split is None:
            raise DatasetInputError(
                f"{str(path)!r}: cannot tell the split from the name {raw!r} "
                "(expected train, val or test, with an optional suffix such as 2017)"
            )
        if any(job.split == split for job in jobs):
            raise DatasetInputError(f"{str(path)!r}: a second annotations file for split {split!r}")
        jobs.append(_Job(split, path, _images_folder(source, images_root, raw, split)))
    return jobs


def _split_folder_jobs(source: Path, images_root: Path | None) -> list[_Job]:
    # Roboflow's COCO export: one folder per split (train/, valid/, test/), each holding its
    # annotations (`_annotations.coco.json`) beside its images.
    jobs: list[_Job] = []
    for folder in sorted(p for p in source.iterdir() if p.is_dir()):
        split = split_of(folder.name)
        if split is None:
            continue
        found = sorted(p for p in folder.glob("*.json") if p.is_file())
        if len(found) > 1:
            found = [p for p in found if _ANNOTATIONS_NAME.search(p.name)] or found
        if len(found) != 1:
            continue
        if any(job.split == split for job in jobs):
            raise DatasetInputError(f"{str(folder)!r}: a second folder for split {split!r}")
        jobs.append(_Job(split, found[0], images_root / folder.name if images_root else folder))
    return jobs


def _images_folder(source: Path, given: Path | None, raw: str | None, split: str | None) -> Path:
    base = given or source
    # `test-dev2017` lists images of the `test2017` folder.
    names = [n for n in dict.fromkeys([raw, raw and raw.replace("-dev", ""), split]) if n]
    candidates = [base / "images" / n for n in names] + [base / n for n in names]
    candidates += [base / "images", base]
    return next(c for c in candidates if c.is_dir())


def _load(path: Path) -> dict[str, Any]:
    problem = special_file_problem(path)
    if problem is not None:
        raise DatasetInputError(f"COCO annotations {str(path)!r} {problem}")
    try:
        data = json.loads(path.read_bytes())
    except ValueError as exc:
        raise DatasetInputError(f"{str(path)!r} is not valid JSON: {exc}") from exc
    except RecursionError:
        raise DatasetInputError(f"{str(path)!r} is nested too deeply to parse") from None
    except OSError as exc:
        raise DatasetInputError(f"cannot read {str(path)!r}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise DatasetInputError(f"{str(path)!r} has no 'images' list")
    return data


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _categories(
    data: dict[str, Any], path: Path, totals: _Totals, audit: AuditLog, split: str | None
) -> dict[int, str]:
    # Category id -> class name. Several ids of one name (Roboflow lists its project as
    # category 0 beside a class of the same name) are one class: its id is the one an earlier
    # file gave the name, else the one this file's annotations use most (a tie: the later
    # entry, as Roboflow's class follows its project entry); the others are audited.
    entries: dict[int, dict[str, Any]] = {}
    for raw in data.get("categories", []) or []:
        if not isinstance(raw, dict):
            continue
        cat_id, name = _int(raw.get("id")), raw.get("name")
        if cat_id is None or not isinstance(name, str) or not name.strip():
            raise DatasetInputError(f"{str(path)!r}: category {raw!r} has no integer id or name")
        first = entries.get(cat_id)
        if first is not None:
            if first["name"] != name:
                raise DatasetInputError(
                    f"{str(path)!r}: category id {cat_id} is given twice in this file, as "
                    f"{first!r} and as {raw!r}"
                )
            continue  # the same category listed twice: one
        known = totals.categories.get(cat_id)
        if known is not None and known.name != name:
            raise DatasetInputError(
                f"{str(path)!r}: category id {cat_id} is {name!r} here and {known.name!r} in "
                "another annotations file"
            )
        entries[cat_id] = raw
    by_name: dict[str, list[int]] = defaultdict(list)
    for cat_id, raw in entries.items():
        by_name[raw["name"]].append(cat_id)
    names: dict[int, str] = {}
    for name, ids in by_name.items():
        earlier = [c.id for c in totals.categories.values() if c.name == name]
        if earlier:
            kept = earlier[0]
        elif len(ids) == 1:
            kept = ids[0]
        else:
            usage = Counter(
                ann.get("category_id") for ann in data.get("annotations") or []
                if isinstance(ann, dict)
            )  # fmt: skip
            kept = max(reversed(ids), key=lambda i: usage[i])  # a tie: the later entry
        for cat_id in ids:
            names[cat_id] = name
            _note_keypoint_schema(entries[cat_id], name, totals)
        if kept not in totals.categories:
            sup = entries[kept].get("supercategory")
            totals.categories[kept] = DMv2Category(
                id=kept, name=name, supercategory=sup if isinstance(sup, str) else None
            )
        merged = [i for i in ids if i != kept]
        if merged:
            audit.record_change(
                split=split, item="*", kind="dataset", reason=AuditReason.CATEGORY_MERGED,
                message=f"{path.name}: category id(s) {merged} are also named {name!r}: one "
                f"class, id {kept}; their annotations are that class",
            )  # fmt: skip
    return names


def _note_keypoint_schema(raw: dict[str, Any], name: str, totals: _Totals) -> None:
    # A category listing keypoint names (COCO person_keypoints): the dataset's keypoint schema.
    point_names = raw.get("keypoints")
    if not (isinstance(point_names, list) and point_names):
        return
    skeleton = raw.get("skeleton")
    pairs: list[tuple[int, int]] = []
    for pair in skeleton if isinstance(skeleton, list) else []:
        if isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, int) for v in pair):
            pairs.append((pair[0], pair[1]))
    known = totals.keypoints
    if known is None:
        totals.keypoints = DMv2Keypoints(
            names=[str(n) for n in point_names], skeleton=pairs or None, classes=[name]
        )
    elif name not in known.classes:
        totals.keypoints = known.model_copy(update={"classes": [*known.classes, name]})


def coco_to_dmv2(
    source: Path, output: Path, *, images_root: Path | None = None
) -> ConversionResult:
    """Import the COCO dataset ``source`` (a folder or one annotations file; see the module
    docs) into a new DM v2 dataset at ``output``.

    ``images_root`` is where ``file_name`` entries are looked for (default: see the module
    docs); no image outside it is ever read. Unlike the writers, this loads one annotations file
    at a time into memory, as every COCO reader does. Errors name ``source``'s files.
    """
    jobs = _plan(source, images_root)
    refuse_output_inside(
        output, source if source.is_dir() else source.parent, *(job.images_root for job in jobs)
    )
    totals = _Totals()
    with fresh_output(output) as out, AuditLog(
        out, source=str(source), target_format="dm_v2"
    ) as audit:
        listed: set[str] = set()
        for job in jobs:
            _import_file(job, out, audit, totals, listed)
        _audit_unlisted_images(jobs, listed, audit)
        if audit.items_written == 0:
            raise NoUsableItemsError(
                f"no usable image in the COCO dataset {str(source)!r}: "
                f"{audit.items_total} image(s), all skipped ({dict(audit.reasons)})"
            )
        categories = list(totals.categories.values())
        write_manifest(
            out,
            [c.name for c in categories],
            audit.items_written,
            categories=categories,
            next_image_id=totals.max_image_id + 1,
            next_annotation_id=totals.max_annotation_id + 1,
            keypoints=totals.keypoints,
        )
        summary = audit.close()
    return ConversionResult(
        path=str(out),
        config_path=str(out / "dataset.json"),
        format="dm_v2",
        is_categorized=jobs[0].split is not None,
        source_path=str(source),
        classes=sorted({c.name for c in categories}),
        splits=[job.split for job in jobs if job.split is not None],
        audit_path=str(audit.path),
        audit=summary,
    )


def _import_file(
    job: _Job, out: Path, audit: AuditLog, totals: _Totals, listed: set[str]
) -> None:
    # ``listed`` gets the path (under the real images root) of every file an image entry names,
    # whatever becomes of the entry: the files no entry names are audited afterwards.
    data = _load(job.path)
    split = job.split
    categories = _categories(data, job.path, totals, audit, split)
    root_real = os.path.realpath(job.images_root)
    images: dict[int, dict[str, Any]] = {}
    order: list[int] = []
    for position, image in enumerate(data["images"]):
        audit.items_total += 1
        image_id = _int(image.get("id")) if isinstance(image, dict) else None
        file_name = image.get("file_name") if isinstance(image, dict) else None
        if isinstance(file_name, str):
            try:
                listed.add(os.path.join(root_real, relative_identity(file_name)))
            except UnsafePathError:
                pass  # outside the root: audited below, and no file under the root is named
        if image_id is None or not isinstance(file_name, str):
            audit.record(
                split=split, item=f"images[{position}]", reason=AuditReason.INVALID_ITEM,
                message="image entry without an integer id and a file_name",
            )  # fmt: skip
            continue
        if image_id in images:
            audit.record(
                split=split, item=file_name, reason=AuditReason.DUPLICATE_IMAGE,
                message=f"image id {image_id} is given to an earlier image too",
            )  # fmt: skip
            continue
        images[image_id] = image
        order.append(image_id)
        totals.max_image_id = max(totals.max_image_id, image_id)
    by_image: defaultdict[int, list[dict[str, Any]]] = defaultdict(list)
    seen_ids: set[object] = set()
    for position, ann in enumerate(data.get("annotations", []) or []):
        image_id = _int(ann.get("image_id")) if isinstance(ann, dict) else None
        if image_id is None or image_id not in images:
            ann_id = ann.get("id") if isinstance(ann, dict) else None
            audit.record(
                split=split, item=f"image_id {image_id!r}",
                annotation=str(ann_id if ann_id is not None else f"#{position}"),
                kind="annotation", reason=AuditReason.ORPHAN_ANNOTATION,
                message="the annotation's image_id is not in images",
            )  # fmt: skip
            continue
        by_image[image_id].append(ann)
        raw_id = ann.get("id")
        if raw_id is not None and isinstance(raw_id, (int, str)):
            if raw_id in seen_ids:
                # Kept on both (DM v2 ids are per item); a COCO output renumbers the later one.
                audit.record_change(
                    split=split, item=str(images[image_id].get("file_name")),
                    annotation=str(raw_id), kind="annotation",
                    reason=AuditReason.DUPLICATE_ANNOTATION_ID,
                    message=f"annotation id {raw_id!r} is given to an earlier annotation too",
                )  # fmt: skip
            seen_ids.add(raw_id)
        ann_id = _int(ann.get("id"))
        if ann_id is not None:
            totals.max_annotation_id = max(totals.max_annotation_id, ann_id)
    keys = ItemKeys()
    identities: set[str] = set()
    for image_id in order:
        image = images[image_id]
        file_name = str(image["file_name"])
        anns = by_image.pop(image_id, [])
        try:
            identity = relative_identity(file_name)
            image_path = os.path.join(job.images_root, identity)
            real = os.path.realpath(image_path)
            listed.add(real)  # the file itself, when a folder on the way is a symlink
            if os.path.commonpath([root_real, real]) != root_real:
                raise UnsafePathError(f"{file_name!r} resolves outside {str(job.images_root)!r}")
        except UnsafePathError as exc:
            audit.record(
                split=split, item=file_name, reason=AuditReason.UNSAFE_PATH,
                message=f"{exc}; the file is not read ({len(anns)} annotation(s) not imported)",
            )  # fmt: skip
            continue
        if identity in identities:
            audit.record(
                split=split, item=file_name, reason=AuditReason.DUPLICATE_IMAGE,
                message=f"{identity} is the file of an earlier image entry too",
            )  # fmt: skip
            continue
        identities.add(identity)
        if not os.path.isfile(image_path):
            # The name in another Unicode form (macOS writes NFD, most tools NFC): the file wins.
            other = _other_normal_form(job.images_root, root_real, identity)
            if other is not None and other not in identities:
                audit.record_change(
                    split=split, item=other, reason=AuditReason.SOURCE_DISAGREES,
                    message=f"file_name {file_name!r} names the file {other!r}, the same name in "
                    "another Unicode normal form: the file's name is the identity",
                )  # fmt: skip
                identity, image_path = other, os.path.join(job.images_root, other)
                identities.add(identity)
                listed.add(os.path.realpath(image_path))
        elif "\\" in file_name:
            audit.record_change(
                split=split, item=identity, reason=AuditReason.SOURCE_DISAGREES,
                message=f"file_name {file_name!r} read as {identity!r}: a backslash is taken as a "
                "folder separator, as Windows tools write it",
            )  # fmt: skip
        if not os.path.isfile(image_path):
            problem = special_file_problem(image_path)
            if problem is not None:  # it exists: a FIFO, device or folder, never opened
                audit.record(
                    split=split, item=identity, reason=AuditReason.UNREADABLE_IMAGE,
                    message=f"{identity} in {str(job.images_root)!r} {problem}",
                )  # fmt: skip
                continue
            audit.record(
                split=split, item=identity, reason=AuditReason.MISSING_IMAGE,
                message=f"{identity} not found in {str(job.images_root)!r} "
                f"({len(anns)} annotation(s) not imported)",
            )  # fmt: skip
            continue
        width, height = _int(image.get("width")), _int(image.get("height"))
        if width and height and width > 0 and height > 0:
            size = checked_declared_size(image_path, (width, height), identity, audit, split, identity)
        else:
            size = image_size_or_skip(image_path, identity, audit, split, identity)
        if size is None:
            continue
        width, height = size
        boxes, polygons = _annotations(
            anns, categories, split, identity, audit, width, height, totals.keypoints
        )
        text_identity, encoded = utf8_identity(identity)
        if encoded:
            audit.record_change(
                split=split, item=text_identity, reason=AuditReason.RENAMED_FOR_TARGET,
                message="the file name is not UTF-8 text: its identity is kept percent-encoded",
            )  # fmt: skip
        item = DMv2Item(
            images=[DMv2Image(width=width, height=height, bounding_box=boxes, polygon=polygons)],
            source=DMv2Source(file_name=text_identity, image_id=image_id),
        )
        write_dmv2_item(out, split, keys.key(identity), item, image_path)
        audit.items_written += 1
        audit.annotations_written += len(boxes) + len(polygons)


_IMAGE_SUFFIXES: Final = frozenset(ext.lower() for ext in IMAGE_EXTENSIONS)


def _other_normal_form(images_root: Path, root_real: str, identity: str) -> str | None:
    # ``identity`` in NFC or NFD when that names a file inside the root and it does not.
    for form in ("NFC", "NFD"):
        other = unicodedata.normalize(form, identity)
        if other == identity:
            continue
        path = os.path.join(images_root, other)
        real = os.path.realpath(path)
        if os.path.isfile(path) and os.path.commonpath([root_real, real]) == root_real:
            return other
    return None


def _audit_unlisted_images(jobs: list[_Job], listed: set[str], audit: AuditLog) -> None:
    # Every image file under an images root (its sub-folders too) that no image entry of any
    # annotations file names: skipped, as COCO readers do, and recorded (``unlisted_image``),
    # counted as an item. Nothing is read: the folders are listed, symlinked folders are not
    # followed, and a file found under two roots (one inside the other) is recorded once.
    # When the images root is the folder the annotations JSON sits in (a tool's export, a JSON
    # given directly), only its own files and its sub-folders holding a listed image are looked
    # in: a sub-folder with none is not part of the dataset (labelme's `Visualization/`
    # renderings beside `JPEGImages/`, or the rest of a big folder around the JSON). A folder
    # of images only (`val2017/`) is looked in whole.
    seen: set[str] = set()
    for job in jobs:
        root_real = os.path.realpath(job.images_root)
        prefix = os.path.join(root_real, "")
        used_dirs = {
            path[len(prefix) :].split(os.sep, 1)[0]
            for path in listed
            if path.startswith(prefix) and os.sep in path[len(prefix) :]
        }
        unlisted: list[str] = []
        for folder, dirs, files in os.walk(root_real):
            if folder == root_real and os.path.realpath(job.path.parent) == root_real:
                dirs[:] = [d for d in dirs if d in used_dirs]
            dirs.sort()
            for name in files:
                path = os.path.join(folder, name)
                if (
                    os.path.splitext(name)[1].lower() in _IMAGE_SUFFIXES
                    and path not in listed
                    and path not in seen
                ):
                    seen.add(path)
                    unlisted.append(os.path.relpath(path, root_real).replace(os.sep, "/"))
        for identity in sorted(unlisted):
            audit.items_total += 1
            audit.record(
                split=job.split, item=identity, reason=AuditReason.UNLISTED_IMAGE,
                message=f"{identity} is in the images folder {str(job.images_root)!r} but no "
                "'images' entry of the annotations names it: not imported",
            )  # fmt: skip


def _annotations(
    anns: list[dict[str, Any]],
    categories: dict[int, str],
    split: str | None,
    identity: str,
    audit: AuditLog,
    width: int,
    height: int,
    schema: DMv2Keypoints | None = None,
) -> tuple[list[BoundingBox], list[Polygon]]:
    boxes: list[BoundingBox] = []
    polygons: list[Polygon] = []
    for ann in anns:
        ann_id = str(ann.get("id"))

        def skip(reason: AuditReason, message: str, kind: str = "annotation") -> None:
            audit.record(
                split=split, item=identity, annotation=ann_id, kind=kind, reason=reason,
                message=message,
            )  # fmt: skip

        def changed(reason: AuditReason, message: str, kind: str) -> None:
            audit.record_change(
                split=split, item=identity, annotation=ann_id, kind=kind, reason=reason,
                message=message,
            )  # fmt: skip

        category_id = ann.get("category_id")
        name = categories.get(category_id) if isinstance(category_id, int) else None
        if name is None:
            skip(AuditReason.MISSING_CLASS, f"category_id {category_id!r} is not in categories")
            continue
        keypoints = _keypoints(ann.get("keypoints"))
        if keypoints is None:
            changed(
                AuditReason.KEYPOINTS_DROPPED,
                "keypoints not kept: not a list of (x, y, visibility 0..2) triples of finite "
                "numbers; the object is", "annotation",
            )  # fmt: skip
            keypoints = []
        elif (
            keypoints
            and schema is not None
            and name in schema.classes
            and len(keypoints) != len(schema.names)
        ):
            changed(
                AuditReason.KEYPOINTS_DROPPED,
                f"{len(keypoints)} keypoints, the category names {len(schema.names)}: not "
                "kept; the object is", "annotation",
            )  # fmt: skip
            keypoints = []
        segmentation = ann.get("segmentation")
        rings = segmentation if isinstance(segmentation, list) else []
        crowd = ann.get("iscrowd") == 1
        mask: RleMask | None = None
        if isinstance(segmentation, dict):
            try:
                mask = RleMask.model_validate(segmentation)
            except ValidationError:
                changed(
                    AuditReason.CROWD_AS_BOX,
                    "the RLE mask is not {counts, size}: the region is kept as its bbox", "box",
                )  # fmt: skip
            problem = None if mask is None else rle_problem(mask.counts, mask.size, width, height)
            if problem is not None:
                # pycocotools reads a broken mask without a word and fails later (annToMask).
                mask = None
                changed(
                    AuditReason.CROWD_AS_BOX,
                    f"the RLE mask is unreadable ({problem}): the region is kept as its bbox",
                    "box",
                )  # fmt: skip
        if rings and _is_box_rectangle(rings, ann.get("bbox")):
            rings = []  # a box written with its rectangle as segmentation (as our writer does)
        if rings:
            # One object, however many polygons it is drawn in: the first ring is the polygon's
            # data, the others its further rings. A broken ring is audited; the rest is kept.
            kept: list[list[tuple[float, float]]] = []
            broken: list[tuple[AuditReason, str]] = []  # (reason, message) per broken ring
            for index, ring in enumerate(rings):
                points = _ring_points(ring)
                if points is None:
                    # The annotation id as the source wrote it; the ring's place in the message
                    # (an id "15.0" would read as a number, not as ring 0 of annotation 15).
                    non_finite = _non_finite(ring)
                    broken.append((
                        AuditReason.POLYGON_NON_FINITE if non_finite
                        else AuditReason.POLYGON_TOO_FEW_POINTS,
                        f"ring {index} of the segmentation: "
                        + ("a coordinate is not a finite number" if non_finite else
                           "a polygon ring needs an even count of finite numbers and three "
                           "distinct points"),
                    ))  # fmt: skip
                    continue
                kept.append(points)
            if not kept:  # one annotation, one entry: skipped for its first broken ring
                skip(broken[0][0], "; ".join(message for _, message in broken), "polygon")
                continue
            for _, message in broken:
                changed(
                    AuditReason.POLYGON_RING_DROPPED,
                    f"{message}: the ring is dropped, the object kept with {len(kept)} ring(s)",
                    "polygon",
                )  # fmt: skip
            stored_bbox = _stored_bbox(ann.get("bbox"))
            if broken and stored_bbox is not None:
                # The stored bbox and area may cover the dropped ring: the kept rings' own box
                # and shoelace area are used instead.
                changed(
                    AuditReason.BBOX_RECOMPUTED,
                    f"stored bbox {ann.get('bbox')!r} and area {ann.get('area')!r} replaced by "
                    "the kept rings' bounding box and shoelace area (a ring was dropped)",
                    "polygon",
                )  # fmt: skip
                stored_bbox = None
            polygons.append(
                Polygon(
                    id=ann_id, classification=name, data=kept[0], rings=kept[1:],
                    bbox=stored_bbox,
                    area=_stored_area(ann.get("area")) if stored_bbox is not None else None,
                    keypoints=keypoints,
                    crowd=crowd,
                )  # fmt: skip
            )
            continue
        box = ann.get("bbox")
        if not (
            isinstance(box, list)
            and len(box) == 4
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in box)
        ):
            skip(AuditReason.INVALID_ANNOTATION, f"bbox {box!r} is not [x, y, width, height]", "box")
            continue
        values = [float(v) for v in box]
        if not all(abs(v) != float("inf") and v == v for v in values):
            skip(AuditReason.BOX_NON_FINITE, f"bbox {box!r} is not finite", "box")
            continue
        if values[2] <= 0 or values[3] <= 0:
            skip(AuditReason.BOX_NON_POSITIVE, f"bbox {box!r} has no area", "box")
            continue
        # Checked against the image as every output checks it: a box the COCO output would skip
        # is skipped (and audited) here, so a round trip loses nothing after the import.
        data = checked_box(
            audit, split, identity, ann_id, name,
            (values[0], values[1], values[2], values[3]), None, width, height,
        )  # fmt: skip
        if data is None:
            continue
        boxes.append(
            BoundingBox(
                id=ann_id,
                classification=name,
                data=data,
                area=_stored_area(ann.get("area")),
                keypoints=keypoints,
                mask=mask,
                crowd=crowd,
            )
        )
    return boxes, polygons


def _keypoints(raw: object) -> list[tuple[float, float, int]] | None:
    # COCO's flat [x1, y1, v1, x2, ...]: triples; [] when absent or all zero; None when broken.
    if raw is None or raw == []:
        return []
    if not isinstance(raw, list) or len(raw) % 3:
        return None
    points: list[tuple[float, float, int]] = []
    for index in range(0, len(raw), 3):
        x, y, v = raw[index : index + 3]
        numbers = all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in (x, y, v))
        if not numbers or float(v) not in (0.0, 1.0, 2.0):
            return None
        if not all(abs(float(c)) != float("inf") and c == c for c in (x, y)):
            return None
        points.append((float(x), float(y), int(v)))
    return points if any(v for _, _, v in points) else []


def _stored_bbox(box: object) -> tuple[float, float, float, float] | None:
    # The bbox a source stored with a polygon, kept when it is a usable box.
    if not (isinstance(box, list) and len(box) == 4):
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in box):
        return None
    x, y, w, h = (float(v) for v in box)
    if not all(abs(v) != float("inf") and v == v for v in (x, y, w, h)) or w <= 0 or h <= 0:
        return None
    return (x, y, w, h)


def _stored_area(area: object) -> float | None:
    if isinstance(area, (int, float)) and not isinstance(area, bool):
        value = float(area)
        if value >= 0 and value != float("inf"):
            return value
    return None


def _is_box_rectangle(rings: list[Any], box: object) -> bool:
    # The one ring [x, y, x+w, y, x+w, y+h, x, y+h] of the bbox [x, y, w, h], within float noise.
    if len(rings) != 1 or not isinstance(rings[0], list) or len(rings[0]) != 8:
        return False
    if not (isinstance(box, list) and len(box) == 4):
        return False
    try:
        x, y, w, h = (float(v) for v in box)
        expected = (x, y, x + w, y, x + w, y + h, x, y + h)
        return all(abs(float(a) - b) <= 1e-6 * max(1.0, abs(b)) for a, b in zip(rings[0], expected))
    except (TypeError, ValueError):
        return False


def _non_finite(ring: object) -> bool:
    # A ring holding inf or NaN (json.loads reads the Infinity and NaN literals as floats).
    return isinstance(ring, list) and any(
        isinstance(v, float) and (v != v or abs(v) == float("inf")) for v in ring
    )


def _ring_points(ring: object) -> list[tuple[float, float]] | None:
    if not isinstance(ring, list) or len(ring) < 6 or len(ring) % 2:
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in ring):
        return None
    values = [float(v) for v in ring]
    if not all(abs(v) != float("inf") and v == v for v in values):
        return None
    points = [(values[i], values[i + 1]) for i in range(0, len(values), 2)]
    return points if len(set(points)) >= 3 else None
