"""StepRegistry: ordering, refusals with clear messages, and a stateful model check."""

from __future__ import annotations

import math

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from steprail import LoggingStep, StepRegistry, TimingStep

from ._steps import ItemsContext, Scripted


def names(registry: StepRegistry[ItemsContext]) -> list[str]:
    return [step.name for step in registry.get_steps()]


def test_dynamic_insertion_matches_the_page() -> None:
    registry = StepRegistry[ItemsContext]()
    for name in ("load_data", "process", "save"):
        registry.register(Scripted(name))
    registry.insert_before("process", Scripted("validate"))
    registry.insert_after("process", Scripted("audit"))
    assert names(registry) == ["load_data", "validate", "process", "audit", "save"]
    assert registry.get_step_orders() == {
        "load_data": 0,
        "validate": 1,
        "process": 2,
        "audit": 3,
        "save": 4,
    }


def test_len_iteration_total_weight_and_copy() -> None:
    registry = StepRegistry[ItemsContext]()
    registry.register(Scripted("a", 0.25))
    registry.register(Scripted("b", 0.5))
    assert len(registry) == 2
    assert [step.name for step in registry] == ["a", "b"]
    assert registry.total_weight == pytest.approx(0.75)
    assert "a" in registry and "z" not in registry
    steps = registry.get_steps()
    steps.clear()
    assert len(registry) == 2


def test_duplicate_name_is_refused_naming_the_step() -> None:
    registry = StepRegistry[ItemsContext]()
    registry.register(Scripted("load"))
    with pytest.raises(ValueError, match="'load' is already registered"):
        registry.register(Scripted("load"))
    assert names(registry) == ["load"]


def test_non_step_is_refused() -> None:
    registry = StepRegistry[ItemsContext]()
    with pytest.raises(TypeError, match="only BaseStep instances.*got str"):
        registry.register("load")  # type: ignore[arg-type]  # the runtime check under test
    assert len(registry) == 0


@pytest.mark.parametrize("weight", [1.5, -0.1, math.nan, math.inf, -math.inf])
def test_out_of_range_weight_is_refused_naming_the_step(weight: float) -> None:
    registry = StepRegistry[ItemsContext]()
    with pytest.raises(ValueError, match="step 'heavy': progress_weight must be a finite number"):
        registry.register(Scripted("heavy", weight))
    assert len(registry) == 0


@pytest.mark.parametrize("weight", ["0.5", True, None])
def test_non_number_weight_is_a_type_error(weight: object) -> None:
    registry = StepRegistry[ItemsContext]()
    with pytest.raises(TypeError, match="step 'odd': progress_weight must be a number"):
        registry.register(Scripted("odd", weight))  # type: ignore[arg-type]  # the runtime check under test


@pytest.mark.parametrize("weight", [0, 0.0, 1, 1.0])
def test_boundary_weights_are_accepted(weight: float) -> None:
    registry = StepRegistry[ItemsContext]()
    registry.register(Scripted("edge", weight))
    assert len(registry) == 1


def test_empty_or_non_string_name_is_refused() -> None:
    registry = StepRegistry[ItemsContext]()
    with pytest.raises(TypeError, match="non-empty string"):
        registry.register(Scripted(""))


@pytest.mark.parametrize("operation", ["insert_before", "insert_after", "unregister"])
def test_missing_name_suggests_the_wrapped_name(operation: str) -> None:
    registry = StepRegistry[ItemsContext]()
    registry.register(LoggingStep(Scripted("load_data")))
    registry.register(LoggingStep(Scripted("process")))
    with pytest.raises(ValueError, match=rf"{operation}: no step named 'process'; did you mean 'logged_process'\?"):
        if operation == "unregister":
            registry.unregister("process")
        else:
            getattr(registry, operation)("process", Scripted("validate"))
    assert names(registry) == ["logged_load_data", "logged_process"]


def test_missing_name_suggests_close_spellings_or_lists_names() -> None:
    registry = StepRegistry[ItemsContext]()
    registry.register(TimingStep(Scripted("train")))
    registry.register(Scripted("upload"))
    with pytest.raises(ValueError, match="did you mean 'upload'"):
        registry.unregister("uplaod")
    with pytest.raises(ValueError, match="registered: timed_train, upload"):
        registry.unregister("zzz")
    with pytest.raises(ValueError, match="the registry is empty"):
        StepRegistry[ItemsContext]().unregister("anything")


class RegistryMatchesAList(RuleBasedStateMachine):
    """The registry behaves like a plain list of unique names under every operation."""

    def __init__(self) -> None:
        super().__init__()
        self.registry = StepRegistry[ItemsContext]()
        self.model: list[str] = []

    names = st.text(alphabet="abcdef", min_size=1, max_size=3)

    @rule(name=names)
    def register(self, name: str) -> None:
        if name in self.model:
            with pytest.raises(ValueError):
                self.registry.register(Scripted(name))
        else:
            self.registry.register(Scripted(name))
            self.model.append(name)

    @rule(target_name=names, name=names, after=st.booleans())
    def insert(self, target_name: str, name: str, after: bool) -> None:
        insert = self.registry.insert_after if after else self.registry.insert_before
        if target_name not in self.model or name in self.model:
            with pytest.raises(ValueError):
                insert(target_name, Scripted(name))
            return
        insert(target_name, Scripted(name))
        index = self.model.index(target_name)
        self.model.insert(index + 1 if after else index, name)

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data())
    def unregister_existing(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(self.model))
        self.registry.unregister(name)
        self.model.remove(name)

    @rule(name=names)
    def unregister_any(self, name: str) -> None:
        if name in self.model:
            self.registry.unregister(name)
            self.model.remove(name)
        else:
            with pytest.raises(ValueError):
                self.registry.unregister(name)

    @invariant()
    def same_order(self) -> None:
        assert names(self.registry) == self.model
        assert self.registry.get_step_orders() == {name: i for i, name in enumerate(self.model)}
        assert len(self.registry) == len(self.model)
        # What a run reads: steps, names and weights in run order, whether or not a step was
        # inserted in the middle (the registry takes a faster path while nothing was).
        steps, step_names, weights = self.registry.snapshot()
        assert step_names == self.model
        assert [step.name for step in steps] == self.model
        assert weights == [step.progress_weight for step in steps]


TestRegistryMatchesAList = RegistryMatchesAList.TestCase
