"""``steprail demo``: the README's main job, end to end on embedded defaults."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from rich.console import Console
from rich.table import Table

from ..actions.anchors import AnchorBoxTrainAction
from ..datasets import (
    DatasetInputError,
    DatasetNotFoundError,
    DatasetRecord,
    LocalBackend,
    NoUsableItemsError,
    make_sample_dataset,
)
from ..jobs import JobStore
from ._render import outcome_table
from ._errors import UsageProblem
from ._runner import RunResult, open_backend, run_action

__all__ = ["DEMO_DATASET_NAME", "DemoSettings", "run_demo"]

#: The name the sample dataset gets in the local backend.
DEMO_DATASET_NAME: Final = "demo-sample"


@dataclass(frozen=True)
class DemoSettings:
    """The demo's knobs (each has a command-line option)."""

    items: int = 40
    clusters: int = 5
    iterations: int = 30
    seed: int = 0


def _sample_folder(home: Path) -> Path:
    return home / "demo" / "sample-dmv2"


def _ensure_dataset(home: Path, backend: LocalBackend, settings: DemoSettings, console: Console) -> DatasetRecord:
    """The sample dataset in the backend: generated and imported on the first run only."""
    folder = _sample_folder(home)
    try:
        record = backend.get_dataset(DEMO_DATASET_NAME)
    except DatasetNotFoundError:
        pass
    else:
        console.print(f"using dataset {record.id} ({DEMO_DATASET_NAME!r}, {record.count} items) from the backend", highlight=False, soft_wrap=True)
        return record
    if not folder.exists():
        sample = make_sample_dataset(folder, items=settings.items, seed=settings.seed)
        console.print(
            f"made a sample DM v2 dataset: {sample.count} items, {sample.annotations} annotations, "
            f"classes {', '.join(sample.classes)} -> {folder}",
            highlight=False,
            soft_wrap=True,
        )
    else:
        console.print(f"using the sample DM v2 dataset in {folder}", highlight=False, soft_wrap=True)
    try:
        imported = backend.import_dataset(folder, name=DEMO_DATASET_NAME)
    except (DatasetInputError, NoUsableItemsError) as error:
        raise UsageProblem(
            f"the sample dataset in {str(folder)!r} cannot be imported ({error}); "
            "delete that folder and run steprail demo again"
        ) from error
    console.print(
        f"imported it into the local backend as dataset {imported.dataset.id} ({DEMO_DATASET_NAME!r})",
        highlight=False,
        soft_wrap=True,
    )
    return imported.dataset


def run_demo(
    home: Path, store: JobStore, console: Console, settings: DemoSettings, *, plain: bool | None, json_log: Path | None
) -> RunResult:
    """Make and import the sample dataset if needed, run the anchor-box training action on it,
    print the step table and where everything went."""
    console.print(f"steprail demo: everything goes under {home}", highlight=False, soft_wrap=True)
    with open_backend(home / "backend") as backend:
        dataset = _ensure_dataset(home, backend, settings, console)
    params = {
        "dataset": dataset.id,
        "clusters": settings.clusters,
        "iterations": settings.iterations,
        "seed": settings.seed,
    }
    result = run_action(
        AnchorBoxTrainAction, params, home=home, store=store, console=console, plain=plain, json_log=json_log
    )
    outcome = result.outcome
    console.print(outcome_table(outcome, result.job_id))
    table = Table(title="where everything went", show_header=False)
    table.add_column("what", no_wrap=True)
    table.add_column("where", overflow="fold")
    table.add_row("sample dataset (DM v2)", str(_sample_folder(home)))
    table.add_row("local backend", f"{home / 'backend'} (dataset {dataset.id})")
    table.add_row("job record", f"{store.path} (job {result.job_id}: steprail jobs show {result.job_id})")
    context = outcome.context
    step_data = {step.name: step.data for step in outcome.steps}
    if "export_dataset" in step_data:
        table.add_row("exported dataset", str(step_data["export_dataset"].get("path", "")))
    if "convert_to_yolo" in step_data:
        table.add_row("YOLO dataset", str(step_data["convert_to_yolo"].get("config_path", "")))
    if "train" in step_data:
        table.add_row("model file (work copy)", str(step_data["train"].get("model_path", "")))
    model = getattr(context, "model", None) if context is not None else None
    if outcome.ok and model is not None:
        table.add_row("model record", f"model {model.id} in the backend: {model.file}")
    if json_log is not None:
        table.add_row("JSON-lines log", str(json_log))
    console.print(table)
    if not outcome.ok:
        console.print(f"demo {outcome.status}: {outcome.error}", markup=False, highlight=False, soft_wrap=True)
    return result
