"""Cost of the orchestrator's data-flow plan check against a plain loop over the same steps.

Run: ``.venv/bin/python benchmarks/bench_flow.py`` (``--quick`` for fewer repeats).

The plan check (``steprail._flow.check_flow``) runs once per ``Orchestrator.execute()``, before
the first step. For N = 1 000 and 100 000 trivial steps it times, alternately and as CPU time of
this process (``time.process_time``: the machine may be shared):

- the plain loop of ``benchmarks/bench_orchestrator.py`` (``can_skip``, ``execute``, the progress
  callback, results kept): the baseline;
- the check on a workflow of *undeclared* steps (what every existing workflow pays);
- the check on a workflow whose steps all declare a flow (three classes in a chain that
  requires and provides fields, repeated), which is accepted.

It prints each check's median time and its ratio to the plain loop's median (goal: at most 5 %
at 100 000 steps).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable

from steprail import BaseStep, BaseStepContext, RuntimeContext, StepResult
from steprail._flow import check_flow


class FlowBenchContext(BaseStepContext):
    """Three fields that flow from step to step."""

    raw: str = ""
    cleaned: str = ""
    summary: str = ""


class Trivial(BaseStep[FlowBenchContext]):
    """An undeclared step that does nothing but return a result."""

    def __init__(self, index: int, weight: float) -> None:
        self._name = f"step_{index}"
        self._weight = weight

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return self._weight

    def execute(self, context: FlowBenchContext) -> StepResult:
        return StepResult()


class Load(Trivial, requires=("raw",), provides=("cleaned",)):
    """Declared: reads an input, provides a field."""


class Clean(Trivial, requires=("cleaned",), provides=("cleaned", "summary")):
    """Declared: reads and rewrites a field, provides another."""


class Report(Trivial, requires=("summary",)):
    """Declared: reads what the others provide."""


def ignore_progress(current: int, total: int) -> None:
    pass


def plain_loop(steps: list[Trivial], context: FlowBenchContext) -> None:
    results = context.step_results
    total = len(steps)
    for index, step in enumerate(steps):
        if step.can_skip(context):
            continue
        results.append(step.execute(context))
        ignore_progress(index + 1, total)


def timed(run: Callable[[], None]) -> float:
    gc.collect()
    started = time.process_time()
    run()
    return time.process_time() - started


def measure(count: int, repeats: int) -> tuple[float, float, float]:
    """Medians of (plain loop, check of undeclared steps, check of declared steps), seconds."""
    undeclared = [Trivial(index, 1.0 / count) for index in range(count)]
    kinds = (Load, Clean, Report)
    declared: list[Trivial] = [kinds[index % 3](index, 1.0 / count) for index in range(count)]
    plain_times: list[float] = []
    unknown_times: list[float] = []
    declared_times: list[float] = []
    for _ in range(repeats):
        context = FlowBenchContext(runtime_ctx=RuntimeContext())
        plain_times.append(timed(lambda: plain_loop(undeclared, context)))
        unknown_times.append(timed(lambda: check_flow(undeclared, FlowBenchContext, ("raw",))))
        declared_times.append(timed(lambda: check_flow(declared, FlowBenchContext, ("raw",))))
    return statistics.median(plain_times), statistics.median(unknown_times), statistics.median(declared_times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    quick = parser.parse_args().quick
    print("Plan check (data flow) against a plain loop over the same steps, CPU-time medians")
    for count, repeats in ((1_000, 15 if quick else 61), (100_000, 5 if quick else 15)):
        plain, unknown, declared = measure(count, repeats)
        print(
            f"  N={count:>7,}: plain loop {plain * 1e3:8.2f} ms | check, undeclared steps "
            f"{unknown * 1e3:7.3f} ms ({unknown / plain:6.1%}) | check, declared steps "
            f"{declared * 1e3:7.3f} ms ({declared / plain:6.1%})"
        )
    print("  goal: the check at most 5% of the plain loop at N=100,000")


if __name__ == "__main__":
    main()
