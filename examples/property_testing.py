"""Prove that a workflow's rollback leaves its output folder as it found it, at every fault point.

Run it with ``pytest examples/property_testing.py`` (the steprail pytest plugin needs no setup).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from steprail import BaseStep, BaseStepContext, LoggingStep, RuntimeContext, StepRegistry, StepResult
from steprail.testing import assert_rollback_restores, snapshot_tree


@dataclass
class ExportContext(BaseStepContext):
    """Where the export goes, and what the steps wrote so far."""

    out_dir: str = ""
    written: list[str] = field(default_factory=list)


class MakeFolder(BaseStep[ExportContext]):
    """Creates ``<out_dir>/<folder>``; removes it again if the run fails later."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    @property
    def progress_weight(self) -> float:
        return 0.1

    @property
    def name(self) -> str:
        return f"make_{self.folder}"

    def execute(self, context: ExportContext) -> StepResult:
        path = Path(context.out_dir, self.folder)
        path.mkdir()
        # Registered right after the work it undoes: it runs whether this step fails later in
        # its own execute or a later step fails.
        context.on_rollback(lambda: shutil.rmtree(path), label=f"remove {self.folder}/")
        return StepResult(data={"folder": str(path)})


class WriteFile(BaseStep[ExportContext]):
    """Writes one file (replacing an older one) and restores what was there on rollback."""

    def __init__(self, relative: str, text: str) -> None:
        self.relative = relative
        self.text = text

    @property
    def progress_weight(self) -> float:
        return 0.3

    @property
    def name(self) -> str:
        return "write_" + self.relative.replace("/", "_")

    def execute(self, context: ExportContext) -> StepResult:
        path = Path(context.out_dir, self.relative)
        old = path.read_bytes() if path.exists() else None
        path.write_text(self.text)

        def restore() -> None:
            if old is None:
                path.unlink()
            else:
                path.write_bytes(old)

        context.on_rollback(restore, label=f"restore {self.relative}")
        context.written = [*context.written, self.relative]
        return StepResult(data={"path": str(path)})


class WriteManifest(BaseStep[ExportContext]):
    """Lists the written files in ``manifest.json``; its rollback deletes the manifest."""

    @property
    def name(self) -> str:
        return "write_manifest"

    @property
    def progress_weight(self) -> float:
        return 0.2

    def execute(self, context: ExportContext) -> StepResult:
        path = Path(context.out_dir, "manifest.json")
        path.write_text(json.dumps({"files": context.written}))
        context.on_rollback(path.unlink, label="remove manifest.json")
        return StepResult(data={"files": len(context.written)})


def build_registry() -> StepRegistry[ExportContext]:
    """A fresh workflow (assert_rollback_restores builds one per fault point)."""
    registry: StepRegistry[ExportContext] = StepRegistry()
    registry.register(LoggingStep(MakeFolder("images")))
    registry.register(WriteFile("images/cat.txt", "a cat"))
    registry.register(WriteFile("labels.txt", "cat\n"))
    registry.register(LoggingStep(WriteManifest()))
    return registry


def test_every_fault_point_restores_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "export"
    out.mkdir()
    (out / "labels.txt").write_text("an older export\n")  # must come back exactly like this

    explored = assert_rollback_restores(
        build_registry,
        lambda: ExportContext(runtime_ctx=RuntimeContext(), out_dir=str(out)),
        lambda: snapshot_tree(out),
        after_side_effects=True,  # also fail each step after its own work
    )

    assert len(explored) == 8  # 4 steps x (fails before it runs, fails after its work)
    assert (out / "labels.txt").read_text() == "an older export\n"
