"""Under the mypy daemon (dmypy) steprail-name and steprail-flow's registration check are off,
and the note says so; the other checks work.

The daemon re-checks a module only when something it tracks changes in a module it depends on.
Step names are plugin facts that it does not track, so after a rename in one module it would keep
stale steprail-name results in the modules that register the step. The plugin therefore turns
that check off under the daemon and puts a note where it would have run (see
docs/mypy-plugin.md). A real dmypy process runs here in a temporary folder and is stopped at
the end.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from steprail.mypy._plugin import DAEMON_NOTE

STEPS = """
from dataclasses import dataclass

from steprail import BaseStep, BaseStepContext, StepResult


@dataclass
class Ctx(BaseStepContext):
    count: int = 0


@dataclass
class OtherCtx(BaseStepContext):
    label: str = ""


class Load(BaseStep[Ctx]):
    @property
    def name(self) -> str:
        return "load"

    @property
    def progress_weight(self) -> float:
        return 0.5

    def execute(self, context: Ctx) -> StepResult:
        return StepResult()
"""

WORKFLOW = """
from steprail import StepRegistry, ValidationStep
from steps import Ctx, Load


def ok(context: Ctx) -> tuple[bool, str | None]:
    return True, None


def build() -> StepRegistry[Ctx]:
    registry = StepRegistry[Ctx]()
    registry.register(Load())
    registry.register(Load())
    registry.register(ValidationStep(ok, progress_weight=3))
    return registry
"""


def _dmypy(project: Path, *args: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-m", "mypy.dmypy", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return completed.stdout + completed.stderr


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "steps.py").write_text(textwrap.dedent(STEPS).lstrip())
    (tmp_path / "workflow.py").write_text(textwrap.dedent(WORKFLOW).lstrip())
    (tmp_path / "mypy.ini").write_text("[mypy]\nstrict = True\nplugins = steprail.mypy\n")
    try:
        yield tmp_path
    finally:
        _dmypy(tmp_path, "stop")


def _run(project: Path) -> str:
    return _dmypy(project, "run", "--", "--config-file", "mypy.ini", "steps.py", "workflow.py")


def test_the_daemon_says_steprail_name_is_off_and_runs_the_other_checks(project: Path) -> None:
    first = _run(project)
    assert f"workflow.py:11: note: {DAEMON_NOTE}" in first, first
    assert "steprail-flow" in DAEMON_NOTE  # the registration-order check is off too: say so
    assert "[steprail-name]" not in first, first  # the duplicate is not reported under dmypy
    assert 'workflow.py:13: error: progress_weight of "ValidationStep" is 3' in first, first
    assert "INTERNAL ERROR" not in first

    # A change in the step module that the daemon does track: the step now needs OtherCtx.
    steps = project / "steps.py"
    steps.write_text(steps.read_text().replace("BaseStep[Ctx]", "BaseStep[OtherCtx]").replace(
        "context: Ctx", "context: OtherCtx"
    ))
    second = _run(project)
    assert 'workflow.py:11: error: Step "Load" expects context "OtherCtx"' in second, second
    assert f"workflow.py:11: note: {DAEMON_NOTE}" in second, second

    # An edit of the workflow itself: re-checked, the note is still there, once.
    with (project / "workflow.py").open("a") as workflow:
        workflow.write("# edited\n")
    third = _run(project)
    assert third.count(DAEMON_NOTE) == 1, third
    assert "[steprail-name]" not in third, third
