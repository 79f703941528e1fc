"""Data flow between steps: which context fields a step requires and which it provides.

A step class declares them with class keywords::

    class Export(BaseStep[Ctx], requires=("source_dir",), provides=("dataset_path",)): ...

The declaration is read once, when the class is created (names are checked against the fields of
the step's context type there), and kept on the class: a run pays nothing per step. Before the
first step runs, the orchestrator walks the snapshot once (:func:`check_flow`) and refuses a
workflow in which a step requires a field that no earlier step provides and that is not an input.

A step without a declaration is *unknown*: it is never reported, and since it may write any
field, a field required after it counts as possibly provided (gradual adoption).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from ._context import BaseStepContext
    from ._step import BaseStep

__all__ = ["FlowError", "FlowRow", "StepFlow", "check_flow", "flow_table", "supplied_fields"]

#: The class attribute that holds a step class's :class:`StepFlow` (``None``: undeclared).
FLOW_ATTRIBUTE: Final = "__steprail_flow__"


@dataclass(frozen=True, slots=True)
class StepFlow:
    """What one step declares about the context fields it uses.

    Attributes:
        requires: Fields the step reads and that must have been written by an earlier step or
            supplied when the context was made (an input).
        provides: Fields the step writes for later steps.
        reads: Fields the step may read if an earlier step provided them (an optional read,
            such as ``if context.model_path is None: ...``): never unmet, never an edge the
            plan check relies on, and allowed by strict mode.
    """

    requires: tuple[str, ...] = ()
    provides: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()


class FlowError(ValueError):
    """A workflow's declared data flow cannot work: raised before any step runs.

    Attributes:
        step_name: The step whose requirement is not met (or whose declaration is wrong).
        field: The context field concerned.
        providers: Names of the registered steps that declare they provide ``field``.
    """

    def __init__(self, message: str, step_name: str, field: str, providers: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.step_name = step_name
        self.field = field
        self.providers = providers


def declared_names(owner: str, keyword: str, names: object, *, tuple_only: bool = True) -> tuple[str, ...]:
    """``names`` as a tuple of distinct field names, or raise ``TypeError`` naming ``owner`` and
    the keyword.

    A declaration must be a tuple, as its type says (a list, set, dict or generator is refused
    with the tuple to write instead: a set or dict would lose the order and a generator is
    spent once read); ``tuple_only=False`` accepts any iterable but a string (the registry's
    ``inputs``, typed ``Iterable[str]``). A name given twice is refused either way.
    """
    if isinstance(names, str):
        raise TypeError(f'{owner}: {keyword}= takes a tuple of field names, got {names!r} (write {keyword}=("{names}",))')
    if not isinstance(names, Iterable) or (tuple_only and not isinstance(names, tuple)):
        shown = f"a {type(names).__name__}" if isinstance(names, Iterable) else repr(names)
        hint = ""
        if isinstance(names, list | set | frozenset | dict):
            hint = f" (write {keyword}=({', '.join(repr(name) for name in names)}{',' if len(names) == 1 else ''}))"
        raise TypeError(f"{owner}: {keyword}= takes a tuple of field names, got {shown}{hint}")
    result = tuple(names)
    for name in result:
        if not isinstance(name, str) or not name.isidentifier():
            raise TypeError(f"{owner}: {keyword}= holds {name!r}, which is not a field name")
    duplicates = sorted({name for name in result if result.count(name) > 1})
    if duplicates:
        raise TypeError(f"{owner}: {keyword}= names {', '.join(map(repr, duplicates))} more than once")
    return result


def unknown_field_message(owner: str, keyword: str, name: str, context_type: type) -> str | None:
    """The error for ``name`` when it is not a field of ``context_type``, else ``None``."""
    fields = [field.name for field in dataclasses.fields(context_type)]
    if name in fields:
        return None
    close = difflib.get_close_matches(name, fields, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; its fields: {', '.join(fields)}"
    return f"{owner}: {keyword}= names {name!r}, which is not a field of {context_type.__name__}{hint}"


# Per context class: its field names, and those always supplied (see supplied_fields). A class's
# fields are fixed once it is created, so each run's check reads them from here.
_field_facts: dict[type, tuple[frozenset[str], frozenset[str]]] = {}


def _facts(context_type: type[BaseStepContext]) -> tuple[frozenset[str], frozenset[str]]:
    facts = _field_facts.get(context_type)
    if facts is None:
        from ._context import BaseStepContext

        always = {field.name for field in dataclasses.fields(BaseStepContext)}
        fields = dataclasses.fields(context_type)
        for field in fields:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING and field.init:
                always.add(field.name)
        facts = frozenset(field.name for field in fields), frozenset(always)
        _field_facts[context_type] = facts
    return facts


def supplied_fields(context_type: type[BaseStepContext], inputs: Iterable[str] = ()) -> frozenset[str]:
    """Fields available before the first step: ``inputs``, every field of ``BaseStepContext``
    itself, and every field without a default (the context cannot be made without them)."""
    return _facts(context_type)[1].union(inputs)


def _flows[C: BaseStepContext](steps: Sequence[BaseStep[C]]) -> list[StepFlow | None]:
    """Each step's declaration (``None``: undeclared), in run order."""
    from ._step import INSTANCE_FLOW

    by_type = {kind: getattr(kind, FLOW_ATTRIBUTE, None) for kind in set(map(type, steps))}
    return [
        step.declared_flow() if flow is INSTANCE_FLOW else flow
        for step, flow in zip(steps, map(by_type.__getitem__, map(type, steps)), strict=True)
    ]


def _first_flows[C: BaseStepContext](
    steps: Sequence[BaseStep[C]], kinds: Iterable[type] | None = None
) -> list[tuple[StepFlow | None, int | type]] | None:
    """Each *distinct* declaration at its first occurrence, in run order, with where it occurs
    (a position, or the step class whose first instance it is); ``None`` when no step declares.

    Enough for the check: the available fields only grow along the run, so a declaration met
    at its first occurrence is met at every later one. Steps of a class that declares its flow
    are looked at once per class, at C speed; only steps that declare per instance (wrappers,
    ``ValidationStep``) are asked one by one.
    """
    from ._step import INSTANCE_FLOW

    if kinds is None:
        kinds = dict.fromkeys(map(type, steps))  # the classes in order of first occurrence
    by_kind = {kind: getattr(kind, FLOW_ATTRIBUTE, None) for kind in kinds}
    if not any(by_kind.values()):
        return None
    if not any(flow is INSTANCE_FLOW for flow in by_kind.values()):
        return [(flow, kind) for kind, flow in by_kind.items()]
    seen: set[int] = set()
    first: list[tuple[StepFlow | None, int | type]] = []
    for order, flow in enumerate(_flows(steps)):
        if id(flow) not in seen:
            seen.add(id(flow))
            first.append((flow, order))
    return first


def check_flow[C: BaseStepContext](
    steps: Sequence[BaseStep[C]],
    context_type: type[C],
    inputs: Iterable[str] = (),
    *,
    kinds: Iterable[type] | None = None,
) -> None:
    """Raise :class:`FlowError` unless every declared requirement is met in this order.

    ``kinds``, when given, are the steps' classes in order of first occurrence, known already
    (the orchestrator keeps them per state of the registry): the steps are then not walked
    unless one of them declares its flow per instance.

    A required field is met when an earlier step provides it, it is supplied (see
    :func:`supplied_fields`), or an earlier step is undeclared (it may write anything).

    Raises:
        FlowError: naming the first step whose requirement is not met, the field, and the
            steps that declare they provide it; or an input that is not a field of
            ``context_type`` (``step_name`` is then ``""``), with the closest field.
    """
    fields, always = _facts(context_type)
    if inputs and not fields.issuperset(inputs):
        _refuse_unknown_inputs(inputs, fields, context_type)
    first = _first_flows(steps, kinds)
    if first is None:
        return
    available = set(always.union(inputs))
    names = _Names(steps)
    certain = True  # False after an undeclared step: it may have written any field
    for flow, where in first:
        if flow is None:
            certain = False
            continue
        _check_names(flow, fields, names, where, context_type)
        if certain:
            for name in flow.requires:
                if name not in available:
                    raise _unmet(names, _flows(steps), names.position(where), name)
            available.update(flow.provides)


def _refuse_unknown_inputs(inputs: Iterable[str], fields: frozenset[str], context_type: type) -> None:
    for name in sorted(set(inputs) - fields):
        message = unknown_field_message("StepRegistry", "inputs", name, context_type)
        raise FlowError(message or name, "", name)


def _check_names[C: BaseStepContext](
    flow: StepFlow, fields: frozenset[str], names: _Names[C], where: int | type, context_type: type
) -> None:
    for keyword, declared in (("requires", flow.requires), ("provides", flow.provides), ("reads", flow.reads)):
        for name in declared:
            if name not in fields:
                step = names[names.position(where)]
                message = unknown_field_message(f"step {step!r}", keyword, name, context_type)
                raise FlowError(message or name, step, name)


class _Names[C: BaseStepContext]:
    """The steps' names, read only for an error message (a step's name is its identity)."""

    def __init__(self, steps: Sequence[BaseStep[C]]) -> None:
        self._steps = steps

    def __getitem__(self, order: int) -> str:
        return self._steps[order].name

    def position(self, where: int | type) -> int:
        """``where`` itself, or the position of the first step of class ``where``."""
        if isinstance(where, int):
            return where
        return next(order for order, step in enumerate(self._steps) if type(step) is where)


def _unmet[C: BaseStepContext](names: _Names[C], flows: Sequence[StepFlow | None], order: int, name: str) -> FlowError:
    providers = tuple(
        names[index] for index, flow in enumerate(flows) if flow is not None and name in flow.provides and index != order
    )
    message = unmet_message(names[order], name, providers)
    return FlowError(message, names[order], name, providers)


def unmet_message(step: str, field: str, providers: Sequence[str]) -> str:
    """The text of an unmet requirement, shared by the plan check and the mypy plugin."""
    message = f"step {step!r} requires field {field!r}, which no earlier step provides and which is not an input"
    if providers:
        return message + "; provided by " + ", ".join(repr(provider) for provider in providers) + ": register it before"
    return message + "; no registered step provides it: register one that does, or declare it an input (StepRegistry(inputs=(...)))"


@dataclass(frozen=True, slots=True)
class FlowRow:
    """One step's line of :func:`flow_table`.

    Attributes:
        name: The step's name.
        flow: Its declaration (``None``: undeclared, unknown).
        unmet: Required fields that no earlier step provides and that are not inputs.
        unused: Provided fields that a later step provides again before any step requires them
            (the value is overwritten unread: a real problem).
        sources: For each required field that an earlier step provides, that step's name (the
            latest one before this step).
        outputs: Provided fields that no later step requires or provides: the workflow's
            products (in the context after the run), not a problem.
    """

    name: str
    flow: StepFlow | None
    unmet: tuple[str, ...]
    unused: tuple[str, ...]
    sources: dict[str, str]
    outputs: tuple[str, ...] = ()


def flow_table[C: BaseStepContext](
    steps: Sequence[BaseStep[C]],
    context_type: type[C] | None,
    inputs: Iterable[str] = (),
) -> list[FlowRow]:
    """Each step's declared flow, with what is unmet, unused and output, for ``steprail plan``.

    Unlike :func:`check_flow` it never raises and reports every step. After an undeclared step
    nothing is reported unmet (that step may have written anything). A provided field is followed
    through the later steps: read by one (fine), provided again first (``unused``: overwritten
    unread), or neither to the end (``outputs``). One that reaches an undeclared step first is
    neither unused nor an output (that step may read it).
    """
    from ._step import INSTANCE_FLOW

    flows: list[StepFlow | None] = []
    for step in steps:
        declared = getattr(type(step), FLOW_ATTRIBUTE, None)
        flows.append(step.declared_flow() if declared is INSTANCE_FLOW else declared)
    available = set(supplied_fields(context_type, inputs)) if context_type is not None else set(inputs)
    known = context_type is not None
    latest: dict[str, str] = {}
    rows: list[FlowRow] = []
    for order, (step, flow) in enumerate(zip(steps, flows, strict=True)):
        if flow is None:
            known = False
            rows.append(FlowRow(step.name, None, (), (), {}))
            continue
        unmet = tuple(name for name in flow.requires if known and name not in available and name not in latest)
        sources = {name: latest[name] for name in flow.requires if name in latest}
        fates = [_fate(name, flows[order + 1 :]) for name in flow.provides]
        unused = tuple(name for name, fate in zip(flow.provides, fates, strict=True) if fate == "overwritten")
        outputs = tuple(name for name, fate in zip(flow.provides, fates, strict=True) if fate == "output")
        rows.append(FlowRow(step.name, flow, unmet, unused, sources, outputs))
        for name in flow.provides:
            latest[name] = step.name
    return rows


def _fate(name: str, later: Sequence[StepFlow | None]) -> str:
    """What happens to a provided field after its step: ``"read"`` by a later step (or maybe
    read: an undeclared step), ``"overwritten"`` by a later provider first, or ``"output"``."""
    for flow in later:
        if flow is None or name in flow.requires:
            return "read"
        if name in flow.provides:
            return "overwritten"
    return "output"
