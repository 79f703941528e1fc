"""Compute ``facts.json`` for every real fixture in this folder, independently of steprail.

Each fixture is read with a library that is not ours (pycocotools for COCO, PyYAML plus plain
file counting for Ultralytics, defusedxml for Pascal VOC), so tests can compare what steprail
imports against numbers that steprail had no hand in. ``tests/datasets/test_real_fixtures_facts.py``
recomputes every ``facts.json`` with these functions, so the files cannot drift from the fixtures.

Run ``python tests/data/real/make_facts.py`` after changing a fixture.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import cast

import defusedxml.ElementTree as SafeET
import yaml
from pycocotools.coco import COCO

REAL_DIR = Path(__file__).resolve().parent
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})

type Facts = dict[str, object]


def _sorted_counts(counter: Counter[str]) -> dict[str, int]:
    return {key: counter[key] for key in sorted(counter)}


def coco_facts(annotations_json: Path, images_root: Path) -> Facts:
    """Facts of a COCO annotations file, read with pycocotools.

    ``images_root`` is the folder the images' ``file_name`` values are relative to.
    """
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress lines
        coco = COCO(str(annotations_json))
    annotations = coco.loadAnns(coco.getAnnIds())
    images = coco.loadImgs(coco.getImgIds())
    per_category: Counter[str] = Counter(str(a["category_id"]) for a in annotations)
    crowd = [a for a in annotations if a.get("iscrowd", 0) == 1]
    multi_polygon = [
        a
        for a in annotations
        if isinstance(a.get("segmentation"), list) and len(a["segmentation"]) > 1
    ]
    with_keypoints = [a for a in annotations if a.get("num_keypoints", 0) > 0]
    on_disk = [i for i in images if (images_root / i["file_name"]).is_file()]
    categories = [
        {"id": c["id"], "name": c["name"], "supercategory": c.get("supercategory")}
        for c in coco.loadCats(coco.getCatIds())
    ]
    return {
        "format": "coco",
        "images": len(images),
        "image_ids": sorted(int(i["id"]) for i in images),
        "file_names": sorted(str(i["file_name"]) for i in images),
        "images_on_disk": len(on_disk),
        "annotations": len(annotations),
        "annotations_per_category_id": _sorted_counts(per_category),
        "crowd": len(crowd),
        "crowd_rle": sum(1 for a in crowd if isinstance(a.get("segmentation"), dict)),
        "multi_polygon": len(multi_polygon),
        "annotations_with_keypoints": len(with_keypoints),
        "categories": sorted(categories, key=lambda c: cast(int, c["id"])),
    }


def _label_path(image: Path) -> Path:
    """Ultralytics' rule: the last ``images`` folder in the path becomes ``labels``, suffix ``.txt``."""
    parts = list(image.parts)
    index = len(parts) - 1 - parts[::-1].index("images")
    parts[index] = "labels"
    return Path(*parts).with_suffix(".txt")


def ultralytics_facts(yaml_file: Path, dataset_root: Path) -> Facts:
    """Facts of an Ultralytics dataset: its yaml read with PyYAML, its files counted.

    ``dataset_root`` is where the split folders are: the published yaml's ``path`` names the
    download location (``coco8-seg``, relative to Ultralytics' datasets dir), not this folder.
    """
    config = yaml.safe_load(yaml_file.read_text(encoding="utf-8"))
    raw_names = config["names"]
    names = (
        {str(k): str(v) for k, v in raw_names.items()}
        if isinstance(raw_names, dict)
        else {str(i): str(v) for i, v in enumerate(raw_names)}
    )
    kpt_shape = config.get("kpt_shape")
    splits: dict[str, object] = {}
    for split in ("train", "val", "test"):
        folder = config.get(split)
        if folder is None:
            splits[split] = None
            continue
        images = sorted(
            p for p in (dataset_root / str(folder)).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES
        )
        rows_per_class: Counter[str] = Counter()
        row_kinds: Counter[str] = Counter()
        label_files = 0
        for image in images:
            label = _label_path(image)
            if not label.is_file():
                continue
            label_files += 1
            for line in label.read_text(encoding="utf-8").splitlines():
                values = line.split()
                if not values:
                    continue
                rows_per_class[values[0]] += 1
                row_kinds[_row_kind(len(values), kpt_shape)] += 1
        splits[split] = {
            "folder": folder,
            "images": len(images),
            "label_files": label_files,
            "label_rows": sum(rows_per_class.values()),
            "label_rows_per_class_id": _sorted_counts(rows_per_class),
            "label_row_kinds": _sorted_counts(row_kinds),
        }
    return {
        "format": "ultralytics",
        "yaml_path_value": config.get("path"),
        "names": names,
        "kpt_shape": kpt_shape,
        "splits": splits,
    }


def _row_kind(values: int, kpt_shape: object) -> str:
    """Name a label row by its number of values (class id included)."""
    if isinstance(kpt_shape, list) and values == 5 + int(kpt_shape[0]) * int(kpt_shape[1]):
        return "pose"
    if values == 5:
        return "box"
    if values == 9:
        return "obb_or_quad_polygon"
    if values > 5 and values % 2 == 1:
        return "polygon"
    return "malformed"


def ultralytics_yaml_facts(yaml_file: Path) -> Facts:
    """Facts of a published Ultralytics dataset yaml on its own (no images shipped)."""
    config = yaml.safe_load(yaml_file.read_text(encoding="utf-8"))
    return {
        "format": "ultralytics-yaml",
        "path": config.get("path"),
        "train": config.get("train"),
        "val": config.get("val"),
        "test": config.get("test", "<absent>"),
        "names": {str(k): str(v) for k, v in config["names"].items()},
        "download": config.get("download"),
    }


def voc_facts(voc_root: Path) -> Facts:
    """Facts of a Pascal VOC folder (``Annotations/``, ``JPEGImages/``, optional ``ImageSets/Main``).

    Read with defusedxml; boxes are counted as written (VOC: 1-based, inclusive corners).
    """
    per_class: Counter[str] = Counter()
    flags: Counter[str] = Counter()
    degenerate = 0
    xml_files = sorted((voc_root / "Annotations").glob("*.xml"))
    images_missing = 0
    for xml_file in xml_files:
        root = SafeET.parse(xml_file).getroot()
        if root is None:
            raise ValueError(f"{xml_file}: empty XML document")
        filename = root.findtext("filename") or ""
        if not (voc_root / "JPEGImages" / filename).is_file():
            images_missing += 1
        for obj in root.iter("object"):
            per_class[(obj.findtext("name") or "").strip()] += 1
            for flag in ("difficult", "truncated", "occluded"):
                if (obj.findtext(flag) or "").strip() == "1":
                    flags[flag] += 1
            box = obj.find("bndbox")
            if box is None:
                degenerate += 1
                continue
            xmin, ymin, xmax, ymax = (float(box.findtext(k) or "nan") for k in ("xmin", "ymin", "xmax", "ymax"))
            if not (xmin < xmax and ymin < ymax):
                degenerate += 1
    image_sets: dict[str, list[str]] = {}
    main = voc_root / "ImageSets" / "Main"
    if main.is_dir():
        for split_file in sorted(main.glob("*.txt")):
            image_sets[split_file.stem] = split_file.read_text(encoding="utf-8").split()
    return {
        "format": "voc",
        "annotation_files": len(xml_files),
        "images": sum(1 for p in (voc_root / "JPEGImages").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES),
        "annotation_files_without_image": images_missing,
        "objects": sum(per_class.values()),
        "objects_per_class": _sorted_counts(per_class),
        "flags_set": _sorted_counts(flags),
        "degenerate_boxes": degenerate,
        "image_sets": image_sets,
    }


def dota_facts(label_dir: Path) -> Facts:
    """Facts of DOTA label files (``labelTxt/*.txt``), read with plain Python.

    DOTA's format: optional ``imagesource:`` and ``gsd:`` header lines, then one object per line,
    ``x1 y1 x2 y2 x3 y3 x4 y4 class difficult`` (the four corners of a rotated box, in pixels).
    """
    files: dict[str, object] = {}
    for path in sorted(label_dir.glob("*.txt")):
        classes: Counter[str] = Counter()
        difficult = 0
        xs: list[float] = []
        ys: list[float] = []
        header: dict[str, str] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            if ":" in line:
                key, _, value = line.partition(":")
                header[key] = value
                continue
            fields = line.split()
            if len(fields) < 9:
                continue
            corners = [float(v) for v in fields[:8]]
            xs += corners[0::2]
            ys += corners[1::2]
            classes[fields[8]] += 1
            if len(fields) > 9 and fields[9] == "1":
                difficult += 1
        files[path.stem] = {
            "objects": sum(classes.values()),
            "objects_per_class": _sorted_counts(classes),
            "difficult": difficult,
            "header": header,
            "corner_bounds": [min(xs), min(ys), max(xs), max(ys)],
        }
    return {"files": files}


#: Each fixture folder and how its facts are computed.
FIXTURES: dict[str, Callable[[Path], Facts]] = {
    "labelme_coco": lambda d: coco_facts(d / "annotations.json", d),
    "coco2017_val": lambda d: coco_facts(d / "annotations" / "instances_val2017.json", d / "val2017"),
    "coco8-seg": lambda d: ultralytics_facts(d / "coco8-seg.yaml", d),
    "coco8-pose": lambda d: ultralytics_facts(d / "coco8-pose.yaml", d),
    "coco128": lambda d: ultralytics_facts(d / "coco128.yaml", d),
    "ultralytics_cfg": lambda d: {
        name: ultralytics_yaml_facts(d / f"{name}.yaml") for name in ("coco8", "dota8")
    },
    "labelme_voc": voc_facts,
    "bccd_voc": lambda d: voc_facts(d / "BCCD"),
    "dota_devkit": lambda d: dota_facts(d / "labelTxt"),
}


def compute(name: str) -> Facts:
    """The facts of fixture ``name`` (a key of ``FIXTURES``), computed from its files now."""
    return FIXTURES[name](REAL_DIR / name)


def render(facts: Facts) -> str:
    """``facts`` as the text written to ``facts.json``."""
    return json.dumps(facts, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> None:
    """Write ``<fixture>/facts.json`` for every fixture."""
    for name in FIXTURES:
        (REAL_DIR / name / "facts.json").write_text(render(compute(name)), encoding="utf-8")
        print(f"wrote {name}/facts.json")


if __name__ == "__main__":
    main()
