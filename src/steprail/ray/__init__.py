"""Run actions on a Ray cluster (the ``steprail[ray]`` extra).

:class:`RayExecutor` runs an action's lifecycle in a Ray worker, with the resources the action
declares, while this process (the driver) records the job: every hook, log, progress and
metrics report the worker makes is replayed here, so the job store, the console and the
JSON-lines log see the same job as in-process. See docs/ray.md.
"""

from .._extras import require_extra

require_extra("ray", "steprail.ray")

from ._executor import ClusterUnreachableError, CodeNotShippableError, RayExecutor, WorkerLostError  # noqa: E402  (after the extra check)

__all__ = ["ClusterUnreachableError", "CodeNotShippableError", "RayExecutor", "WorkerLostError"]
