"""The shared state every step of a workflow reads and writes: :class:`BaseStepContext`.

Contexts are ordinary standard-library dataclasses. What this base class adds is validation:
each field's value is checked by pydantic (strict mode) when the context is made and on every
assignment, so a step that writes a wrong value fails at the line that wrote it, and the field
keeps its old value.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import ConfigDict, PydanticUserError
from pydantic_core import InitErrorDetails, ValidationError

from ._result import StepResult
from ._runtime import RuntimeContext

if TYPE_CHECKING:
    from pydantic import TypeAdapter

__all__ = ["BaseStepContext", "Undo"]

type Undo = Callable[[], object]
"""An undo action registered with :meth:`BaseStepContext.on_rollback`."""

type _FieldCheck = Callable[[object], None]


class _ActiveRun(Protocol):
    """What a running orchestrator lends the context while a step executes."""

    reporting_overall: bool

    def step_progress(self, current: int, total: int) -> None: ...

    def add_undo(self, undo: Undo, label: str) -> None: ...


_STRICT_CONFIG = ConfigDict(strict=True, arbitrary_types_allowed=True)
_checks_by_class: dict[type, dict[str, _FieldCheck]] = {}


def _adapter_for(hint: Any) -> TypeAdapter[Any]:
    # Imported here: pydantic's TypeAdapter pulls in its model machinery, which doubles the cost
    # of `import steprail`; a context class pays it once, on its first instance.
    from pydantic import TypeAdapter

    try:
        return TypeAdapter(hint, config=_STRICT_CONFIG)
    except PydanticUserError:
        # Models, dataclasses and TypedDicts carry their own config and refuse ours.
        return TypeAdapter(hint)


def _is_unchecked_protocol(hint: object) -> bool:
    # isinstance() is impossible against a Protocol that is not @runtime_checkable.
    return (
        isinstance(hint, type)
        and getattr(hint, "_is_protocol", False)
        and not getattr(hint, "_is_runtime_protocol", False)
    )


def _make_check(owner: type, name: str, hint: Any) -> _FieldCheck | None:
    if hint is Any or _is_unchecked_protocol(hint):
        return None
    adapter = _adapter_for(hint)
    title = owner.__name__

    def check(value: object) -> None:
        try:
            adapter.validate_python(value, strict=True)
        except ValidationError as error:
            raise _retitled(error, title, name) from None

    return check


def _retitled(error: ValidationError, title: str, field_name: str) -> ValidationError:
    """Name the context class and the field in a field's validation error."""
    try:
        return ValidationError.from_exception_data(title, _details_of(error, (field_name,)))
    except (TypeError, KeyError, ValueError):
        # An error type pydantic cannot rebuild: keep the original, it still names the value.
        return error


def _details_of(error: ValidationError, prefix: tuple[str, ...] = ()) -> list[InitErrorDetails]:
    details: list[InitErrorDetails] = []
    for item in error.errors():
        detail: InitErrorDetails = {
            "type": item["type"],
            "loc": (*prefix, *item["loc"]),
            "input": item["input"],
        }
        if "ctx" in item:
            detail["ctx"] = item["ctx"]
        details.append(detail)
    return details


def _checks_for(cls: type) -> dict[str, _FieldCheck]:
    checks = _checks_by_class.get(cls)
    if checks is None:
        checks = _build_checks(cls)
        _checks_by_class[cls] = checks
    return checks


def _build_checks(cls: type) -> dict[str, _FieldCheck]:
    try:
        hints = typing.get_type_hints(cls)
    except NameError as error:
        raise TypeError(
            f"{cls.__name__}: cannot resolve the type of a context field ({error}); "
            "define the types a context uses at module level so they can be validated"
        ) from error
    checks: dict[str, _FieldCheck] = {}
    for context_field in dataclasses.fields(cls):
        check = _make_check(cls, context_field.name, hints.get(context_field.name, Any))
        if check is not None:
            checks[context_field.name] = check
    return checks


@dataclass
class BaseStepContext:
    """Base class for the state shared by the steps of one workflow.

    Subclass it with the standard library's ``@dataclass`` and give every new field a default
    (``field(default_factory=...)`` for mutable ones). Every field is validated against its
    annotation at construction and on each assignment.

    Validation sees assignments only: in-place changes such as ``context.items.append(x)`` are not
    checked when they happen. Call :meth:`check_fields` (or pass ``check_fields=True`` to the
    orchestrator, which calls it after every step) to catch them.

    Attributes:
        runtime_ctx: Where logs, progress and metrics go.
        step_results: One :class:`StepResult` per attempted step, in order.
        errors: Human-readable failures: the failed step and each rollback that went wrong.
        current_step: Name of the step being run or rolled back; ``None`` outside a run.
        current_step_order: 0-based position of that step in the registry; ``None`` outside a run.
    """

    runtime_ctx: RuntimeContext
    step_results: list[StepResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    current_step: str | None = field(default=None, init=False)
    current_step_order: int | None = field(default=None, init=False)

    # Lent by the orchestrator during a run; never a dataclass field and never validated.
    _active_run: ClassVar[_ActiveRun | None] = None

    def __setattr__(self, name: str, value: object) -> None:
        check = _checks_for(type(self)).get(name)
        if check is not None:
            check(value)
        object.__setattr__(self, name, value)

    def check_fields(self) -> None:
        """Validate every field's current value, including changes made in place.

        Raises:
            pydantic.ValidationError: listing each field whose value does not match its type.
        """
        cls = type(self)
        details: list[InitErrorDetails] = []
        for name, check in _checks_for(cls).items():
            try:
                check(getattr(self, name))
            except ValidationError as error:
                details.extend(_details_of(error))
        if details:
            raise ValidationError.from_exception_data(cls.__name__, details)

    def log(self, event: str, data: dict[str, Any], file: str | None = None) -> None:
        """Send an event and its data to the runtime."""
        self.runtime_ctx.log(event, data, file)

    def set_progress(self, current: int, total: int, step: str | None = None) -> None:
        """Report progress ``current`` of ``total``.

        Without ``step`` the current step's name is used. Inside a running step this also moves
        the run's overall progress within that step's share of the total.
        """
        if current < 0 or total < 0:
            raise ValueError(f"set_progress() takes non-negative numbers, got ({current}, {total})")
        run = self._active_run
        overall = run is not None and run.reporting_overall
        if step is None and not overall:
            step = self.current_step
        self.runtime_ctx.set_progress(current, total, step)
        if run is not None and not overall and step is not None and step == self.current_step:
            run.step_progress(current, total)

    def set_metrics(self, value: dict[str, Any], step: str | None = None) -> None:
        """Report metrics for ``step`` (the current step when omitted).

        Raises:
            ValueError: when called outside a running step without a step name.
        """
        if step is None:
            step = self.current_step
            if step is None:
                raise ValueError("set_metrics() outside a running step needs a step name")
        self.runtime_ctx.set_metrics(value, step)

    def on_rollback(self, undo: Undo, *, label: str | None = None) -> None:
        """Register an undo action for work the current step has just done.

        If the step's ``execute`` then fails, its undo actions run newest first, so partial work
        is undone even though the failed step's ``rollback`` is not called. If the step succeeds
        and a later step fails, they run after the step's own ``rollback``.

        Raises:
            RuntimeError: when no step is running.
        """
        run = self._active_run
        if run is None or self.current_step is None:
            raise RuntimeError("on_rollback() can only be called while a step is executing")
        run.add_undo(undo, label if label is not None else getattr(undo, "__name__", repr(undo)))

