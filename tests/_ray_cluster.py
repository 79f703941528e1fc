"""A local Ray cluster for the tests marked ``ray``: started once per pytest process, on demand.

The head node runs as ``ray start --head --block`` in its own process group with its own temp
folder, so stopping it (SIGTERM to the group) takes down this cluster only, never another one
on the machine (``ray stop`` would stop every cluster of the user). Tests connect through the
address it prints: in-process with ``ray.init(address=...)`` and in subprocesses (the
``steprail`` command line) with ``RAY_ADDRESS``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Ray 2.60 turns token authentication on for a head started while ~/.ray/auth_token exists
# (any local ray.init() writes one), and clients that do not read it then cannot connect. These
# test clusters run on this machine only: authentication is off for the head and its clients.
_NO_TOKEN_AUTH = {"RAY_AUTH_MODE": "disabled"}
_ADDRESS = re.compile(r"ray start --address='([^']+)'")
_START_TIMEOUT = 120.0


@dataclass(frozen=True)
class RayCluster:
    """A running local cluster: where to connect, and the folder its logs are in."""

    address: str
    temp_dir: Path


def _ray_executable() -> str:
    found = Path(sys.executable).with_name("ray")
    if not found.exists():
        raise RuntimeError(f"the ray command line is not installed next to {sys.executable} (uv sync installs the [ray] extra)")
    return str(found)


def start_cluster(num_cpus: int = 2) -> tuple[RayCluster, subprocess.Popen[str]]:
    # Short path: Ray puts unix sockets under it (the path limit is ~107 bytes).
    temp_dir = Path(tempfile.mkdtemp(prefix="sr-ray-", dir="/tmp"))
    log = (temp_dir / "head.log").open("w+")
    process = subprocess.Popen(
        [
            _ray_executable(), "start", "--head", "--block", "--port", "0",
            "--num-cpus", str(num_cpus), "--include-dashboard=false", "--disable-usage-stats",
            "--temp-dir", str(temp_dir),
        ],
        stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0", **_NO_TOKEN_AUTH},
    )
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        text = (temp_dir / "head.log").read_text()
        found = _ADDRESS.search(text)
        if found:
            return RayCluster(found.group(1), temp_dir), process
        if process.poll() is not None:
            raise RuntimeError(f"ray start exited with {process.returncode}:\n{text[-4000:]}")
        time.sleep(0.2)
    stop_cluster(process, temp_dir)
    raise RuntimeError(f"the local Ray cluster did not start in {_START_TIMEOUT:.0f}s")


def stop_cluster(process: subprocess.Popen[str], temp_dir: Path) -> None:
    # A SIGTERM makes the head "drain" for up to 30 s, even when idle; the tests are done with
    # it, so after a short grace the whole group (head, raylet, GCS, workers) is killed.
    for signum, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 30.0)):
        try:
            os.killpg(process.pid, signum)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # children that outlived the head
    shutil.rmtree(temp_dir, ignore_errors=True)


def cluster_session() -> Iterator[RayCluster]:
    os.environ.update(_NO_TOKEN_AUTH)  # this process's driver and the commands it starts
    cluster, process = start_cluster()
    try:
        yield cluster
    finally:
        import ray

        if ray.is_initialized():
            ray.shutdown()
        stop_cluster(process, cluster.temp_dir)
