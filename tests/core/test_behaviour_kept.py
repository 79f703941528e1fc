"""What the cheaper per-step path (issue 16) must not change: each case here behaved this way
before it, was found changed by a review, and is pinned so that it stays as it was.

- ``StepResult``: a shallow copy has its own fields; ``@dataclass`` subclasses (with and without
  ``slots=True``) and a subclass's own attributes survive construction, a run, copying and
  pickling; values are kept as given (``None`` included); threads filling one fresh result lose
  nothing.
- Contexts: a field type pydantic cannot build fails when the context is made; a descriptor put
  on the class after its first instance is honoured; threads making the first instances of a
  class at once all succeed; a PEP 695 generic context works under postponed annotations.
- Registries: a shallow copy cannot leave a stale progress plan, and a run gets its steps and
  its plan from one state of the registry.
"""

from __future__ import annotations

import copy
import inspect
import pickle
import sys
import threading
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypedDict
from unittest import mock

import pytest
from pydantic import BaseModel, PydanticUserError, ValidationError

import steprail._result as result_module
from steprail import (
    BaseStep,
    BaseStepContext,
    Orchestrator,
    RunSummary,
    RuntimeContext,
    StepFailedError,
    StepRegistry,
    StepResult,
)

# -- StepResult -----------------------------------------------------------------------------------


@dataclass
class _PlainResult:
    """What StepResult was: a plain dataclass with the same fields and defaults."""

    success: bool = True
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    rollback_data: dict[str, Any] = field(default_factory=dict)
    skipped: bool = False
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))


def test_the_signature_is_the_plain_dataclass_one() -> None:
    def parameters(cls: type) -> list[str]:
        return [str(parameter) for parameter in inspect.signature(cls).parameters.values()]

    assert parameters(StepResult) == parameters(_PlainResult)  # defaults shown as <factory>


@pytest.mark.parametrize(
    "arguments",
    [{}, {"data": {"k": 1}}, {"success": False, "error": "e"}, {"skipped": True, "rollback_data": {"r": 2}}],
    ids=repr,
)
def test_a_shallow_copy_has_its_own_fields_and_shares_the_dicts(arguments: dict[str, Any]) -> None:
    original, reference = StepResult(**arguments), _PlainResult(**arguments)
    for made in (original, reference):
        before = (made.success, made.error, made.skipped, made.timestamp)
        copied = copy.copy(made)
        copied.success, copied.error, copied.skipped = not made.success, "boom", not made.skipped
        copied.timestamp = datetime(2000, 1, 1, tzinfo=UTC)
        assert (made.success, made.error, made.skipped, made.timestamp) == before
        # As for any dataclass, the copy shares the dicts: what one adds, the other sees.
        copied.data["seen"] = True
        copied.rollback_data["undo"] = 1
        assert made.data["seen"] is True and made.rollback_data["undo"] == 1


def test_values_are_kept_as_given_as_by_the_plain_dataclass() -> None:
    # Not what the annotations allow, but what a plain dataclass did: nothing is replaced.
    assert StepResult(data=None).data is None  # type: ignore[arg-type]  # the unchecked value under test
    assert StepResult(rollback_data=None).rollback_data is None  # type: ignore[arg-type]  # same
    assert StepResult(timestamp=None).timestamp is None  # type: ignore[arg-type]  # same
    assert StepResult(timestamp=0.5).timestamp == 0.5  # type: ignore[arg-type]  # same
    assert StepResult(timestamp=(1, 2)).timestamp == (1, 2)  # type: ignore[arg-type]  # same
    result = StepResult()
    result.data = None  # type: ignore[assignment]  # same
    result.timestamp = 1.5  # type: ignore[assignment]  # same
    kept: tuple[object, object] = (result.data, result.timestamp)
    assert kept == (None, 1.5)
    restored = pickle.loads(pickle.dumps(result))
    assert (restored.data, restored.timestamp) == (None, 1.5)
    assert copy.deepcopy(StepResult(timestamp=0.5)).timestamp == 0.5  # type: ignore[arg-type]  # same


@dataclass
class _Extended(StepResult):
    extra: int = 0


@dataclass(slots=True)
class _SlottedExtended(StepResult):
    extra: int = 0


class _WithAttributes(StepResult):
    """A subclass without @dataclass: it has an instance dict for its own attributes."""


_SUBCLASSES = [_Extended, _SlottedExtended]


class _Returns(BaseStep[BaseStepContext]):
    def __init__(self, result: StepResult) -> None:
        self.result = result

    @property
    def name(self) -> str:
        return "returns"

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: BaseStepContext) -> StepResult:
        return self.result


def _run(result: StepResult) -> tuple[RunSummary, BaseStepContext]:
    registry = StepRegistry[BaseStepContext]()
    registry.register(_Returns(result))
    context = BaseStepContext(runtime_ctx=RuntimeContext())
    return Orchestrator(registry, context, lambda current, total: None).execute(), context


@pytest.mark.parametrize("cls", _SUBCLASSES, ids=lambda cls: cls.__name__)
def test_a_dataclass_subclass_is_made_run_copied_and_pickled(cls: type[_Extended]) -> None:
    made = cls(extra=2, data={"a": 1})
    assert (made.success, made.data, made.error, made.rollback_data, made.skipped, made.extra) == (
        True,
        {"a": 1},
        None,
        {},
        False,
        2,
    )
    assert made.timestamp.tzinfo is UTC
    summary, context = _run(made)
    assert summary["success"] is True and context.step_results == [made]
    with pytest.raises(StepFailedError, match="no luck"):
        _run(cls(success=False, error="no luck"))
    for twin in (copy.copy(made), copy.deepcopy(made), pickle.loads(pickle.dumps(made))):
        assert type(twin) is cls and twin == made and twin.extra == 2
    copied = copy.copy(made)
    copied.success, copied.extra = False, 3
    assert (made.success, made.extra) == (True, 2)


def test_a_subclass_keeps_its_own_attributes_when_copied_or_pickled() -> None:
    made = _WithAttributes(data={"a": 1})
    setattr(made, "note", "kept")
    for twin in (copy.copy(made), copy.deepcopy(made), pickle.loads(pickle.dumps(made))):
        assert getattr(twin, "note") == "kept"
        assert twin == made and twin.data == {"a": 1}


class _IterationMeetsAnotherThread(tuple[Any, ...]):
    """Stands for the result module's defaults: making the field list from it makes the two
    first threads meet there, so that both would make one if nothing kept them apart (the second
    is kept out while the first is in: it waits until the meeting times out)."""

    meeting = threading.Barrier(2, timeout=0.3)

    def __iter__(self) -> Iterator[Any]:
        try:
            self.meeting.wait()
        except threading.BrokenBarrierError:
            pass
        return super().__iter__()


def test_threads_writing_into_one_fresh_result_lose_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(result_module, "_DEFAULTS", _IterationMeetsAnotherThread(result_module._DEFAULTS))
    result = StepResult()
    threads = [
        threading.Thread(target=lambda: result.data.__setitem__("first", 1)),
        threading.Thread(target=lambda: result.data.__setitem__("second", 2)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert result.data == {"first": 1, "second": 2}


# -- contexts -------------------------------------------------------------------------------------


class _Unbuildable(BaseModel):
    value: _NotDefinedAnywhere  # type: ignore[name-defined]  # noqa: F821  # a model pydantic cannot build, on purpose


class _UnbuildableDict(TypedDict):
    value: _NotDefinedEither  # type: ignore[name-defined]  # noqa: F821  # same


def test_a_field_type_pydantic_cannot_build_fails_when_the_context_is_made() -> None:
    class ModelList(BaseStepContext):
        items: list[_Unbuildable] = field(default_factory=list)

    class TypedDicts(BaseStepContext):
        by_name: dict[str, _UnbuildableDict] = field(default_factory=dict)

    for cls in (ModelList, TypedDicts):
        for _ in range(2):  # and again at the next attempt, not only the first
            with pytest.raises(PydanticUserError, match="is not fully defined"):
                cls(runtime_ctx=RuntimeContext())


class _Patched(BaseStepContext):
    amount: int = 0
    items: list[int] = field(default_factory=list)


def test_a_property_mock_patched_in_after_the_first_instance_is_called() -> None:
    before = _Patched(runtime_ctx=RuntimeContext())
    before.amount = 1
    with mock.patch.object(_Patched, "amount", new_callable=mock.PropertyMock) as patched:
        context = _Patched(runtime_ctx=RuntimeContext())
        context.amount = 5
        with pytest.raises(ValidationError, match="amount"):
            context.amount = "6"  # type: ignore[assignment]  # still validated first
    assert patched.call_args_list == [mock.call(0), mock.call(5)]
    after = _Patched(runtime_ctx=RuntimeContext())
    after.amount = 3  # the patch is gone: a plain field again
    assert (after.amount, vars(after)["amount"]) == (3, 3)


def test_a_property_put_on_the_class_later_is_honoured() -> None:
    class Later(BaseStepContext):
        amount: int = 0

    Later(runtime_ctx=RuntimeContext())
    seen: list[int] = []
    setattr(Later, "amount", property(lambda self: sum(seen), lambda self, value: seen.append(value)))
    context = Later(runtime_ctx=RuntimeContext())
    context.amount = 4
    assert seen == [0, 4] and context.amount == 4


def test_threads_making_the_first_instances_of_a_class_all_succeed() -> None:
    failures: list[str] = []
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        for trial in range(60):
            namespace: dict[str, Any] = {
                "__annotations__": {"count": int, "names": list[str], "label": str | None, "sizes": dict[str, int]},
                "count": 0,
                "names": field(default_factory=list),
                "label": None,
                "sizes": field(default_factory=dict),
            }
            cls = types.new_class(f"Raced{trial}", (BaseStepContext,), {}, lambda body: body.update(namespace))
            start = threading.Barrier(4)

            def make(cls: type = cls, start: threading.Barrier = start) -> None:
                start.wait()
                try:
                    context = cls(runtime_ctx=RuntimeContext())
                    context.count = 1
                    context.names = ["a"]
                    assert (context.count, context.names, context.sizes) == (1, ["a"], {})
                except Exception as error:
                    failures.append(f"{type(error).__name__}: {error}")

            threads = [threading.Thread(target=make) for _ in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert failures == []


class _Generic[T](BaseStepContext):
    """A PEP 695 generic context in a module with postponed annotations (this one)."""

    value: T | None = None
    values: list[T] = field(default_factory=list)


def test_a_generic_context_works_under_postponed_annotations() -> None:
    context = _Generic[int](runtime_ctx=RuntimeContext(), value=1)
    context.values = [1, 2]
    assert (context.value, context.values) == (1, [1, 2])
    with pytest.raises(AttributeError, match="did you mean 'value'"):
        context.valeu = 2  # type: ignore[attr-defined]  # the typo under test


# -- registries -----------------------------------------------------------------------------------


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


def _progress(registry: StepRegistry[BaseStepContext]) -> list[int]:
    reported: list[int] = []
    context = BaseStepContext(runtime_ctx=RuntimeContext())
    Orchestrator(registry, context, lambda current, total: reported.append(current)).execute()
    return reported


def test_a_shallow_copy_cannot_leave_a_stale_progress_plan() -> None:
    registry = StepRegistry[BaseStepContext]()
    registry.register(_Weighted("a", 1.0))
    registry.register(_Weighted("b", 0.0))
    assert _progress(registry) == [99, 100]  # only a finished run reports 100
    registry.register(_Weighted("x", 1.0))
    shallow = copy.copy(registry)
    shallow.unregister("b")  # the copy shares the steps: the original loses "b" too
    assert [step.name for step in registry] == ["a", "x"]
    assert _progress(registry) == [50, 100]
    shallow.insert_before("a", _Weighted("first", 0.0))
    assert [step.name for step in registry] == ["first", "a", "x"]
    assert _progress(registry) == [50, 100]


def test_a_run_gets_its_steps_and_plan_from_one_state(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = StepRegistry[BaseStepContext]()
    registry.register(_Weighted("a", 1.0))
    registry.register(_Weighted("b", 1.0))
    assert _progress(registry) == [50, 100]  # a plan is kept for the next run
    taken = registry._run_view

    def taken_then_registered() -> tuple[list[BaseStep[BaseStepContext]], tuple[str, ...], list[float]]:
        view = taken()
        if "late" not in registry:  # another thread registers right after the view was taken
            registry.register(_Weighted("late", 1.0))
        return view

    monkeypatch.setattr(registry, "_run_view", taken_then_registered)
    reported = _progress(registry)
    assert reported[-1] == 100
    assert reported == [33, 66, 100]  # the three steps there were, each with its share
