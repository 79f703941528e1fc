"""The cheap per-step paths (issue 16) keep the behaviour of the slow ones they replaced.

- Field checks: the core schemas steprail writes itself are exactly the ones pydantic's
  ``TypeAdapter`` generates in strict mode, so errors and messages cannot differ; other types
  still get pydantic's schema (built at the class's first instance; only ``step_results`` waits
  for a value that could fail) and still refuse bad values.
- Writes: a field whose class attribute is a data descriptor is still written through it.
- ``StepResult``: two slots underneath, the same dataclass on the outside (fields, defaults,
  ``replace``, equality, ``repr``, copying, pickling), fresh dicts per result, a stable aware
  timestamp, no reference cycles.
- The first step in a fresh interpreter does not load pydantic's schema generator.
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import pickle
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ConfigDict, TypeAdapter, ValidationError

from steprail import BaseStep, BaseStepContext, Orchestrator, RuntimeContext, StepFailedError, StepRegistry, StepResult
from steprail._context import _core_schema_for

_STRICT = ConfigDict(strict=True, arbitrary_types_allowed=True)

WRITTEN_HINTS: list[object] = [
    int,
    str,
    float,
    bool,
    bytes,
    type(None),
    str | None,
    Optional[int],  # noqa: UP045  # the typing spelling is a different object than int | None
    int | str,
    int | str | None,
    None | bool,
    list[int],
    list[str | None],
    list,
    dict,
    dict[str, Any],
    dict[str, list[int | None]],
    list[Any],
    RuntimeContext,
]


@pytest.mark.parametrize("hint", WRITTEN_HINTS, ids=repr)
def test_written_core_schemas_are_pydantics(hint: Any) -> None:
    assert _core_schema_for(hint) == TypeAdapter(hint, config=_STRICT).core_schema


@dataclass
class _Point:
    x: int = 0


class _Runtime(RuntimeContext):
    """A RuntimeContext subclass: pydantic's schema for it is not written by steprail."""


@pytest.mark.parametrize(
    "hint",
    [datetime, Path, Literal["a", "b"], _Point, list[_Point], dict[str, _Point], int | _Point, _Runtime, tuple[int, str]],
    ids=repr,
)
def test_other_types_are_left_to_pydantic(hint: object) -> None:
    assert _core_schema_for(hint) is None


class Written(BaseStepContext):
    count: int = 0
    label: str | None = None
    tags: list[str] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)


# Each (field, bad value): the error is the one pydantic's TypeAdapter gives, loc led by the field.
BAD_WRITES: list[tuple[str, object, object]] = [
    ("count", "3", int),
    ("count", 3.0, int),
    ("count", True, int),
    ("label", 5, str | None),
    ("tags", ["a", 1], list[str]),
    ("tags", ("a",), list[str]),
    ("scores", {"a": "x"}, dict[str, float]),
    ("scores", {1: 1.0}, dict[str, float]),
]


@pytest.mark.parametrize(("name", "value", "hint"), BAD_WRITES, ids=lambda item: repr(item))
def test_written_checks_give_pydantics_errors(name: str, value: object, hint: Any) -> None:
    context = Written(runtime_ctx=RuntimeContext())
    before = getattr(context, name)
    with pytest.raises(ValidationError) as caught:
        setattr(context, name, value)
    with pytest.raises(ValidationError) as expected:
        TypeAdapter(hint, config=_STRICT).validate_python(value, strict=True)
    assert caught.value.title == "Written"
    mine = [(e["type"], e["loc"], e["msg"], e["input"]) for e in caught.value.errors()]
    theirs = [(e["type"], (name, *e["loc"]), e["msg"], e["input"]) for e in expected.value.errors()]
    assert mine == theirs
    assert getattr(context, name) == before  # the field kept its value


class Scalars(BaseStepContext):
    number: int = 0
    text: str = ""
    ratio: float = 0.0
    flag: bool = False
    raw: bytes = b""
    maybe: int | None = None
    old_style: Optional[str] = None  # noqa: UP045  # the typing spelling is another object


_SCALAR_HINTS: dict[str, Any] = {
    "number": int,
    "text": str,
    "ratio": float,
    "flag": bool,
    "raw": bytes,
    "maybe": int | None,
    "old_style": Optional[str],  # noqa: UP045  # as declared above
}


class _Int(int):
    """An int subclass: not the exact type, so it goes through the validator."""


_ANY_SCALAR = st.one_of(
    st.integers(),
    st.booleans(),
    st.text(max_size=3),
    st.floats(allow_nan=True, allow_infinity=True),
    st.binary(max_size=3),
    st.none(),
    st.integers().map(_Int),
    st.lists(st.integers(), max_size=2),
)


@given(st.sampled_from(sorted(_SCALAR_HINTS)), _ANY_SCALAR)
def test_a_scalar_write_accepts_and_refuses_what_pydantic_does(name: str, value: object) -> None:
    # Values of exactly the field's scalar type skip the validator: the same values must pass,
    # and every other one gets pydantic's error with the field kept as it was.
    context = Scalars(runtime_ctx=RuntimeContext())
    before = getattr(context, name)
    adapter = TypeAdapter(_SCALAR_HINTS[name], config=_STRICT)
    try:
        adapter.validate_python(value, strict=True)
    except ValidationError as expected:
        with pytest.raises(ValidationError) as caught:
            setattr(context, name, value)
        assert caught.value.title == "Scalars"
        mine = [(e["type"], e["loc"], e["msg"]) for e in caught.value.errors()]
        assert mine == [(e["type"], (name, *e["loc"]), e["msg"]) for e in expected.errors()]
        assert getattr(context, name) is before
    else:
        setattr(context, name, value)
        assert getattr(context, name) is value  # kept as given, as the validated path does


def test_a_property_put_on_the_class_later_is_honoured_for_an_exact_type_write() -> None:
    class Later(BaseStepContext):
        number: int = 0

    Later(runtime_ctx=RuntimeContext()).number = 1  # the class's tables are filled
    written: list[object] = []
    Later.number = property(lambda self: 7, lambda self, value: written.append(value))  # type: ignore[assignment]  # patched in, as a mock would
    context = Later(runtime_ctx=RuntimeContext())
    context.number = 3
    assert written == [0, 3]  # the default __init__ wrote, then the assignment
    assert context.number == 7


class Deferred(BaseStepContext):
    points: list[_Point] = field(default_factory=list)
    by_name: dict[str, _Point] = field(default_factory=dict)
    when: datetime | None = None


def test_pydantic_built_checks_accept_good_values_and_refuse_bad_ones() -> None:
    context = Deferred(runtime_ctx=RuntimeContext())
    context.points = [_Point(1)]
    context.by_name = {"a": _Point(2)}
    context.when = datetime.now(UTC)
    with pytest.raises(ValidationError) as caught:
        context.points = [{"x": 1}]  # type: ignore[list-item]  # the runtime check under test
    assert caught.value.title == "Deferred"
    assert caught.value.errors()[0]["loc"][0] == "points"
    assert context.points == [_Point(1)]
    with pytest.raises(ValidationError, match="when"):
        context.when = "2026-01-01"  # type: ignore[assignment]  # the runtime check under test
    context.points = []  # an empty list is valid for list[_Point]


def test_an_uncommon_type_gets_its_adapter_once_at_the_first_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    import steprail._context as context_module

    built: list[object] = []
    original = context_module._adapter_for

    def counting(hint: Any) -> TypeAdapter[Any]:
        built.append(hint)
        return original(hint)

    monkeypatch.setattr(context_module, "_adapter_for", counting)

    class Counted(BaseStepContext):
        points: list[_Point] = field(default_factory=list)

    context = Counted(runtime_ctx=RuntimeContext())
    assert built == [list[_Point]]  # made with the context, not at the first write
    Counted(runtime_ctx=RuntimeContext())
    for x in range(3):
        context.points = [_Point(x)]
    with pytest.raises(ValidationError):
        context.points = [x]  # type: ignore[list-item]  # the runtime check under test
    assert built == [list[_Point]]
    # step_results (list[StepResult], in every context) waits for a value that could fail.
    context.step_results = [StepResult()]
    assert built == [list[_Point], list[StepResult]]


def test_a_pydantic_built_check_refuses_a_bad_value_as_the_first_value() -> None:
    class FirstBad(BaseStepContext):
        points: list[_Point] = field(default_factory=list)

    with pytest.raises(ValidationError, match="points"):
        FirstBad(runtime_ctx=RuntimeContext(), points=[3])  # type: ignore[list-item]  # the runtime check under test


def test_step_results_field_is_still_checked() -> None:
    context = Written(runtime_ctx=RuntimeContext())
    with pytest.raises(ValidationError, match="step_results"):
        context.step_results = [{"success": True}]  # type: ignore[list-item]  # the runtime check under test
    context.step_results = [StepResult()]


def test_check_fields_names_each_field() -> None:
    context = Written(runtime_ctx=RuntimeContext())
    context.tags.append(1)  # type: ignore[arg-type]  # an in-place change validation cannot see
    context.scores["x"] = "high"  # type: ignore[assignment]  # same
    with pytest.raises(ValidationError) as caught:
        context.check_fields()
    assert [error["loc"] for error in caught.value.errors()] == [("tags", 0), ("scores", "x")]


class _Doubling:
    """A data descriptor: stores twice what it is given, in the instance dict under another name."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._slot = f"_{name}_doubled"

    def __get__(self, instance: object, owner: type | None = None) -> int:
        if instance is None:
            return 0  # the dataclass default
        value: int = vars(instance).get(self._slot, 0)
        return value

    def __set__(self, instance: object, value: int) -> None:
        vars(instance)[self._slot] = value * 2


class WithDescriptor(BaseStepContext):
    # A descriptor-typed dataclass field: the class attribute is the descriptor, the type the value's.
    amount: int = _Doubling()  # type: ignore[assignment]  # the descriptor stands as the default


def test_a_descriptor_typed_field_is_written_through_its_descriptor() -> None:
    context = WithDescriptor(runtime_ctx=RuntimeContext(), amount=2)
    assert context.amount == 4
    context.amount = 5
    assert context.amount == 10
    with pytest.raises(ValidationError, match="amount"):
        context.amount = "6"  # type: ignore[assignment]  # the runtime check under test
    assert context.amount == 10


class WithProperty(BaseStepContext):
    total: int = 0

    @property
    def doubled(self) -> int:
        return self.total * 2

    @doubled.setter
    def doubled(self, value: int) -> None:
        self.total = value // 2


def test_property_setters_and_private_names_still_work() -> None:
    context = WithProperty(runtime_ctx=RuntimeContext())
    context.doubled = 8
    assert context.total == 4
    context._scratch = [1]  # type: ignore[attr-defined]  # private state is free
    assert context._scratch == [1]  # type: ignore[attr-defined]  # same
    with pytest.raises(AttributeError, match="did you mean 'total'"):
        context.totl = 1  # type: ignore[attr-defined]  # the typo under test


def test_a_subclass_redeclaring_a_field_gets_its_own_check() -> None:
    class Base(BaseStepContext):
        value: int = 0

    class Child(Base):
        value: str = ""  # type: ignore[assignment]  # a narrower redeclaration, on purpose

    Base(runtime_ctx=RuntimeContext()).value = 1
    child = Child(runtime_ctx=RuntimeContext())
    child.value = "text"
    with pytest.raises(ValidationError, match="Child"):
        child.value = 1  # type: ignore[assignment]  # the runtime check under test


# -- StepResult ---------------------------------------------------------------------------------


@dataclass
class _Reference:
    """What StepResult was: a plain dataclass with the same fields (timestamp left out)."""

    success: bool = True
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    rollback_data: dict[str, Any] = field(default_factory=dict)
    skipped: bool = False


_dicts = st.none() | st.dictionaries(st.text(max_size=3), st.integers(), max_size=3)
_arguments = st.fixed_dictionaries(
    {},
    optional={
        "success": st.booleans(),
        "data": _dicts,
        "error": st.none() | st.text(max_size=5),
        "rollback_data": _dicts,
        "skipped": st.booleans(),
    },
)


@given(_arguments)
def test_step_result_fields_match_a_plain_dataclass(arguments: dict[str, Any]) -> None:
    result = StepResult(**arguments)
    reference = _Reference(**arguments)  # None given for a dict is kept, as by the plain dataclass
    assert (result.success, result.data, result.error, result.rollback_data, result.skipped) == dataclasses.astuple(
        reference
    )
    for name in ("data", "rollback_data"):
        if isinstance(arguments.get(name), dict):
            assert getattr(result, name) is arguments[name]  # the caller's dict, not a copy
    copied = copy.deepcopy(result)
    assert copied == result and pickle.loads(pickle.dumps(result)) == result
    assert repr(result).startswith(
        f"StepResult(success={result.success!r}, data={result.data!r}, error={result.error!r}, "
        f"rollback_data={result.rollback_data!r}, skipped={result.skipped!r}, timestamp="
    )


@given(_arguments, st.sampled_from(["success", "error", "skipped", "data", "rollback_data"]), st.data())
def test_step_result_fields_can_be_set(arguments: dict[str, Any], name: str, data: st.DataObject) -> None:
    values = {
        "success": st.booleans(),
        "error": st.none() | st.text(max_size=5),
        "skipped": st.booleans(),
        "data": st.dictionaries(st.text(max_size=3), st.integers(), max_size=3),
        "rollback_data": st.dictionaries(st.text(max_size=3), st.integers(), max_size=3),
    }
    result = StepResult(**arguments)
    before = {other: getattr(result, other) for other in values if other != name}
    value = data.draw(values[name])
    setattr(result, name, value)
    assert getattr(result, name) == value
    assert {other: getattr(result, other) for other in values if other != name} == before


def test_step_result_is_still_a_dataclass() -> None:
    assert [f.name for f in dataclasses.fields(StepResult)] == [
        "success",
        "data",
        "error",
        "rollback_data",
        "skipped",
        "timestamp",
    ]
    result = StepResult(data={"a": 1})
    replaced = dataclasses.replace(result, success=False, error="no")
    assert (replaced.success, replaced.error, replaced.data, replaced.timestamp) == (False, "no", {"a": 1}, result.timestamp)
    assert dataclasses.asdict(result)["data"] == {"a": 1}
    assert StepResult.__hash__ is None  # as a non-frozen dataclass with eq


# pickle.dumps(StepResult(False, {"a": 1}, "boom", timestamp=datetime(2026, 11, 1, tzinfo=UTC)),
# protocol=4) as written by steprail 3a5f3b2, whose StepResult was a dataclass with a slot per
# field: (None, {field: value}) as its state.
_EARLIER_PICKLE = (
    b"\x80\x04\x95\xd7\x00\x00\x00\x00\x00\x00\x00\x8c\x10steprail._result\x94\x8c\nStepResult\x94"
    b"\x93\x94)\x81\x94N}\x94(\x8c\x07success\x94\x89\x8c\x04data\x94}\x94\x8c\x01a\x94K\x01s"
    b"\x8c\x05error\x94\x8c\x04boom\x94\x8c\rrollback_data\x94}\x94\x8c\x07skipped\x94\x89"
    b"\x8c\ttimestamp\x94\x8c\x08datetime\x94\x8c\x08datetime\x94\x93\x94C\n\x07\xea\x0b\x01"
    b"\x00\x00\x00\x00\x00\x00\x94h\x0f\x8c\x08timezone\x94\x93\x94h\x0f\x8c\ttimedelta\x94"
    b"\x93\x94K\x00K\x00K\x00\x87\x94R\x94\x85\x94R\x94\x86\x94R\x94u\x86\x94b."
)


def test_a_result_pickled_by_an_earlier_steprail_still_loads() -> None:
    restored = pickle.loads(_EARLIER_PICKLE)
    assert type(restored) is StepResult
    stamp = datetime(2026, 11, 1, tzinfo=UTC)
    assert restored == StepResult(False, {"a": 1}, "boom", timestamp=stamp)
    assert pickle.loads(pickle.dumps(restored)) == restored


def test_step_result_dicts_are_fresh_per_result_and_keep_changes() -> None:
    first, second = StepResult(), StepResult()
    first.data["x"] = 1
    first.rollback_data["y"] = 2
    assert (first.data, first.rollback_data) == ({"x": 1}, {"y": 2})
    assert (second.data, second.rollback_data) == ({}, {})
    assert first.data is first.data


def test_step_result_timestamp_is_aware_stable_and_now() -> None:
    before = datetime.now(UTC)
    result = StepResult()
    after = datetime.now(UTC)
    stamp = result.timestamp
    assert stamp.tzinfo == UTC and stamp.utcoffset() == timedelta(0)
    assert before - timedelta(milliseconds=1) <= stamp <= after + timedelta(milliseconds=1)
    assert result.timestamp is stamp
    chosen = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert StepResult(timestamp=chosen).timestamp is chosen


def test_a_plain_result_holds_no_container_and_no_cycle() -> None:
    result = StepResult()
    referents = gc.get_referents(result)
    assert all(not gc.is_tracked(referent) for referent in referents if referent is not type(result))
    with_data = StepResult(data={"a": [1]})
    for referent in gc.get_referents(with_data):
        assert with_data not in gc.get_referents(referent)


def test_a_result_made_failed_after_construction_fails_the_run() -> None:
    class FlipsResult(BaseStep[BaseStepContext]):
        @property
        def name(self) -> str:
            return "flips"

        @property
        def progress_weight(self) -> float:
            return 1.0

        def execute(self, context: BaseStepContext) -> StepResult:
            result = StepResult()
            result.success = False
            result.error = "changed my mind"
            return result

    registry = StepRegistry[BaseStepContext]()
    registry.register(FlipsResult())
    context = BaseStepContext(runtime_ctx=RuntimeContext())
    with pytest.raises(StepFailedError, match="changed my mind"):
        Orchestrator(registry, context, lambda current, total: None).execute()


_FIRST_STEP = """
import sys
from steprail import BaseStep, BaseStepContext, Orchestrator, RuntimeContext, StepRegistry, StepResult

class Ctx(BaseStepContext):
    title: str = ""
    count: int = 0
    ratio: float | None = None

class First(BaseStep[Ctx]):
    @property
    def name(self):
        return "first"
    @property
    def progress_weight(self):
        return 1.0
    def execute(self, context):
        context.count = 1
        return StepResult()

registry = StepRegistry[Ctx]()
registry.register(First())
context = Ctx(runtime_ctx=RuntimeContext())
Orchestrator(registry, context, lambda current, total: None).execute()
assert context.count == 1 and context.step_results[0].success
print(sorted(name for name in sys.modules if name.startswith("pydantic.") and "generate_schema" in name))
"""


def test_the_first_step_does_not_load_pydantics_schema_generator() -> None:
    done = subprocess.run([sys.executable, "-c", _FIRST_STEP], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_result_timestamp_costs_no_datetime_until_read() -> None:
    started = time.time()
    result = StepResult()
    assert isinstance(vars_of(result)["_taken"], float)
    assert result.timestamp.timestamp() >= started - 0.001
    assert isinstance(vars_of(result)["_taken"], datetime)


def vars_of(result: StepResult) -> dict[str, object]:
    slots: tuple[str, ...] = getattr(type(result), "__slots__")
    return {name: getattr(result, name) for name in slots}


# -- the progress plan a registry keeps for its runs -----------------------------------------------

_operations = st.lists(
    st.tuples(st.sampled_from(["register", "insert_after", "unregister", "run"]), st.integers(0, 50), st.floats(0.0, 1.0)),
    min_size=1,
    max_size=25,
).map(lambda operations: [*operations, ("run", 0, 0.0)])


def _progress_of(registry: StepRegistry[Any]) -> list[tuple[int, int]]:
    reported: list[tuple[int, int]] = []
    Orchestrator(registry, BaseStepContext(runtime_ctx=RuntimeContext()), lambda current, total: reported.append((current, total))).execute()
    return reported


class _Weighted(BaseStep[BaseStepContext]):
    def __init__(self, name: str, weight: float) -> None:
        self._name = name
        self._weight = weight

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return self._weight

    def execute(self, context: BaseStepContext) -> StepResult:
        return StepResult()


@given(_operations)
def test_runs_after_any_change_report_the_progress_of_a_fresh_registry(
    operations: list[tuple[str, int, float]],
) -> None:
    registry = StepRegistry[BaseStepContext]()
    made = 0
    for operation, position, weight in operations:
        names = [step.name for step in registry.get_steps()]
        if operation == "register" or (operation != "run" and not names):
            registry.register(_Weighted(f"s{made}", weight))
            made += 1
        elif operation == "insert_after":
            registry.insert_after(names[position % len(names)], _Weighted(f"s{made}", weight))
            made += 1
        elif operation == "unregister":
            registry.unregister(names[position % len(names)])
        else:  # a run: it may keep a plan that later changes must not reuse
            fresh = StepRegistry[BaseStepContext]()
            for step in registry.get_steps():
                fresh.register(step)
            assert _progress_of(registry) == _progress_of(fresh)
