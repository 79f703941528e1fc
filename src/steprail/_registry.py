"""The ordered list of steps a workflow runs: :class:`StepRegistry`."""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Iterator
from itertools import islice

from ._context import BaseStepContext
from ._flow import declared_names
from ._step import BaseStep, checked_weight

__all__ = ["StepRegistry"]

# Classes already seen to be BaseStep subclasses: the fast path of register() skips the ABC check.
_STEP_TYPES: set[type] = set()


class _Bookkeeping:
    """A registry's state beside its three containers, itself a shared container: a shallow copy
    of a registry (``copy.copy``) shares its steps, names and weights with the original, and so
    must it share this, or one of the two would act on a stale idea of the shared lists."""

    __slots__ = ("changes", "dict_in_order", "for_runs")

    def __init__(self) -> None:
        # True while the weights dict's key order is the run order (nothing was inserted in the
        # middle): the run view then copies the dict's keys and values at C speed.
        self.dict_in_order = True
        # Insertions in the middle and removals so far: with the number of steps (register only
        # appends), it tells whether the steps changed since _for_run last made its value.
        self.changes = 0
        self.for_runs: tuple[tuple[int, int], object, object] | None = None

    def __getstate__(self) -> tuple[bool, int]:
        return self.dict_in_order, self.changes  # the cached value is made again when needed

    def __setstate__(self, state: tuple[bool, int]) -> None:
        self.dict_in_order, self.changes = state
        self.for_runs = None


class StepRegistry[C: BaseStepContext]:
    """Steps in the order they will run, each with a unique name.

    Every step is checked when it is added: it must be a :class:`BaseStep`, its name a non-empty
    string not used yet, and its ``progress_weight`` a finite number in [0.0, 1.0]. Name and weight
    are read once, at that moment: they are the step's identity and share for every later run.

    Args:
        inputs: Context fields the caller supplies when making the context, which steps may
            require without an earlier step providing them (see docs/data-flow.md). Fields
            without a default are always supplied and need not be listed.
    """

    def __init__(self, *, inputs: Iterable[str] = ()) -> None:
        self._inputs = frozenset(declared_names("StepRegistry", "inputs", inputs, tuple_only=False))
        # The steps in run order; name -> weight (the O(1) duplicate check and ``in``); and the
        # names in run order, for the operations in the middle (a list: an insertion or removal
        # is one C-level memmove and ``list.index`` finds a name at C speed). ``register`` only
        # appends to the first two: the names it added are the dict's last keys, and
        # ``_order()`` copies them over (at C speed) when the names are next needed.
        self._steps: list[BaseStep[C]] = []
        self._weights: dict[str, float] = {}
        self._names: list[str] = []
        self._book = _Bookkeeping()

    @classmethod
    def _from_checked(
        cls, steps: list[BaseStep[C]], names: list[str], weights: list[float], inputs: frozenset[str] = frozenset()
    ) -> StepRegistry[C]:
        """A registry over lists that already passed the checks (a snapshot, possibly with each
        step wrapped under the same name), with the original's ``inputs``: no step is checked or
        registered a second time."""
        registry = cls()
        registry._inputs = inputs
        registry._steps = steps
        registry._names = names
        registry._weights = dict(zip(names, weights, strict=True))
        return registry

    @property
    def inputs(self) -> frozenset[str]:
        """The context fields declared as supplied when the context is made."""
        return self._inputs

    def register(self, step: BaseStep[C]) -> None:
        """Add ``step`` at the end."""
        # The common case, kept short (registration must stay linear and cheap: see
        # benchmarks/bench_orchestrator.py). Anything unusual takes the checked path.
        if type(step) in _STEP_TYPES:
            name = step.name
            weights = self._weights
            if type(name) is str and name and name not in weights:
                weight = step.progress_weight
                if type(weight) is not float or not 0.0 <= weight <= 1.0:
                    weight = checked_weight(name, weight)
                weights[name] = weight
                self._steps.append(step)
                return
        self._insert(len(self._steps), step)

    def insert_before(self, before_name: str, step: BaseStep[C]) -> None:
        """Add ``step`` just before the step called ``before_name``."""
        self._insert(self._index_of(before_name, "insert_before"), step)

    def insert_after(self, after_name: str, step: BaseStep[C]) -> None:
        """Add ``step`` just after the step called ``after_name``."""
        self._insert(self._index_of(after_name, "insert_after") + 1, step)

    def unregister(self, name: str) -> None:
        """Remove the step called ``name``."""
        index = self._index_of(name, "unregister")  # the names are in sync from here
        self._book.changes += 1
        del self._names[index]
        del self._steps[index]
        del self._weights[name]

    def get_steps(self) -> list[BaseStep[C]]:
        """Return the steps in run order (a copy: changing it leaves the registry alone)."""
        return list(self._steps)

    def get_step_orders(self) -> dict[str, int]:
        """Map each step name to its 0-based position."""
        return {name: order for order, name in enumerate(self._order())}

    @property
    def total_weight(self) -> float:
        """Sum of the registered steps' ``progress_weight``."""
        return math.fsum(self._weights.values())

    def snapshot(self) -> tuple[list[BaseStep[C]], list[str], list[float]]:
        """Return copies of the steps, their names and their weights, in run order."""
        steps, names, weights = self._run_view()
        return steps, list(names), weights

    def _run_view(self) -> tuple[list[BaseStep[C]], tuple[str, ...], list[float]]:
        """What :meth:`snapshot` returns, the names as a tuple: an orchestrator keeps them for the
        whole run, and the garbage collector stops walking a tuple of strings after one pass,
        while it walks a list's N items in every pass the run's allocations trigger."""
        weights = self._weights
        if self._book.dict_in_order:
            return list(self._steps), tuple(weights), list(weights.values())
        names = self._order()
        return list(self._steps), tuple(names), list(map(weights.__getitem__, names))

    def _for_run[T](
        self, make: Callable[[list[BaseStep[C]], list[float]], T]
    ) -> tuple[list[BaseStep[C]], tuple[str, ...], T]:
        """The run view's steps and names, with ``make(the steps, their weights)``: all three from
        one state of the registry, ``make``'s value made again only after the steps changed.

        For what every run derives from the steps and weights alone (the orchestrator's run plan):
        ``make``'s result must not be changed by its users, as later runs share it. A step
        registered by another thread meanwhile is in all three or in none.
        """
        book = self._book
        while True:
            key = (len(self._steps), book.changes)
            steps, names, weights = self._run_view()
            if key == (len(self._steps), book.changes) and len(steps) == len(names) == len(weights) == key[0]:
                break  # nothing changed while the view was taken: a consistent one
        cached = book.for_runs
        if cached is not None and cached[0] == key and cached[1] is make:
            value: T = cached[2]  # type: ignore[assignment]  # stored by this method for this `make`
            return steps, names, value
        made = make(steps, weights)
        book.for_runs = (key, make, made)
        return steps, names, made

    def __len__(self) -> int:
        return len(self._steps)

    def __iter__(self) -> Iterator[BaseStep[C]]:
        return iter(list(self._steps))

    def __contains__(self, name: object) -> bool:
        return name in self._weights

    def __repr__(self) -> str:
        return f"StepRegistry({self._order()!r})"

    def _insert(self, index: int, step: BaseStep[C]) -> None:
        if not isinstance(step, BaseStep):
            raise TypeError(
                f"only BaseStep instances can be registered, got {type(step).__name__}: {step!r}"
            )
        _STEP_TYPES.add(type(step))
        name: object = step.name
        if not isinstance(name, str) or not name:
            raise TypeError(f"{type(step).__name__}.name must be a non-empty string, got {name!r}")
        if name in self._weights:
            raise ValueError(f"a step named {name!r} is already registered ({type(step).__name__})")
        weight = checked_weight(name, step.progress_weight)
        self._book.changes += 1
        if index != len(self._steps):
            self._book.dict_in_order = False  # the new key goes last in the dict, not in the run
        self._order().insert(index, name)
        self._steps.insert(index, step)
        self._weights[name] = weight

    def _order(self) -> list[str]:
        """The names in run order, with those ``register`` appended since copied over."""
        names = self._names
        missing = len(self._steps) - len(names)
        if missing > 0:
            # Registered names are the dict's newest keys, oldest first once reversed back.
            tail = list(islice(reversed(self._weights), missing))
            tail.reverse()
            names.extend(tail)
        return names

    def _index_of(self, name: str, operation: str) -> int:
        """The position of the step called ``name``: O(1) to know whether it exists, then one
        C-level scan of the names (``list.index``) to find where."""
        if name not in self._weights:
            raise ValueError(f"{operation}: no step named {name!r}{self._hint(name)}")
        return self._order().index(name)

    def _hint(self, missing: str) -> str:
        names = self._order()
        # A wrapper adds a prefix such as "logged_": suggest the wrapped name first.
        wrapped = [name for name in names if name.endswith("_" + missing)]
        close = difflib.get_close_matches(missing, names, n=3, cutoff=0.6)
        suggestions = list(dict.fromkeys(wrapped + close))
        if suggestions:
            return "; did you mean " + " or ".join(repr(name) for name in suggestions) + "?"
        if names:
            return f"; registered: {', '.join(names)}"
        return "; the registry is empty"
