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
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from unittest import mock

from steprail._checkpoint import take_checkpoint
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
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
            with mock.patch("steprail.actions._base.take_checkpoint", side_effect=AssertionError) as never:
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
    print(f"one checkpoint of the demo's context: {per_checkpoint * 1e6:.1f} us; off: take_checkpoint never called")


if __name__ == "__main__":
    main()
