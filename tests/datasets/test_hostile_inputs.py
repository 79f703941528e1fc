"""Input that tries to get out (traversal, absolute paths, symlinks), to crash a run (deep JSON),
to merge items (equal names in other folders, odd bytes), and runs racing for one output folder.

Every case ends in the audit and nowhere else: nothing outside the dataset is read or copied.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from steprail.datasets import (
    AuditReason,
    DatasetInputError,
    OutputExistsError,
    coco_to_dmv2,
    dmv2_to_coco,
    dmv2_to_yolo,
    read_audit,
    yolo_to_dmv2,
)

from ._helpers import ItemSpec, write_dataset, write_image

SECRET = b"not yours"


def _secret(folder: Path) -> Path:
    """A file outside the dataset whose bytes must never appear in any output."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "secret.png"
    write_image(path, 12, 12)
    with path.open("ab") as out:
        out.write(SECRET)  # a real PNG with a marker after it
    return path


def _holds_secret(root: Path) -> bool:
    return any(p.is_file() and SECRET in p.read_bytes() for p in root.rglob("*"))


def _reasons(audit_path: str) -> dict[str, AuditReason]:
    _, entries = read_audit(Path(audit_path))
    return {e.item: e.reason for e in entries if e.action == "skipped"}


def test_coco_file_names_that_leave_the_images_root_are_refused(tmp_path: Path) -> None:
    secret = _secret(tmp_path / "outside")
    root = tmp_path / "ds"
    write_image(root / "images" / "a.png", 12, 12)
    (root / "images" / "link.png").symlink_to(secret)
    names = ["a.png", "../../outside/secret.png", str(secret), "link.png", "C:\\x\\secret.png"]
    data = {
        "images": [
            {"id": i + 1, "file_name": n, "width": 12, "height": 12} for i, n in enumerate(names)
        ],
        "annotations": [
            {"id": i + 1, "image_id": i + 1, "category_id": 1, "bbox": [1, 1, 2, 2]}
            for i in range(len(names))
        ],
        "categories": [{"id": 1, "name": "x"}],
    }
    (root / "coco.json").write_text(json.dumps(data))
    result = coco_to_dmv2(root / "coco.json", tmp_path / "dm", images_root=root / "images")
    assert result.audit.items_total == 5 and result.audit.items_written == 1
    assert _reasons(result.audit_path) == {n: AuditReason.UNSAFE_PATH for n in names[1:]}
    assert not _holds_secret(tmp_path / "dm")


def test_dmv2_symlinks_and_source_names_out_of_the_dataset_are_refused(tmp_path: Path) -> None:
    secret = _secret(tmp_path / "outside")
    root = tmp_path / "ds"
    write_dataset(root, [ItemSpec("a", 12, 12, boxes=[("x", 1.0, 1.0, 2.0, 2.0)])])
    (root / "json" / "b.json").write_text(json.dumps({"images": []}))
    (root / "original_files" / "b.png").symlink_to(secret)
    (tmp_path / "outside" / "c.json").write_text(json.dumps({"images": []}))
    (root / "json" / "c.json").symlink_to(tmp_path / "outside" / "c.json")
    write_image(root / "original_files" / "c.png", 12, 12)
    # An item whose recorded identity climbs out: writers would put the image there.
    (root / "json" / "d.json").write_text(
        json.dumps({"images": [], "source": {"file_name": "../../escape.png"}})
    )
    write_image(root / "original_files" / "d.png", 12, 12)
    for convert in (dmv2_to_coco, dmv2_to_yolo):
        out = tmp_path / convert.__name__
        result = convert(root, out)
        assert _reasons(result.audit_path) == {
            "b": AuditReason.UNSAFE_PATH,
            "c": AuditReason.UNSAFE_PATH,
            "d": AuditReason.UNSAFE_PATH,
        }
        assert result.audit.items_written == 1
        assert not _holds_secret(out)
        assert not (tmp_path / "escape.png").exists()


def test_yolo_image_lists_that_point_outside_are_refused(tmp_path: Path) -> None:
    secret = _secret(tmp_path / "outside")
    root = tmp_path / "ds"
    write_image(root / "images" / "a.png", 12, 12)
    (root / "labels").mkdir()
    (root / "labels" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "images" / "in.png").symlink_to(secret)
    (root / "train.txt").write_text(
        f"./images/a.png\n../outside/secret.png\n{secret}\nimages/in.png\n./images/a.png\n"
    )
    (root / "data.yaml").write_text("train: train.txt\nnames: {0: x}\n")
    result = yolo_to_dmv2(root / "data.yaml", tmp_path / "dm")
    _, entries = read_audit(Path(result.audit_path))
    assert [e.reason for e in entries] == [
        AuditReason.UNSAFE_PATH,
        AuditReason.UNSAFE_PATH,
        AuditReason.UNSAFE_PATH,
        AuditReason.DUPLICATE_IMAGE,  # listed twice: one item, the second listing said
    ]
    assert result.audit.items_total == 5 and result.audit.items_written == 1
    assert not _holds_secret(tmp_path / "dm")


def _nested(depth: int) -> str:
    return '{"images": [' + '{"a": [' * depth + "1" + "]}" * depth + "]}"


def test_deeply_nested_json_is_an_audited_item_not_a_crash(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    write_dataset(root, [ItemSpec("ok", 12, 12, boxes=[("x", 1.0, 1.0, 2.0, 2.0)])])
    (root / "json" / "deep.json").write_text(_nested(2000))
    write_image(root / "original_files" / "deep.png", 12, 12)
    for convert in (dmv2_to_coco, dmv2_to_yolo):
        result = convert(root, tmp_path / convert.__name__)
        assert _reasons(result.audit_path) == {"deep": AuditReason.ITEM_TOO_LARGE}
        assert result.audit.items_written == 1
    # A COCO file nested that deep is refused with its name, not with a RecursionError.
    (tmp_path / "coco").mkdir()
    (tmp_path / "coco" / "deep.json").write_text(_nested(100_000))
    with pytest.raises(DatasetInputError, match="deep.json"):
        coco_to_dmv2(tmp_path / "coco" / "deep.json", tmp_path / "dm")


def test_equal_names_in_other_folders_and_other_extensions_stay_apart(tmp_path: Path) -> None:
    root = tmp_path / "yolo"
    names = ["camA/0001.jpg", "camB/0001.jpg", "x.jpg", "x.png"]
    for index, name in enumerate(names):
        write_image(root / "images" / "all" / name, 20 + index, 20)
        label = (root / "labels" / "all" / name).with_suffix(".txt")
        label.parent.mkdir(parents=True, exist_ok=True)
        label.write_text(f"{index} 0.5 0.5 0.5 0.5\n")
    # One folder not named like a split, given as both train and val: a flat dataset.
    (root / "data.yaml").write_text("train: images/all\nval: images/all\nnames: [a, b, c, d]\n")
    result = yolo_to_dmv2(root, tmp_path / "dm")
    assert result.audit.items_written == 4 and result.audit.annotations_written == 4
    coco = dmv2_to_coco(tmp_path / "dm", tmp_path / "coco")
    written = json.loads((tmp_path / "coco" / "annotations" / "instances.json").read_text())
    by_name = {i["file_name"]: i["width"] for i in written["images"]}
    assert by_name == {name: 20 + index for index, name in enumerate(names)}
    assert coco.audit.items_written == 4
    yolo = dmv2_to_yolo(tmp_path / "dm", tmp_path / "yolo_out")
    images = sorted(
        p.relative_to(tmp_path / "yolo_out" / "images").as_posix()
        for p in (tmp_path / "yolo_out" / "images").rglob("*.*")
    )
    # x.jpg and x.png would share the label x.txt in YOLO: the second is renamed, and said.
    assert images == ["camA/0001.jpg", "camB/0001.jpg", "x.jpg", "x~2.png"]
    _, entries = read_audit(Path(yolo.audit_path))
    assert [(e.reason, e.action) for e in entries] == [
        (AuditReason.RENAMED_FOR_TARGET, "changed")
    ]
    labels = tmp_path / "yolo_out" / "labels"
    assert (labels / "x~2.txt").read_text().split()[0] == "3"


def test_annotations_without_their_image_are_audited(tmp_path: Path) -> None:
    root = tmp_path / "coco"
    write_image(root / "a.png", 12, 12)
    data = {
        "images": [
            {"id": 1, "file_name": "a.png", "width": 12, "height": 12},
            {"id": 2, "file_name": "gone.png", "width": 12, "height": 12},
        ],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2]},
            {"id": 2, "image_id": 2, "category_id": 1, "bbox": [1, 1, 2, 2]},
            {"id": 3, "image_id": 9, "category_id": 1, "bbox": [1, 1, 2, 2]},
        ],
        "categories": [{"id": 1, "name": "x"}],
    }
    (root / "instances.json").write_text(json.dumps(data))
    result = coco_to_dmv2(root, tmp_path / "dm")
    _, entries = read_audit(Path(result.audit_path))
    assert {(e.item, e.annotation, e.reason) for e in entries} == {
        ("image_id 9", "3", AuditReason.ORPHAN_ANNOTATION),
        ("gone.png", None, AuditReason.MISSING_IMAGE),
    }
    assert "1 annotation(s) not imported" in next(e.message for e in entries if e.item == "gone.png")
    assert result.audit.items_total == 2 and result.audit.items_written == 1

    yolo = tmp_path / "yolo"
    write_image(yolo / "images" / "a.png", 12, 12)
    (yolo / "labels").mkdir()
    (yolo / "labels" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (yolo / "labels" / "lost.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (yolo / "data.yaml").write_text("train: images\nval: images\nnames: [x]\n")
    result = yolo_to_dmv2(yolo, tmp_path / "dm_yolo")
    assert _reasons(result.audit_path) == {"lost.txt": AuditReason.MISSING_IMAGE}


_NAME_CHARS = st.sampled_from(list("aZ09 -_.%#&+,;=@[]{}~'") + ["é", "日", "\u202e", "\udcff"])


@st.composite
def _odd_paths(draw: st.DrawFn) -> list[str]:
    def part() -> str:
        text = draw(st.text(_NAME_CHARS, min_size=1, max_size=6))
        return "x" + text if text in (".", "..") or text.startswith(".") else text

    paths: set[str] = set()
    for _ in range(draw(st.integers(1, 4))):
        folders = [part() for _ in range(draw(st.integers(0, 2)))]
        ext = draw(st.sampled_from([".png", ".jpg", ".PNG"]))
        paths.add("/".join([*folders, part() + ext]))
    # A file and a folder cannot share a path: drop names that are a prefix folder of another.
    return sorted(p for p in paths if not any(q.startswith(p + "/") for q in paths))


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(paths=_odd_paths())
def test_odd_names_keep_their_identity_and_count(tmp_path_factory: pytest.TempPathFactory, paths: list[str]) -> None:
    tmp = tmp_path_factory.mktemp("odd")
    root = tmp / "yolo"
    for index, name in enumerate(paths):
        target = os.path.join(os.fsencode(root / "images"), os.fsencode(name))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        write_image(Path(os.fsdecode(target)), 10 + index, 10)
    (root / "data.yaml").write_text("train: images\nval: images\nnames: [a]\n")
    result = yolo_to_dmv2(root, tmp / "dm")
    assert result.audit.items_total == result.audit.items_written == len(paths)
    coco = dmv2_to_coco(tmp / "dm", tmp / "coco")
    assert coco.audit.items_written == len(paths)
    written = json.loads((tmp / "coco" / "annotations" / "instances.json").read_text())
    widths = sorted(i["width"] for i in written["images"])
    assert widths == [10 + i for i in range(len(paths))]  # no two images merged
    for image in written["images"]:
        assert (tmp / "coco" / "images" / image["file_name"]).is_file()
        original = next(p for i, p in enumerate(paths) if 10 + i == image["width"])
        # Text names come back as they were; a name with non-UTF-8 bytes percent-encoded.
        if "\udcff" not in original:
            assert image["file_name"] == original


def _race(tmp_path: Path, trial: int) -> None:
    out = tmp_path / f"out{trial}"
    barrier = threading.Barrier(3)
    outcomes: list[str] = []

    def run(convert_name: str) -> None:
        barrier.wait()
        try:
            if convert_name == "coco":
                dmv2_to_coco(tmp_path / "src", out)
            else:
                dmv2_to_yolo(tmp_path / "src", out)
            outcomes.append("ok:" + convert_name)
        except OutputExistsError:
            outcomes.append("refused")

    threads = [threading.Thread(target=run, args=(k,)) for k in ("coco", "yolo", "coco")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [o for o in outcomes if o.startswith("ok:")]
    assert len(winners) == 1 and outcomes.count("refused") == 2, outcomes
    # The winner's output is whole: the losers removed nothing of it.
    if winners[0] == "ok:coco":
        assert len(json.loads((out / "annotations" / "instances.json").read_text())["images"]) == 12
    else:
        assert len(list((out / "labels").glob("*.txt"))) == 12
    assert (out / "audit.json").is_file() and not (out / ".steprail-claim").exists()


def test_runs_racing_for_one_output_folder_exactly_one_wins(tmp_path: Path) -> None:
    specs = [ItemSpec(f"i{n}", 16, 16, boxes=[("a", 1.0, 1.0, 4.0, 4.0)]) for n in range(12)]
    write_dataset(tmp_path / "src", specs)
    for trial in range(8):
        _race(tmp_path, trial)
