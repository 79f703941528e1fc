"""Real oriented boxes: DOTA's own example labels, as the YOLO-OBB rows Ultralytics makes of them.

``tests/data/real/dota_devkit`` holds one label file of the DOTA authors' toolkit (64 rotated
vehicles, pixel corners). The test turns it into Ultralytics OBB rows the way Ultralytics' DOTA
converter does (the class index from the published ``dota8.yaml``, whose names are DOTA's with
spaces for hyphens; each corner divided by the image size), then imports that dataset with
:func:`yolo_to_dmv2` and writes it out again as YOLO and COCO. The image is a blank PNG of the
original's size (the DOTA image is not redistributable; see the fixtures' README).
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from pycocotools.coco import COCO

from steprail.datasets import dmv2_to_coco, dmv2_to_yolo, yolo_to_dmv2

from ._helpers import write_image

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
LABELS = REAL / "dota_devkit" / "labelTxt" / "P1888.txt"
WIDTH, HEIGHT = 712, 557  # P1888.png's size (its PNG header, DOTA_devkit at the README's commit)

type Corners = tuple[float, float, float, float, float, float, float, float]


def _dota_objects() -> list[tuple[str, Corners]]:
    # DOTA lines after the "key:value" header: eight pixel coordinates, the class, difficult.
    objects: list[tuple[str, Corners]] = []
    for line in LABELS.read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if ":" in line or len(fields) < 9:
            continue
        x1, y1, x2, y2, x3, y3, x4, y4 = (float(v) for v in fields[:8])
        objects.append((fields[8], (x1, y1, x2, y2, x3, y3, x4, y4)))
    return objects


def _names() -> dict[int, str]:
    config = yaml.safe_load((REAL / "ultralytics_cfg" / "dota8.yaml").read_text(encoding="utf-8"))
    names: dict[int, str] = config["names"]
    return names


@pytest.fixture
def obb_dataset(tmp_path: Path) -> Path:
    """The DOTA labels as an Ultralytics OBB dataset in dota8's layout, with dota8.yaml."""
    ids = {name.replace(" ", "-"): class_id for class_id, name in _names().items()}
    rows = []
    for name, corners in _dota_objects():
        scaled = [v / (WIDTH if index % 2 == 0 else HEIGHT) for index, v in enumerate(corners)]
        rows.append(f"{ids[name]} " + " ".join(f"{v:.6g}" for v in scaled))
    root = tmp_path / "dota8"
    write_image(root / "images" / "train" / "P1888.png", WIDTH, HEIGHT)
    write_image(root / "images" / "val" / "background.png", 64, 48)  # dota8.yaml needs a val
    (root / "labels" / "train").mkdir(parents=True)
    (root / "labels" / "train" / "P1888.txt").write_text("\n".join(rows) + "\n")
    shutil.copy(REAL / "ultralytics_cfg" / "dota8.yaml", root / "dota8.yaml")
    return root


def test_the_fixture_is_what_its_facts_say() -> None:
    facts = json.loads((REAL / "dota_devkit" / "facts.json").read_text(encoding="utf-8"))
    p1888 = facts["files"]["P1888"]
    objects = _dota_objects()
    assert len(objects) == p1888["objects"] == 64
    assert dict(Counter(name for name, _ in objects)) == p1888["objects_per_class"]
    x_min, y_min, x_max, y_max = p1888["corner_bounds"]
    assert 0 <= x_min and x_max <= WIDTH and 0 <= y_min and y_max <= HEIGHT


def test_dota_rotated_boxes_import_as_four_corner_polygons(obb_dataset: Path, tmp_path: Path) -> None:
    result = yolo_to_dmv2(obb_dataset / "dota8.yaml", tmp_path / "dm")

    assert result.audit.reasons == {} and result.audit.changes == {}
    assert result.audit.items_written == 2
    (item_path,) = (tmp_path / "dm").glob("train/json/*.json")
    item: dict[str, Any] = json.loads(item_path.read_text(encoding="utf-8"))
    (image,) = item["images"]
    assert (image["width"], image["height"]) == (WIDTH, HEIGHT)
    assert image.get("bounding_box", []) == []
    got = sorted(
        (p["classification"], tuple(round(c, 2) for point in p["data"] for c in point))
        for p in image["polygon"]
    )
    names = _names()
    wanted = sorted(
        (names[[k for k, v in names.items() if v.replace(" ", "-") == name][0]], corners)
        for name, corners in _dota_objects()
    )
    # Pixel corners back to 0.01 px (the rows hold 6 significant digits of the fraction).
    assert [g[0] for g in got] == [w[0] for w in wanted]
    for (_, got_corners), (_, want_corners) in zip(got, wanted, strict=True):
        assert all(abs(a - b) <= 0.01 for a, b in zip(got_corners, want_corners, strict=True))


def test_dota_rotated_boxes_go_out_as_the_same_obb_rows_and_as_coco_polygons(
    obb_dataset: Path, tmp_path: Path
) -> None:
    yolo_to_dmv2(obb_dataset / "dota8.yaml", tmp_path / "dm")

    back = dmv2_to_yolo(tmp_path / "dm", tmp_path / "yolo")
    assert back.audit.reasons == {} and back.audit.changes == {}

    def rows(path: Path) -> list[tuple[int, list[float]]]:
        parsed = [line.split() for line in path.read_text().splitlines()]
        return sorted((int(r[0]), [float(v) for v in r[1:]]) for r in parsed)

    ours = rows(tmp_path / "yolo" / "labels" / "train" / "P1888.txt")
    original = rows(obb_dataset / "labels" / "train" / "P1888.txt")
    assert [c for c, _ in ours] == [c for c, _ in original]
    for (_, a), (_, b) in zip(ours, original, strict=True):
        assert len(a) == 8 and all(abs(x - y) <= 2e-6 for x, y in zip(a, b, strict=True))

    coco = dmv2_to_coco(tmp_path / "dm", tmp_path / "coco")
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO(str(Path(coco.config_path) / "instances_train.json"))
    annotations = truth.loadAnns(truth.getAnnIds())
    assert len(annotations) == 64
    assert all(len(a["segmentation"]) == 1 and len(a["segmentation"][0]) == 8 for a in annotations)
    by_name = Counter(truth.loadCats(a["category_id"])[0]["name"] for a in annotations)
    assert by_name == {"large vehicle": 50, "small vehicle": 14}
