"""Scripted steps: steps whose behaviour is data, for generated workflows.

A :class:`WorkflowScript` is a tuple of :class:`StepScript`\\s; :meth:`WorkflowScript.build` turns
it into a real :class:`~steprail.StepRegistry` of :class:`ScriptedStep`\\s that share one
:class:`ScriptLedger`, where they keep their side effects. A step that rolls back correctly
removes what it added, so after a failed run without failing rollbacks the ledger is empty again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, cast

from .._context import BaseStepContext
from .._registry import StepRegistry
from .._result import StepResult
from .._step import BaseStep

__all__ = ["Outcome", "ScriptLedger", "ScriptedError", "ScriptedStep", "StepScript", "WorkflowScript"]

type Outcome = Literal["ok", "fail", "fail_silent", "raise", "bad_return", "skip_raises", "interrupt", "exit"]
"""What a scripted step does: succeed; return a failed result (with or without an error
message); raise :class:`ScriptedError`; return something that is not a ``StepResult``; raise from
``can_skip``; raise ``KeyboardInterrupt``; raise ``SystemExit``."""

FAILING_OUTCOMES: tuple[Outcome, ...] = ("fail", "fail_silent", "raise", "bad_return", "skip_raises")
INTERRUPTING_OUTCOMES: tuple[Outcome, ...] = ("interrupt", "exit")


class ScriptedError(Exception):
    """What a scripted step raises when told to (from ``execute``, ``can_skip`` or ``rollback``)."""


@dataclass(frozen=True, slots=True)
class StepScript:
    """The behaviour of one :class:`ScriptedStep`.

    Attributes:
        name: The step's name.
        weight: Its ``progress_weight``.
        skip: Whether ``can_skip`` returns ``True``.
        outcome: What ``execute`` does after its partial work (see :data:`Outcome`).
        rollback_fails: Whether ``rollback`` raises (and so leaves the step's entry behind).
        progress: ``(current, total)`` pairs it reports with ``context.set_progress`` while running.
        undos: How many pieces of partial work it does, each with an undo action registered
            through ``context.on_rollback``, before its outcome.
        undo_fails: Whether its first undo action raises (leaving that piece behind).
    """

    name: str
    weight: float = 0.1
    skip: bool = False
    outcome: Outcome = "ok"
    rollback_fails: bool = False
    progress: tuple[tuple[int, int], ...] = ()
    undos: int = 0
    undo_fails: bool = False

    def partial_key(self, index: int) -> str:
        """The ledger entry of the ``index``-th piece of partial work."""
        return f"{self.name}#partial{index}"


class ScriptLedger:
    """Where the scripted steps of one workflow keep their side effects.

    Attributes:
        state: Entries currently present: a step's name once it completed, ``<name>#partial<i>``
            for its partial work.
        raised: Every exception the steps raised, in order (to check they come back unchanged).
    """

    def __init__(self) -> None:
        self.state: set[str] = set()
        self.raised: list[BaseException] = []


class ScriptedStep(BaseStep[BaseStepContext]):
    """A step that does what its :class:`StepScript` says. It runs on any context."""

    def __init__(self, script: StepScript, ledger: ScriptLedger) -> None:
        self.script = script
        self.ledger = ledger

    @property
    def name(self) -> str:
        """The script's name."""
        return self.script.name

    @property
    def progress_weight(self) -> float:
        """The script's weight."""
        return self.script.weight

    def can_skip(self, context: BaseStepContext) -> bool:
        """The script's ``skip``; raises when the outcome is ``skip_raises``."""
        if self.script.outcome == "skip_raises":
            raise self._raise(ScriptedError(f"scripted can_skip failure in {self.name!r}"))
        return self.script.skip

    def execute(self, context: BaseStepContext) -> StepResult:
        """Do the partial work, report progress, then end as the script says."""
        script, state = self.script, self.ledger.state
        for index in range(script.undos):
            key = script.partial_key(index)
            state.add(key)
            context.on_rollback(self._undo_action(key, script.undo_fails and index == 0), label=key)
        for current, total in script.progress:
            context.set_progress(current, total)
        match script.outcome:
            case "ok" | "skip_raises":
                state.add(script.name)
                return StepResult(success=True, data={"step": script.name}, rollback_data={"key": script.name})
            case "fail":
                return StepResult(success=False, error=f"scripted failure in {script.name!r}")
            case "fail_silent":
                return StepResult(success=False)
            case "raise":
                raise self._raise(ScriptedError(f"scripted exception in {script.name!r}"))
            case "bad_return":
                # Deliberately wrong, as an untyped step might do; the orchestrator must refuse it.
                return cast(StepResult, {"success": True})
            case "interrupt":
                raise self._raise(KeyboardInterrupt(f"scripted interrupt in {script.name!r}"))
            case "exit":
                raise self._raise(SystemExit(f"scripted exit in {script.name!r}"))

    def rollback(self, context: BaseStepContext, result: StepResult) -> None:
        """Remove the step's entry, or raise when ``rollback_fails``."""
        if self.script.rollback_fails:
            raise self._raise(ScriptedError(f"scripted rollback failure in {self.name!r}"))
        self.ledger.state.discard(self.script.name)

    def _raise(self, error: BaseException) -> BaseException:
        self.ledger.raised.append(error)
        return error

    def _undo_action(self, key: str, fails: bool) -> Callable[[], None]:
        def undo() -> None:
            if fails:
                raise self._raise(ScriptedError(f"scripted undo failure: {key!r}"))
            self.ledger.state.discard(key)

        return undo


@dataclass(frozen=True, slots=True)
class WorkflowScript:
    """A whole scripted workflow: its steps, in order.

    Attributes:
        steps: The steps' scripts; names are unique.
        callback_raises_at: When set, the progress callback made by :meth:`progress_callback`
            raises :class:`ScriptedError` on the first value at or above it.
    """

    steps: tuple[StepScript, ...] = ()
    callback_raises_at: int | None = None

    @property
    def names(self) -> list[str]:
        """The step names, in order."""
        return [step.name for step in self.steps]

    def build[C: BaseStepContext](self, ledger: ScriptLedger | None = None) -> StepRegistry[C]:
        """A registry of :class:`ScriptedStep`\\s, sharing ``ledger`` (a new one by default)."""
        shared = ledger if ledger is not None else ScriptLedger()
        registry: StepRegistry[C] = StepRegistry()
        for script in self.steps:
            registry.register(ScriptedStep(script, shared))
        return registry

    def progress_callback(self) -> Callable[[int, int], None]:
        """A progress callback that raises as :attr:`callback_raises_at` says (a no-op otherwise)."""
        threshold = self.callback_raises_at

        def callback(current: int, total: int) -> None:
            if threshold is not None and current >= threshold:
                raise ScriptedError(f"scripted progress callback failure at {current}/{total}")

        return callback
