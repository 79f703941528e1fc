"""The example training action: anchor boxes by k-means over a dataset's YOLO labels.

It is what ``steprail demo`` runs, and a complete, light example of :class:`BaseTrainAction`
with ``target_format`` set: the default workflow exports the dataset, converts it to YOLO, calls
:meth:`AnchorBoxTrainAction.train` and uploads the model file it writes (JSON anchors).

Run it on a dataset of the local backend::

    steprail run steprail.actions.anchors:AnchorBoxTrainAction -p dataset=1 -p clusters=4
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Final

from pydantic import Field

from ._kmeans import fit_anchors, mean_best_iou, read_yolo_boxes
from .train import BaseTrainAction, BaseTrainParams, TrainContext

__all__ = ["MODEL_FORMAT", "AnchorBoxParams", "AnchorBoxTrainAction"]

#: The ``format`` field of the model file.
MODEL_FORMAT: Final = "steprail-anchors/1"


class AnchorBoxParams(BaseTrainParams):
    """Params of :class:`AnchorBoxTrainAction`.

    Attributes:
        clusters: How many anchors to fit.
        iterations: The most k-means iterations (it stops earlier once nothing changes).
        seed: Seeds the k-means++ initialisation.
        train_split: The split to fit on (for a categorized dataset); ``valid`` is used to
            evaluate when present.
    """

    clusters: int = Field(default=5, ge=1, le=50)
    iterations: int = Field(default=30, ge=1, le=10_000)
    seed: int = 0
    train_split: str = "train"


def _label_files(root: Path, split: str | None) -> list[Path]:
    folder = root / "labels" if split is None else root / "labels" / split
    return sorted(folder.glob("*.txt")) if folder.is_dir() else []


class AnchorBoxTrainAction(BaseTrainAction[AnchorBoxParams]):
    """Fits anchor boxes to a dataset's bounding boxes (k-means, 1 - IoU distance).

    Each iteration reports ``mean_iou`` (mean IoU of every training box with its best anchor)
    and ``changed`` (boxes that moved cluster) through ``set_metrics``. The model file is JSON:
    the anchors (normalised width and height, sorted by area), the training and validation
    mean IoU, and the classes.
    """

    target_format = "yolo"

    def train(self, context: TrainContext) -> str | os.PathLike[str]:
        """Fit the anchors on the YOLO labels in ``context.dataset['path']``; write the model."""
        if not context.dataset.get("path"):
            raise ValueError("no dataset in the context: the conversion step must run first")
        root = Path(str(context.dataset["path"]))
        params = self.params
        categorized = bool(context.dataset.get("is_categorized"))
        train_split = params.train_split if categorized else None
        train_boxes = read_yolo_boxes(_label_files(root, train_split))
        if not train_boxes:
            where = f"split {train_split!r} of " if train_split else ""
            raise ValueError(f"no bounding boxes in {where}the YOLO labels under {str(root)!r}")
        valid_boxes = read_yolo_boxes(_label_files(root, "valid")) if categorized else []
        context.log("anchors_fit_start", {"boxes": len(train_boxes), "clusters": params.clusters})

        def report(iteration: int, mean_iou: float, changed: int) -> None:
            context.set_progress(iteration, params.iterations)
            context.set_metrics({"iteration": iteration, "mean_iou": round(mean_iou, 6), "changed": changed})

        fit = fit_anchors(
            train_boxes, params.clusters, iterations=params.iterations, seed=params.seed, on_iteration=report
        )
        result: dict[str, Any] = {
            "format": MODEL_FORMAT,
            "anchors": [[round(w, 6), round(h, 6)] for w, h in fit.anchors],
            "space": "normalised width and height",
            "train_boxes": len(train_boxes),
            "train_mean_iou": round(fit.mean_iou, 6),
            "iterations": fit.iterations,
            "converged": fit.converged,
            "classes": list(context.dataset.get("classes") or []),
            "dataset": context.params.get("dataset"),
        }
        if valid_boxes:
            result["valid_boxes"] = len(valid_boxes)
            result["valid_mean_iou"] = round(mean_best_iou(valid_boxes, fit.anchors), 6)
        final: dict[str, Any] = {"train_mean_iou": result["train_mean_iou"], "iterations": fit.iterations}
        if "valid_mean_iou" in result:
            final["valid_mean_iou"] = result["valid_mean_iou"]
        context.set_metrics(final)
        context.set_progress(params.iterations, params.iterations)  # converged early: the step is done
        model_dir = self.work_dir / "model"
        model_dir.mkdir(parents=True, exist_ok=True)
        path = model_dir / "anchors.json"
        path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        return path
