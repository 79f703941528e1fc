"""The real fixtures' facts.json files are what make_facts.py computes from the fixtures now.

make_facts.py reads each fixture with other people's code (pycocotools, PyYAML, defusedxml), so
its facts are an independent reference for the importer tests; this test keeps them from
drifting when a fixture changes.
"""

from __future__ import annotations

import pytest

from ..data.real import make_facts


@pytest.mark.parametrize("name", sorted(make_facts.FIXTURES))
def test_facts_json_matches_the_fixture(name: str) -> None:
    path = make_facts.REAL_DIR / name / "facts.json"
    assert path.is_file(), f"{path} is missing: run tests/data/real/make_facts.py"
    assert path.read_text(encoding="utf-8") == make_facts.render(make_facts.compute(name)), (
        f"{path} is stale: run tests/data/real/make_facts.py"
    )


def test_every_fixture_folder_has_facts_and_a_readme_entry() -> None:
    folders = sorted(p.name for p in make_facts.REAL_DIR.iterdir() if p.is_dir() and p.name != "__pycache__")
    assert folders == sorted(make_facts.FIXTURES)
    readme = (make_facts.REAL_DIR / "README.md").read_text(encoding="utf-8")
    for name in folders:
        assert f"## {name}" in readme, f"README.md has no section for {name}"


def test_the_facts_capture_what_the_fixtures_are_for() -> None:
    # The reasons each fixture was picked, so a re-subset cannot quietly lose them.
    coco = make_facts.compute("coco2017_val")
    assert coco["crowd_rle"] == 1
    assert isinstance(coco["multi_polygon"], int) and coco["multi_polygon"] >= 2
    file_names = make_facts.compute("labelme_coco")["file_names"]
    assert isinstance(file_names, list) and all(n.startswith("JPEGImages/") for n in file_names)
    assert make_facts.compute("coco8-pose")["kpt_shape"] == [17, 3]
    splits = make_facts.compute("coco8-seg")["splits"]
    assert isinstance(splits, dict) and splits["test"] is None
    assert splits["train"]["label_row_kinds"]["polygon"] > 0
    bccd = make_facts.compute("bccd_voc")
    image_sets = bccd["image_sets"]
    assert bccd["degenerate_boxes"] == 2
    assert isinstance(image_sets, dict) and sorted(image_sets) == ["test", "train", "trainval", "val"]
