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
    baseline: Callable[[BenchContext], None], ours: Callable[[BenchContext], None], repeats: int, runs: int
) -> tuple[float, float, float]:
    """Median ratio, median baseline and median ours per run, alternating the two."""
    ratios: list[float] = []
    base_times: list[float] = []
    our_times: list[float] = []
    for _ in range(repeats):
        contexts = [BenchContext(runtime_ctx=RuntimeContext()) for _ in range(runs)]
        base = timed(lambda: run_all(baseline, contexts))
        contexts = [BenchContext(runtime_ctx=RuntimeContext()) for _ in range(runs)]
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

count, repeats, runs = (int(arg) for arg in sys.argv[1:4])

@dataclass
class Ctx(BaseStepContext):
    pass

class Step(BaseStep[Ctx]):
    def __init__(self, index, weight, fails):
        self._name = f"step_{index}"; self._weight = weight; self._fails = fails
    @property
    def name(self): return self._name
    @property
    def progress_weight(self): return self._weight
    def execute(self, context):
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


def synapse_failure_path(python: str, count: int, repeats: int, runs: int) -> tuple[float, float, float] | str:
    """The failure path under synapse-sdk, or why it could not be measured."""
    try:
        done = subprocess.run(
            [python, "-c", _SYNAPSE_SCRIPT, str(count), str(repeats), str(runs)],
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument(
        "--synapse-python",
        default=os.environ.get("STEPRAIL_BENCH_SYNAPSE_PYTHON"),
        help="a Python with synapse-sdk==2026.2.17 installed (for the failure-path comparison)",
    )
    args = parser.parse_args()
    scale = 1 if args.quick else 3
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
    count = 1_000
    repeats, runs = 7 * scale, 30
    failing = make_failing_steps(count)
    ratio, plain, ours = paired_ratio(
        lambda context: plain_failure_path(failing, context),
        lambda context: orchestrated_failure_path(failing, context),
        repeats,
        runs,
    )
    print(f"failure path, N = {count}, step N/2 fails, completed steps roll back (build included):")
    print(f"  steprail     {ours * 1e3:8.3f} ms/run   {ratio:6.2f}x its plain loop ({plain * 1e3:.3f} ms)")
    if args.synapse_python:
        measured = synapse_failure_path(args.synapse_python, count, repeats, runs)
        if isinstance(measured, str):
            print(f"  synapse-sdk  {measured}")
        else:
            their_ratio, their_plain, theirs = measured
            print(
                f"  synapse-sdk  {theirs * 1e3:8.3f} ms/run   {their_ratio:6.2f}x its plain loop ({their_plain * 1e3:.3f} ms),"
                f" same run; steprail is {'cheaper' if ratio < their_ratio else 'NOT cheaper'} by ratio"
            )
    else:
        print("  synapse-sdk  not measured: pass --synapse-python (a Python with synapse-sdk==2026.2.17)")
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
    repeats = 3 if args.quick else 7
    print(
        f"cold import (median of {repeats} fresh interpreters): steprail {cold_import('steprail', repeats) * 1e3:.0f} ms,"
        f" pydantic {cold_import('pydantic', repeats) * 1e3:.0f} ms"
    )


if __name__ == "__main__":
    main()
