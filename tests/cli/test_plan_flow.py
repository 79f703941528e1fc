"""``steprail plan``'s data-flow section: requires/provides per step, unmet and unused fields,
and the Mermaid edges labelled with the fields that flow."""

from __future__ import annotations

import json

from rich.console import Console
from typer.testing import CliRunner

from steprail import BaseStep
from steprail.actions.train import TrainContext, TrainModelStep, UploadModelStep
from steprail.cli import app
from steprail.cli._flow import flow_mermaid_edges, flow_rows_table
from steprail.datasets import ConvertDatasetStep, ExportDatasetStep
from steprail._flow import FlowRow, flow_table


def _train(context: TrainContext) -> str:
    return "model.pt"


def _text(rows: list[FlowRow]) -> str:
    console = Console(width=200, record=True)
    console.print(flow_rows_table(rows))
    return console.export_text()


def test_the_default_training_workflow_shows_where_each_field_comes_from() -> None:
    result = CliRunner().invoke(app, ["plan", "steprail.actions.anchors:AnchorBoxTrainAction"])
    assert result.exit_code == 0, result.output
    flow_part = result.output.split("data flow")[1]
    assert "model_path (from train)" in flow_part
    # train() reads context.dataset (its documented contract): the train step requires it.
    train_line = next(line for line in flow_part.splitlines() if "│ train " in line)
    assert "dataset (from convert_to_yolo)" in train_line
    assert "NOT PROVIDED" not in flow_part and "unmet" not in flow_part


def test_a_wrong_order_is_flagged_unmet_and_a_field_nobody_reads_unused() -> None:
    rows = flow_table(
        [UploadModelStep[TrainContext](), ExportDatasetStep(), ConvertDatasetStep(), TrainModelStep[TrainContext](_train)],
        TrainContext,
    )
    lines = {line.split("│")[2].strip(): line for line in _text(rows).splitlines() if line.count("│") > 5}
    assert "model_path (NOT PROVIDED)" in lines["upload_model"] and "unmet: model_path" in lines["upload_model"]
    assert "dataset (from export_dataset)" in lines["convert_to_yolo"]
    # upload_model, which reads it, ran first: model_path is the workflow's product, not a problem
    assert "model_path (output)" in lines["train"] and "unused" not in lines["train"]


def test_a_final_product_is_an_output_and_an_overwritten_value_a_problem() -> None:
    steps: list[BaseStep[TrainContext]] = [
        ExportDatasetStep(),
        ExportDatasetStep(name="export_again"),
        TrainModelStep[TrainContext](_train),
    ]
    lines = {line.split("│")[2].strip(): line for line in _text(flow_table(steps, TrainContext)).splitlines() if line.count("│") > 5}
    assert "unused: dataset (provided again before any step reads it)" in lines["export_dataset"]
    assert "dataset (output)" in lines["export_again"] and "unused" not in lines["export_again"]
    assert "model_path (output)" in lines["train"]
    result = CliRunner().invoke(app, ["plan", "steprail.actions.anchors:AnchorBoxTrainAction"])
    flow_part = result.output.split("data flow")[1]
    assert "model (output)" in flow_part and "unused" not in flow_part


def test_mermaid_edges_carry_the_fields_from_provider_to_reader() -> None:
    rows = flow_table(
        [ExportDatasetStep(), ConvertDatasetStep(), TrainModelStep[TrainContext](_train), UploadModelStep[TrainContext]()],
        TrainContext,
    )
    assert flow_mermaid_edges(rows) == ['    s0 ==>|"dataset"| s1', '    s2 ==>|"model_path"| s3']
    graph = CliRunner().invoke(app, ["plan", "steprail.actions.anchors:AnchorBoxTrainAction", "--mermaid"])
    assert graph.exit_code == 0 and '    s2 ==>|"model_path"| s3' in graph.output
    assert '    s1 ==>|"dataset"| s2' in graph.output  # convert -> train


def test_plan_json_carries_each_steps_declared_flow() -> None:
    result = CliRunner().invoke(app, ["plan", "steprail.actions.anchors:AnchorBoxTrainAction", "--json"])
    assert result.exit_code == 0, result.output
    flow = json.loads(result.stdout)["flow"]
    by_name = {row["name"]: row for row in flow}
    assert [row["name"] for row in flow] == ["export_dataset", "convert_to_yolo", "train", "upload_model"]
    assert by_name["export_dataset"]["provides"] == ["dataset"]
    assert by_name["upload_model"]["requires"] == ["model_path"]
    assert by_name["upload_model"]["sources"] == {"model_path": "train"}
    assert all(row["unmet"] == [] and row["unused"] == [] for row in flow)
    assert by_name["upload_model"]["outputs"] == ["model"]
