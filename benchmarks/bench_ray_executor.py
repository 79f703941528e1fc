"""What running an action on Ray costs: a tiny job in-process against the same job on Ray.

Run: ``.venv/bin/python benchmarks/bench_ray_executor.py`` (``--runs N``, 7 by default;
``--reports N``, 1000 by default, for the per-event cost).

It starts a local Ray cluster (``ray.init(num_cpus=2)``, timed and reported apart), then runs
``TinyAction`` (one ``execute``, one progress report) alternately with ``InProcessExecutor`` and
``RayExecutor``, each recorded by a ``JobRuntime`` in a fresh job store, and prints the median
wall-clock time of each and their ratio. A second pair runs the action with ``--reports``
progress reports, to show the cost of one event (a round trip from the worker to the driver,
which records it before answering) against the in-process cost (a store write).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from _ray_tiny_action import TinyAction

from steprail.actions import Executor, InProcessExecutor
from steprail.jobs import JobRuntime, JobStore
from steprail.ray import RayExecutor


def _timed(executor: Executor, folder: Path, reports: int) -> float:
    with JobStore(folder / f"jobs-{time.monotonic_ns()}.sqlite3") as store:
        action = TinyAction({"reports": reports}, runtime=JobRuntime(store))
        began = time.perf_counter()
        outcome = executor.run(action)
        elapsed = time.perf_counter() - began
    outcome.raise_for_status()
    return elapsed


def _pair(ray: Executor, folder: Path, runs: int, reports: int) -> tuple[float, float]:
    local: list[float] = []
    remote: list[float] = []
    for run in range(runs):
        # Alternate which goes first, so that neither always runs on a warmer machine.
        order = [(local, InProcessExecutor()), (remote, ray)]
        for times, executor in order if run % 2 == 0 else reversed(order):
            times.append(_timed(executor, folder, reports))
    return statistics.median(local), statistics.median(remote)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--reports", type=int, default=1000)
    args = parser.parse_args()
    import ray

    began = time.perf_counter()
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"working_dir": str(Path(__file__).parent)},  # the workers import _ray_tiny_action
    )
    print(f"local Ray cluster started in {time.perf_counter() - began:.2f}s (not counted below)")
    executor = RayExecutor()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            _timed(executor, folder, 1)  # the first task also starts a worker process: warm-up
            local, remote = _pair(executor, folder, args.runs, 1)
            print(f"tiny job, median of {args.runs}: in-process {local * 1000:.1f} ms, ray {remote * 1000:.1f} ms,"
                  f" ratio {remote / local:.1f}x (+{(remote - local) * 1000:.1f} ms per job)")
            local_n, remote_n = _pair(executor, folder, max(3, args.runs // 2), args.reports)
            per_local = (local_n - local) / args.reports * 1e6
            per_remote = (remote_n - remote) / args.reports * 1e6
            print(f"{args.reports} progress reports: in-process {local_n * 1000:.1f} ms, ray {remote_n * 1000:.1f} ms;"
                  f" per report {per_local:.0f} us in-process, {per_remote:.0f} us on ray")
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
