"""Rollback time of one failed step that registered many undo actions: linear or not.

Run: ``.venv/bin/python benchmarks/bench_undo_rollback.py`` (``--repeats N``, default 5).

A step registers N undo actions (``context.on_rollback``) and fails; the run rolls it back. It
times, alternately, N = 5,000 (the baseline) and N = 20,000 and prints the medians and their
ratio: about 4 when rollback is linear in the undo actions, about 16 when it is quadratic (it was,
before the report stopped rescanning itself on every appended entry: 20 s for 20,000).
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from dataclasses import dataclass, field

from steprail import BaseStep, BaseStepContext, Orchestrator, RuntimeContext, StepFailedError, StepRegistry, StepResult


@dataclass
class Journal(BaseStepContext):
    undone: list[int] = field(default_factory=list)


class RegisterThenFail(BaseStep[Journal]):
    def __init__(self, count: int) -> None:
        self.count = count

    @property
    def name(self) -> str:
        return "register"

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: Journal) -> StepResult:
        for number in range(self.count):
            context.on_rollback(functools.partial(context.undone.append, number), label="undo")
        raise OSError("fail after registering the undo actions")


def rolled_back_in(count: int) -> float:
    """Seconds to run and roll back one step with ``count`` undo actions."""
    registry = StepRegistry[Journal]()
    registry.register(RegisterThenFail(count))
    context = Journal(runtime_ctx=RuntimeContext())
    began = time.perf_counter()
    try:
        Orchestrator(registry, context, lambda current, total: None).execute()
    except StepFailedError:
        pass
    elapsed = time.perf_counter() - began
    assert len(context.undone) == count
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    arguments = parser.parse_args()
    small, large = 5_000, 20_000
    timings: dict[int, list[float]] = {small: [], large: []}
    for _ in range(arguments.repeats):
        for count in (small, large):
            timings[count].append(rolled_back_in(count))
    medians = {count: statistics.median(times) for count, times in timings.items()}
    for count, median in medians.items():
        print(f"{count:>6} undo actions: {median * 1000:8.1f} ms (median of {arguments.repeats})")
    print(f"ratio {large}/{small}: {medians[large] / medians[small]:.1f} (linear ~4, quadratic ~16)")


if __name__ == "__main__":
    main()
