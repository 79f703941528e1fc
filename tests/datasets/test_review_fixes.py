"""Findings of the hostile review of the dataset hub (issue 9), one test per finding."""

from __future__ import annotations

import json
import os
from pathlib import Path

from steprail.datasets import AuditReason, read_audit, yolo_to_dmv2

from ._helpers import write_image


def _bytes_path(folder: Path, name: bytes) -> Path:
    return Path(os.fsdecode(os.path.join(os.fsencode(folder), name)))


def test_yolo_image_name_not_utf8_with_labels_is_kept_percent_encoded(tmp_path: Path) -> None:
    root = tmp_path / "yolo"
    (root / "labels" / "train").mkdir(parents=True)
    write_image(_bytes_path(root / "images" / "train", b"bad\xff.png"), 20, 10)
    _bytes_path(root / "labels" / "train", b"bad\xff.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "d.yaml").write_text("train: images/train\nval: images/train\nnames: [a]\n")
    result = yolo_to_dmv2(root / "d.yaml", tmp_path / "dm")
    assert result.audit.items_written == 1 and result.audit.annotations_written == 1
    item = json.loads((tmp_path / "dm" / "json" / "bad%FF.json").read_text())
    assert item["source"]["file_name"] == "bad%FF.png"
    assert all("\\udcff" not in box["id"] for box in item["images"][0]["bounding_box"])
    _, entries = read_audit(Path(result.audit_path))
    assert [(e.item, e.reason) for e in entries] == [
        ("bad%FF.png", AuditReason.RENAMED_FOR_TARGET)
    ]
