"""k-means anchor boxes: cluster box sizes with 1 - IoU as the distance (as YOLO does).

Pure Python on purpose: a demo's training must be real but need no numerical library. Boxes and
anchors are ``(width, height)`` pairs compared as if they shared a centre.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["AnchorFit", "fit_anchors", "iou_wh", "mean_best_iou", "read_yolo_boxes"]

type Box = tuple[float, float]


def iou_wh(box: Box, anchor: Box) -> float:
    """IoU of two boxes of sizes ``box`` and ``anchor`` placed on the same centre."""
    inter = min(box[0], anchor[0]) * min(box[1], anchor[1])
    union = box[0] * box[1] + anchor[0] * anchor[1] - inter
    return inter / union if union > 0 else 0.0


def _best(box: Box, anchors: Sequence[Box]) -> tuple[int, float]:
    best_index, best_iou = 0, -1.0
    for index, anchor in enumerate(anchors):
        value = iou_wh(box, anchor)
        if value > best_iou:
            best_index, best_iou = index, value
    return best_index, best_iou


def mean_best_iou(boxes: Sequence[Box], anchors: Sequence[Box]) -> float:
    """The mean, over ``boxes``, of each box's IoU with its best anchor (0.0 for no boxes)."""
    if not boxes or not anchors:
        return 0.0
    return sum(_best(box, anchors)[1] for box in boxes) / len(boxes)


@dataclass(frozen=True, slots=True)
class AnchorFit:
    """The result of :func:`fit_anchors`: anchors sorted by area, and how well they fit."""

    anchors: list[Box]
    mean_iou: float
    iterations: int
    converged: bool


def fit_anchors(
    boxes: Sequence[Box],
    k: int,
    *,
    iterations: int = 30,
    seed: int = 0,
    on_iteration: Callable[[int, float, int], None] | None = None,
) -> AnchorFit:
    """Cluster ``boxes`` into ``k`` anchors.

    Starts from k-means++ seeds (drawn with ``seed``), then alternates assignment (each box to the
    anchor it overlaps most) and update (each anchor to the mean size of its boxes). An anchor
    that loses every box moves to the worst-fitted box. Stops early when no assignment changes.

    Args:
        on_iteration: Called after each iteration with ``(iteration, mean_iou, changed)``.

    Raises:
        ValueError: no boxes, ``k`` < 1, or fewer distinct boxes than ``k``.
    """
    if k < 1:
        raise ValueError(f"need at least one anchor, got k={k}")
    if not boxes:
        raise ValueError("no boxes to cluster: the labels hold no bounding boxes")
    distinct = sorted(set(boxes))
    if len(distinct) < k:
        raise ValueError(f"{len(distinct)} distinct box size(s) cannot make {k} anchors; lower the cluster count")
    rng = random.Random(seed)
    anchors: list[Box] = [rng.choice(distinct)]
    while len(anchors) < k:
        # k-means++: pick the next seed with probability growing with its distance to the seeds.
        weights = [(1.0 - _best(box, anchors)[1]) ** 2 for box in distinct]
        if sum(weights) <= 0:
            break
        anchors.append(rng.choices(distinct, weights=weights)[0])
    assignment = [-1] * len(boxes)
    done = 0
    converged = False
    for iteration in range(1, iterations + 1):
        changed = 0
        for index, box in enumerate(boxes):
            nearest = _best(box, anchors)[0]
            if nearest != assignment[index]:
                assignment[index] = nearest
                changed += 1
        sums = [[0.0, 0.0, 0] for _ in anchors]
        for box, cluster in zip(boxes, assignment, strict=True):
            sums[cluster][0] += box[0]
            sums[cluster][1] += box[1]
            sums[cluster][2] += 1
        for cluster, (width, height, count) in enumerate(sums):
            if count:
                anchors[cluster] = (width / count, height / count)
            else:
                worst = min(boxes, key=lambda b: _best(b, anchors)[1])
                anchors[cluster] = worst
        score = mean_best_iou(boxes, anchors)
        done = iteration
        if on_iteration is not None:
            on_iteration(iteration, score, changed)
        if changed == 0:
            converged = True
            break
    ordered = sorted(anchors, key=lambda a: a[0] * a[1])
    return AnchorFit(ordered, mean_best_iou(boxes, ordered), done, converged)


def read_yolo_boxes(label_files: Iterable[Path]) -> list[Box]:
    """Every bounding box's normalised ``(width, height)`` from YOLO label files.

    Rows with five numbers are boxes (``class cx cy w h``); longer rows are polygons and are
    ignored, as are boxes without area.
    """
    boxes: list[Box] = []
    for path in label_files:
        for line in path.read_text(encoding="utf-8").splitlines():
            fields = line.split()
            if len(fields) != 5:
                continue
            width, height = float(fields[3]), float(fields[4])
            if width > 0 and height > 0:
                boxes.append((width, height))
    return boxes
