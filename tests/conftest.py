"""Shared pytest configuration: hypothesis profiles.

``ci`` is thorough and is what CI uses (``CI=true``); ``dev`` is quick for local runs.
Pick one explicitly with ``HYPOTHESIS_PROFILE=ci|dev``.
"""

import os

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
