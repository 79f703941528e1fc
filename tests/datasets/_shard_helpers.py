"""Helpers shared by the sharded-conversion tests (in process and on Ray): the real fixtures
imported to DM v2, and a byte-for-byte comparison of two output folders."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from steprail.datasets import (
    ConversionResult,
    coco_to_dmv2,
    dmv2_to_coco,
    dmv2_to_yolo,
    voc_to_dmv2,
    yolo_to_dmv2,
)

REAL = Path(__file__).resolve().parents[1] / "data" / "real"

Converter = Callable[[Path, Path], ConversionResult]

#: Every real fixture that holds a dataset, with its importer (COCO, YOLO and VOC sources).
REAL_SOURCES: dict[str, tuple[Converter, str]] = {
    "labelme_coco": (coco_to_dmv2, "labelme_coco/annotations.json"),
    "coco2017_val": (coco_to_dmv2, "coco2017_val"),
    "coco8-seg": (yolo_to_dmv2, "coco8-seg/coco8-seg.yaml"),
    "coco8-pose": (yolo_to_dmv2, "coco8-pose/coco8-pose.yaml"),
    "coco128": (yolo_to_dmv2, "coco128/coco128.yaml"),
    "labelme_voc": (voc_to_dmv2, "labelme_voc"),
    "bccd_voc": (voc_to_dmv2, "bccd_voc/BCCD"),
}

#: The single-process writers a sharded conversion must match.
WRITERS: dict[str, Converter] = {"yolo": dmv2_to_yolo, "coco": dmv2_to_coco}


def import_real(name: str, folder: Path) -> Path:
    """The real fixture ``name`` imported to DM v2 under ``folder``."""
    importer, relative = REAL_SOURCES[name]
    return Path(importer(REAL / relative, folder / f"{name}_dm").path)


def file_bytes(root: Path) -> dict[str, str]:
    """Every file under ``root`` (relative path, sha256) and every folder (``'dir'``)."""
    found: dict[str, str] = {}
    for folder, dirs, files in os.walk(root):
        base = Path(folder)
        for name in dirs:
            found[(base / name).relative_to(root).as_posix()] = "dir"
        for name in files:
            path = base / name
            found[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def leftovers(parent: Path) -> list[str]:
    """Staging folders of a sharded conversion left in ``parent`` (there must be none)."""
    return sorted(p.name for p in parent.iterdir() if "shards-" in p.name)
