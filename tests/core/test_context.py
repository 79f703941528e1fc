"""BaseStepContext: validation at construction and assignment, reporting, undo registration."""

from __future__ import annotations

import copy
import dataclasses
import functools
import inspect
import pickle
import types
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from steprail import (
    BaseStep,
    BaseStepContext,
    Orchestrator,
    RuntimeContext,
    StepFailedError,
    StepRegistry,
    StepResult,
)

from ._steps import ItemsContext, Scripted, new_context


def test_bad_field_value_at_construction_names_class_and_field() -> None:
    with pytest.raises(ValidationError) as caught:
        ItemsContext(runtime_ctx=RuntimeContext(), count="three")  # type: ignore[arg-type]  # the runtime check under test
    assert caught.value.title == "ItemsContext"
    assert caught.value.errors()[0]["loc"] == ("count",)


def test_runtime_ctx_must_be_a_runtime_context() -> None:
    with pytest.raises(ValidationError, match="runtime_ctx"):
        ItemsContext(runtime_ctx=object())  # type: ignore[arg-type]  # the runtime check under test


def test_bad_assignment_raises_and_keeps_the_old_value() -> None:
    context = new_context()
    context.count = 4
    with pytest.raises(ValidationError) as caught:
        context.count = "five"  # type: ignore[assignment]  # the runtime check under test
    assert context.count == 4
    assert caught.value.title == "ItemsContext"
    assert caught.value.errors()[0]["loc"] == ("count",)


def test_nested_errors_point_inside_the_field() -> None:
    context = new_context()
    with pytest.raises(ValidationError) as caught:
        context.items = ["ok", 7]  # type: ignore[list-item]  # the runtime check under test
    assert caught.value.errors()[0]["loc"] == ("items", 1)
    assert context.items == []


def test_validation_is_strict_and_keeps_the_assigned_object() -> None:
    context = new_context()
    with pytest.raises(ValidationError):
        context.count = "1"  # type: ignore[assignment]  # no silent coercion of "1" to 1
    shared: list[str] = ["a"]
    context.items = shared
    shared.append("b")
    assert context.items is shared


def test_check_fields_catches_in_place_mutation() -> None:
    context = new_context()
    context.items.append(3)  # type: ignore[arg-type]  # the in-place change under test
    with pytest.raises(ValidationError) as caught:
        context.check_fields()
    assert caught.value.errors()[0]["loc"] == ("items", 0)


def test_bad_assignment_inside_a_step_fails_that_step() -> None:
    def write_bad_value(context: ItemsContext) -> StepResult:
        setattr(context, "count", "many")  # what an untyped caller could do
        return StepResult()

    registry = StepRegistry[ItemsContext]()
    registry.register(Scripted("first"))
    registry.register(Scripted("writer", action=write_bad_value))
    context = new_context()
    with pytest.raises(StepFailedError) as caught:
        Orchestrator(registry, context, lambda current, total: None).execute()
    assert caught.value.step_name == "writer"
    assert isinstance(caught.value.__cause__, ValidationError)
    assert "count" in str(caught.value)
    assert context.count == 0
    assert context.journal == ["execute first", "execute writer", "rollback first"]


def test_orchestrator_check_fields_fails_the_step_that_mutated_in_place() -> None:
    def mutate(context: ItemsContext) -> StepResult:
        context.items.append(42)  # type: ignore[arg-type]  # the in-place change under test
        return StepResult()

    registry = StepRegistry[ItemsContext]()
    registry.register(Scripted("first"))
    registry.register(Scripted("mutator", action=mutate))
    registry.register(Scripted("never"))
    context = new_context()
    with pytest.raises(StepFailedError) as caught:
        Orchestrator(registry, context, lambda current, total: None, check_fields=True).execute()
    assert caught.value.step_name == "mutator"
    assert "items.0" in str(caught.value)
    assert "execute never" not in context.journal


def test_bookkeeping_is_not_a_user_assignment() -> None:
    assigned: list[str] = []

    @dataclass
    class Watched(BaseStepContext):
        def __setattr__(self, name: str, value: object) -> None:
            assigned.append(name)
            super().__setattr__(name, value)

    class Quiet(BaseStep[BaseStepContext]):
        def __init__(self, name: str) -> None:
            self._name = name

        @property
        def name(self) -> str:
            return self._name

        @property
        def progress_weight(self) -> float:
            return 0.5

        def execute(self, context: BaseStepContext) -> StepResult:
            assert context.current_step == self._name
            return StepResult()

    context = Watched(runtime_ctx=RuntimeContext())
    assigned.clear()
    registry = StepRegistry[Watched]()
    for name in ("a", "b", "c"):
        registry.register(Quiet(name))
    Orchestrator(registry, context, lambda current, total: None).execute()
    assert assigned == []
    assert context.current_step is None
    assert len(context.step_results) == 3


def test_unresolvable_annotation_is_a_clear_type_error() -> None:
    # What a type imported only under `if TYPE_CHECKING:` looks like at run time.
    @dataclass
    class Broken(BaseStepContext):
        later: "NotDefinedAnywhere" = None  # type: ignore[name-defined]  # noqa: F821  # the failure under test

    with pytest.raises(TypeError, match=r"context class .*Broken: .*'NotDefinedAnywhere'.*not only under `if TYPE_CHECKING:`"):
        Broken(runtime_ctx=RuntimeContext())


def test_set_progress_and_metrics_default_to_the_current_step() -> None:
    seen: list[tuple[str, Any]] = []

    def report(context: ItemsContext) -> StepResult:
        context.set_progress(1, 4)
        context.set_metrics({"loss": 0.5})
        context.set_metrics({"loss": 0.1}, step="elsewhere")
        return StepResult()

    registry = StepRegistry[ItemsContext]()
    registry.register(Scripted("train", 1.0, action=report))
    context = new_context()
    Orchestrator(registry, context, lambda current, total: seen.append(("overall", current))).execute()
    runtime = context.runtime_ctx
    assert runtime.progress[0].step == "train"
    assert (runtime.progress[0].current, runtime.progress[0].total) == (1, 4)
    assert [(m.value, m.step) for m in runtime.metrics] == [
        ({"loss": 0.5}, "train"),
        ({"loss": 0.1}, "elsewhere"),
    ]
    assert seen == [("overall", 25), ("overall", 100)]


def test_set_metrics_outside_a_step_needs_a_step_name() -> None:
    context = new_context()
    with pytest.raises(ValueError, match="step name"):
        context.set_metrics({"x": 1})
    context.set_metrics({"x": 1}, step="setup")
    assert context.runtime_ctx.metrics[-1].step == "setup"


def test_set_progress_refuses_negative_numbers() -> None:
    with pytest.raises(ValueError, match=r"\(-1, 3\)"):
        new_context().set_progress(-1, 3)


def test_on_rollback_outside_a_step_is_refused() -> None:
    with pytest.raises(RuntimeError, match="while a step is executing"):
        new_context().on_rollback(lambda: None)


def test_step_result_defaults_and_utc_timestamp() -> None:
    result = StepResult()
    assert (result.success, result.data, result.error, result.rollback_data, result.skipped) == (
        True,
        {},
        None,
        {},
        False,
    )
    assert result.timestamp.tzinfo is not None
    assert result.timestamp.utcoffset() == timedelta(0)
    assert result.timestamp.tzinfo == UTC


def test_runtime_subclass_receives_every_call() -> None:
    calls: list[tuple[str, object]] = []

    class Recording(RuntimeContext):
        def log(self, event: str, data: dict[str, Any], file: str | None = None) -> None:
            calls.append(("log", event))

        def set_progress(self, current: int, total: int, step: str | None = None) -> None:
            calls.append(("progress", (current, total, step)))

        def set_metrics(self, value: dict[str, Any], step: str | None = None) -> None:
            calls.append(("metrics", step))

    def work(context: ItemsContext) -> StepResult:
        context.log("hello", {})
        context.set_progress(1, 2)
        context.set_metrics({"m": 1})
        return StepResult()

    @dataclass
    class Ctx(ItemsContext):
        extra: dict[str, int] = field(default_factory=dict)

    context = Ctx(runtime_ctx=Recording())
    registry = StepRegistry[Ctx]()
    registry.register(Scripted("only", 1.0, action=work))
    Orchestrator(registry, context, lambda current, total: context.set_progress(current, total)).execute()
    assert calls == [
        ("log", "hello"),
        ("progress", (1, 2, "only")),
        ("progress", (50, 100, None)),
        ("metrics", "only"),
        ("progress", (100, 100, None)),
    ]


# -- every subclass is a dataclass; unknown names are refused ------------------------------------


class Article(BaseStepContext):
    """No @dataclass: made one when the class is created."""

    title: str = ""
    tags: list[str] = field(default_factory=list)


@dataclass
class DecoratedArticle(BaseStepContext):
    title: str = ""
    tags: list[str] = field(default_factory=list)


class Review(Article):
    score: int = 0


class Required(BaseStepContext, kw_only=True):
    title: str
    pages: int = 1


@pytest.mark.parametrize("cls", [Article, DecoratedArticle])
def test_a_subclass_is_a_validated_dataclass_with_or_without_the_decorator(cls: type[Article]) -> None:

    assert [f.name for f in dataclasses.fields(cls)][-2:] == ["title", "tags"]
    first, second = cls(runtime_ctx=RuntimeContext()), cls(runtime_ctx=RuntimeContext())
    first.tags.append("x")
    assert second.tags == []  # default_factory gives each instance its own list
    with pytest.raises(ValidationError) as caught:
        cls(runtime_ctx=RuntimeContext(), title=3)  # type: ignore[arg-type]  # the runtime check under test
    assert caught.value.title == cls.__name__
    with pytest.raises(ValidationError):
        first.title = None  # type: ignore[assignment]  # the runtime check under test
    assert first.title == ""
    assert "tags" not in cls.__dict__  # the field specification is not left on the class


def test_undecorated_and_decorated_subclasses_have_the_same_constructor() -> None:

    assert str(inspect.signature(Article)) == str(inspect.signature(DecoratedArticle))
    assert Article(RuntimeContext(), [], [], "t").title == "t"  # positional, as @dataclass makes it


def test_a_subclass_of_an_undecorated_context_inherits_and_adds_fields() -> None:
    review = Review(runtime_ctx=RuntimeContext(), title="t", score=4)
    assert (review.title, review.tags, review.score) == ("t", [], 4)
    with pytest.raises(ValidationError):
        review.score = "4"  # type: ignore[assignment]  # the runtime check under test


def test_kw_only_class_keyword_allows_required_fields() -> None:
    context = Required(runtime_ctx=RuntimeContext(), title="x")
    assert (context.title, context.pages) == ("x", 1)
    with pytest.raises(TypeError, match="title"):
        Required(runtime_ctx=RuntimeContext())  # type: ignore[call-arg]  # the runtime check under test


def test_a_field_without_default_after_defaults_fails_at_class_creation() -> None:
    with pytest.raises(TypeError, match=r"context class .*Late: non-default argument 'late'.*kw_only=True"):

        class Late(BaseStepContext):
            late: int  # type: ignore[misc]  # the failure under test


def test_dataclass_options_on_a_context_are_refused_at_first_use() -> None:
    @dataclass(eq=False)
    class Options(BaseStepContext):
        x: int = 0

    for _ in range(2):  # refused at every use, not only the first
        with pytest.raises(TypeError, match=r"context class .*Options: @dataclass\(eq=False\) is refused"):
            Options(runtime_ctx=RuntimeContext())


def test_a_kw_only_decorator_option_is_refused_with_the_class_keyword_to_write() -> None:
    @dataclass(kw_only=True)
    class Keywords(BaseStepContext):
        x: int = 0

    with pytest.raises(
        TypeError,
        match=r"@dataclass\(kw_only=True\) is refused.*class keyword: class Keywords\(BaseStepContext, kw_only=True\)",
    ):
        Keywords(runtime_ctx=RuntimeContext())
    # With a required field the class fails before the decorator runs; the hint says the same.
    with pytest.raises(TypeError, match=r"non-default argument 'x'.*kw_only=True.*decorator options are refused"):

        @dataclass(kw_only=True)
        class RequiredKeywords(BaseStepContext):
            x: int  # type: ignore[misc]  # the failure under test


@pytest.mark.parametrize("kw_only", [False, True])
def test_slots_are_refused_when_the_class_is_created(kw_only: bool) -> None:
    # A slots copy would hide the instance dict the orchestrator writes its bookkeeping to, and
    # every run would fail reading context.current_step.
    with pytest.raises(TypeError, match=r"context class .*Slotted: @dataclass\(slots=True\) is not supported"):

        dataclass(slots=True)(
            types.new_class(
                "Slotted", (BaseStepContext,), {"kw_only": kw_only}, lambda ns: ns.update(__annotations__={"title": "str"}, title="")
            )
        )


@pytest.mark.parametrize("option", ["order", "eq", "frozen", "slots", "match_args", "unsafe_hash"])
def test_a_dataclass_option_as_class_keyword_is_refused_by_name(option: str) -> None:
    with pytest.raises(TypeError, match=rf"context class .*Keyworded: {option}= is not a class keyword.*only one is kw_only"):
        types.new_class("Keyworded", (BaseStepContext,), {option: True})


class _Tagging:
    """A mixin with a class keyword of its own."""

    tag: ClassVar[str] = ""

    def __init_subclass__(cls, *, tag: str = "", **keywords: Any) -> None:
        super().__init_subclass__(**keywords)
        cls.tag = tag


def test_other_class_keywords_reach_the_next_class_in_the_mro() -> None:
    class Tagged(BaseStepContext, _Tagging, tag="news", kw_only=True):  # type: ignore[call-arg]  # mypy reads BaseStepContext's signature only
        title: str

    assert (Tagged.tag, Tagged(runtime_ctx=RuntimeContext(), title="t").title) == ("news", "t")


def _field_view(cls: type) -> list[tuple[object, ...]]:
    return [
        (f.name, f.kw_only, f.default, f.default_factory, f.repr, f.init, f.compare)
        for f in dataclasses.fields(cls)
    ]


@pytest.mark.parametrize("kw_only", [False, True])
def test_a_plain_decorator_changes_nothing_whatever_the_class_keywords(kw_only: bool) -> None:
    def declare(decorated: bool) -> type[BaseStepContext]:
        namespace = {
            "__annotations__": {"title": "str", "notes": "list[str]", "hidden": "int", "pages": "int"},
            "notes": field(default_factory=list),
            "hidden": field(default=0, repr=False),
            "pages": 1,
        }
        if not kw_only:
            namespace["title"] = ""
        cls = types.new_class("Declared", (BaseStepContext,), {"kw_only": kw_only}, lambda ns: ns.update(namespace))
        return dataclass(cls) if decorated else cls

    plain, decorated = declare(False), declare(True)
    assert _field_view(decorated) == _field_view(plain)
    assert str(inspect.signature(decorated)) == str(inspect.signature(plain))
    context = decorated(runtime_ctx=RuntimeContext(), title="t")  # type: ignore[call-arg]  # made at run time
    assert (getattr(context, "title"), getattr(context, "notes"), getattr(context, "pages")) == ("t", [], 1)
    assert getattr(decorated, "__dataclass_params__").kw_only is kw_only
    assert _field_view(decorated) == _field_view(plain)


# How a generated field is declared: its class-body value (None: no value, a required field).
_FIELD_SPELLINGS: dict[str, Any] = {
    "required": None,
    "plain": 3,
    "default": field(default=3),
    "factory": field(default_factory=list),
    "hidden": field(default=3, repr=False),
    "not_init": field(default=3, init=False),
    "kw_only": field(kw_only=True),
    "metadata": field(default=3, metadata={"unit": "px"}),
}


@given(
    spellings=st.lists(st.sampled_from(sorted(_FIELD_SPELLINGS)), max_size=5),
    kw_only=st.booleans(),
)
def test_a_plain_decorator_never_changes_a_context(spellings: list[str], kw_only: bool) -> None:
    def declare(decorated: bool) -> type[BaseStepContext] | str:
        def body(namespace: dict[str, Any]) -> None:
            namespace["__annotations__"] = {}
            for index, spelling in enumerate(spellings):
                name = f"f{index}"
                namespace["__annotations__"][name] = "list[int]" if spelling == "factory" else "int"
                value = _FIELD_SPELLINGS[spelling]
                if value is not None:  # a fresh Field each time: dataclasses fills it in
                    namespace[name] = copy.copy(value)

        try:
            cls = types.new_class("Generated", (BaseStepContext,), {"kw_only": kw_only}, body)
            return dataclass(cls) if decorated else cls
        except TypeError as error:  # a required field after defaults: the same error both ways
            return str(error)

    plain, decorated = declare(False), declare(True)
    if isinstance(plain, str) or isinstance(decorated, str):
        assert plain == decorated
        return
    before = _field_view(decorated)
    assert before == _field_view(plain)
    assert str(inspect.signature(decorated)) == str(inspect.signature(plain))
    required: dict[str, Any] = {
        f"f{index}": 1 for index, spelling in enumerate(spellings) if spelling in ("required", "kw_only")
    }
    made = [dataclasses.asdict(cls(runtime_ctx=RuntimeContext(), **required)) for cls in (plain, decorated)]
    assert [{name: value for name, value in values.items() if name != "runtime_ctx"} for values in made] == [
        {name: value for name, value in made[0].items() if name != "runtime_ctx"}
    ] * 2
    # After the first instance the class attributes are the final ones, the same both ways.
    assert _field_view(decorated) == before == _field_view(plain)
    names = [f.name for f in dataclasses.fields(plain)]
    assert [vars(plain).get(name) for name in names] == [vars(decorated).get(name) for name in names]


def test_a_plain_default_is_the_class_attribute_from_creation() -> None:
    class Defaults(BaseStepContext):
        n: int = field(default=3)
        m: int = 4

    assert (Defaults.n, Defaults.m) == (3, 4)  # before any instance


def test_a_base_listed_in_the_wrong_order_gets_the_right_advice() -> None:
    @dataclass
    class Mixin:
        tag: str = ""

    with pytest.raises(TypeError) as caught:

        class Mixed(BaseStepContext, Mixin, kw_only=True):  # type: ignore[misc]  # the failure under test
            n: int = 0

    message = str(caught.value)
    assert "'runtime_ctx' comes from BaseStepContext" in message
    assert "list BaseStepContext last among the bases" in message
    assert "does not help" in message  # kw_only=True is not suggested again

    class Reordered(Mixin, BaseStepContext, kw_only=True):
        n: int = 0

    assert Reordered(runtime_ctx=RuntimeContext(), tag="x").tag == "x"


def test_assigning_an_unknown_name_is_refused_with_the_closest_field() -> None:
    context = Article(runtime_ctx=RuntimeContext(), title="kept")
    before = dict(vars(context))
    with pytest.raises(AttributeError, match=r"^Article has no field 'titel'; did you mean 'title'\?"):
        context.titel = "x"  # type: ignore[attr-defined]  # the runtime check under test
    assert vars(context) == before


def test_reading_an_unknown_name_says_the_closest_one() -> None:
    context = Article(runtime_ctx=RuntimeContext())
    with pytest.raises(AttributeError, match=r"^Article has no attribute 'tagz'; did you mean 'tags'\?$"):
        context.tagz  # type: ignore[attr-defined]  # noqa: B018  # the runtime check under test
    with pytest.raises(AttributeError, match=r"has no attribute 'zzzzzz'$"):  # nothing close: no hint
        getattr(context, "zzzzzz")


def test_private_names_methods_and_bookkeeping_can_still_be_set() -> None:
    context = Article(runtime_ctx=RuntimeContext())
    context._cache = {"a": 1}  # type: ignore[attr-defined]  # private state: not checked at run time
    context.current_step = "load"
    context.current_step_order = 0
    logged: list[str] = []
    context.log = lambda event, data, file=None: logged.append(event)  # type: ignore[method-assign]  # an existing name is no typo
    context.log("e", {})
    assert (getattr(context, "_cache"), context.current_step, logged) == ({"a": 1}, "load", ["e"])


def test_an_attribute_error_inside_a_property_is_not_masked() -> None:
    class Report(BaseStepContext):
        output: str | None = None

        @property
        def shout(self) -> str:
            return self.output.upper()  # type: ignore[union-attr]  # the failure under test

        @functools.cached_property
        def cached(self) -> str:
            return self.output.upper()  # type: ignore[union-attr]  # the failure under test

    report = Report(runtime_ctx=RuntimeContext())
    for name in ("shout", "cached"):
        with pytest.raises(AttributeError, match=r"^'NoneType' object has no attribute 'upper'$"):
            getattr(report, name)


def test_reading_a_deleted_field_says_so_without_suggesting_the_same_name() -> None:
    context = Article(runtime_ctx=RuntimeContext())
    del context.tags
    with pytest.raises(AttributeError, match=r"^Article field 'tags' has no value \(it was deleted\)$"):
        context.tags  # noqa: B018  # the runtime check under test


def test_names_of_the_metaclass_are_not_attributes_of_a_context() -> None:
    context = Article(runtime_ctx=RuntimeContext())
    before = dict(vars(context))
    for name in ("mro", "register"):
        with pytest.raises(AttributeError, match=rf"^Article has no field '{name}'"):
            setattr(context, name, 5)
    assert vars(context) == before


class _Snapshot(BaseStep[Article]):
    """Copies and pickles the context while it runs."""

    def __init__(self) -> None:
        self.copies: list[Article] = []

    @property
    def name(self) -> str:
        return "snapshot"

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: Article) -> StepResult:
        self.copies += [copy.copy(context), copy.deepcopy(context), pickle.loads(pickle.dumps(context))]
        return StepResult()


def test_copies_made_during_a_run_leave_the_run_behind() -> None:
    step = _Snapshot()
    registry = StepRegistry[Article]()
    registry.register(step)
    Orchestrator(registry, Article(runtime_ctx=RuntimeContext(), title="t"), lambda current, total: None).execute()
    assert [(vars(c).get("_active_run"), c.current_step, c.title) for c in step.copies] == [(None, "snapshot", "t")] * 3


def test_copy_and_pickle_still_work() -> None:

    context = Article(runtime_ctx=RuntimeContext(), title="t", tags=["a"])
    assert copy.deepcopy(context).tags == ["a"]
    assert pickle.loads(pickle.dumps(context)).title == "t"


_IDENTIFIER = st.from_regex(r"[a-z][a-z0-9_]{0,14}", fullmatch=True)


@given(name=_IDENTIFIER, value=st.integers())
def test_any_name_that_is_not_declared_is_refused_and_changes_nothing(name: str, value: int) -> None:
    context = Review(runtime_ctx=RuntimeContext())
    before = dict(vars(context))
    declared = any(name in vars(klass) for klass in Review.__mro__) or name in before
    try:
        setattr(context, name, value)
    except AttributeError as error:
        assert not declared
        assert str(error).startswith(f"Review has no field {name!r}")
        assert vars(context) == before
    except ValidationError:
        assert declared  # a declared field of another type: validation, not a name error
    else:
        assert declared
