"""Shared pytest configuration: hypothesis profiles.

``ci`` is thorough and is what CI uses (``CI=true``); ``dev`` is quick for local runs.
Pick one explicitly with ``HYPOTHESIS_PROFILE=ci|dev``.
"""

import logging
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

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
