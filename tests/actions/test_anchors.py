"""The example training action: k-means anchor boxes from YOLO labels."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from steprail import RuntimeContext
from steprail.actions._kmeans import fit_anchors, iou_wh, mean_best_iou, read_yolo_boxes
from steprail.actions.anchors import MODEL_FORMAT, AnchorBoxTrainAction
from steprail.datasets import LocalBackend, make_sample_dataset


def test_iou_of_same_centre_boxes() -> None:
    assert iou_wh((2.0, 2.0), (2.0, 2.0)) == 1.0
    assert iou_wh((2.0, 1.0), (1.0, 2.0)) == pytest.approx(1 / 3)
    assert iou_wh((0.0, 0.0), (0.0, 0.0)) == 0.0


def test_kmeans_finds_well_separated_sizes() -> None:
    rng = random.Random(3)
    centres = [(0.05, 0.05), (0.2, 0.4), (0.6, 0.3)]
    boxes = [(w * rng.uniform(0.95, 1.05), h * rng.uniform(0.95, 1.05)) for w, h in centres for _ in range(40)]
    scores: list[float] = []
    fit = fit_anchors(boxes, 3, iterations=50, seed=1, on_iteration=lambda i, score, changed: scores.append(score))
    assert fit.converged
    for (w, h), (cw, ch) in zip(fit.anchors, centres, strict=True):
        assert w == pytest.approx(cw, rel=0.05) and h == pytest.approx(ch, rel=0.05)
    assert fit.mean_iou > 0.9
    assert len(scores) == fit.iterations
    assert fit.mean_iou == pytest.approx(mean_best_iou(boxes, fit.anchors))


def test_kmeans_refuses_impossible_requests() -> None:
    with pytest.raises(ValueError, match="no boxes"):
        fit_anchors([], 2)
    with pytest.raises(ValueError, match="cannot make 3 anchors"):
        fit_anchors([(0.1, 0.1), (0.2, 0.2)], 3)
    with pytest.raises(ValueError, match="at least one anchor"):
        fit_anchors([(0.1, 0.1)], 0)


def test_read_yolo_boxes_keeps_boxes_only(tmp_path: Path) -> None:
    label = tmp_path / "a.txt"
    label.write_text("0 0.5 0.5 0.2 0.1\n1 0.1 0.1 0.2 0.1 0.3 0.3\n2 0.5 0.5 0 0.1\n\n")
    assert read_yolo_boxes([label]) == [(0.2, 0.1)]


def test_anchor_action_end_to_end(tmp_path: Path) -> None:
    sample = make_sample_dataset(tmp_path / "sample", items=15, seed=2)
    runtime = RuntimeContext()
    with LocalBackend(tmp_path / "backend") as backend:
        dataset = backend.import_dataset(sample.path).dataset.id
        outcome = AnchorBoxTrainAction(
            {"dataset": dataset, "clusters": 3, "iterations": 8}, runtime=runtime, client=backend, work_dir=tmp_path / "work"
        ).run()
        assert outcome.ok, outcome.error
        model_id = outcome.steps[-1].data["model_id"]
        record = backend.get_model(model_id)
    model = json.loads(Path(record.file).read_text())
    assert model["format"] == MODEL_FORMAT
    assert len(model["anchors"]) == 3
    areas = [w * h for w, h in model["anchors"]]
    assert areas == sorted(areas)
    assert 0.0 < model["train_mean_iou"] <= 1.0
    assert sorted(model["classes"]) == model["classes"] and model["classes"]
    per_iteration = [m.value for m in runtime.metrics if m.step == "train" and "iteration" in m.value]
    assert [m["iteration"] for m in per_iteration] == list(range(1, model["iterations"] + 1))
    assert per_iteration[-1]["mean_iou"] == pytest.approx(model["train_mean_iou"], abs=1e-6)


def test_anchor_action_with_too_many_clusters_fails_and_cleans_up(tmp_path: Path) -> None:
    sample = make_sample_dataset(tmp_path / "sample", items=3, seed=2, boxes_per_item=1)
    with LocalBackend(tmp_path / "backend") as backend:
        dataset = backend.import_dataset(sample.path).dataset.id
        outcome = AnchorBoxTrainAction(
            {"dataset": dataset, "clusters": 40}, client=backend, work_dir=tmp_path / "work"
        ).run()
        assert backend.list_models() == []
    assert outcome.status == "failed"
    assert "cannot make 40 anchors" in (outcome.error or "")
    assert not any((tmp_path / "work").glob("dataset*"))
