"""How long ``steprail --help`` takes, beside ``python -c pass``.

Run: ``.venv/bin/python benchmarks/bench_cli_startup.py`` (``--repeats N``, default 15).

Each command runs in a fresh process, the three kinds alternating so that load on a shared
machine falls on all of them alike: ``python -c pass`` (the interpreter's own start),
``steprail --help`` (the console script) and ``python -m steprail --help``. It prints each
one's median wall-clock time, the figure above the interpreter's start, and the ratio to it.
The goal is ``steprail --help`` in at most 0.3 s: the command imports the library (pydantic,
rich, the job store) only when a command runs.

Wall-clock time, not CPU time: what a user waits for includes the children's whole start. On a
busy machine the medians rise for all three; the differences stay meaningful.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

GOAL_SECONDS = 0.3


def _script() -> str:
    """The ``steprail`` console script beside this interpreter."""
    script = Path(sys.executable).with_name("steprail")
    if not script.exists():
        raise SystemExit(f"no steprail console script beside {sys.executable}: install the project first")
    return str(script)


def _time(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_ENV)
    return time.perf_counter() - started


# No terminal, no colour: the same output path every time.
_ENV = {**os.environ, "NO_COLOR": "1", "TERM": "dumb"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="Runs of each command (default 15).")
    args = parser.parse_args()
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "steprail --help": [_script(), "--help"],
        "python -m steprail --help": [sys.executable, "-m", "steprail", "--help"],
    }
    for command in commands.values():  # warm the file cache and the .pyc files
        _time(command)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.repeats):
        for name, command in commands.items():
            times[name].append(_time(command))
    medians = {name: statistics.median(values) for name, values in times.items()}
    base = medians["python -c pass"]
    print(f"fresh processes, {args.repeats} runs each, medians (wall clock)")
    for name, median in medians.items():
        extra = "" if name == "python -c pass" else f"  (+{median - base:.3f}s, {median / base:.1f}x python -c pass)"
        print(f"  {name:<28} {median:.3f}s{extra}")
    verdict = "met" if medians["steprail --help"] <= GOAL_SECONDS else "MISSED"
    print(f"goal: steprail --help <= {GOAL_SECONDS}s: {verdict}")


if __name__ == "__main__":
    main()
