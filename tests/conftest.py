"""Shared pytest configuration: hypothesis profiles.

``ci`` is thorough and is what CI uses (``CI=true``); ``dev`` is quick for local runs.
Pick one explicitly with ``HYPOTHESIS_PROFILE=ci|dev``.
"""

import logging
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

if TYPE_CHECKING:
    from tests._ray_cluster import RayCluster

settings.register_profile(
    "ci",
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("dev", max_examples=40, deadline=None)

_default_profile = "ci" if os.environ.get("CI") else "dev"
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", _default_profile))


@pytest.fixture(autouse=True)
def _steprail_loggers_restored() -> Iterator[None]:
    """Scripts run in-process (the docs' examples) may attach handlers to the ``steprail``
    loggers or change their levels; each test leaves them as they were (a logger first made
    during the test goes back to a fresh logger's settings)."""

    def steprail_loggers() -> list[logging.Logger]:
        names = [name for name in logging.root.manager.loggerDict if name.startswith("steprail")]
        return [logging.getLogger(name) for name in ["steprail", *names]]

    saved = {logger.name: (list(logger.handlers), logger.level, logger.propagate) for logger in steprail_loggers()}
    yield
    for logger in steprail_loggers():
        handlers, level, propagate = saved.get(logger.name, ([], logging.NOTSET, True))
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator["RayCluster"]:
    """A local Ray cluster shared by every ``ray`` test of this pytest process (started on first
    use, stopped at the end). The test process is not connected to it: a test that needs a
    driver here calls ``ray.init(address=ray_cluster.address)`` (see ``ray_driver``)."""
    from tests._ray_cluster import cluster_session

    yield from cluster_session()


@pytest.fixture
def ray_driver(ray_cluster: "RayCluster") -> "RayCluster":
    """This process connected to the shared cluster as a driver (kept connected across tests)."""
    import ray

    if not ray.is_initialized():
        ray.init(address=ray_cluster.address, log_to_driver=False)
    return ray_cluster
