"""Every writer's output, byte for byte, pinned by sha256: speed work must not change a byte.

The real fixtures (tests/data/real) are imported to DM v2 and written back out as COCO, YOLO and
Pascal VOC; two generated datasets (one with the image sizes in the JSON, one without) go the
same way. Every output file's sha256 is compared with ``output_digests.json`` beside the
fixtures. Absolute paths (the temporary folder, the fixtures folder) are replaced by fixed
placeholders before hashing, so the digests do not depend on where the test runs.

When an output change is intended, regenerate the digests and review the diff::

    .venv/bin/python -m tests.datasets.test_output_bytes --update
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from steprail.datasets import (
    ConversionResult,
    coco_to_dmv2,
    dmv2_to_coco,
    dmv2_to_voc,
    dmv2_to_yolo,
    make_sample_dataset,
    voc_to_dmv2,
    yolo_to_dmv2,
)

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
DIGESTS = REAL / "output_digests.json"

Importer = Callable[[Path, Path], ConversionResult]

# (name, importer, source relative to REAL): every real fixture that holds a dataset.
_REAL_SOURCES: tuple[tuple[str, Importer, str], ...] = (
    ("labelme_coco", coco_to_dmv2, "labelme_coco/annotations.json"),
    ("coco2017_val", coco_to_dmv2, "coco2017_val"),
    ("coco8-seg", yolo_to_dmv2, "coco8-seg/coco8-seg.yaml"),
    ("coco8-pose", yolo_to_dmv2, "coco8-pose/coco8-pose.yaml"),
    ("coco128", yolo_to_dmv2, "coco128/coco128.yaml"),
    ("labelme_voc", voc_to_dmv2, "labelme_voc"),
    ("bccd_voc", voc_to_dmv2, "bccd_voc/BCCD"),
)

_WRITERS: tuple[tuple[str, Importer], ...] = (
    ("coco", dmv2_to_coco),
    ("yolo", dmv2_to_yolo),
    ("voc", dmv2_to_voc),
)


def _digest(path: Path, replacements: list[tuple[bytes, bytes]]) -> str:
    data = path.read_bytes()
    for old, new in replacements:
        data = data.replace(old, new)
    return hashlib.sha256(data).hexdigest()


_IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg"})


def _tree_digests(
    root: Path, replacements: list[tuple[bytes, bytes]], *, hash_images: bool = True
) -> dict[str, str]:
    # Generated images are PNGs encoded by Pillow (its zlib may change the bytes between
    # versions), and writers only link or copy them: for those the file's presence is pinned.
    return {
        path.relative_to(root).as_posix(): (
            _digest(path, replacements)
            if hash_images or path.suffix.lower() not in _IMAGE_SUFFIXES
            else "image"
        )
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def compute_digests(work: Path) -> dict[str, dict[str, str]]:
    """Run every conversion under ``work`` and return ``{output name: {file: sha256}}``.

    Covers the DM v2 imports themselves too, so a change in an importer's bytes shows up."""
    # Longest first: the work folder may sit inside another replaced folder.
    replacements = sorted(
        [
            (str(work).encode(), b"<WORK>"),
            (str(REAL).encode(), b"<REAL>"),
            (json.dumps(str(work))[1:-1].encode(), b"<WORK>"),
            (json.dumps(str(REAL))[1:-1].encode(), b"<REAL>"),
        ],
        key=lambda pair: -len(pair[0]),
    )
    sources: list[tuple[str, Path, bool]] = []  # (name, DM v2 folder, hash its images)
    for name, importer, relative in _REAL_SOURCES:
        dm = work / f"dm_{name}"
        importer(REAL / relative, dm)
        sources.append((name, dm, True))
    for record_size in (False, True):
        name = f"sample_{'sized' if record_size else 'headers'}"
        dm = work / f"dm_{name}"
        make_sample_dataset(
            dm, items=24, seed=7, boxes_per_item=3, polygons_per_item=2, record_size=record_size
        )
        sources.append((name, dm, False))
    digests: dict[str, dict[str, str]] = {}
    for name, dm, hash_images in sources:
        digests[f"dm_{name}"] = _tree_digests(dm, replacements, hash_images=hash_images)
        for format_name, writer in _WRITERS:
            out = work / f"{format_name}_{name}"
            writer(dm, out)
            digests[out.name] = _tree_digests(out, replacements, hash_images=hash_images)
    return digests


def test_every_output_byte_is_as_pinned(tmp_path: Path) -> None:
    expected = json.loads(DIGESTS.read_text(encoding="utf-8"))
    actual = compute_digests(tmp_path)
    assert sorted(actual) == sorted(expected)
    for output, files in expected.items():
        changed = sorted(
            name for name in files.keys() | actual[output].keys()
            if files.get(name) != actual[output].get(name)
        )  # fmt: skip
        assert not changed, f"{output}: these files changed: {changed}"


def main(argv: list[str]) -> int:
    """``--update`` writes the digests of the current code; without it, reports differences."""
    with tempfile.TemporaryDirectory(prefix="steprail-digests-") as tmp:
        actual = compute_digests(Path(tmp))
    if "--update" in argv:
        DIGESTS.write_text(json.dumps(actual, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote {DIGESTS}: {sum(map(len, actual.values()))} files")
        return 0
    expected = json.loads(DIGESTS.read_text(encoding="utf-8"))
    differ = [
        f"{out}/{name}"
        for out in sorted(expected.keys() | actual.keys())
        for name in sorted(expected.get(out, {}).keys() | actual.get(out, {}).keys())
        if expected.get(out, {}).get(name) != actual.get(out, {}).get(name)
    ]
    print("\n".join(differ) or "all outputs byte-identical")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
