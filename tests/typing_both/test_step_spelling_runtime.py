"""What the spellings in cases/step_spelling.py do at run time: the documented property form
registers, a step without a name cannot be made, and the class-attribute form (accepted by mypy,
refused by pyright) still runs, so existing code keeps working."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from steprail import BaseStep, BaseStepContext, Orchestrator, RuntimeContext, StepRegistry

CASE = Path(__file__).parent / "cases" / "step_spelling.py"


@pytest.fixture(scope="module")
def spelling() -> ModuleType:
    """The case module, imported up to the line that instantiates the nameless step."""
    source = CASE.read_text(encoding="utf-8")
    source = source[: source.index("\nsteps: list[")]  # the module-level statements are the static cases
    spec = importlib.util.spec_from_loader("step_spelling_case", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module.__name__] = module  # dataclasses and annotations resolve through it
    try:
        exec(compile(source, str(CASE), "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
    return module


def step(module: ModuleType, name: str, *args: object) -> BaseStep[BaseStepContext]:
    made: object = getattr(module, name)(*args)
    assert isinstance(made, BaseStep)
    return made


def test_every_accepted_spelling_registers_and_runs(spelling: ModuleType) -> None:
    registry = StepRegistry[BaseStepContext]()
    for made in (
        step(spelling, "Load"),
        step(spelling, "Literally"),
        step(spelling, "Named", "a"),
        step(spelling, "Named", "b", 0.3),
        step(spelling, "Attribute"),  # mypy-only spelling: still runs
    ):
        registry.register(made)
    assert registry.get_step_orders() == {"load": 0, "literally": 1, "a": 2, "b": 3, "attribute": 4}
    assert registry.total_weight == pytest.approx(0.4 + 0.1 + 0.2 + 0.3 + 0.4)
    summary = Orchestrator(registry, BaseStepContext(runtime_ctx=RuntimeContext()), lambda c, t: None).execute()
    assert summary["steps_executed"] == 5


def test_a_step_without_a_name_cannot_be_made(spelling: ModuleType) -> None:
    with pytest.raises(TypeError, match=r"Nameless.*'name'"):
        spelling.Nameless()
