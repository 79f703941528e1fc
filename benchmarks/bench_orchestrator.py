"""Orchestrator overhead against a plain loop over the same trivial steps.

Run: ``.venv/bin/python benchmarks/bench_orchestrator.py`` (``--quick`` for fewer repeats).

For N = 10, 1 000 and 100 000 steps it times ``Orchestrator.execute()`` and a plain loop that
calls ``can_skip``, ``execute`` and the progress callback on the same steps (keeping the results,
as the orchestrator must), alternating the two, and prints the median ratio. It also prints the
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

from steprail import BaseStep, BaseStepContext, Orchestrator, RuntimeContext, StepRegistry, StepResult


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
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    scale = 1 if args.quick else 3
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
