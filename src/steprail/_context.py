"""The shared state every step of a workflow reads and writes: :class:`BaseStepContext`.

Contexts are ordinary standard-library dataclasses: every subclass is made one when it is created
(``@dataclass`` on it is allowed, not needed). What this base class adds is checking: each field's
value is validated by pydantic (strict mode) when the context is made and on every assignment, so
a step that writes a wrong value fails at the line that wrote it and the field keeps its old
value; and a name that is not a field (a typo such as ``context.titel``) is refused, by type
checkers and at run time.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, dataclass_transform

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
# Per context class: each field's name and its check (None: the field's type is not checked).
_fields_by_class: dict[type, dict[str, _FieldCheck | None]] = {}
# Context classes made dataclasses by __init_subclass__ and not yet finished (see _finish_class),
# with the dataclass options they were made with.
_pending_classes: dict[type, dict[str, object]] = {}


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


def _fields_for(cls: type) -> dict[str, _FieldCheck | None]:
    fields = _fields_by_class.get(cls)
    if fields is None:
        _finish_class(cls)
        fields = _build_checks(cls)
        _fields_by_class[cls] = fields
    return fields


def _build_checks(cls: type) -> dict[str, _FieldCheck | None]:
    try:
        hints = typing.get_type_hints(cls)
    except NameError as error:
        missing = repr(error.name) if error.name else "a name"
        raise TypeError(
            f"context class {cls.__qualname__}: the field annotations use {missing}, which does not "
            "exist at run time; fields are validated at run time, so every type a field uses must "
            "be importable then: import it at module level (not only under `if TYPE_CHECKING:`)"
        ) from error
    return {
        context_field.name: _make_check(cls, context_field.name, hints.get(context_field.name, Any))
        for context_field in dataclasses.fields(cls)
    }


# -- every subclass is a dataclass ---------------------------------------------------------------
#
# A subclass is made a dataclass in __init_subclass__, before any decorator on it runs. A plain
# @dataclass written on it then processes the class a second time; for that second pass to see
# the class as it was written, the field specifications (``field(...)``) that the first pass
# replaced are put back, and removed again by _finish_class once no decorator can follow (at the
# first instance, or when the class is subclassed). The second pass keeps the methods the first
# one generated (dataclasses never overwrite methods defined in the class), so it must not ask
# for different ones: _finish_class refuses a decorator with options.


def _dataclass_options(cls: type) -> dict[str, object]:
    params = cls.__dict__["__dataclass_params__"]
    return {name: getattr(params, name) for name in type(params).__slots__}


@dataclass
class _PlainDataclass:
    """What a plain ``@dataclass`` records as its options."""


# A decorator's own class copy honours these options; every other one would be silently ignored.
_HONOURED_OPTIONS = ("slots", "weakref_slot")
_PLAIN_OPTIONS = _dataclass_options(_PlainDataclass)


def _options_error(cls: type) -> TypeError:
    return TypeError(
        f"context class {cls.__qualname__}: @dataclass(...) with options is not supported on a "
        "BaseStepContext subclass, which is made a dataclass when it is created; drop the "
        "decorator (or its options), and pass kw_only=True as a class keyword for keyword-only "
        f"fields: class {cls.__name__}(BaseStepContext, kw_only=True)"
    )


def _make_dataclass(cls: type, kw_only: bool) -> None:
    if "__dataclass_fields__" in cls.__dict__:
        # The copy @dataclass(slots=True) makes of a class this function already processed. Its
        # keyword arguments are lost, so kw_only cannot be compared.
        options = _dataclass_options(cls)
        for name in (*_HONOURED_OPTIONS, "kw_only"):
            options[name] = _PLAIN_OPTIONS[name]
        if options != _PLAIN_OPTIONS:
            raise _options_error(cls)
        return
    for base in cls.__mro__[1:]:
        _finish_class(base)  # its decorator, if any, has run by now
    specs = {name: value for name, value in cls.__dict__.items() if isinstance(value, dataclasses.Field)}
    try:
        dataclass(kw_only=kw_only)(cls)
    except (TypeError, ValueError) as error:
        hint = ""
        if "follows default argument" in str(error):
            hint = (
                " (give it a default, or declare the class with kw_only=True: "
                f"class {cls.__name__}(..., kw_only=True))"
            )
        raise TypeError(f"context class {cls.__qualname__}: {error}{hint}") from error
    for name, spec in specs.items():
        setattr(cls, name, spec)
    _pending_classes[cls] = _dataclass_options(cls)


def _finish_class(cls: type) -> None:
    options = _pending_classes.get(cls)
    if options is None:
        return
    if _dataclass_options(cls) != options:
        raise _options_error(cls)  # and again at every use: the class stays pending
    for context_field in dataclasses.fields(cls):
        if isinstance(cls.__dict__.get(context_field.name), dataclasses.Field):
            if context_field.default is dataclasses.MISSING:
                delattr(cls, context_field.name)
            else:
                setattr(cls, context_field.name, context_field.default)
    del _pending_classes[cls]


# -- unknown attribute names ---------------------------------------------------------------------


def _declared_on(cls: type, name: str) -> bool:
    # Not hasattr(cls, name): that also finds the metaclass's attributes (``mro``), which are not
    # attributes of an instance.
    return any(name in vars(klass) for klass in cls.__mro__)


def _unknown_name(cls: type, name: str, what: str) -> str:
    fields = [f.name for f in dataclasses.fields(cls)]
    known = [*fields, *(attr for attr in dir(cls) if not attr.startswith("_") and attr not in fields)]
    close = difflib.get_close_matches(name, [known_name for known_name in known if known_name != name], n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{cls.__name__} {what} {name!r}{hint}"


def _not_a_field(value: object) -> None:
    """Stands for "no such field" in a field table lookup (never called)."""


def _checked_setattr(self: object, name: str, value: object) -> None:
    cls = type(self)
    fields = _fields_by_class.get(cls)
    if fields is None:
        fields = _fields_for(cls)
    check = fields.get(name, _not_a_field)
    if check is _not_a_field:
        if not name.startswith("_") and not _declared_on(cls, name):
            raise AttributeError(
                _unknown_name(cls, name, "has no field")
                + " (declare new state as a field of the class; names starting with '_' are free)"
            )
    elif check is not None:
        check(value)
    object.__setattr__(self, name, value)


def _missing_attribute(self: object, name: str) -> object:
    # Called only when normal lookup failed. Protocol probes (copy, pickle) get the plain error.
    if name.startswith("__"):
        raise AttributeError(name)
    cls = type(self)
    if _declared_on(cls, name):
        # The name exists, so the lookup failed inside it: a property or cached_property whose
        # body raised AttributeError. Python drops that error before calling __getattr__; looking
        # the name up again raises it once more, with its real message and traceback.
        return object.__getattribute__(self, name)
    if name in _fields_for(cls):
        raise AttributeError(f"{cls.__name__} field {name!r} has no value (it was deleted)")
    raise AttributeError(_unknown_name(cls, name, "has no attribute"))


@dataclass_transform(field_specifiers=(field, dataclasses.Field))
@dataclass
class BaseStepContext:
    """Base class for the state shared by the steps of one workflow.

    A subclass is a standard-library dataclass: it is made one when it is created (``@dataclass``
    on it is allowed, with no option but ``slots=True``). Give every new field a default
    (``field(default_factory=...)`` for mutable ones), or declare the class with the keyword
    ``kw_only=True`` to have required keyword-only fields. Every field is validated against its
    annotation at construction and on each assignment. Assigning or reading a name that is not a
    field, a method or a property raises ``AttributeError`` (with the closest name); names that
    start with ``_`` are free for a subclass's private state.

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

    def __init_subclass__(cls, *, kw_only: bool = False, **kwargs: object) -> None:
        """Make the subclass a dataclass (``kw_only`` as in ``dataclasses.dataclass``)."""
        super().__init_subclass__(**kwargs)
        _make_dataclass(cls, kw_only)

    # Hidden from type checkers: seen, they would make any attribute name acceptable, and a typo
    # such as `context.titel = ...` must be a type error (mypy attr-defined, pyright
    # reportAttributeAccessIssue). The functions are module-level so that mypy still checks them.
    if not TYPE_CHECKING:
        __setattr__ = _checked_setattr
        __getattr__ = _missing_attribute

    def __getstate__(self) -> dict[str, object]:
        """Copy and pickle the fields and private state, never the run an orchestrator lent."""
        state = dict(self.__dict__)
        state.pop("_active_run", None)
        return state

    def check_fields(self) -> None:
        """Validate every field's current value, including changes made in place.

        Raises:
            pydantic.ValidationError: listing each field whose value does not match its type.
        """
        cls = type(self)
        details: list[InitErrorDetails] = []
        for name, check in _fields_for(cls).items():
            if check is None:
                continue
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

