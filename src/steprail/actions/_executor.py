"""Where an action's lifecycle runs: the executor seam.

An executor takes a built action (its params, runtime and options chosen) and runs it, returning
the same :class:`~steprail.actions.ActionOutcome` as :meth:`BaseAction.run`. The default,
:class:`InProcessExecutor`, is that call; :class:`steprail.ray.RayExecutor` runs the action in a
Ray worker and replays what it reports into the action's runtime here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ._base import ActionOutcome, BaseAction

__all__ = ["Executor", "InProcessExecutor", "Resources"]


@runtime_checkable
class Executor(Protocol):
    """Runs an action's whole lifecycle (params validated, job recorded, steps run, final status)."""

    def run(self, action: BaseAction[Any]) -> ActionOutcome:
        """Run ``action`` once and return how it ended (as :meth:`BaseAction.run` does)."""
        ...


class InProcessExecutor:
    """Runs the action in this process, in this thread: exactly :meth:`BaseAction.run`."""

    def run(self, action: BaseAction[Any]) -> ActionOutcome:
        """``action.run()``."""
        return action.run()


@dataclass(frozen=True, slots=True)
class Resources:
    """What one run of an action needs from the machine that runs it.

    Declared on the action class (``resources = Resources(cpus=2, gpus=1)``). The in-process
    executor ignores it; :class:`steprail.ray.RayExecutor` asks Ray for it, so the action waits
    for a worker that has it free.

    Attributes:
        cpus: CPU cores (fractions allowed), 1 by default.
        gpus: GPUs (fractions allowed), 0 by default.
        memory: Bytes of memory to reserve, or ``None`` to reserve none.

    Raises:
        ValueError: a figure is negative, not finite, or ``memory`` is not a whole number.
    """

    cpus: float = 1.0
    gpus: float = 0.0
    memory: int | None = None

    def __post_init__(self) -> None:
        for name in ("cpus", "gpus"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ValueError(f"Resources.{name} must be a finite number >= 0, got {value!r}")
        memory: object = self.memory
        if memory is not None and (isinstance(memory, bool) or not isinstance(memory, int) or memory <= 0):
            raise ValueError(f"Resources.memory must be a whole number of bytes > 0 (or None), got {memory!r}")
