"""The plugin gives the same errors on a cold and a warm mypy cache.

Method bodies are not stored in mypy's cache, so a step module read from the cache has no
``return "load"`` left to look at: the plugin must rely on what it recorded in the class metadata.
These tests check a workflow module against a step module that is fresh in the cache.
"""

from __future__ import annotations

import os
import re
import shutil
import textwrap
from pathlib import Path

import pytest
from mypy import api

STEPS = '''
from dataclasses import dataclass
from typing import Final

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


class Process(BaseStep[Ctx]):
    name: Final = "process"
    progress_weight = 0.5

    def execute(self, context: Ctx) -> StepResult:
        return StepResult()


class Copy(BaseStep[Ctx]):
    """Named at construction: the default and the stored argument are recorded in metadata."""

    def __init__(self, name: str = "copy") -> None:
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return 0.0

    def execute(self, context: Ctx) -> StepResult:
        return StepResult()


class Elsewhere(BaseStep[OtherCtx]):
    name: Final = "elsewhere"
    progress_weight = 0.1

    def execute(self, context: OtherCtx) -> StepResult:
        return StepResult()


class Count(BaseStep[Ctx], provides=("count",)):
    name: Final = "count_items"
    progress_weight = 0.1

    def execute(self, context: Ctx) -> StepResult:
        return StepResult()


class Report(BaseStep[Ctx], requires=("count",)):
    name: Final = "report"
    progress_weight = 0.1

    def execute(self, context: Ctx) -> StepResult:
        return StepResult()
'''

WORKFLOW = '''
from steprail import LoggingStep, StepRegistry, ValidationStep
from steps import Copy, Count, Ctx, Elsewhere, Load, Process, Report


def valid(context: Ctx) -> tuple[bool, str | None]:
    return True, None


def build() -> StepRegistry[Ctx]:
    registry = StepRegistry[Ctx]()
    registry.register(Load())
    registry.register(LoggingStep(Process()))
    registry.register(Load())
    registry.insert_before("process", ValidationStep(valid, progress_weight=2.0))
    registry.register(Elsewhere())
    return registry


def build_copies() -> StepRegistry[Ctx]:
    registry = StepRegistry[Ctx]()
    registry.register(Copy(name="copy_a"))
    registry.register(Copy())
    registry.register(Copy(name="copy"))
    return registry


def build_flow() -> None:  # returning the registry would silence steprail-flow: see data-flow.md
    registry = StepRegistry[Ctx]()
    registry.register(Report())
    registry.register(Count())
'''

EXPECTED = [
    'workflow.py:13: error: Step name "load" is already registered',
    'workflow.py:14: error: No step named "process" is registered on "registry" at this point; '
    'insert_before fails at run time (did you mean "logged_process"?)',
    'workflow.py:14: error: progress_weight of "ValidationStep" is 2, outside [0.0, 1.0]',
    'workflow.py:15: error: Step "Elsewhere" expects context "OtherCtx"',
    'workflow.py:23: error: Step name "copy" is already registered on "registry" (line 22)',
    "workflow.py:29: error: step 'report' requires field 'count', which no earlier step provides and which "
    "is not an input; provided by 'count_items': register it before  [steprail-flow]",
]


def _write(path: Path, source: str) -> None:
    path.write_text(textwrap.dedent(source).lstrip())


def _mypy(project: Path, *extra: str) -> tuple[list[str], str]:
    """Run mypy from inside ``project`` (relative paths, so a copied cache stays valid)."""
    previous = Path.cwd()
    os.chdir(project)
    try:
        stdout, stderr, _status = api.run(
            [
                "--config-file",
                "mypy.ini",
                "--cache-dir",
                "cache",
                "--no-error-summary",
                "--show-traceback",
                *extra,
                "steps.py",
                "workflow.py",
            ]
        )
    finally:
        os.chdir(previous)
    errors = [line for line in stdout.splitlines() if ": error:" in line or ": note:" in line]
    return errors, stderr


@pytest.fixture(scope="module")
def cold(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """One cold run for the whole module (the slow part): its folder, cache and errors."""
    base = tmp_path_factory.mktemp("cold")
    _write(base / "steps.py", STEPS)
    _write(base / "workflow.py", WORKFLOW)
    (base / "mypy.ini").write_text("[mypy]\nstrict = True\nplugins = steprail.mypy\n")
    errors, stderr = _mypy(base)
    assert stderr == ""
    return base, errors


@pytest.fixture
def project(cold: tuple[Path, list[str]], tmp_path: Path) -> Path:
    """A copy of the cold run's folder, warm cache included (modification times kept)."""
    target = tmp_path / "project"
    shutil.copytree(cold[0], target)
    return target


def _assert_expected(errors: list[str]) -> None:
    for wanted in EXPECTED:
        assert any(line.startswith(wanted) for line in errors), (wanted, errors)
    assert len(errors) == len(EXPECTED), errors
    # One error per mistake: no generic arg-type next to steprail-context.
    assert not any("[arg-type]" in line for line in errors), errors


def test_cold_run_reports_each_mistake_once(cold: tuple[Path, list[str]]) -> None:
    _assert_expected(cold[1])


def test_warm_cache_rerun_gives_the_same_errors(cold: tuple[Path, list[str]], project: Path) -> None:
    warm, stderr = _mypy(project, "--verbose")
    assert "Metadata fresh for steps:" in stderr
    assert "Metadata fresh for workflow:" in stderr
    assert warm == cold[1]


def test_changed_workflow_against_cached_steps(cold: tuple[Path, list[str]], project: Path) -> None:
    # Edit only the workflow (a comment at the end keeps line numbers): steps.py stays fresh
    # in the cache, so its property bodies are not available to the plugin on this run.
    with (project / "workflow.py").open("a") as workflow:
        workflow.write("# edited\n")
    warm, stderr = _mypy(project, "--verbose")
    # The point of the test: steps.py came from the cache, only workflow.py was re-checked.
    assert "Metadata fresh for steps:" in stderr
    assert re.search(r"SCC singleton \(workflow\) as inherently stale", stderr) is not None
    assert warm == cold[1]


def test_changed_step_name_reaches_the_cached_workflow(
    cold: tuple[Path, list[str]], project: Path
) -> None:
    # Renaming the step only changes a method body; the recorded name must still reach the
    # workflow, which mypy then re-checks: the duplicate is now reported under the new name.
    steps = (project / "steps.py").read_text().replace('return "load"', 'return "load_data"')
    (project / "steps.py").write_text(steps)
    warm, _ = _mypy(project)
    assert warm == [line.replace('"load"', '"load_data"') for line in cold[1]]
    assert any('"load_data" is already registered' in line for line in warm)


def test_changed_declaration_reaches_the_cached_workflow(
    cold: tuple[Path, list[str]], project: Path
) -> None:
    # Dropping the requirement changes only a class keyword of steps.py: the recorded flow
    # reaches the workflow, which mypy re-checks, and the steprail-flow error goes away.
    steps = (project / "steps.py").read_text().replace('requires=("count",)', "requires=()")
    (project / "steps.py").write_text(steps)
    warm, _ = _mypy(project)
    assert warm == [line for line in cold[1] if "steprail-flow" not in line]
    assert len(warm) == len(cold[1]) - 1
