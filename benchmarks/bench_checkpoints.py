"""What checkpoints cost: the demo workflow with checkpoints on, against the same run without.

Run: ``.venv/bin/python benchmarks/bench_checkpoints.py`` (``--repeats N``, 15 by default).

The demo workflow is what ``steprail demo`` runs: ``AnchorBoxTrainAction`` (export the dataset,
convert it to YOLO, fit anchors, upload the model) on the 40-item sample dataset in a local
backend, recorded by a ``JobRuntime`` in a job store. Each repeat runs it twice, once with
``checkpoints=True`` (the default: the context's fields saved with each step's success, in the
same transaction) and once with ``checkpoints=False``, alternating which goes first, each in a
new work folder. It prints the median wall-clock time of each and their ratio (the goal: at most
1.10), then the cost of one checkpoint of the demo's context alone (``take_checkpoint``), and
checks that a run with checkpoints off calls ``take_checkpoint`` not at all.

Then the large-field case: a 10-step keep action whose context holds a 5 MB ``str`` field set by
its first step and never changed, run with checkpoints on and off (``--large-repeats``, 3 by
default). Each run stops at its last step (a failure, so the checkpoints stay for a resume) and
the store's checkpoint bytes and the run's wall-clock time are printed: only the fields that
changed are saved with each step, so the field is stored once, not ten times.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from pydantic import BaseModel

from steprail import BaseStep, BaseStepContext, RuntimeContext, StepRegistry, StepResult
from steprail._checkpoint import take_checkpoint
from steprail.actions import BaseAction, Workflow
from steprail.actions.anchors import AnchorBoxTrainAction
from steprail.datasets import LocalBackend, make_sample_dataset
from steprail.jobs import JobRuntime, JobStore


def _run(backend: LocalBackend, store: JobStore, dataset: int, work: Path, checkpoints: bool) -> float:
    params = {"dataset": dataset, "clusters": 5, "iterations": 30, "seed": 0}
    action = AnchorBoxTrainAction(
        params, runtime=JobRuntime(store), client=backend, work_dir=work, checkpoints=checkpoints
    )
    began = time.perf_counter()
    outcome = action.run()
    elapsed = time.perf_counter() - began
    outcome.raise_for_status()
    return elapsed


LARGE_FIELD = 5_000_000
LARGE_STEPS = 10


@dataclass
class _LargeContext(BaseStepContext):
    blob: str = ""
    count: int = 0


class _LargeStep(BaseStep[_LargeContext]):
    def __init__(self, order: int) -> None:
        self.order = order

    @property
    def name(self) -> str:
        return f"step-{self.order}"

    @property
    def progress_weight(self) -> float:
        return 1.0

    def execute(self, context: _LargeContext) -> StepResult:
        if self.order == 0:
            context.blob = "x" * LARGE_FIELD
        if self.order == LARGE_STEPS - 1:
            raise RuntimeError("the last step fails: the checkpoints stay for a resume")
        context.count += 1
        return StepResult()


class _LargeParams(BaseModel):
    pass


class _LargeAction(BaseAction[_LargeParams]):
    on_failure = "keep"

    def build_workflow(self) -> Workflow[_LargeContext]:
        registry = StepRegistry[_LargeContext]()
        for order in range(LARGE_STEPS):
            registry.register(_LargeStep(order))
        return Workflow(registry, _LargeContext(runtime_ctx=RuntimeContext()))


def _large_run(path: Path, checkpoints: bool) -> tuple[float, int]:
    with JobStore(path) as store:
        runtime = JobRuntime(store)
        began = time.perf_counter()
        outcome = _LargeAction({}, runtime=runtime, checkpoints=checkpoints).run()
        elapsed = time.perf_counter() - began
        assert outcome.status == "failed" and runtime.job_id is not None
    with sqlite3.connect(path) as conn:
        stored = conn.execute(
            "SELECT COALESCE(SUM(LENGTH(checkpoint)), 0) FROM steps WHERE job_id = ?", (runtime.job_id,)
        ).fetchone()[0]
    return elapsed, int(stored)


def _large_case(root: Path, repeats: int) -> None:
    times: dict[bool, list[float]] = {True: [], False: []}
    stored: dict[bool, int] = {}
    for repeat in range(repeats):
        for checkpoints in ([True, False] if repeat % 2 == 0 else [False, True]):
            seconds, stored[checkpoints] = _large_run(root / f"large-{repeat}-{checkpoints}.sqlite3", checkpoints)
            times[checkpoints].append(seconds)
    print(f"large field: {LARGE_FIELD / 1e6:g} MB str x {LARGE_STEPS} steps, {repeats} repeats (medians)")
    for checkpoints in (False, True):
        label = "on: " if checkpoints else "off:"
        print(
            f"  checkpoints {label} {statistics.median(times[checkpoints]) * 1000:8.1f} ms,"
            f" checkpoint bytes in the store {stored[checkpoints] / 1e6:7.2f} MB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--large-repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root_text:
        root = Path(root_text)
        sample = root / "sample"
        make_sample_dataset(sample, items=40, seed=0)
        with LocalBackend(root / "backend") as backend, JobStore(root / "jobs.sqlite3") as store:
            dataset = backend.import_dataset(sample, name="bench").dataset.id
            on: list[float] = []
            off: list[float] = []
            runs = 0
            for repeat in range(args.repeats + 1):  # the first pair warms up and is dropped
                order = [True, False] if repeat % 2 == 0 else [False, True]
                for checkpoints in order:
                    runs += 1
                    seconds = _run(backend, store, dataset, root / f"work-{runs}", checkpoints)
                    if repeat > 0:
                        (on if checkpoints else off).append(seconds)
            with mock.patch("steprail.actions._base.CheckpointDeltas.take", side_effect=AssertionError) as never:
                _run(backend, store, dataset, root / "work-off", False)
            assert never.call_count == 0
            context = AnchorBoxTrainAction(
                {"dataset": dataset}, client=backend, work_dir=root / "work-ctx"
            ).create_context()
            context.dataset = {"path": str(root), "format": "yolo", "classes": ["a", "b", "c"], "count": 40}
            loops = 2000
            began = time.perf_counter()
            for _ in range(loops):
                take_checkpoint(context)
            per_checkpoint = (time.perf_counter() - began) / loops
    median_on, median_off = statistics.median(on), statistics.median(off)
    print(f"demo workflow, {args.repeats} repeats (wall clock, medians)")
    print(f"  checkpoints off: {median_off * 1000:8.2f} ms")
    print(f"  checkpoints on:  {median_on * 1000:8.2f} ms")
    print(f"  ratio on/off:    {median_on / median_off:8.3f}  (goal <= 1.10)")
    print(f"one checkpoint of the demo's context: {per_checkpoint * 1e6:.1f} us; off: no checkpoint taken")
    with tempfile.TemporaryDirectory() as root_text:
        _large_case(Path(root_text), args.large_repeats)


if __name__ == "__main__":
    main()
