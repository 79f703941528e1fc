"""A user's own training context is typed end to end, and mistakes are caught (mypy, strict,
with the steprail plugin)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from mypy import api

from .test_spec_page_examples import PAGE_CUSTOM_CONTEXT

USER_CODE = '''
from dataclasses import dataclass, field
from typing import Any

from steprail import BaseStep, LoggingStep, StepRegistry, StepResult
from steprail.actions import BaseTrainAction
from steprail.actions.train import BaseTrainParams, TrainContext


class MyTrainParams(BaseTrainParams):
    epochs: int = 10


@dataclass
class MyTrainContext(TrainContext):
    augmentation_config: dict[str, Any] = field(default_factory=dict)


class OnBase(BaseStep[TrainContext]):
    name = "on_base"
    progress_weight = 0.5

    def execute(self, context: TrainContext) -> StepResult:
        return StepResult()


class OnMine(BaseStep[MyTrainContext]):
    name = "on_mine"
    progress_weight = 0.5

    def execute(self, context: MyTrainContext) -> StepResult:
        context.augmentation_config = {"flip": True}
        return StepResult()


class Good(BaseTrainAction[MyTrainParams, MyTrainContext]):
    def setup_steps(self, registry: StepRegistry[MyTrainContext]) -> None:
        registry.register(LoggingStep(OnBase()))
        registry.register(OnMine())


reveal_type(Good({"dataset": 1}).create_context())
reveal_type(Good({"dataset": 1}).params)


class Wrong(BaseTrainAction[MyTrainParams]):
    def setup_steps(self, registry: StepRegistry[TrainContext]) -> None:
        registry.register(OnMine())
'''


def test_custom_context_types_check_and_mismatches_are_reported(tmp_path: Path) -> None:
    (tmp_path / "user.py").write_text(textwrap.dedent(USER_CODE).lstrip())
    # The page's "Custom Context", checked in the same run (one mypy start-up for both files).
    (tmp_path / "page_context.py").write_text(PAGE_CUSTOM_CONTEXT)
    (tmp_path / "mypy.ini").write_text("[mypy]\nstrict = True\nplugins = steprail.mypy\n")
    stdout, stderr, _ = api.run(
        [
            "--config-file", str(tmp_path / "mypy.ini"),
            "--cache-dir", str(tmp_path / "cache"),
            "--no-error-summary",
            str(tmp_path / "user.py"),
            str(tmp_path / "page_context.py"),
        ]
    )  # fmt: skip
    assert stderr == ""
    # The page annotates with bare `dict` and `list`: the only errors --strict has for it.
    page_lines = PAGE_CUSTOM_CONTEXT.splitlines()
    expected = [
        f"{page_lines.index(line) + 1}: error: Missing type arguments for generic type "
        f'"{generic}"  [type-arg]'
        for line, generic in (
            ("    augmentation_config: dict = field(default_factory=dict)", "dict"),
            ("    validation_results: list = field(default_factory=list)", "list"),
        )
    ]
    page = [line.split("page_context.py:", 1)[1] for line in stdout.splitlines() if "page_context.py:" in line]
    assert page == expected, page
    lines = [line.split("user.py:", 1)[1] for line in stdout.splitlines() if "user.py:" in line]
    notes = [line for line in lines if "note: Revealed type" in line]
    errors = [line for line in lines if ": error:" in line]
    assert notes[0].endswith('"user.MyTrainContext"'), notes
    assert notes[1].endswith('"user.MyTrainParams"'), notes
    # Only the wrong action is reported, once, at its register() call.
    assert len(errors) == 1, errors
    source = textwrap.dedent(USER_CODE).lstrip().splitlines()
    wrong_line = len(source) - source[::-1].index("        registry.register(OnMine())")
    assert errors[0].startswith(f"{wrong_line}: error:"), errors
    assert '"OnMine" expects context "MyTrainContext"' in errors[0] and "[steprail-context]" in errors[0]
