"""Hypothesis strategies for generated workflows and fault plans (needs ``steprail[testing]``)."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from .._flow import StepFlow
from ._faults import FaultKind, FaultPlan, FaultPoint
from ._flow import FlowScript
from ._scripted import FAILING_OUTCOMES, INTERRUPTING_OUTCOMES, Outcome, StepScript, WorkflowScript

__all__ = ["declared_workflows", "fault_plans", "step_names", "step_scripts", "step_weights", "workflows"]

# Weights the orchestrator has to get exactly right (their float sums are not exact), and the
# all-zero case, are drawn more often than a uniform float would.
_TRICKY_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1 / 3, 0.05)


def step_names() -> SearchStrategy[str]:
    """Step names: mostly identifiers, sometimes any non-empty text (quotes, spaces, emoji)."""
    return st.one_of(
        st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True),
        st.text(st.characters(codec="utf-8"), min_size=1, max_size=8),
    )


def step_weights() -> SearchStrategy[float]:
    """Progress weights in [0.0, 1.0], with awkward and zero values often."""
    return st.one_of(st.sampled_from(_TRICKY_WEIGHTS), st.floats(0.0, 1.0))


@st.composite
def _progress_pair(draw: st.DrawFn) -> tuple[int, int]:
    total = draw(st.integers(0, 50))
    return draw(st.integers(0, max(total, 1) + 2)), total


def step_scripts(
    name: str | SearchStrategy[str] | None = None,
    *,
    failures: bool = True,
    interrupts: bool = True,
    failing_rollbacks: bool = True,
    progress: bool = True,
    skips: bool = True,
    undos: bool = True,
) -> SearchStrategy[StepScript]:
    """Scripts for one step; each keyword turns a kind of misbehaviour on or off.

    Failing outcomes are drawn about one time in four, so generated workflows often get far.
    """
    failing_outcomes: tuple[Outcome, ...] = (FAILING_OUTCOMES if failures else ()) + (
        INTERRUPTING_OUTCOMES if interrupts else ()
    )
    ok: SearchStrategy[Outcome] = st.just("ok")
    # one_of picks a branch uniformly: three "ok" branches make one step in four misbehave.
    outcome = st.one_of(ok, ok, ok, st.sampled_from(failing_outcomes)) if failing_outcomes else ok
    names = name if isinstance(name, SearchStrategy) else st.just(name) if name is not None else step_names()
    return st.builds(
        StepScript,
        name=names,
        weight=step_weights(),
        skip=st.booleans() if skips else st.just(False),
        outcome=outcome,
        rollback_fails=st.booleans() if failing_rollbacks else st.just(False),
        progress=st.lists(_progress_pair(), max_size=4).map(tuple) if progress else st.just(()),
        undos=st.integers(0, 2) if undos else st.just(0),
        undo_fails=st.booleans() if (undos and failing_rollbacks) else st.just(False),
    )


@st.composite
def _workflows(
    draw: st.DrawFn,
    min_steps: int,
    max_steps: int,
    failures: bool,
    interrupts: bool,
    failing_rollbacks: bool,
    progress: bool,
    skips: bool,
    undos: bool,
    callback_failures: bool,
) -> WorkflowScript:
    names = draw(st.lists(step_names(), min_size=min_steps, max_size=max_steps, unique=True))
    scripts = tuple(
        draw(
            step_scripts(
                name,
                failures=failures,
                interrupts=interrupts,
                failing_rollbacks=failing_rollbacks,
                progress=progress,
                skips=skips,
                undos=undos,
            )
        )
        for name in names
    )
    raises_at = draw(st.none() | st.integers(1, 100)) if callback_failures else None
    return WorkflowScript(scripts, raises_at)


def workflows(
    *,
    min_steps: int = 0,
    max_steps: int = 6,
    failures: bool = True,
    interrupts: bool = True,
    failing_rollbacks: bool = True,
    progress: bool = True,
    skips: bool = True,
    undos: bool = True,
    callback_failures: bool = False,
) -> SearchStrategy[WorkflowScript]:
    """Whole scripted workflows with unique step names.

    Args:
        min_steps: Fewest steps.
        max_steps: Most steps.
        failures: Steps may fail (failed result, exception, wrong return type, ``can_skip`` raising).
        interrupts: Steps may raise ``KeyboardInterrupt`` or ``SystemExit``.
        failing_rollbacks: Rollbacks and undo actions may raise.
        progress: Steps report their own progress.
        skips: Steps may be skipped.
        undos: Steps register undo actions for partial work.
        callback_failures: The workflow's progress callback may raise.
    """
    if not 0 <= min_steps <= max_steps:
        raise ValueError(f"workflows() needs 0 <= min_steps <= max_steps, got {min_steps}, {max_steps}")
    return _workflows(
        min_steps, max_steps, failures, interrupts, failing_rollbacks, progress, skips, undos, callback_failures
    )


@st.composite
def _fault_plans(
    draw: st.DrawFn,
    names: tuple[str, ...],
    points: tuple[FaultPoint, ...],
    kinds: tuple[FaultKind, ...],
    failing_rollbacks: bool,
) -> FaultPlan:
    step = draw(st.sampled_from(names))
    failing: frozenset[str] = frozenset()
    if failing_rollbacks:
        before = names[: names.index(step) + 1]
        failing = frozenset(draw(st.lists(st.sampled_from(before), unique=True, max_size=len(before))))
    return FaultPlan(step, draw(st.sampled_from(points)), draw(st.sampled_from(kinds)), failing)


def fault_plans(
    step_names: Sequence[str],
    *,
    points: Sequence[FaultPoint] = ("before", "after"),
    kinds: Sequence[FaultKind] = ("raise", "result", "interrupt"),
    failing_rollbacks: bool = True,
) -> SearchStrategy[FaultPlan]:
    """Fault plans for a workflow with these step names: which step fails, when, how, and which
    rollbacks (of that step or earlier ones) raise.

    Raises:
        ValueError: no step names, or empty ``points``/``kinds``.
    """
    names = tuple(step_names)
    if not names or not points or not kinds:
        raise ValueError("fault_plans() needs at least one step name, one point and one kind")
    return _fault_plans(names, tuple(points), tuple(kinds), failing_rollbacks)


@st.composite
def _declared_workflows(
    draw: st.DrawFn, fields: tuple[str, ...], min_steps: int, max_steps: int, undeclared: bool
) -> FlowScript:
    names = draw(st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True), min_size=min_steps, max_size=max_steps, unique=True))
    some_fields = st.lists(st.sampled_from(fields), max_size=3, unique=True).map(tuple) if fields else st.just(())
    declared = st.builds(StepFlow, requires=some_fields, provides=some_fields)
    flow: SearchStrategy[StepFlow | None] = st.one_of(st.none(), declared, declared, declared) if undeclared else declared
    steps = tuple((name, draw(flow)) for name in names)
    inputs = draw(some_fields)
    return FlowScript(steps, inputs)


def declared_workflows(
    fields: Sequence[str], *, min_steps: int = 0, max_steps: int = 6, undeclared: bool = True
) -> SearchStrategy[FlowScript]:
    """Workflows whose steps declare what they require and provide, drawn from ``fields``.

    Any order is drawn, valid or not: :meth:`FlowScript.satisfied` says which the plan check must
    accept. Build the registry with :meth:`FlowScript.registry` and run it on a context whose
    class has ``fields`` (each with a default) to check a run in strict mode.

    Args:
        fields: Field names of the context the workflows run on.
        min_steps: Fewest steps.
        max_steps: Most steps.
        undeclared: Some steps may be undeclared (about one in four).
    """
    if not 0 <= min_steps <= max_steps:
        raise ValueError(f"declared_workflows() needs 0 <= min_steps <= max_steps, got {min_steps}, {max_steps}")
    return _declared_workflows(tuple(fields), min_steps, max_steps, undeclared)
