"""Helpers shared by the dataset tests: writing DM v2 items, snapshots of a folder tree."""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

Box = tuple[str, float, float, float, float]
Poly = tuple[str, tuple[tuple[float, float], ...]]


@dataclass
class ItemSpec:
    """One generated item: an image size, boxes and polygons (all valid)."""

    stem: str
    width: int
    height: int
    boxes: list[Box] = field(default_factory=list)
    polygons: list[Poly] = field(default_factory=list)
    split: str | None = None
    record_size: bool = False


def write_image(path: Path, width: int, height: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), (200, 200, 200)).save(path)


def write_item(root: Path, spec: ItemSpec) -> None:
    """Write one DM v2 item (JSON and a PNG of the item's size)."""
    folder = root if spec.split is None else root / spec.split
    image: dict[str, object] = {
        "bounding_box": [
            {"id": f"b{i}", "classification": name, "data": [x, y, w, h]}
            for i, (name, x, y, w, h) in enumerate(spec.boxes)
        ],
        "polygon": [
            {"id": f"p{i}", "classification": name, "data": [list(p) for p in points]}
            for i, (name, points) in enumerate(spec.polygons)
        ],
    }
    if spec.record_size:
        image["width"] = spec.width
        image["height"] = spec.height
    (folder / "json").mkdir(parents=True, exist_ok=True)
    (folder / "json" / f"{spec.stem}.json").write_text(json.dumps({"images": [image]}))
    write_image(folder / "original_files" / f"{spec.stem}.png", spec.width, spec.height)


def write_dataset(root: Path, specs: Iterable[ItemSpec]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for spec in specs:
        write_item(root, spec)


def tree(root: Path) -> dict[str, str]:
    """Every path under ``root`` (relative) with a content hash for files, 'dir' for folders."""
    snapshot: dict[str, str] = {}
    if not root.exists():
        return snapshot
    for folder, dirs, files in os.walk(root):
        base = Path(folder)
        for name in dirs:
            snapshot[str((base / name).relative_to(root))] = "dir"
        for name in files:
            if name.endswith(("-shm", "-wal")):
                continue  # SQLite's shared-memory index and log change on reads and checkpoints
            path = base / name
            snapshot[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return snapshot


def read_dmv2(root: Path) -> dict[tuple[str | None, str], tuple[list[Box], list[Poly]]]:
    """Every item of a DM v2 folder: (split, stem) -> (boxes, polygons), each sorted."""
    out: dict[tuple[str | None, str], tuple[list[Box], list[Poly]]] = {}
    splits: Sequence[str | None] = [
        s for s in ("train", "valid", "test") if (root / s / "json").is_dir()
    ] or [None]
    for split in splits:
        folder = root if split is None else root / split
        for path in sorted((folder / "json").glob("*.json")):
            raw = json.loads(path.read_text())
            boxes: list[Box] = []
            polys: list[Poly] = []
            for image in raw["images"]:
                for b in image.get("bounding_box", []):
                    x, y, w, h = (float(v) for v in b["data"])
                    boxes.append((b["classification"], x, y, w, h))
                for p in image.get("polygon", []):
                    points = tuple((float(px), float(py)) for px, py in p["data"])
                    polys.append((p["classification"], points))
            out[(split, path.stem)] = (sorted(boxes), sorted(polys))
    return out


def _close(a: Sequence[float], b: Sequence[float], tol: float) -> bool:
    return len(a) == len(b) and all(
        math.isclose(p, q, abs_tol=tol) for p, q in zip(a, b, strict=True)
    )


def close_boxes(a: Sequence[Box], b: Sequence[Box], tol: float = 2e-3) -> bool:
    """Same boxes (class equal, coordinates within ``tol`` pixels), in any order."""
    rest = list(b)
    for box in a:
        match = next(
            (i for i, other in enumerate(rest) if other[0] == box[0] and _close(box[1:], other[1:], tol)),
            None,
        )
        if match is None:
            return False
        rest.pop(match)
    return not rest


def close_polys(a: Sequence[Poly], b: Sequence[Poly], tol: float = 2e-3) -> bool:
    """Same polygons (class equal, vertices in order within ``tol`` pixels), in any order."""

    def flat(poly: Poly) -> list[float]:
        return [c for point in poly[1] for c in point]

    rest = list(b)
    for poly in a:
        match = next(
            (i for i, other in enumerate(rest) if other[0] == poly[0] and _close(flat(poly), flat(other), tol)),
            None,
        )
        if match is None:
            return False
        rest.pop(match)
    return not rest
