"""Per-step cost of a time limit (``TimeLimitStep``) in the main thread.

Run: ``.venv/bin/python benchmarks/bench_time_limits.py`` (``--quick`` for fewer repeats;
``--before REV`` to time, in the same run, the ``_timeout.py`` of a git revision as well, e.g.
``--before 85e1a6b`` for the SIGALRM/setitimer design the watchdog replaced).

It times, alternately and in wall-clock time (the watchdog is another thread; the machine may be
shared, so it quotes medians), batches of a trivial step's ``execute``:

- bare: the step itself (the baseline);
- limited: the same step under ``TimeLimitStep(step, 60)`` (the limit never passes);
- nested: a limited step inside another limited step (two limits per call);
- before (with ``--before``): the same as *limited* with the older implementation.

It prints each median per call, the cost of the limit (limited minus bare) and the ratios.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from steprail import BaseStep, BaseStepContext, RuntimeContext, StepResult, TimeLimitStep

REPO = Path(__file__).resolve().parent.parent


class BenchContext(BaseStepContext):
    """No fields: the step does nothing with its context."""


class Trivial(BaseStep[BenchContext]):
    """Returns a result and nothing else."""

    name = "trivial"
    progress_weight = 1.0

    def execute(self, context: BenchContext) -> StepResult:
        return StepResult()


class Nested(BaseStep[BenchContext]):
    """Runs ``inner`` (a limited step) as its work."""

    name = "nested"
    progress_weight = 1.0

    def __init__(self, inner: BaseStep[BenchContext]) -> None:
        self.inner = inner

    def execute(self, context: BenchContext) -> StepResult:
        return self.inner.execute(context)


def load_revision(revision: str) -> ModuleType:
    """``src/steprail/_timeout.py`` as it was at ``revision``, as a module of the ``steprail``
    package (its relative imports resolve to today's package)."""
    source = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{revision}:src/steprail/_timeout.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "_timeout_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("steprail._timeout_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def per_call(step: BaseStep[BenchContext], context: BenchContext, calls: int) -> float:
    """Seconds per ``step.execute(context)`` over a batch of ``calls``."""
    execute = step.execute
    gc.collect()
    started = time.perf_counter()
    for _ in range(calls):
        execute(context)
    return (time.perf_counter() - started) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--before", metavar="REV", help="also time _timeout.py at this git revision")
    arguments = parser.parse_args()
    repeats, calls = (5, 2_000) if arguments.quick else (21, 5_000)
    context = BenchContext(runtime_ctx=RuntimeContext())
    variants: dict[str, BaseStep[BenchContext]] = {
        "bare": Trivial(),
        "limited": TimeLimitStep(Trivial(), 60),
        "nested": TimeLimitStep(Nested(TimeLimitStep(Trivial(), 60)), 60),
    }
    if arguments.before:
        before_class: Callable[[BaseStep[BenchContext], float], BaseStep[BenchContext]]
        before_class = load_revision(arguments.before).TimeLimitStep
        variants["before"] = before_class(Trivial(), 60)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, step in variants.items():
            times[name].append(per_call(step, context, calls))
    median = {name: statistics.median(values) for name, values in times.items()}
    bare = median["bare"]
    print(f"Time limit per step, wall-clock medians of {repeats} batches of {calls:,} calls")
    for name, value in median.items():
        cost = value - bare
        print(f"  {name:<8} {value * 1e6:8.2f} µs/call  limit cost {cost * 1e6:7.2f} µs  ({value / bare:5.1f}× bare)")
    if "before" in median:
        ratio = (median["limited"] - bare) / (median["before"] - bare)
        print(f"  cost of a limit, watchdog / before: {ratio:.2f}")


if __name__ == "__main__":
    main()
