"""The downstream corpus (``downstream/``): correct code in every shape the plugin reads.

Two halves of one claim: the code runs (every registration, insert and unregister succeeds, so
it really is correct), and mypy with the plugin reports nothing on it (no false positive).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mypy import api

from steprail import RuntimeContext, StepRegistry

from .downstream import shared_registry, training, workflows
from .downstream.contexts import IngestContext
from .downstream.steps import Copy

HERE = Path(__file__).parent
CORPUS = HERE / "downstream"


def _names(registry: StepRegistry[Any]) -> list[str]:
    return [step.name for step in registry.get_steps()]


def test_the_workflows_run_as_written() -> None:
    assert _names(workflows.build_ingest()) == [
        "fetch",
        "copy",
        "logged_parse",
        "audit_copy_again",
    ]
    assert _names(workflows.build_exports()) == [
        "export_train",
        "export_val",
        "export",
        "timed_copy_export",
    ]
    assert _names(workflows.build_datasets()) == [
        "export_a",
        "export_b",
        "export_dataset",
        "validate",
    ]
    orchestrator = workflows.build_report(RuntimeContext())
    assert _names(orchestrator.registry) == [
        "fetch",
        "render",
        "tag_report",
        "logged_parse",
    ]
    flow = workflows.workflow_for(RuntimeContext(), Copy("extra"))
    assert _names(flow.registry)[-1] == "extra"
    assert isinstance(flow.context, IngestContext)
    assert _names(workflows.Pipeline.registry) == ["parse", "fetch", "copy_in_class"]


def test_the_shared_registry_was_changed_by_a_call_and_an_import() -> None:
    assert _names(shared_registry.REGISTRY) == [
        "parse",
        "check_after_parse",
        "fetch",
        "copy_after_fetch",
    ]


def test_the_training_action_registers_its_steps() -> None:
    assert _names(training.build_training()) == [
        "has_dataset",
        "train",
        "upload_model",
        "logged_train_again",
    ]


def test_mypy_with_the_plugin_reports_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\nstrict = True\nplugins = steprail.mypy\n[steprail-mypy]\nreport_internal_errors = True\n")
    monkeypatch.chdir(HERE.parents[1])
    stdout, stderr, status = api.run(
        [
            "--config-file",
            str(config),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--show-traceback",
            "-p",
            "tests.mypy_plugin.downstream",
        ]
    )
    assert stderr == ""
    assert "[steprail-" not in stdout, stdout
    assert status == 0, stdout
