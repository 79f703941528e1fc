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
import re
import threading
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, dataclass_transform

from pydantic_core import InitErrorDetails, SchemaValidator, ValidationError, core_schema

from ._result import StepResult
from ._runtime import RuntimeContext

if TYPE_CHECKING:
    from pydantic import TypeAdapter

__all__ = ["BaseStepContext", "Undo"]

type Undo = Callable[[], object]
"""An undo action registered with :meth:`BaseStepContext.on_rollback`."""

# A field's check: raises pydantic's ValidationError (not yet naming the class and the field).
type _FieldCheck = Callable[[object], object]


class _ActiveRun(Protocol):
    """What a running orchestrator lends the context while a step executes."""

    reporting_overall: bool

    def step_progress(self, current: int, total: int) -> None: ...

    def add_undo(self, undo: Undo, label: str) -> None: ...


# Per context class: each field's name and its check (None: the field's type is not checked).
_fields_by_class: dict[type, dict[str, _FieldCheck | None]] = {}
# Per context class: the fields whose values of one exact type need no check (see _exact_type_for).
_exact_types_by_class: dict[type, dict[str, type]] = {}
# Per context class: what its classes held under the field names when its write table was last
# brought up to date (see _refresh_writes).
_attributes_seen: dict[type, tuple[tuple[object, ...], ...]] = {}
# Context classes made dataclasses by __init_subclass__ and not yet finished (see _finish_class),
# with the dataclass parameters object recorded by that first pass.
_pending_classes: dict[type, object] = {}
# Held while a class is finished and its checks are built (once per class), so that threads making
# the first instances of one class at the same time do that work once, and in order. Re-entrant:
# building a check may import a module that defines (and finishes the bases of) a context class.
_SETUP = threading.RLock()


# -- field checks ----------------------------------------------------------------------------------
#
# A check is the bound ``validate_python`` of a pydantic-core ``SchemaValidator``, strict through
# its schema config: no Python frame between an assignment and the validator. For the types a
# context field usually has, the core schema is written here, exactly as pydantic's
# ``TypeAdapter`` generates it in strict mode (tests/core/test_fast_paths.py compares the two),
# which spares the first context instance pydantic's schema generator (most of the time to the
# first step). Every other type goes through ``TypeAdapter``, built when the class's checks are
# (at its first instance), so that a type pydantic cannot handle is reported there, before any
# step runs; the one exception is the base class's ``step_results: list[StepResult]``, whose
# adapter is known to build and is built when the field first sees a value that could fail.

_STRICT_CORE_CONFIG = core_schema.CoreConfig(strict=True)
_SCALAR_SCHEMAS: dict[object, Callable[[], core_schema.CoreSchema]] = {
    int: core_schema.int_schema,
    str: core_schema.str_schema,
    float: core_schema.float_schema,
    bool: core_schema.bool_schema,
    bytes: core_schema.bytes_schema,
    type(None): core_schema.none_schema,
    Any: core_schema.any_schema,
}


def _core_schema_for(hint: object) -> core_schema.CoreSchema | None:
    """The core schema pydantic makes for ``hint`` in strict mode, or None if not written here."""
    try:
        scalar = _SCALAR_SCHEMAS.get(hint)
    except TypeError:  # an unhashable hint (Annotated with unhashable metadata): not written here
        return None
    if scalar is not None:
        return scalar()
    if hint is list:
        return core_schema.list_schema(core_schema.any_schema())
    if hint is dict:
        return core_schema.dict_schema(core_schema.any_schema(), core_schema.any_schema())
    if hint is RuntimeContext:  # a plain class: pydantic checks it with isinstance()
        return core_schema.is_instance_schema(hint)
    origin = typing.get_origin(hint)
    arguments = typing.get_args(hint)
    if origin is list and len(arguments) == 1:
        items = _core_schema_for(arguments[0])
        return None if items is None else core_schema.list_schema(items)
    if origin is dict and len(arguments) == 2:
        keys, values = _core_schema_for(arguments[0]), _core_schema_for(arguments[1])
        return None if keys is None or values is None else core_schema.dict_schema(keys, values)
    if origin is typing.Union or origin is types.UnionType:
        members = [argument for argument in arguments if argument is not type(None)]
        choices = [_core_schema_for(member) for member in members]
        if any(choice is None for choice in choices):
            return None
        known = typing.cast(list[core_schema.CoreSchema], choices)
        inner = known[0] if len(known) == 1 else core_schema.union_schema(list(known))
        return core_schema.nullable_schema(inner) if len(members) < len(arguments) else inner
    return None


def _adapter_for(hint: Any) -> TypeAdapter[Any]:
    # Imported here: pydantic's TypeAdapter pulls in its model machinery and schema generator,
    # which costs more than all of steprail; only a context with a type not written above pays it.
    from pydantic import ConfigDict, PydanticUserError, TypeAdapter

    try:
        return TypeAdapter(hint, config=ConfigDict(strict=True, arbitrary_types_allowed=True))
    except PydanticUserError:
        # Models, dataclasses and TypedDicts carry their own config and refuse ours.
        return TypeAdapter(hint)


def _validator_check(validator: object, *, strict_by_config: bool) -> _FieldCheck:
    validate: Callable[..., object] = getattr(validator, "validate_python")
    if strict_by_config:
        # Every schema written here is strict through its config: the same as strict=True at
        # the call, which would cost a keyword-argument parse per write.
        return validate

    def check(value: object) -> object:
        return validate(value, strict=True)

    return check


# The types whose every instance the strict core schema written for them accepts as it is (no
# constraint, no conversion): a value of exactly that type needs no call to the validator.
_ALWAYS_VALID_TYPES: frozenset[type] = frozenset({int, str, float, bool, bytes})


def _exact_type_for(hint: object) -> type | None:
    """The type whose exact instances a field of type ``hint`` accepts unchecked, if any: the
    scalar of ``int``, ``str``, ``float``, ``bool``, ``bytes``, or of one of them ``| None``."""
    if isinstance(hint, type) and hint in _ALWAYS_VALID_TYPES:
        return hint
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        members = [argument for argument in typing.get_args(hint) if argument is not type(None)]
        if len(members) == 1:
            return _exact_type_for(members[0])
    return None


def _is_unchecked_protocol(hint: object) -> bool:
    # isinstance() is impossible against a Protocol that is not @runtime_checkable.
    return (
        isinstance(hint, type)
        and getattr(hint, "_is_protocol", False)
        and not getattr(hint, "_is_runtime_protocol", False)
    )


def _make_check(hint: Any) -> _FieldCheck | None:
    if hint is Any or _is_unchecked_protocol(hint):
        return None
    schema = _core_schema_for(hint)
    if schema is not None:
        return _validator_check(SchemaValidator(schema, _STRICT_CORE_CONFIG), strict_by_config=True)
    if hint == list[StepResult]:
        return _deferred_check(hint)
    # Built now: a type pydantic cannot build (a model with an undefined forward reference,
    # typing.Self, ...) raises its PydanticUserError here, when the context is made.
    return _validator_check(_adapter_for(hint).validator, strict_by_config=False)


def _deferred_check(hint: Any) -> _FieldCheck:
    """A check that builds the field's ``TypeAdapter`` when it first sees a value that could fail.

    Only for ``list[StepResult]``, which every context has (``step_results``) and whose adapter
    is known to build: an empty list is valid for it, so a new context accepts its default
    without loading pydantic's schema generator (most of the time to the first step).
    """
    validate: _FieldCheck | None = None

    def check(value: object) -> object:
        nonlocal validate
        if validate is None:
            if type(value) is list and not value:
                return value
            with _SETUP:  # built once, whatever the threads
                if validate is None:
                    validate = _validator_check(_adapter_for(hint).validator, strict_by_config=False)
        return validate(value)

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
        with _SETUP:
            fields = _fields_by_class.get(cls)
            if fields is None:  # no other thread did it first
                _finish_class(cls)
                fields, exact_types = _build_checks(cls)
                _exact_types_by_class[cls] = exact_types
                _fields_by_class[cls] = fields
                _refresh_writes(cls, fields)
    return fields


def _refresh_writes(cls: type, fields: dict[str, _FieldCheck | None]) -> None:
    """Fill ``cls._steprail_writes``, the table ``__setattr__`` consults: every field but those
    whose class attribute is now a data descriptor (a property, a ``PropertyMock`` patched in),
    which must be written through it. Done when the class's checks are built and again whenever
    an instance is made, so that a descriptor put on the class later is honoured."""
    # What the class and its bases hold under the fields' names (object's cannot change): when
    # that is as it was at the last refresh, so is the table (about 0.5 µs for a small class).
    names = tuple(fields)
    attributes = tuple(tuple(map(vars(klass).get, names)) for klass in cls.__mro__[:-1])
    if _attributes_seen.get(cls) == attributes:
        return
    writes: dict[str, _FieldCheck | None] = getattr(cls, "_steprail_writes")
    exact: dict[str, type] = getattr(cls, "_steprail_exact")
    current = {name: check for name, check in fields.items() if not _is_data_descriptor(cls, name)}
    if current != writes:
        # Emptied first: meanwhile a write takes the slow path, which is always right. The exact
        # types name only fields of the write table, so they go first and come back last.
        exact.clear()
        writes.clear()
        writes.update(current)
    exact_types = _exact_types_by_class.get(cls, {})
    exact.update((name, kind) for name, kind in exact_types.items() if name in current)
    _attributes_seen[cls] = attributes


def _is_data_descriptor(cls: type, name: str) -> bool:
    for klass in cls.__mro__:
        namespace = vars(klass)
        if name in namespace:
            attribute_type = type(namespace[name])
            return hasattr(attribute_type, "__set__") or hasattr(attribute_type, "__delete__")
    return False


def _build_checks(cls: type) -> tuple[dict[str, _FieldCheck | None], dict[str, type]]:
    """Each field's check, and the exact type that needs none for the fields that have one."""
    try:
        hints = _type_hints(cls)
    except NameError as error:
        missing = repr(error.name) if error.name else "a name"
        raise TypeError(
            f"context class {cls.__qualname__}: the field annotations use {missing}, which does not "
            "exist at run time; fields are validated at run time, so every type a field uses must "
            "be importable then: import it at module level (not only under `if TYPE_CHECKING:`)"
        ) from error
    checks: dict[str, _FieldCheck | None] = {}
    exact_types: dict[str, type] = {}
    for context_field in dataclasses.fields(cls):
        hint = hints.get(context_field.name, Any)
        check = checks[context_field.name] = _make_check(hint)
        exact_type = _exact_type_for(hint)
        if check is not None and exact_type is not None:
            exact_types[context_field.name] = exact_type
    return checks, exact_types


def _type_hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls, include_extras=True)
    except NameError:
        # A PEP 695 generic class (`class Ctx[T](BaseStepContext)`) in a module with
        # `from __future__ import annotations`: its string annotations name type parameters that
        # live in the class's own scope, which get_type_hints (Python < 3.12.4) does not search.
        parameters = {
            parameter.__name__: parameter
            for klass in reversed(cls.__mro__)
            for parameter in getattr(klass, "__type_params__", ())
        }
        if not parameters:
            raise
        return typing.get_type_hints(cls, localns=parameters, include_extras=True)


# -- every subclass is a dataclass ---------------------------------------------------------------
#
# A subclass is made a dataclass in __init_subclass__, before any decorator on it runs. A plain
# @dataclass written on it then processes the class a second time, reading each field's
# specification from the class attribute of the same name. For that second pass to build exactly
# the fields the first one built, a field whose class attribute alone would not say everything (a
# default_factory, field options, keyword-only) keeps its processed ``Field`` as the class
# attribute until _finish_class puts its default there, once no decorator can follow (at the
# first instance, or when the class is subclassed). A field with a plain default (or none) gets
# its final class attribute at once. A decorator with options is refused: the second pass keeps
# the methods the first one generated (dataclasses never overwrite a method defined in the class),
# so its options could not take effect.


def _dataclass_options(params: object) -> dict[str, object]:
    names: tuple[str, ...] = getattr(type(params), "__slots__")
    return {name: getattr(params, name) for name in names}


@dataclass
class _PlainDataclass:
    """What a plain ``@dataclass`` records as its options."""


_PLAIN_OPTIONS = _dataclass_options(vars(_PlainDataclass)["__dataclass_params__"])


def _class_keywords_error(cls: type, names: list[str]) -> TypeError:
    given = ", ".join(f"{name}=" for name in names)
    return TypeError(
        f"context class {cls.__qualname__}: {given} is not a class keyword of BaseStepContext; the "
        "only one is kw_only (kw_only=True makes the class's new fields keyword-only). Dataclass "
        "options such as order, eq, frozen or slots are not supported on a context"
    )


def _slots_error(cls: type) -> TypeError:
    return TypeError(
        f"context class {cls.__qualname__}: @dataclass(slots=True) is not supported on a "
        "BaseStepContext subclass: a running orchestrator keeps its bookkeeping (the current step) "
        "in the instance's __dict__. Drop slots=True (a plain @dataclass, or none, is fine)"
    )


def _decorator_options_error(cls: type, options: dict[str, object]) -> TypeError:
    given = ", ".join(f"{name}={value!r}" for name, value in options.items() if value != _PLAIN_OPTIONS[name])
    advice = "use a plain @dataclass, or none"
    if options["kw_only"]:
        advice += f", and pass kw_only=True as a class keyword: class {cls.__name__}(BaseStepContext, kw_only=True)"
    return TypeError(
        f"context class {cls.__qualname__}: @dataclass({given}) is refused: a BaseStepContext "
        "subclass is made a dataclass when it is created, before any decorator runs, so decorator "
        f"options cannot take effect; {advice}"
    )


def _ordering_hint(cls: type, error: Exception) -> str:
    found = re.search(r"non-default argument '(\w+)' follows default argument", str(error))
    if found is None:
        return ""
    name = found.group(1)
    owner = next((k for k in cls.__mro__ if name in vars(k).get("__annotations__", {})), cls)
    if owner is cls:
        return (
            " (give it a default, or declare the class with kw_only=True: "
            f"class {cls.__name__}(..., kw_only=True); a @dataclass(kw_only=True) decorator cannot "
            "do this, decorator options are refused on a context)"
        )
    via = next((base for base in cls.__bases__ if owner in base.__mro__), owner)
    return (
        f" (the field {name!r} comes from {owner.__name__} and has no default, but fields with "
        f"defaults from a base listed after {via.__name__} come first: dataclass fields are ordered "
        f"from the last base to the first; list {via.__name__} last among the bases; kw_only=True "
        "on this class does not help, it applies to the class's own fields only)"
    )


def _is_plain(spec: dataclasses.Field[Any]) -> bool:
    """Whether a second @dataclass pass rebuilds this field from its plain default alone."""
    return (
        spec.default_factory is dataclasses.MISSING
        and spec.init
        and spec.repr
        and spec.hash is None
        and spec.compare
        and not spec.metadata
        and spec.kw_only is not True
    )


def _init_subclass(cls: type, kw_only: bool, keywords: dict[str, object]) -> None:
    refused = [name for name in keywords if name in _PLAIN_OPTIONS]
    if refused:
        raise _class_keywords_error(cls, refused)
    _make_dataclass(cls, kw_only)


def _make_dataclass(cls: type, kw_only: bool) -> None:
    if "__dataclass_fields__" in cls.__dict__:
        # Only @dataclass(slots=True) (or weakref_slot=True) makes a new class that already has
        # its fields: the copy of a context class.
        raise _slots_error(cls)
    for base in cls.__mro__[1:]:
        _finish_class(base)  # its decorator, if any, has run by now
    try:
        dataclass(kw_only=kw_only)(cls)
    except (TypeError, ValueError) as error:
        raise TypeError(f"context class {cls.__qualname__}: {error}{_ordering_hint(cls, error)}") from error
    own = cls.__dict__.get("__annotations__", {})
    for spec in cls.__dict__["__dataclass_fields__"].values():
        if spec.name in own and not _is_plain(spec):
            setattr(cls, spec.name, spec)
    _pending_classes[cls] = cls.__dict__["__dataclass_params__"]
    setattr(cls, "_steprail_writes", {})  # its own, never a base's (filled by _fields_for)
    setattr(cls, "_steprail_exact", {})  # likewise


def _finish_class(cls: type) -> None:
    if cls not in _pending_classes:
        return
    with _SETUP:
        _finish_pending(cls)


def _finish_pending(cls: type) -> None:
    params = _pending_classes.get(cls)
    if params is None:  # another thread finished it first
        return
    current = cls.__dict__["__dataclass_params__"]
    if current is not params:  # a decorator processed the class again
        options = _dataclass_options(current)
        if options != _PLAIN_OPTIONS:
            raise _decorator_options_error(cls, options)  # and again at every use: still pending
        # A plain decorator records kw_only=False; the fields are as the class keyword made them.
        setattr(cls, "__dataclass_params__", params)
    for spec in cls.__dict__["__dataclass_fields__"].values():
        if isinstance(cls.__dict__.get(spec.name), dataclasses.Field):
            if spec.default is dataclasses.MISSING:
                delattr(cls, spec.name)
            else:
                setattr(cls, spec.name, spec.default)
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


def _checked_setattr(self: BaseStepContext, name: str, value: object) -> None:
    # The hot path of every assignment to a field: a value of exactly the type a scalar field
    # accepts as it is (an int to an int field) goes straight to the instance dict; any other
    # value of a plain field costs a dict look-up and the core validator (a C call). Everything
    # else takes _setattr_slow. The tables are read on the class (a cheaper look-up than through
    # the instance).
    cls = type(self)
    if type(value) is not cls._steprail_exact.get(name):
        check = cls._steprail_writes.get(name, _slow)
        if check is not None:
            if check is _slow:
                _setattr_slow(self, name, value)
                return
            try:
                check(value)
            except ValidationError as error:
                raise _retitled(error, cls.__name__, name) from None
    self.__dict__[name] = value


def _slow(value: object) -> object:
    """Stands for "not on the hot path" in a ``_steprail_writes`` table (never called)."""
    raise AssertionError("never called")


def _setattr_slow(self: object, name: str, value: object) -> None:
    """An assignment to a name that is not a plain field, or before the class's first instance."""
    cls = type(self)
    fields = _fields_for(cls)
    if name in fields:
        check = fields[name]
        if check is not None:
            try:
                check(value)
            except ValidationError as error:
                raise _retitled(error, cls.__name__, name) from None
    elif not name.startswith("_") and not _declared_on(cls, name):
        raise AttributeError(
            _unknown_name(cls, name, "has no field")
            + " (declare new state as a field of the class; names starting with '_' are free)"
        )
    # object.__setattr__ honours a data descriptor (a property setter, a descriptor-typed field).
    object.__setattr__(self, name, value)


def _new_context(cls: type[BaseStepContext], *args: object, **kwargs: object) -> object:
    # Every new instance first brings its class's write table up to date (a descriptor may have
    # been put on the class since it was filled), then is made by the next __new__ in the MRO.
    fields = _fields_by_class.get(cls)
    if fields is not None:
        _refresh_writes(cls, fields)
    make = super(BaseStepContext, cls).__new__
    if make is object.__new__:  # object.__new__ refuses the constructor's arguments
        return make(cls)
    return make(cls, *args, **kwargs)


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

    A subclass is a standard-library dataclass: it is made one when it is created (a plain
    ``@dataclass`` on it is allowed and changes nothing; decorator options, ``slots=True``
    included, are refused). Give every new field a default (``field(default_factory=...)`` for
    mutable ones), or declare the class with the keyword ``kw_only=True``, its only class
    keyword, to have required keyword-only fields. Every field is validated against its
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
    # Each class's own table of the fields __setattr__ validates and writes to the instance dict
    # (see _fields_for): empty until the class's first assignment, which takes the slow path.
    _steprail_writes: ClassVar[dict[str, _FieldCheck | None]] = {}
    # Each class's own table of the fields (all in _steprail_writes) whose values of one exact
    # type need no check: written to the instance dict at once.
    _steprail_exact: ClassVar[dict[str, type]] = {}

    if TYPE_CHECKING:
        # Only kw_only, so that both checkers reject a dataclass option given as a class keyword.
        def __init_subclass__(cls, *, kw_only: bool = False) -> None:
            """Make the subclass a dataclass (``kw_only`` as in ``dataclasses.dataclass``)."""

    else:

        def __init_subclass__(cls, *, kw_only=False, **keywords):
            # Other keywords go on to the next class in the MRO (a mixin may take its own), after
            # dataclass options are refused by name.
            _init_subclass(cls, kw_only, keywords)
            super().__init_subclass__(**keywords)

    # Hidden from type checkers: seen, they would make any attribute name acceptable, and a typo
    # such as `context.titel = ...` must be a type error (mypy attr-defined, pyright
    # reportAttributeAccessIssue). The functions are module-level so that mypy still checks them.
    if not TYPE_CHECKING:
        __setattr__ = _checked_setattr
        __getattr__ = _missing_attribute
        __new__ = _new_context

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
                details.extend(_details_of(error, (name,)))
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

