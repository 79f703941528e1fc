"""The shared local cluster the ``ray`` tests run on works: tasks run in worker processes."""

import os

import pytest
import ray

from tests._ray_cluster import RayCluster

pytestmark = pytest.mark.ray


@ray.remote
def _pid_and_double(value: int) -> tuple[int, int]:
    return os.getpid(), value * 2


def test_tasks_run_in_other_processes(ray_driver: RayCluster) -> None:
    results = ray.get([_pid_and_double.remote(n) for n in range(4)])
    assert [doubled for _, doubled in results] == [0, 2, 4, 6]
    assert all(pid != os.getpid() for pid, _ in results)
