"""A short run of benchmarks/chaos.py: real ``steprail run`` processes stopped by SIGTERM, a
double SIGTERM and kill -9 at random moments, and several writers at once, all consistent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CHAOS = Path(__file__).parents[2] / "benchmarks" / "chaos.py"


@pytest.mark.skipif(sys.platform != "linux", reason="signals and /proc leases as on Linux")
def test_a_short_chaos_run_ends_consistently_in_every_trial() -> None:
    done = subprocess.run(
        [sys.executable, str(CHAOS), "--trials", "2", "--parallel", "3", "--seed", "7", "--json",
         "--only", "sigterm", "--only", "double", "--only", "kill9", "--only", "writers"],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert [entry["trials"] for entry in figures] == [2, 2, 2, 2]
    assert all(entry["consistent"] == entry["trials"] for entry in figures), figures
