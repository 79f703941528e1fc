"""The unit of work: :class:`BaseStep`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Final, get_args, get_origin

from ._context import BaseStepContext
from ._flow import FLOW_ATTRIBUTE, StepFlow, declared_names, unknown_field_message
from ._result import StepResult

__all__ = ["BaseStep", "INSTANCE_FLOW", "checked_weight"]

#: A class's flow when each of its steps declares its own (wrappers, ``ValidationStep``): the
#: plan check then asks the step's :meth:`BaseStep.declared_flow`.
INSTANCE_FLOW: Final = StepFlow(("<declared by each instance>",))


class BaseStep[C: BaseStepContext](ABC):
    """One named, weighted unit of a workflow that runs on a context of type ``C``.

    A step typed on a base context can run in a workflow whose context is a subclass of it:
    ``BaseStep`` is contravariant in ``C``.

    A subclass may declare the context fields it reads and writes with the class keywords
    ``requires`` and ``provides``, and those it may read if present with ``reads`` (tuples of
    field names, checked against the fields of ``C``
    when the class is created); see docs/data-flow.md. A class that declares neither inherits its
    base's declaration, or is undeclared.
    """

    __steprail_flow__: ClassVar[StepFlow | None] = None

    def __init_subclass__(
        cls,
        *,
        requires: tuple[str, ...] | None = None,
        provides: tuple[str, ...] | None = None,
        reads: tuple[str, ...] | None = None,
        **kwargs: object,
    ) -> None:
        """Record the class's declared flow (``requires``/``provides``/``reads``), checking the names."""
        super().__init_subclass__(**kwargs)
        if requires is None and provides is None and reads is None:
            return
        owner = f"step class {cls.__qualname__}"
        flow = StepFlow(
            declared_names(owner, "requires", () if requires is None else requires),
            declared_names(owner, "provides", () if provides is None else provides),
            declared_names(owner, "reads", () if reads is None else reads),
        )
        context_type = _context_type_of(cls)
        if context_type is not None:
            for keyword, names in (("requires", flow.requires), ("provides", flow.provides), ("reads", flow.reads)):
                for name in names:
                    message = unknown_field_message(owner, keyword, name, context_type)
                    if message is not None:
                        raise TypeError(message)
        setattr(cls, FLOW_ATTRIBUTE, flow)

    def declared_flow(self) -> StepFlow | None:
        """The fields this step declared it requires and provides; ``None`` when undeclared."""
        return type(self).__steprail_flow__

    @property
    @abstractmethod
    def name(self) -> str:
        """Unique identifier of the step within its registry."""

    @property
    @abstractmethod
    def progress_weight(self) -> float:
        """The step's share of the whole run's progress, from 0.0 to 1.0."""

    @abstractmethod
    def execute(self, context: C) -> StepResult:
        """Do the step's work. Raising, or returning a failed result, fails the run."""

    def can_skip(self, context: C) -> bool:
        """Return ``True`` to skip the step for this run. Skipped steps are never rolled back."""
        return False

    def rollback(self, context: C, result: StepResult) -> None:
        """Undo the work of a completed step after a later step failed. Default: nothing."""

    def __repr__(self) -> str:
        try:
            name = self.name
        except Exception:  # noqa: BLE001 - repr must never raise, even for a broken step
            name = "?"
        return f"<{type(self).__name__} {name!r}>"


def _context_type_of(cls: type) -> type[BaseStepContext] | None:
    """The context class a step class is parametrised with (``BaseStep[Ctx]``, or a generic step
    class given a context), or ``None`` when it is still generic."""
    for klass in cls.__mro__:
        for base in klass.__dict__.get("__orig_bases__", ()):
            origin = get_origin(base)
            if isinstance(origin, type) and issubclass(origin, BaseStep):
                for argument in get_args(base):
                    if isinstance(argument, type) and issubclass(argument, BaseStepContext):
                        return argument
    return None


def checked_weight(step_name: str, weight: object) -> float:
    """Return ``weight`` as a float if it is a finite number in [0.0, 1.0], else raise.

    Raises:
        TypeError: ``weight`` is not a real number (``bool`` is refused too).
        ValueError: ``weight`` is NaN, infinite or outside [0.0, 1.0].
    """
    if isinstance(weight, bool) or not isinstance(weight, int | float):
        raise TypeError(
            f"step {step_name!r}: progress_weight must be a number, got {type(weight).__name__}"
        )
    value = float(weight)
    if not 0.0 <= value <= 1.0:  # also refuses NaN, which compares false with everything
        raise ValueError(
            f"step {step_name!r}: progress_weight must be a finite number in [0.0, 1.0], got {weight!r}"
        )
    return value
