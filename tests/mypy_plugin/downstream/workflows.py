"""Registry-building functions: every registration here succeeds at run time."""

from __future__ import annotations

from typing import Final

from steprail import (
    LoggingStep,
    Orchestrator,
    RuntimeContext,
    StepRegistry,
    TimingStep,
    ValidationStep,
)
from steprail.actions import Workflow
from steprail.datasets import DatasetContext, ExportDatasetStep

from .constants import FETCH, PARSE
from .contexts import IngestContext, ReportContext
from .steps import AnyIngestStep, Copy, Export, Fetch, Parse, Render, Tagged, first_path_present
from .wrappers import AuditStep, add_logged

CHECK: Final = "check_paths"


def build_ingest() -> StepRegistry[IngestContext]:
    """Final constants as names, wrappers, a validation step and inserts relative to them."""
    registry = StepRegistry[IngestContext]()
    registry.register(Fetch())
    registry.register(LoggingStep(Parse()))
    registry.insert_after(FETCH, ValidationStep(first_path_present, name=CHECK))
    registry.insert_before("logged_" + PARSE, Copy())
    registry.unregister(CHECK)
    registry.register(AuditStep(Copy("copy_again")))
    return registry


def build_exports() -> StepRegistry[IngestContext]:
    """The same dataclass step twice under different names (the issue's false positive (a))."""
    registry = StepRegistry[IngestContext]()
    registry.register(Export(name="export_train", target="train"))
    registry.register(Export(name="export_val", target="val"))
    registry.register(Export())  # the default name, "export", is not taken yet
    registry.insert_after("export", TimingStep(Copy("copy_export")))
    return registry


def build_datasets() -> StepRegistry[DatasetContext]:
    """Built-in steps: two exports under their own names, weights in range."""
    registry = StepRegistry[DatasetContext]()
    registry.register(ExportDatasetStep(name="export_a", progress_weight=0.3))
    registry.register(ExportDatasetStep(name="export_b"))
    registry.register(ExportDatasetStep())
    registry.insert_after("export_dataset", ValidationStep(lambda context: (True, None), progress_weight=0.0))
    return registry


def build_report(runtime: RuntimeContext) -> Orchestrator[ReportContext]:
    """Steps on a base context in a registry of a subclass; an orchestrator on that context."""
    registry = StepRegistry[ReportContext]()
    registry.register(Fetch())
    registry.register(Render())
    registry.register(Tagged[ReportContext]("report"))
    add_logged(registry, Parse())
    return Orchestrator(registry, ReportContext(runtime_ctx=runtime), lambda done, total: None)


def workflow_for(runtime: RuntimeContext, extra: AnyIngestStep) -> Workflow[IngestContext]:
    """A step given through a ``type`` alias; a Workflow with the registry's own context."""
    registry = build_ingest()
    registry.register(extra)
    return Workflow(registry, IngestContext(runtime_ctx=runtime))


class Pipeline:
    """A registry built in a class body."""

    registry = StepRegistry[IngestContext]()
    registry.register(Fetch())
    registry.register(Copy("copy_in_class"))
    registry.insert_before(FETCH, Parse())
    registry.unregister("copy_in_class")
    registry.register(Copy("copy_in_class"))
