"""A small generated DM v2 dataset, for demos, tests and benchmarks."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict

from ._convert import fresh_output
from ._source import write_manifest

__all__ = [
    "SAMPLE_CLASSES",
    "SampleDataset",
    "make_sample_dataset",
]

#: The class names :func:`make_sample_dataset` draws from.
SAMPLE_CLASSES: Final[tuple[str, ...]] = ("car", "person", "tree")

_COLOURS: Final = {"car": (220, 60, 60), "person": (60, 160, 220), "tree": (60, 180, 80)}


class SampleDataset(BaseModel):
    """What :func:`make_sample_dataset` wrote."""

    model_config = ConfigDict(frozen=True)

    path: str
    count: int
    is_categorized: bool
    classes: list[str]
    annotations: int


def make_sample_dataset(
    folder: str | os.PathLike[str],
    *,
    items: int = 12,
    seed: int = 0,
    categorized: bool = True,
    boxes_per_item: int = 2,
    polygons_per_item: int = 1,
    image_size: tuple[int, int] = (64, 48),
    classes: Sequence[str] = SAMPLE_CLASSES,
    record_size: bool = False,
) -> SampleDataset:
    """Write a DM v2 dataset of ``items`` generated images with drawn boxes and polygons.

    Every annotation is valid and inside its image. A categorized dataset puts 70 % of the items
    in ``train/``, 20 % in ``valid/`` and the rest in ``test/`` (each split gets at least one item
    when there are three or more). ``record_size`` writes each image's width and height into its
    JSON, so converters need not open the image. The same ``seed`` gives the same files.

    Raises:
        ValueError: ``items`` is not positive, or ``classes`` is empty.
        OutputExistsError: ``folder`` exists and is not empty.
    """
    if items <= 0:
        raise ValueError(f"make_sample_dataset(items={items}): need at least one item")
    if not classes:
        raise ValueError("make_sample_dataset(classes=...): need at least one class")
    # Imported here: Pillow and its drawing modules cost ~65 ms, which every
    # `import steprail.datasets` paid.
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    names = list(classes)
    width, height = image_size
    annotations = 0
    with fresh_output(Path(os.fspath(folder))) as out:
        made: set[str | None] = set()
        for index in range(items):
            split = _split_of(index, items) if categorized else None
            base = out if split is None else out / split
            if split not in made:
                (base / "json").mkdir(parents=True)
                (base / "original_files").mkdir(parents=True)
                made.add(split)
            stem = f"item_{index:06d}"
            image = Image.new("RGB", (width, height), (245, 245, 240))
            draw = ImageDraw.Draw(image)
            boxes = []
            for number in range(boxes_per_item):
                name = rng.choice(names)
                w = rng.randint(2, max(2, width // 2))
                h = rng.randint(2, max(2, height // 2))
                x = rng.randint(0, width - w)
                y = rng.randint(0, height - h)
                draw.rectangle((x, y, x + w - 1, y + h - 1), outline=_COLOURS.get(name, (0, 0, 0)))
                boxes.append(
                    {"id": f"b{number}", "classification": name, "data": [x, y, w, h]}
                )
            polygons = []
            for number in range(polygons_per_item):
                name = rng.choice(names)
                cx = rng.uniform(width * 0.25, width * 0.75)
                cy = rng.uniform(height * 0.25, height * 0.75)
                r = min(width, height) * 0.2
                points = [
                    [round(cx - r, 2), round(cy + r, 2)],
                    [round(cx + r, 2), round(cy + r, 2)],
                    [round(cx, 2), round(cy - r, 2)],
                ]
                draw.polygon([tuple(p) for p in points], outline=_COLOURS.get(name, (0, 0, 0)))
                polygons.append({"id": f"p{number}", "classification": name, "data": points})
            entry: dict[str, object] = {"bounding_box": boxes, "polygon": polygons}
            if record_size:
                entry = {"width": width, "height": height, **entry}
            image.save(base / "original_files" / f"{stem}.png")
            (base / "json" / f"{stem}.json").write_text(
                json.dumps({"images": [entry]}), encoding="utf-8"
            )
            annotations += len(boxes) + len(polygons)
        write_manifest(out, list(classes), items)
    return SampleDataset(
        path=str(out),
        count=items,
        is_categorized=categorized,
        classes=sorted(set(classes)),
        annotations=annotations,
    )


def _split_of(index: int, total: int) -> str:
    # Deterministic 70/20/10 split that gives every split an item once there are three.
    if total >= 3:
        if index == total - 1:
            return "test"
        if index == total - 2:
            return "valid"
    share = index / total
    return "train" if share < 0.7 else "valid" if share < 0.9 else "test"
