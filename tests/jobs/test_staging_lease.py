"""The local backend's staging sweep judges a folder by its lease (host, pid, process start), as
the job store judges a job: an import running for hours keeps its staging folder; a dead
process's folder goes at once."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from steprail.datasets import LocalBackend
from steprail.datasets._local import _staging_lease_name
from steprail.jobs._store import _process_started


def _age(folder: Path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(folder, (past, past))


def test_the_sweep_keeps_live_leases_however_old_and_removes_dead_ones_however_fresh(tmp_path: Path) -> None:
    root = tmp_path / "backend"
    LocalBackend(root).close()
    staging = root / "staging"
    live = staging / _staging_lease_name()  # this process: alive
    live.mkdir()
    (live / "item.json").write_text("{}")
    _age(live, 5 * 3600)  # an import running for five hours
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.2)"])
    started = _process_started(child.pid)
    child.wait()
    dead = staging / f"{socket.gethostname()}-{child.pid}-{started}-{'0' * 32}"
    dead.mkdir()  # fresh, but its process is gone
    old_legacy = staging / ("a" * 32)  # named before leases: judged by age
    old_legacy.mkdir()
    _age(old_legacy, 2 * 3600)
    new_legacy = staging / ("b" * 32)
    new_legacy.mkdir()
    LocalBackend(root).close()  # opening sweeps
    assert sorted(path.name for path in staging.iterdir()) == sorted([live.name, new_legacy.name])
    assert (live / "item.json").exists()


def test_a_lease_from_another_host_is_judged_by_age(tmp_path: Path) -> None:
    root = tmp_path / "backend"
    LocalBackend(root).close()
    staging = root / "staging"
    fresh = staging / f"other-host-1-123-{'c' * 32}"
    fresh.mkdir()
    old = staging / f"other-host-2-456-{'d' * 32}"
    old.mkdir()
    _age(old, 2 * 3600)
    LocalBackend(root).close()
    assert [path.name for path in staging.iterdir()] == [fresh.name]
