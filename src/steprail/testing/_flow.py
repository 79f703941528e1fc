"""Strict data-flow mode: a step that reads or writes a field it did not declare fails.

The orchestrator's plan check trusts the declarations; strict mode checks them against what the
steps really do, for tests. :func:`strict_flow` returns a copy of a registry whose declared steps
run under a watch: while such a step's ``execute`` runs, its context reports every read and write
of a field the context class declares (``BaseStepContext``'s own fields, such as ``runtime_ctx``,
are free), and a field outside the declaration raises :class:`FlowViolation`, which fails the step
with the field named. Undeclared steps run unwatched. Nothing of this is in the orchestrator: the
watch swaps the context's class for a recording subclass around each watched ``execute``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Concatenate, Final

from .._context import BaseStepContext
from .._flow import StepFlow, supplied_fields
from .._registry import StepRegistry
from .._result import StepResult
from .._step import INSTANCE_FLOW, BaseStep
from .._wrappers import WrapperStep

__all__ = ["FieldUse", "FlowScript", "FlowStep", "FlowViolation", "assert_flow_respected", "strict_flow"]

_GUARD: Final = "_steprail_flow_guard"


class FlowViolation(AssertionError):
    """A step read or wrote a context field outside its declaration (strict mode).

    Attributes:
        step_name: The step.
        field: The field it touched.
        access: ``"read"`` or ``"write"``.
    """

    def __init__(self, step_name: str, field: str, access: str, flow: StepFlow) -> None:
        allowed = flow.provides if access == "write" else (*flow.requires, *flow.provides, *flow.reads)
        advice = (
            "provides="
            if access == "write"
            else "requires= (or reads=, when the step only reads it if an earlier step provided it)"
        )
        super().__init__(
            f"step {step_name!r} {'wrote' if access == 'write' else 'read'} field {field!r}, which it does not "
            f"declare (declared for {'writing (provides)' if access == 'write' else 'reading (requires, provides or reads)'}: "
            f"{', '.join(allowed) or 'nothing'}); add it to the step class's {advice}"
        )
        self.step_name = step_name
        self.field = field
        self.access = access


@dataclass
class FieldUse:
    """The context fields one step read and wrote in strict mode (all its runs together)."""

    reads: set[str] = field(default_factory=set)
    writes: set[str] = field(default_factory=set)


class _Guard:
    """Checks the accesses of one running step against its declaration."""

    def __init__(self, step_name: str, flow: StepFlow, use: FieldUse, flow_fields: frozenset[str]) -> None:
        self.step_name = step_name
        self.flow = flow
        # Reading a field no step provides (a setting) is always allowed.
        self.unreadable = flow_fields - {*flow.requires, *flow.provides, *flow.reads}
        self.writable = frozenset(flow.provides)
        self.use = use

    def read(self, name: str) -> None:
        self.use.reads.add(name)
        if name in self.unreadable:
            raise FlowViolation(self.step_name, name, "read", self.flow)

    def write(self, name: str) -> None:
        self.use.writes.add(name)
        if name not in self.writable:
            raise FlowViolation(self.step_name, name, "write", self.flow)


_watched_classes: dict[type, type] = {}

# Methods that read every field on behalf of whoever called them (the docs recommend
# check_fields; logging a context calls repr): not the step's own reads, so not watched.
_WHOLE_CONTEXT_METHODS: Final = ("__repr__", "__eq__", "check_fields")


def _unwatched[**P, R](method: Callable[Concatenate[BaseStepContext, P], R]) -> Callable[Concatenate[BaseStepContext, P], R]:
    """``method`` with the context's watch suspended while it runs."""

    def call(self: BaseStepContext, /, *args: P.args, **kwargs: P.kwargs) -> R:
        fields = object.__getattribute__(self, "__dict__")
        guard = fields.pop(_GUARD, None)
        try:
            return method(self, *args, **kwargs)
        finally:
            if guard is not None:
                fields[_GUARD] = guard

    return call


def _watched_class(cls: type[BaseStepContext]) -> type[BaseStepContext]:
    """A subclass of ``cls`` (same name) whose instances report field accesses to their guard."""
    watched = _watched_classes.get(cls)
    if watched is not None:
        return watched
    base_fields = {spec.name for spec in dataclasses.fields(BaseStepContext)}
    # BaseStepContext's own fields are free for every step, private ones (``_cache``) too.
    checked = frozenset(
        spec.name
        for spec in dataclasses.fields(cls)
        if spec.name not in base_fields and not spec.name.startswith("_")
    )

    def __getattribute__(self: BaseStepContext, name: str) -> object:
        if name in checked:
            guard = object.__getattribute__(self, "__dict__").get(_GUARD)
            if guard is not None:
                guard.read(name)
        return cls.__getattribute__(self, name)

    def __setattr__(self: BaseStepContext, name: str, value: object) -> None:
        if name in checked:
            guard = object.__getattribute__(self, "__dict__").get(_GUARD)
            if guard is not None:
                guard.write(name)
        cls.__setattr__(self, name, value)

    def __delattr__(self: BaseStepContext, name: str) -> None:
        if name in checked:  # removing a field is writing it (a later reader loses it)
            guard = object.__getattribute__(self, "__dict__").get(_GUARD)
            if guard is not None:
                guard.write(name)
        cls.__delattr__(self, name)

    namespace: dict[str, object] = {
        "__getattribute__": __getattribute__,
        "__setattr__": __setattr__,
        "__delattr__": __delattr__,
        **{method: _unwatched(getattr(cls, method)) for method in _WHOLE_CONTEXT_METHODS},
        "__module__": cls.__module__,
        "__qualname__": cls.__qualname__,
    }
    watched = type(cls.__name__, (cls,), namespace)
    _watched_classes[cls] = watched
    return watched


class _StrictStep[C: BaseStepContext](WrapperStep[C]):
    """Runs the wrapped step under a watch of its declared fields; same name, same flow."""

    def __init__(self, step: BaseStep[C], uses: dict[str, FieldUse], flow_fields: frozenset[str]) -> None:
        super().__init__(step)
        self._uses = uses
        self._flow_fields = flow_fields

    def execute(self, context: C) -> StepResult:
        """Run the wrapped step; a field outside its declaration raises :class:`FlowViolation`."""
        flow = self._wrapped.declared_flow()
        if flow is None:
            return self._wrapped.execute(context)
        name = self.name
        guard = _Guard(name, flow, self._uses.setdefault(name, FieldUse()), self._flow_fields)
        own_class = type(context)
        fields = object.__getattribute__(context, "__dict__")
        outer = fields.get(_GUARD)
        object.__setattr__(context, "__class__", _watched_class(own_class))
        fields[_GUARD] = guard
        try:
            return self._wrapped.execute(context)
        finally:
            if outer is None:
                fields.pop(_GUARD, None)
                object.__setattr__(context, "__class__", own_class)
            else:
                fields[_GUARD] = outer


def strict_flow[C: BaseStepContext](
    registry: StepRegistry[C], uses: dict[str, FieldUse] | None = None
) -> StepRegistry[C]:
    """A copy of ``registry`` in strict data-flow mode (same names, weights, order and inputs).

    Each declared step's ``execute`` may write only the fields it provides, and read a field
    that some step of the workflow provides only if it requires or provides it itself (other
    fields are settings, free to read); anything else raises :class:`FlowViolation` inside the step, which
    the orchestrator reports as that step's failure (and rolls back as usual). ``uses``, when
    given, receives each watched step's :class:`FieldUse`, keyed by step name.
    """
    record = uses if uses is not None else {}
    steps, names, weights = registry.snapshot()
    flows = [step.declared_flow() for step in steps]
    flow_fields = frozenset(name for flow in flows if flow is not None for name in flow.provides)
    wrapped: list[BaseStep[C]] = [_StrictStep(step, record, flow_fields) for step in steps]
    return StepRegistry[C]._from_checked(wrapped, names, weights, registry.inputs)


def assert_flow_respected[C: BaseStepContext](registry: StepRegistry[C], context: C) -> dict[str, FieldUse]:
    """Run ``registry`` over ``context`` in strict mode; raise the first :class:`FlowViolation`.

    The run goes through the real orchestrator (plan check included), so a workflow whose order
    is wrong raises :class:`~steprail.FlowError` before any step runs. A step that fails for
    another reason raises the orchestrator's :class:`~steprail.StepFailedError` unchanged.

    Returns:
        What each declared step read and wrote, keyed by step name.
    """
    from .._errors import StepFailedError
    from .._orchestrator import Orchestrator

    uses: dict[str, FieldUse] = {}
    try:
        Orchestrator(strict_flow(registry, uses), context, _ignore_progress).execute()
    except StepFailedError as failed:
        if isinstance(failed.__cause__, FlowViolation):
            raise failed.__cause__ from failed
        raise
    return uses


def _ignore_progress(current: int, total: int) -> None:
    """Progress is not what strict mode checks."""


class FlowStep(BaseStep[BaseStepContext]):
    """A step that does exactly what its declaration says: it reads every field it requires and
    writes every field it provides (each keeps its value). For generated workflows
    (:func:`~steprail.testing.declared_workflows`).

    Args:
        name: The step's name.
        flow: Its declaration; ``None`` makes it an undeclared step that touches nothing.
    """

    __steprail_flow__ = INSTANCE_FLOW

    def __init__(self, name: str, flow: StepFlow | None) -> None:
        self._name = name
        self._flow = flow

    @property
    def name(self) -> str:
        """The name given at construction."""
        return self._name

    @property
    def progress_weight(self) -> float:
        """A small equal share."""
        return 0.01

    def declared_flow(self) -> StepFlow | None:
        """The declaration given at construction."""
        return self._flow

    def execute(self, context: BaseStepContext) -> StepResult:
        """Read the required fields, rewrite the provided ones."""
        if self._flow is not None:
            for name in self._flow.requires:
                getattr(context, name)
            for name in self._flow.provides:
                setattr(context, name, getattr(context, name))
        return StepResult()


@dataclass(frozen=True)
class FlowScript:
    """A generated workflow with declared flow: step names and declarations, and the inputs.

    Attributes:
        steps: ``(name, declaration)`` in run order; ``None`` for an undeclared step.
        inputs: The fields declared as inputs of the registry.
    """

    steps: tuple[tuple[str, StepFlow | None], ...]
    inputs: tuple[str, ...] = ()

    def registry[C: BaseStepContext](self, context_type: type[C]) -> StepRegistry[C]:
        """A registry of :class:`FlowStep`\\s in this order, with these inputs, for contexts of
        ``context_type``."""
        registry = StepRegistry[C](inputs=self.inputs)
        for name, flow in self.steps:
            registry.register(FlowStep(name, flow))
        return registry

    def satisfied(self, context_type: type[BaseStepContext]) -> bool:
        """Whether each declared requirement is provided earlier, an input, supplied by every
        context of ``context_type`` (a field without a default, or one of ``BaseStepContext``'s),
        or comes after an undeclared step: the rule the plan check applies."""
        available = set(supplied_fields(context_type, self.inputs))
        for _, flow in self.steps:
            if flow is None:
                return True
            if any(name not in available for name in flow.requires):
                return False
            available.update(flow.provides)
        return True
