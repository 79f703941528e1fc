"""Orchestrator overhead against a plain loop over the same trivial steps.

Run: ``.venv/bin/python benchmarks/bench_orchestrator.py`` (``--quick`` for fewer repeats;
``--synapse-python PATH`` names a Python that has ``synapse-sdk==2026.2.17`` installed, default
``$STEPRAIL_BENCH_SYNAPSE_PYTHON``, to compare the failure path with its orchestrator).

Build + run, and run only: at 1 000 and 100 000 steps, registering the steps and running them
through the orchestrator against a plain loop that appends the same steps to a list and calls
them.

Insertions in the middle: 2 000 ``insert_after`` calls spread over a 100 000-step registry,
against the same insertions into plain lists (``list.index`` on the names, ``list.insert``).

Failure path: N = 1 000 steps, the one at N/2 fails and the completed ones roll back, against a
plain loop doing the same (call, and on failure call ``rollback`` on the completed steps newest
first); synapse-sdk's orchestrator runs the same workload in a subprocess of the same run, with
its own plain-loop baseline measured there.

For N = 10, 1 000 and 100 000 steps it times ``Orchestrator.execute()`` and a plain loop that
calls ``can_skip``, ``execute`` and the progress callback on the same steps (keeping the results,
as the orchestrator must), alternating the two, and prints the median ratio. Times are CPU time of
the measuring process (``time.process_time``), so that other work on a shared machine does not
count. It also prints the
extra memory the orchestrator keeps per step, and the cold import time of steprail beside
pydantic's, measured in fresh interpreters in the same run.

Close to the floor (issue 16), each beside its baseline from the same run:

- per step: steps that each write one validated ``int`` field and return ``StepResult()``, run by
  the orchestrator, against a bare loop calling each step's work (one field write on a plain
  dataclass); beside it the physical floor of a correct orchestrator (a minimal loop doing the
  bookkeeping the contract needs: current step, call, result check, results and completed lists,
  milestone progress) with unvalidated writes and one shared result.
- where a step's time goes: the same orchestrator over steps that add one cost at a time (an
  unvalidated write and a shared result, then the validated write, then ``StepResult()``), and
  the full workload with the garbage collector paused while it is timed (a diagnostic only).
- a validated scalar write and a plain dataclass write, per write; ``StepResult()`` per call;
  the absolute bytes a run keeps per step at 100 000 steps (results, context, everything).
- time to first step: a fresh interpreter imports the public names, defines a three-field context
  and a step, and runs one step; beside ``import pydantic`` in a fresh interpreter.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

import os

from steprail import BaseStep, BaseStepContext, Orchestrator, RuntimeContext, StepFailedError, StepRegistry, StepResult


@dataclass
class BenchContext(BaseStepContext):
    """The context every benchmark step runs on."""


class Trivial(BaseStep[BenchContext]):
    """A step that does nothing but return a result."""

    def __init__(self, index: int, weight: float) -> None:
        self._name = f"step_{index}"
        self._weight = weight

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return self._weight

    def execute(self, context: BenchContext) -> StepResult:
        return StepResult()


def make_steps(count: int) -> list[Trivial]:
    return [Trivial(index, 1.0 / count) for index in range(count)]


def ignore_progress(current: int, total: int) -> None:
    pass


def plain_loop(steps: list[Trivial], context: BenchContext) -> None:
    results = context.step_results
    total = len(steps)
    for index, step in enumerate(steps):
        if step.can_skip(context):
            continue
        results.append(step.execute(context))
        ignore_progress(index + 1, total)


def orchestrated(registry: StepRegistry[BenchContext], context: BenchContext) -> None:
    Orchestrator(registry, context, ignore_progress).execute()


def run_all(run: Callable[[BenchContext], None], contexts: list[BenchContext]) -> None:
    for context in contexts:
        run(context)


def timed(run: Callable[[], None]) -> float:
    gc.collect()
    # CPU time of this process: the machine is shared, and wall time would charge us for the
    # other processes' turns on the cores (both sides of every ratio are measured this way).
    started = time.process_time()
    run()
    return time.process_time() - started


def ratio_for(count: int, repeats: int, runs_per_sample: int) -> tuple[float, float, float]:
    steps = make_steps(count)
    registry = StepRegistry[BenchContext]()
    for step in steps:
        registry.register(step)
    ratios: list[float] = []
    plain_times: list[float] = []
    orchestrated_times: list[float] = []
    for _ in range(repeats):
        plain_contexts = [BenchContext(runtime_ctx=RuntimeContext()) for _ in range(runs_per_sample)]
        plain = timed(lambda: run_all(lambda context: plain_loop(steps, context), plain_contexts))
        our_contexts = [BenchContext(runtime_ctx=RuntimeContext()) for _ in range(runs_per_sample)]
        ours = timed(lambda: run_all(lambda context: orchestrated(registry, context), our_contexts))
        plain_times.append(plain / runs_per_sample)
        orchestrated_times.append(ours / runs_per_sample)
        ratios.append(ours / plain)
    return statistics.median(ratios), statistics.median(plain_times), statistics.median(orchestrated_times)


class FailsHalfway(Trivial):
    """The failure-path step: the one at N/2 fails; rollback does nothing, as in the baseline."""

    def __init__(self, index: int, weight: float, fails: bool) -> None:
        super().__init__(index, weight)
        self._fails = fails

    def execute(self, context: BenchContext) -> StepResult:
        if self._fails:
            raise RuntimeError("step failed")
        return StepResult()


def make_failing_steps(count: int) -> list[Trivial]:
    return [FailsHalfway(index, 1.0 / count, index == count // 2) for index in range(count)]


@dataclass
class FailureWriteContext(BenchContext):
    """The failure path's context when each step also writes one validated field."""

    value: int = 0


class WritesThenFailsHalfway(FailsHalfway):
    """A failure-path step that first writes one validated field (the one at N/2 then fails)."""

    def __init__(self, index: int, weight: float, fails: bool) -> None:
        super().__init__(index, weight, fails)
        self._index = index

    def execute(self, context: BenchContext) -> StepResult:
        assert isinstance(context, FailureWriteContext)
        context.value = self._index
        return super().execute(context)


def make_writing_failing_steps(count: int) -> list[Trivial]:
    return [WritesThenFailsHalfway(index, 1.0 / count, index == count // 2) for index in range(count)]


def plain_build_and_run(steps: list[Trivial], context: BenchContext) -> None:
    chosen: list[Trivial] = []
    for step in steps:
        chosen.append(step)
    plain_loop(chosen, context)


def plain_failure_path(steps: list[Trivial], context: BenchContext) -> None:
    chosen: list[Trivial] = []
    for step in steps:
        chosen.append(step)
    done: list[tuple[Trivial, StepResult]] = []
    results = context.step_results
    try:
        for step in chosen:
            result = step.execute(context)
            results.append(result)
            done.append((step, result))
    except Exception as error:
        results.append(StepResult(success=False, error=str(error)))
        for step, result in reversed(done):
            step.rollback(context, result)


def built_and_orchestrated(steps: list[Trivial], context: BenchContext) -> None:
    registry = StepRegistry[BenchContext]()
    for step in steps:
        registry.register(step)
    Orchestrator(registry, context, ignore_progress).execute()


def orchestrated_failure_path(steps: list[Trivial], context: BenchContext) -> None:
    registry = StepRegistry[BenchContext]()
    for step in steps:
        registry.register(step)
    try:
        Orchestrator(registry, context, ignore_progress).execute()
    except StepFailedError:
        pass


def paired_ratio(
    baseline: Callable[[BenchContext], None],
    ours: Callable[[BenchContext], None],
    repeats: int,
    runs: int,
    *,
    context_type: type[BenchContext] = BenchContext,
) -> tuple[float, float, float]:
    """Median ratio, median baseline and median ours per run, alternating the two."""
    ratios: list[float] = []
    base_times: list[float] = []
    our_times: list[float] = []
    for _ in range(repeats):
        contexts = [context_type(runtime_ctx=RuntimeContext()) for _ in range(runs)]
        base = timed(lambda: run_all(baseline, contexts))
        contexts = [context_type(runtime_ctx=RuntimeContext()) for _ in range(runs)]
        mine = timed(lambda: run_all(ours, contexts))
        ratios.append(mine / base)
        base_times.append(base / runs)
        our_times.append(mine / runs)
    return statistics.median(ratios), statistics.median(base_times), statistics.median(our_times)


# Runs under the Python given by --synapse-python: the same failure path with synapse-sdk's
# orchestrator and its own plain-loop baseline; prints "ratio plain_seconds synapse_seconds".
_SYNAPSE_SCRIPT = """
import gc, statistics, sys, time
from dataclasses import dataclass
from synapse_sdk.plugins.steps.base import BaseStep, StepResult
from synapse_sdk.plugins.steps.context import BaseStepContext
from synapse_sdk.plugins.steps.orchestrator import Orchestrator
from synapse_sdk.plugins.steps.registry import StepRegistry

count, repeats, runs, writes = (int(arg) for arg in sys.argv[1:5])

@dataclass
class Ctx(BaseStepContext):
    value: int = 0

class Step(BaseStep[Ctx]):
    def __init__(self, index, weight, fails):
        self._name = f"step_{index}"; self._weight = weight; self._fails = fails; self._index = index
    @property
    def name(self): return self._name
    @property
    def progress_weight(self): return self._weight
    def execute(self, context):
        if writes:
            context.value = self._index
        if self._fails:
            raise RuntimeError("step failed")
        return StepResult()

def ignore(current, total): pass

steps = [Step(i, 1.0 / count, i == count // 2) for i in range(count)]

def plain(context):
    chosen = []
    for step in steps: chosen.append(step)
    done = []; results = context.step_results
    try:
        for step in chosen:
            result = step.execute(context); results.append(result); done.append((step, result))
    except Exception as error:
        results.append(StepResult(success=False, error=str(error)))
        for step, result in reversed(done): step.rollback(context, result)

def theirs(context):
    registry = StepRegistry()
    for step in steps: registry.register(step)
    try:
        Orchestrator(registry, context, ignore).execute()
    except RuntimeError:
        pass

def timed(run, contexts):
    gc.collect(); started = time.process_time()
    for context in contexts: run(context)
    return time.process_time() - started

ratios, bases, mine = [], [], []
for _ in range(repeats):
    base = timed(plain, [Ctx(runtime_ctx=None) for _ in range(runs)])
    ours = timed(theirs, [Ctx(runtime_ctx=None) for _ in range(runs)])
    ratios.append(ours / base); bases.append(base / runs); mine.append(ours / runs)
print(statistics.median(ratios), statistics.median(bases), statistics.median(mine))
"""


def synapse_failure_path(
    python: str, count: int, repeats: int, runs: int, *, writes: bool
) -> tuple[float, float, float] | str:
    """The failure path under synapse-sdk, or why it could not be measured."""
    try:
        done = subprocess.run(
            [python, "-c", _SYNAPSE_SCRIPT, str(count), str(repeats), str(runs), str(int(writes))],
            capture_output=True,
            text=True,
            timeout=600,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"not measured ({error})"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return f"not measured ({last})"
    ratio, base, theirs = (float(part) for part in done.stdout.split())
    return ratio, base, theirs


def kept_bytes(run: Callable[[BenchContext], None]) -> tuple[int, int]:
    """Bytes still allocated after ``run`` (context included) and the peak during it."""
    context = BenchContext(runtime_ctx=RuntimeContext())
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    run(context)
    gc.collect()
    after, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return after - before, peak - before


def memory_per_step(count: int) -> tuple[float, float]:
    steps = make_steps(count)
    registry = StepRegistry[BenchContext]()
    for step in steps:
        registry.register(step)
    plain_kept, plain_peak = kept_bytes(lambda context: plain_loop(steps, context))
    ours_kept, ours_peak = kept_bytes(lambda context: orchestrated(registry, context))
    return (ours_kept - plain_kept) / count, (ours_peak - plain_peak) / count


def cold_import(module: str, repeats: int) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    samples = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        for _ in range(repeats)
    ]
    return statistics.median(samples)


def middle_insertions(count: int, inserts: int, repeats: int) -> tuple[float, float, float]:
    """``inserts`` insert_after calls spread over a ``count``-step registry, against a plain list
    of steps doing the same insertions (``list.index`` on a parallel list of names, then
    ``list.insert``): median ratio, median plain and median registry seconds. Registering the
    steps is not timed."""
    steps = make_steps(count)
    extra = [Trivial(count + index, 0.5) for index in range(inserts)]
    anchors = [f"step_{index * (count // inserts)}" for index in range(inserts)]
    ratios: list[float] = []
    plain_times: list[float] = []
    our_times: list[float] = []
    for _ in range(repeats):
        chosen = list(steps)
        names = [step.name for step in steps]

        def plain() -> None:
            for anchor, step in zip(anchors, extra, strict=True):
                position = names.index(anchor) + 1
                names.insert(position, step.name)
                chosen.insert(position, step)

        registry = StepRegistry[BenchContext]()
        for step in steps:
            registry.register(step)

        def ours() -> None:
            for anchor, step in zip(anchors, extra, strict=True):
                registry.insert_after(anchor, step)

        base, mine = timed(plain), timed(ours)
        ratios.append(mine / base)
        plain_times.append(base)
        our_times.append(mine)
    return statistics.median(ratios), statistics.median(plain_times), statistics.median(our_times)


# -- close to the floor (issue 16) --------------------------------------------------------------


@dataclass
class WriteContext(BaseStepContext):
    """The per-step workload's context: one validated int field."""

    value: int = 0


@dataclass
class PlainState:
    """The bare loop's state: the same field on a plain dataclass."""

    value: int = 0


class WritesField(BaseStep[WriteContext]):
    """A step whose work is one validated field write."""

    def __init__(self, index: int) -> None:
        self._name = f"step_{index}"
        self._index = index

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: WriteContext) -> StepResult:
        context.value = self._index
        return StepResult()


class PlainWork:
    """The bare loop's unit of work: the same write on a plain dataclass."""

    def __init__(self, index: int) -> None:
        self._index = index

    def run(self, state: PlainState) -> None:
        state.value = self._index


_SHARED_RESULT = StepResult()


class FloorStep(WritesField):
    """The floor's step: an unvalidated write (the instance dict) and one shared result."""

    def execute(self, context: WriteContext) -> StepResult:
        context.__dict__["value"] = self._index
        return _SHARED_RESULT


class ValidatedSharedStep(WritesField):
    """The breakdown's step: the validated write, and one shared result (no ``StepResult()``)."""

    def execute(self, context: WriteContext) -> StepResult:
        context.value = self._index
        return _SHARED_RESULT


def bare_loop(work: list[PlainWork], state: PlainState) -> None:
    for item in work:
        item.run(state)


def floor_loop(steps: list[WritesField], names: tuple[str, ...], context: WriteContext) -> None:
    """The least a correct orchestrator does per step, written inline."""
    fields = context.__dict__
    results = context.step_results
    completed: list[StepResult] = []
    milestone = len(steps) // 100 or 1
    for order, step in enumerate(steps):
        fields["current_step"] = names[order]
        fields["current_step_order"] = order
        result = step.execute(context)
        if type(result) is not StepResult or not result.success:
            raise RuntimeError("the floor's steps always succeed")
        results.append(result)
        completed.append(result)
        if order % milestone == 0:
            ignore_progress(order // milestone, 100)


def per_step(count: int, repeats: int, runs: int) -> tuple[float, float, float]:
    """Median seconds per step: bare loop, steprail, floor (each run on a fresh context)."""
    registry = StepRegistry[WriteContext]()
    for index in range(count):
        registry.register(WritesField(index))
    work = [PlainWork(index) for index in range(count)]
    floor_steps: list[WritesField] = [FloorStep(index) for index in range(count)]
    names = tuple(step.name for step in floor_steps)
    bare_times: list[float] = []
    our_times: list[float] = []
    floor_times: list[float] = []
    for _ in range(repeats):
        states = [PlainState() for _ in range(runs)]

        def bare_runs() -> None:
            for state in states:
                bare_loop(work, state)

        contexts = [WriteContext(runtime_ctx=RuntimeContext()) for _ in range(runs)]

        def our_runs() -> None:
            for context in contexts:
                Orchestrator(registry, context, ignore_progress).execute()

        floor_contexts = [WriteContext(runtime_ctx=RuntimeContext()) for _ in range(runs)]

        def floor_runs() -> None:
            for context in floor_contexts:
                floor_loop(floor_steps, names, context)

        bare_times.append(timed(bare_runs) / runs / count)
        our_times.append(timed(our_runs) / runs / count)
        floor_times.append(timed(floor_runs) / runs / count)
        del states, contexts, floor_contexts
    return statistics.median(bare_times), statistics.median(our_times), statistics.median(floor_times)


def per_step_breakdown(count: int, repeats: int, runs: int) -> dict[str, float]:
    """Median seconds per step of the same orchestrator over steps that add one cost at a time:
    the bare loop; steps with an unvalidated write returning one shared result (the orchestrator's
    own bookkeeping); with the validated write; with ``StepResult()`` (the full workload); and
    the full workload with the cyclic garbage collector paused during the timed runs (a
    diagnostic of what the collector's passes over the kept results cost, not a setting steprail
    uses). Each variant's steps exist only while it is measured (a collector pass walks every
    live object, so the others' steps would change its cost), and its run plan is made before."""
    variants: dict[str, Callable[[int], WritesField]] = {
        "bookkeeping": FloorStep,
        "validated write": ValidatedSharedStep,
        "full": WritesField,
        "full, collector paused": WritesField,
    }
    samples: dict[str, list[float]] = {"bare": [], **{label: [] for label in variants}}
    for _ in range(repeats):
        work = [PlainWork(index) for index in range(count)]
        states = [PlainState() for _ in range(runs)]

        def bare_runs() -> None:
            for state in states:
                bare_loop(work, state)

        samples["bare"].append(timed(bare_runs) / runs / count)
        del work, states
        for label, make in variants.items():
            registry = StepRegistry[WriteContext]()
            for index in range(count):
                registry.register(make(index))
            Orchestrator(registry, WriteContext(runtime_ctx=RuntimeContext()), ignore_progress).execute()
            contexts = [WriteContext(runtime_ctx=RuntimeContext()) for _ in range(runs)]

            def our_runs() -> None:
                for context in contexts:
                    Orchestrator(registry, context, ignore_progress).execute()

            if label == "full, collector paused":
                gc.collect()
                gc.disable()
                try:
                    started = time.process_time()
                    our_runs()
                    seconds = time.process_time() - started
                finally:
                    gc.enable()
            else:
                seconds = timed(our_runs)
            samples[label].append(seconds / runs / count)
            del registry, contexts
    return {label: statistics.median(values) for label, values in samples.items()}


def print_breakdown(scale: int) -> None:
    print("where a step's time goes: the same orchestrator, one cost added at a time (ns/step, x the bare loop)")
    print("steps      bare   bookkeeping   + validated write   + StepResult() (full)   full, collector paused")
    for count, (repeats, runs) in {1_000: (5 * scale, 30), 100_000: (2 * scale, 1)}.items():
        figures = per_step_breakdown(count, repeats, runs)
        bare = figures["bare"]
        cells = [
            f"{figures[label] * 1e9:5.0f} ({figures[label] / bare:4.1f}x)"
            for label in ("bookkeeping", "validated write", "full", "full, collector paused")
        ]
        print(f"{count:>7}  {bare * 1e9:5.0f}   {cells[0]}   {cells[1]}        {cells[2]}            {cells[3]}")


def write_costs(repeats: int) -> tuple[float, float, float]:
    """Seconds per validated write, per plain dataclass write, per ``StepResult()`` (each in a
    plain ``for`` loop of its own, loop included)."""
    context = WriteContext(runtime_ctx=RuntimeContext())
    state = PlainState()
    count = 100_000
    kept: list[StepResult] = []

    def validated() -> None:
        for index in range(count):
            context.value = index

    def plain() -> None:
        for index in range(count):
            state.value = index

    def make_results() -> None:
        # Kept, as a run keeps them (dropping each one would also time its deallocation).
        append = kept.append
        for _ in range(count):
            append(StepResult())

    samples: dict[str, list[float]] = {"validated": [], "plain": [], "result": []}
    for _ in range(repeats):
        samples["validated"].append(timed(validated) / count)
        samples["plain"].append(timed(plain) / count)
        samples["result"].append(timed(make_results) / count)
        kept.clear()
    return (
        statistics.median(samples["validated"]),
        statistics.median(samples["plain"]),
        statistics.median(samples["result"]),
    )


def absolute_bytes_per_step(count: int) -> float:
    """Bytes a run of the per-step workload keeps, context and results included, per step."""
    registry = StepRegistry[WriteContext]()
    for index in range(count):
        registry.register(WritesField(index))
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    context = WriteContext(runtime_ctx=RuntimeContext())
    Orchestrator(registry, context, ignore_progress).execute()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    if len(context.step_results) != count:
        raise RuntimeError("the run did not keep one result per step")
    return (after - before) / count


_FIRST_STEP_SCRIPT = """
import time
started = time.process_time()
from steprail import BaseStep, BaseStepContext, Orchestrator, RuntimeContext, StepRegistry, StepResult

class Ctx(BaseStepContext):
    title: str = ""
    count: int = 0
    ratio: float = 0.0

class First(BaseStep[Ctx]):
    @property
    def name(self):
        return "first"
    @property
    def progress_weight(self):
        return 1.0
    def execute(self, context):
        context.count = 1
        return StepResult()

registry = StepRegistry[Ctx]()
registry.register(First())
context = Ctx(runtime_ctx=RuntimeContext())
Orchestrator(registry, context, lambda current, total: None).execute()
assert context.count == 1
print(time.process_time() - started)
"""

_IMPORT_PYDANTIC_SCRIPT = """
import time
started = time.process_time()
import pydantic
print(time.process_time() - started)
"""


def fresh_interpreter_seconds(script: str, repeats: int) -> float:
    """Median CPU seconds ``script`` reports in fresh interpreters (interpreter start excluded)."""
    samples = [
        float(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout)
        for _ in range(repeats)
    ]
    return statistics.median(samples)


def close_to_the_floor(scale: int) -> None:
    print("per step: each step writes one validated int field and returns StepResult() (run only)")
    print("steps     bare loop   steprail    ratio (goal <= 10)   floor       ratio")
    for count, (repeats, runs) in {1_000: (7 * scale, 30), 100_000: (3 * scale, 1)}.items():
        bare, ours, floor = per_step(count, repeats, runs)
        print(
            f"{count:>7}  {bare * 1e9:7.0f} ns  {ours * 1e9:7.0f} ns  {ours / bare:6.2f}x"
            f"             {floor * 1e9:7.0f} ns  {floor / bare:6.2f}x"
        )
    print_breakdown(scale)
    validated, plain, result = write_costs(3 * scale)
    print(
        f"validated int write {validated * 1e9:.0f} ns (goal <= 200; a plain dataclass write in the same loop"
        f" {plain * 1e9:.0f} ns); StepResult() {result * 1e9:.0f} ns (kept in a list)"
    )
    print(f"kept at 100 000 steps: {absolute_bytes_per_step(100_000):.1f} B/step absolute (goal <= 100)")
    repeats = 5 if scale == 1 else 9
    first = fresh_interpreter_seconds(_FIRST_STEP_SCRIPT, repeats)
    pydantic_import = fresh_interpreter_seconds(_IMPORT_PYDANTIC_SCRIPT, repeats)
    print(
        f"time to first step (median of {repeats} fresh interpreters, CPU): {first * 1e3:.0f} ms,"
        f" import pydantic {pydantic_import * 1e3:.0f} ms: {first / pydantic_import:.2f}x (goal <= 1.5)"
    )


def build_and_run(scale: int) -> None:
    print("build + run (register every step, then execute) against a plain loop appending the steps to a list")
    print("steps      plain       orchestrator   median ratio (goal <= 1.5 at 100 000)")
    for count, (repeats, runs) in {1_000: (7 * scale, 30), 100_000: (3 * scale, 1)}.items():
        steps = make_steps(count)
        ratio, plain, ours = paired_ratio(
            lambda context: plain_build_and_run(steps, context),
            lambda context: built_and_orchestrated(steps, context),
            repeats,
            runs,
        )
        print(f"{count:>7}  {plain * 1e3:>9.3f} ms  {ours * 1e3:>10.3f} ms   {ratio:6.2f}x")


def failure_path(synapse_python: str | None, scale: int) -> None:
    count = 1_000
    repeats, runs = 7 * scale, 30
    for writes, failing, label in (
        (False, make_failing_steps(count), "steps do nothing"),
        (True, make_writing_failing_steps(count), "each step writes one int field first"),
    ):
        ratio, plain, ours = paired_ratio(
            lambda context: plain_failure_path(failing, context),
            lambda context: orchestrated_failure_path(failing, context),
            repeats,
            runs,
            context_type=FailureWriteContext if writes else BenchContext,
        )
        print(f"failure path, N = {count}, step N/2 fails, completed steps roll back (build included), {label}:")
        print(f"  steprail     {ours * 1e3:8.3f} ms/run   {ratio:6.2f}x its plain loop ({plain * 1e3:.3f} ms)")
        if not synapse_python:
            print("  synapse-sdk  not measured: pass --synapse-python (a Python with synapse-sdk==2026.2.17)")
            continue
        measured = synapse_failure_path(synapse_python, count, repeats, runs, writes=writes)
        if isinstance(measured, str):
            print(f"  synapse-sdk  {measured}")
            continue
        their_ratio, their_plain, theirs = measured
        print(
            f"  synapse-sdk  {theirs * 1e3:8.3f} ms/run   {their_ratio:6.2f}x its plain loop ({their_plain * 1e3:.3f} ms),"
            f" same run; steprail is {'cheaper' if ours < theirs else 'NOT cheaper'} by time"
            f" ({ours / theirs:.2f}x theirs)"
        )


def run_only(scale: int, quick: bool) -> None:
    ratio, plain, ours = middle_insertions(100_000, 2_000, 3 * scale)
    print("insert_after in the middle: 2 000 calls on 100 000 steps, against list.index + list.insert on plain lists")
    print(f"  plain {plain * 1e3:8.1f} ms   registry {ours * 1e3:8.1f} ms   {ratio:6.2f}x")
    print()
    print("run only (registry built once)")
    plan = {10: (7 * scale, 2000), 1_000: (7 * scale, 30), 100_000: (3 * scale, 1)}
    print("steps      plain/run   orchestrator/run   median ratio (goal <= 1.5 at 1k and 100k)")
    for count, (repeats, runs) in plan.items():
        ratio, plain, ours = ratio_for(count, repeats, runs)
        print(f"{count:>7}  {plain * 1e3:>9.3f} ms  {ours * 1e3:>13.3f} ms   {ratio:6.2f}x")
    kept, peak = memory_per_step(100_000)
    print(f"memory at 100 000 steps, orchestrator minus plain loop: kept {kept:.1f} B/step, peak {peak:.1f} B/step (goal kept <= 200)")
    repeats = 3 if quick else 7
    print(
        f"cold import (median of {repeats} fresh interpreters): steprail {cold_import('steprail', repeats) * 1e3:.0f} ms,"
        f" pydantic {cold_import('pydantic', repeats) * 1e3:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--floor-only", action="store_true", help="only the close-to-the-floor figures and the failure path")
    parser.add_argument(
        "--synapse-python",
        default=os.environ.get("STEPRAIL_BENCH_SYNAPSE_PYTHON"),
        help="a Python with synapse-sdk==2026.2.17 installed (for the failure-path comparison)",
    )
    args = parser.parse_args()
    scale = 1 if args.quick else 3
    if not args.floor_only:
        build_and_run(scale)
    failure_path(args.synapse_python, scale)
    if not args.floor_only:
        run_only(scale, args.quick)
    print()
    close_to_the_floor(scale)


if __name__ == "__main__":
    main()
