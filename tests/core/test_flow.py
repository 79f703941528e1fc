"""Declared data flow: class-creation checks, the orchestrator's plan check, strict mode."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from steprail import (
    BaseStep,
    BaseStepContext,
    FlowError,
    LoggingStep,
    Orchestrator,
    RuntimeContext,
    StepFailedError,
    StepFlow,
    StepRegistry,
    StepResult,
    TimingStep,
    ValidationStep,
)
from steprail.testing import FieldUse, FlowScript, FlowStep, FlowViolation, assert_flow_respected, declared_workflows, strict_flow
from steprail._flow import check_flow, flow_table, supplied_fields


@dataclass
class FlowContext(BaseStepContext):
    source: str = ""
    dataset_path: str | None = None
    model: str | None = None
    report: str | None = None


def new_context() -> FlowContext:
    return FlowContext(runtime_ctx=RuntimeContext())


class Journal:
    """What ran and what rolled back, across the steps of one test."""

    def __init__(self) -> None:
        self.events: list[str] = []


class _Named(BaseStep[FlowContext]):
    step_name = "?"

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    @property
    def name(self) -> str:
        return self.step_name

    @property
    def progress_weight(self) -> float:
        return 0.25

    def execute(self, context: FlowContext) -> StepResult:
        self.journal.events.append(f"run {self.name}")
        return StepResult()

    def rollback(self, context: FlowContext, result: StepResult) -> None:
        self.journal.events.append(f"rollback {self.name}")


class Export(_Named, requires=("source",), provides=("dataset_path",)):
    step_name = "export"

    def execute(self, context: FlowContext) -> StepResult:
        context.dataset_path = context.source + "/dataset"
        return super().execute(context)


class Train(_Named, requires=("dataset_path",), provides=("model",)):
    step_name = "train"

    def execute(self, context: FlowContext) -> StepResult:
        context.model = f"model of {context.dataset_path}"
        return super().execute(context)


class Upload(_Named, requires=("model",)):
    step_name = "upload"

    def execute(self, context: FlowContext) -> StepResult:
        assert context.model is not None
        return super().execute(context)


class Unknown(_Named):
    step_name = "unknown"


def run(registry: StepRegistry[FlowContext], context: FlowContext | None = None) -> FlowContext:
    context = context if context is not None else new_context()
    Orchestrator(registry, context, lambda current, total: None).execute()
    return context


def registry_of(*steps: BaseStep[FlowContext], inputs: tuple[str, ...] = ("source",)) -> StepRegistry[FlowContext]:
    registry = StepRegistry[FlowContext](inputs=inputs)
    for step in steps:
        registry.register(step)
    return registry


# -- declaration ---------------------------------------------------------------------------------


def test_a_class_keyword_declaration_is_kept_on_the_class_and_inherited() -> None:
    journal = Journal()
    assert Export(journal).declared_flow() == StepFlow(("source",), ("dataset_path",))

    class Retrain(Train):
        step_name = "retrain"

    assert Retrain(journal).declared_flow() == Train(journal).declared_flow()
    assert Unknown(journal).declared_flow() is None


def test_a_misspelt_field_is_refused_at_class_creation_with_the_closest_name() -> None:
    with pytest.raises(TypeError, match=r"Typo: provides= names 'dataset_pth', which is not a field of FlowContext; did you mean 'dataset_path'\?"):

        class Typo(_Named, provides=("dataset_pth",)):  # type: ignore[steprail-flow]  # the mistake under test
            pass


def test_a_bare_string_is_refused_with_the_tuple_to_write() -> None:
    with pytest.raises(TypeError, match=r'requires= takes a tuple of field names.*write requires=\("source",\)'):

        class Bare(_Named, requires="source"):  # type: ignore[arg-type]  # the mistake under test
            pass


def test_a_generic_step_class_is_checked_when_it_runs() -> None:
    class Generic[C: BaseStepContext](BaseStep[C], requires=("nothing_like_this",)):
        @property
        def name(self) -> str:
            return "generic"

        @property
        def progress_weight(self) -> float:
            return 0.1

        def execute(self, context: C) -> StepResult:
            return StepResult()

    with pytest.raises(FlowError, match=r"step 'generic': requires= names 'nothing_like_this'"):
        run(registry_of(Generic[FlowContext]()))


# -- the plan check ------------------------------------------------------------------------------


def test_a_correct_order_runs() -> None:
    journal = Journal()
    context = run(registry_of(Export(journal), Train(journal), Upload(journal)), _with_source())
    assert journal.events == ["run export", "run train", "run upload"]
    assert context.model == "model of data/dataset"


def _with_source() -> FlowContext:
    return FlowContext(runtime_ctx=RuntimeContext(), source="data")


def test_a_wrong_order_fails_before_any_step_runs_naming_the_field_and_its_provider() -> None:
    journal = Journal()
    context = new_context()
    registry = registry_of(Export(journal), Upload(journal), Train(journal))
    with pytest.raises(FlowError) as caught:
        run(registry, context)
    assert str(caught.value) == (
        "step 'upload' requires field 'model', which no earlier step provides and which is not an input; "
        "provided by 'train': register it before"
    )
    assert (caught.value.step_name, caught.value.field, caught.value.providers) == ("upload", "model", ("train",))
    # Nothing ran, nothing was rolled back, the context is as it was made.
    assert journal.events == []
    assert context.step_results == [] and context.errors == [] and context.dataset_path is None
    assert context.current_step is None


def test_a_field_nobody_provides_says_how_to_declare_it_an_input() -> None:
    with pytest.raises(FlowError, match=r"requires field 'source'.*no registered step provides it.*inputs="):
        run(registry_of(Export(Journal()), inputs=()))


def test_fields_without_a_default_and_base_fields_are_always_supplied() -> None:
    class Needs(BaseStepContext, kw_only=True):
        path: str
        done: bool = False

    assert supplied_fields(Needs) >= {"path", "runtime_ctx", "step_results", "errors"}
    assert "done" not in supplied_fields(Needs)


def test_an_undeclared_step_may_provide_anything_after_it() -> None:
    journal = Journal()
    run(registry_of(Unknown(journal), Train(journal)), _with_source())  # no error: unknown provided it
    assert journal.events == ["run unknown", "run train"]


def test_wrappers_forward_the_declaration() -> None:
    journal = Journal()
    logged = LoggingStep(Train(journal))
    assert logged.declared_flow() == Train(journal).declared_flow()
    with pytest.raises(FlowError, match="step 'timed_logged_train' requires field 'dataset_path'"):
        run(registry_of(TimingStep(logged)))


def test_a_validation_step_declares_what_it_reads() -> None:
    def has_model(context: FlowContext) -> tuple[bool, str | None]:
        return context.model is not None, "no model"

    check = ValidationStep(has_model, "check_model", requires=("model",))
    assert check.declared_flow() == StepFlow(("model",))
    assert ValidationStep(has_model).declared_flow() is None
    with pytest.raises(FlowError, match="step 'check_model' requires field 'model'"):
        run(registry_of(Export(Journal()), check))


def test_a_step_inserted_before_the_run_is_part_of_the_check() -> None:
    journal = Journal()
    registry = registry_of(Export(journal), Upload(journal))
    with pytest.raises(FlowError):
        run(registry, _with_source())
    registry.insert_before("upload", Train(journal))
    run(registry, _with_source())
    assert journal.events == ["run export", "run train", "run upload"]


def test_a_registry_that_ran_checks_the_classes_of_the_steps_it_has_now() -> None:
    # A run keeps the step classes it checked with the registry's state: a later change of
    # steps, even one that keeps their number, must be checked afresh.
    journal = Journal()
    registry = registry_of(Export(journal), Unknown(journal))
    run(registry, _with_source())
    registry.unregister("unknown")
    registry.insert_before("export", Upload(journal))  # same number of steps, a new class first
    with pytest.raises(FlowError, match="step 'upload' requires field 'model'"):
        run(registry, _with_source())
    registry.unregister("upload")
    run(registry, _with_source())
    assert journal.events == ["run export", "run unknown", "run export"]


_STEP_CLASSES: dict[str, type[_Named]] = {"export": Export, "train": Train, "upload": Upload, "unknown": Unknown}

# Each item: the registry's steps for the next run (None: run it again as it is).
_RUN_ORDERS = st.lists(
    st.one_of(st.none(), st.lists(st.sampled_from(sorted(_STEP_CLASSES)), unique=True, max_size=4)),
    min_size=1,
    max_size=5,
)


@given(_RUN_ORDERS)
def test_each_run_checks_the_flow_of_the_steps_the_registry_has_then(orders: list[list[str] | None]) -> None:
    # The run plan kept with the registry (step classes included) must never make a run check
    # the flow of an earlier state: every run agrees with a fresh check of its steps.
    registry = registry_of()
    for order in orders:
        if order is not None:
            for name in [step.name for step in registry]:
                registry.unregister(name)
            for name in order:
                registry.register(_STEP_CLASSES[name](Journal()))
        expected: str | None = None
        try:
            check_flow(registry.get_steps(), FlowContext, registry.inputs)
        except FlowError as error:
            expected = str(error)
        refused: str | None = None
        try:
            run(registry, _with_source())
        except FlowError as error:
            refused = str(error)
        except StepFailedError:
            pass  # accepted by the check; a step then failed at run time (not the check's concern)
        assert refused == expected


def test_registry_inputs_are_checked_names() -> None:
    with pytest.raises(TypeError, match=r"StepRegistry: inputs= takes a tuple of field names"):
        StepRegistry[FlowContext](inputs="source")
    assert StepRegistry[FlowContext](inputs=("source",)).inputs == frozenset({"source"})


@given(declared_workflows(("source", "dataset_path", "model", "report"), max_steps=7))
def test_the_plan_check_accepts_exactly_the_orders_where_each_requirement_is_met(script: FlowScript) -> None:
    registry = script.registry(FlowContext)
    accepted = True
    try:
        check_flow(registry.get_steps(), FlowContext, registry.inputs)
    except FlowError as error:
        accepted = False
        assert error.field in {"source", "dataset_path", "model", "report"}
    assert accepted == script.satisfied(FlowContext)
    # A generated step does exactly what it declares: strict mode never objects to an accepted one.
    if accepted:
        assert_flow_respected(registry, new_context())


# -- steprail plan's table -----------------------------------------------------------------------


def test_the_flow_table_names_sources_unmet_and_unused_fields() -> None:
    journal = Journal()
    rows = flow_table([Export(journal), Upload(journal), Train(journal)], FlowContext, ("source",))
    assert [(row.name, row.unmet, row.unused, row.sources, row.outputs) for row in rows] == [
        ("export", (), (), {}, ()),
        ("upload", ("model",), (), {}, ()),
        # upload, which needs model, ran before: model is what the workflow leaves, not a problem
        ("train", (), (), {"dataset_path": "export"}, ("model",)),
    ]


def test_the_flow_table_calls_final_products_outputs_and_overwritten_values_unused() -> None:
    journal = Journal()
    rows = flow_table([Export(journal), Export(journal), Train(journal), Upload(journal)], FlowContext, ("source",))
    by_order = [(row.unused, row.outputs) for row in rows]
    # The first export's dataset_path is provided again before train reads it: that value is lost.
    assert by_order == [(("dataset_path",), ()), ((), ()), ((), ()), ((), ())]
    rows = flow_table([Export(journal), Train(journal)], FlowContext, ("source",))
    assert [(row.unused, row.outputs) for row in rows] == [((), ()), ((), ("model",))]
    # A field that reaches an undeclared step may be read by it: neither unused nor an output.
    rows = flow_table([Export(journal), Unknown(journal)], FlowContext, ("source",))
    assert (rows[0].unused, rows[0].outputs) == ((), ())


def test_the_flow_table_reports_nothing_unmet_after_an_undeclared_step() -> None:
    journal = Journal()
    rows = flow_table([Unknown(journal), Upload(journal)], FlowContext)
    assert rows[0].flow is None and rows[1].unmet == ()


# -- strict mode ---------------------------------------------------------------------------------


class Sneaky(_Named, requires=("dataset_path",)):
    """Declares it only reads dataset_path, but writes model."""

    step_name = "sneaky"

    def execute(self, context: FlowContext) -> StepResult:
        context.model = "written without a declaration"  # type: ignore[steprail-flow]  # the mistake strict mode must catch
        return super().execute(context)


class Peeking(_Named, provides=("report",)):
    """Declares it writes report, but also reads source (a setting) and dataset_path (a flow
    field: export provides it)."""

    step_name = "peeking"

    def execute(self, context: FlowContext) -> StepResult:
        context.report = f"report on {context.source}"
        context.report = f"report on {context.dataset_path}"
        return super().execute(context)


def test_strict_mode_fails_a_step_that_writes_an_undeclared_field_and_rolls_back() -> None:
    journal = Journal()
    context = _with_source()
    registry = registry_of(Export(journal), Sneaky(journal))
    with pytest.raises(StepFailedError) as caught:
        Orchestrator(strict_flow(registry), context, lambda current, total: None).execute()
    assert caught.value.step_name == "sneaky"
    assert isinstance(caught.value.__cause__, FlowViolation)
    assert "step 'sneaky' wrote field 'model', which it does not declare" in str(caught.value)
    assert context.model is None  # the write was refused before it happened
    assert journal.events == ["run export", "rollback export"]
    assert type(context) is FlowContext  # the watch is gone after the step


def test_strict_mode_reports_an_undeclared_read_of_a_flow_field_not_of_a_setting() -> None:
    journal = Journal()
    with pytest.raises(FlowViolation, match=r"step 'peeking' read field 'dataset_path'.*requires="):
        assert_flow_respected(registry_of(Export(journal), Peeking(journal)), _with_source())
    # Without a step that provides dataset_path, it is a setting like source: reading is fine.
    uses = assert_flow_respected(registry_of(Peeking(journal)), _with_source())
    assert uses["peeking"].reads == {"source", "dataset_path"} and uses["peeking"].writes == {"report"}


def test_strict_mode_records_what_each_step_used_and_leaves_undeclared_steps_alone() -> None:
    journal = Journal()
    uses = assert_flow_respected(registry_of(Export(journal), Unknown(journal), Train(journal)), _with_source())
    assert uses["export"].reads == {"source"} and uses["export"].writes == {"dataset_path"}
    assert uses["train"].reads == {"dataset_path"} and uses["train"].writes == {"model"}
    assert "unknown" not in uses


def test_a_flow_step_does_what_it_declares() -> None:
    context = new_context()
    step = FlowStep("s", StepFlow(("source",), ("model",)))
    assert step.execute(context).success and context.model is None


# -- optional reads (reads=) ---------------------------------------------------------------------


class Resume(_Named, requires=("source",), reads=("model",), provides=("dataset_path",)):
    """Reads model only if an earlier step made it (starts fresh otherwise): an optional read."""

    step_name = "resume"

    def execute(self, context: FlowContext) -> StepResult:
        context.dataset_path = "fresh" if context.model is None else f"from {context.model}"
        return super().execute(context)


def test_an_optional_read_is_never_unmet_and_strict_mode_allows_it() -> None:
    journal = Journal()
    # Before train (which provides model): neither the plan check nor strict mode objects.
    check_flow([Resume(journal), Train(journal)], FlowContext, ("source",))
    context = _with_source()
    uses = assert_flow_respected(registry_of(Resume(journal), Train(journal)), context)
    assert uses["resume"].reads == {"model"} and context.dataset_path == "fresh"
    rows = flow_table([Resume(journal), Train(journal)], FlowContext, ("source",))
    assert rows[0].flow == StepFlow(("source",), ("dataset_path",), ("model",)) and rows[0].unmet == ()


def test_an_optional_read_is_checked_against_the_context_fields() -> None:
    with pytest.raises(TypeError, match=r"reads= names 'modle', which is not a field of FlowContext; did you mean 'model'\?"):

        class Misspelt(_Named, reads=("modle",)):  # type: ignore[steprail-flow]  # the mistake under test
            pass


# -- registry inputs -----------------------------------------------------------------------------


def test_a_misspelt_input_is_refused_before_any_step_runs_with_the_closest_field() -> None:
    journal = Journal()
    registry = registry_of(Export(journal), Train(journal), inputs=("source", "dataset_pth"))
    with pytest.raises(FlowError, match=r"StepRegistry: inputs= names 'dataset_pth', which is not a field of FlowContext; did you mean 'dataset_path'\?") as caught:
        Orchestrator(registry, _with_source(), lambda current, total: None).execute()
    assert (caught.value.step_name, caught.value.field) == ("", "dataset_pth")
    assert journal.events == []  # nothing ran
    # Also when no step declares a flow: the input is a mistake either way.
    with pytest.raises(FlowError, match="inputs= names 'nope'"):
        check_flow([Unknown(journal)], FlowContext, ("nope",))


# -- strict mode: what it watches ----------------------------------------------------------------


@dataclass
class CachingContext(BaseStepContext):
    model: str | None = None
    _cache: int = 0  # private state: free for every step


class Tidy(BaseStep[CachingContext], provides=()):
    """Declares it writes nothing; touches only free fields (unless told to delete model)."""

    def __init__(self, erase: bool = False) -> None:
        self.erase = erase

    @property
    def name(self) -> str:
        return "tidy"

    @property
    def progress_weight(self) -> float:
        return 0.5

    def execute(self, context: CachingContext) -> StepResult:
        context.errors = [*context.errors]  # BaseStepContext's own field
        context._cache = context._cache + 1
        if self.erase:
            del context.model  # type: ignore[steprail-flow]  # the undeclared write under test
        return StepResult()


def test_strict_mode_leaves_base_and_private_fields_free_and_counts_a_delete_as_a_write() -> None:
    registry = StepRegistry[CachingContext]()
    registry.register(Tidy())
    context = CachingContext(runtime_ctx=RuntimeContext())
    uses = assert_flow_respected(registry, context)
    assert uses["tidy"] == FieldUse() and context._cache == 1
    erasing = StepRegistry[CachingContext]()
    erasing.register(Tidy(erase=True))
    with pytest.raises(FlowViolation, match=r"step 'tidy' wrote field 'model'.*provides="):
        assert_flow_respected(erasing, CachingContext(runtime_ctx=RuntimeContext()))


class Inspecting(_Named, requires=("source",), provides=("dataset_path",)):
    """Checks, logs and compares the whole context, which reads every field on its behalf."""

    step_name = "inspecting"

    def execute(self, context: FlowContext) -> StepResult:
        context.check_fields()
        self.journal.events.append(repr(context))
        assert context == context
        context.dataset_path = context.source
        return super().execute(context)


def test_strict_mode_does_not_count_the_contexts_own_whole_context_methods_as_reads() -> None:
    journal = Journal()
    # train provides model, so an undeclared read of model by inspecting would be a violation.
    uses = assert_flow_respected(registry_of(Inspecting(journal), Train(journal)), _with_source())
    assert uses["inspecting"].reads == {"source"}
    assert "model=None" in journal.events[0]


# -- declarations: the form --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (["model"], r"provides= takes a tuple of field names, got a list \(write provides=\('model',\)\)"),
        ({"model"}, r"got a set \(write provides=\('model',\)\)"),
        ({"model": 1}, r"got a dict \(write provides=\('model',\)\)"),
        ((name for name in ["model"]), r"got a generator$"),
        (("model", "model"), r"provides= names 'model' more than once"),
    ],
)
def test_a_declaration_that_is_not_a_tuple_of_distinct_names_is_refused(given: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):

        class Odd(_Named, provides=given):  # type: ignore[arg-type]  # the wrong form under test
            pass


def test_registry_inputs_take_any_iterable_of_distinct_names() -> None:
    assert StepRegistry[FlowContext](inputs=["source"]).inputs == {"source"}
    with pytest.raises(TypeError, match=r"StepRegistry: inputs= names 'source' more than once"):
        StepRegistry[FlowContext](inputs=("source", "source"))
    with pytest.raises(TypeError, match=r"ValidationStep 'check': requires= takes a tuple of field names, got a list"):
        ValidationStep(lambda context: (True, None), "check", requires=["source"])  # type: ignore[arg-type]  # refused at run time too
