"""Constraints written in a field's type (``Annotated[int, Field(gt=0)]``, ``PositiveInt``, ...)
are checked like the type itself: at construction, at every assignment and inside steps.

They were once dropped: the field types were read without their ``Annotated`` metadata, so a
``PositiveInt`` field took ``-1`` silently.
"""

from dataclasses import field
from typing import Annotated

import pytest
from annotated_types import Gt, Len
from hypothesis import given
from hypothesis import strategies as st
from pydantic import Field, PositiveInt, ValidationError

from steprail import BaseStep, BaseStepContext, Orchestrator, RuntimeContext, StepFailedError, StepRegistry, StepResult

from ._postponed_constrained import Box


class Limits(BaseStepContext):
    retries: Annotated[int, Field(ge=0, le=5)] = 0
    workers: PositiveInt = 1
    label: Annotated[str, Field(max_length=3)] = "abc"
    maybe: PositiveInt | None = None
    sizes: list[Annotated[int, Gt(0)]] = field(default_factory=list)
    pair: Annotated[list[int], Len(2, 2)] = field(default_factory=lambda: [0, 0])


def _limits(**values: object) -> Limits:
    return Limits(RuntimeContext(), **values)  # type: ignore[arg-type]  # the runtime check under test


@pytest.mark.parametrize(
    ("name", "bad"),
    [("retries", -1), ("retries", 6), ("workers", 0), ("label", "abcd"), ("maybe", -3), ("sizes", [1, 0]), ("pair", [1])],
)
def test_a_value_breaking_a_constraint_is_refused_and_the_old_value_kept(name: str, bad: object) -> None:
    context = _limits()
    before = getattr(context, name)
    with pytest.raises(ValidationError) as caught:
        setattr(context, name, bad)
    assert caught.value.errors()[0]["loc"][0] == name
    assert getattr(context, name) == before


@pytest.mark.parametrize(("name", "bad"), [("workers", -1), ("label", "long"), ("sizes", [-2])])
def test_a_value_breaking_a_constraint_is_refused_at_construction(name: str, bad: object) -> None:
    with pytest.raises(ValidationError) as caught:
        _limits(**{name: bad})
    assert caught.value.errors()[0]["loc"][0] == name


@given(st.integers(min_value=-10, max_value=10))
def test_a_bounded_int_field_takes_exactly_the_values_in_its_bounds(value: int) -> None:
    context = _limits()
    try:
        context.retries = value
    except ValidationError:
        assert not 0 <= value <= 5
        assert context.retries == 0
    else:
        assert 0 <= value <= 5
        assert context.retries == value


class _SetWorkers(BaseStep[Limits]):
    progress_weight = 1.0

    def __init__(self, value: int) -> None:
        self.value = value

    @property
    def name(self) -> str:
        return f"set-workers-{self.value}"

    def execute(self, context: Limits) -> StepResult:
        context.workers = self.value
        return StepResult()


def test_a_step_writing_a_value_breaking_a_constraint_fails_that_step() -> None:
    registry = StepRegistry[Limits]()
    registry.register(_SetWorkers(4))
    registry.register(_SetWorkers(0))
    context = _limits()
    with pytest.raises(StepFailedError) as caught:
        Orchestrator(registry, context, lambda current, total: None).execute()
    assert caught.value.step_name == "set-workers-0"
    assert isinstance(caught.value.__cause__, ValidationError)
    assert context.workers == 4


def test_constraints_on_a_generic_context_under_postponed_annotations() -> None:
    box = Box[str](RuntimeContext())
    with pytest.raises(ValidationError):
        box.size = 0
    assert box.size == 1
