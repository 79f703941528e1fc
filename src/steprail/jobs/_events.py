"""What an action tells its runtime besides logs, progress and metrics: the job's lifecycle.

:class:`ActionRuntime` is a :class:`~steprail.RuntimeContext` with extra hooks (job created,
started, each step started and finished, each rollback, job finished). The hooks do nothing by
default, so a sink overrides only what it needs. Actions call them on any runtime that is an
``ActionRuntime``; a plain ``RuntimeContext`` still gets logs, progress and metrics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

from .._errors import RollbackEntry
from .._runtime import RuntimeContext

if TYPE_CHECKING:
    from ._store import JobRecord, JobStore

__all__ = [
    "ActionRuntime",
    "JOB_TRANSITIONS",
    "JobOutcome",
    "JobState",
    "JobStatus",
    "PlannedStep",
    "StepOutcome",
    "StepStatus",
]

type JobStatus = Literal["pending", "running", "success", "failed", "cancelled"]
"""A job's recorded status. ``success`` is written only after the last step completed."""

type JobState = Literal["pending", "running", "success", "failed", "cancelled", "interrupted"]
"""A job's status as read back: ``interrupted`` is a ``running`` or ``pending`` job whose process
is gone, or whose Ray worker was recorded lost (it is derived on read, never written)."""

#: Every transition a job's record may make, defined once: a job is created ``pending``; it
#: starts ``running`` once its params are valid; it ends ``success``, ``failed`` or ``cancelled``
#: (``failed`` straight from ``pending`` when the params are invalid, ``cancelled`` when a signal
#: came before the run started). An ended job never changes again, with one exception outside
#: this table: a resume (``JobStore.resume_job``) makes a resumable ``failed``/``cancelled`` job,
#: or an ``interrupted`` one, ``running`` again as a new attempt. ``interrupted`` is never
#: written: it is how a ``pending``/``running`` record reads once its process has died.
JOB_TRANSITIONS: Final[Mapping[JobStatus, frozenset[JobStatus]]] = {
    "pending": frozenset({"running", "failed", "cancelled"}),
    "running": frozenset({"success", "failed", "cancelled"}),
    "success": frozenset(),
    "failed": frozenset(),
    "cancelled": frozenset(),
}

type StepStatus = Literal["pending", "running", "success", "failed", "skipped", "cancelled"]
"""A step's status within a job."""


@dataclass(frozen=True, slots=True)
class PlannedStep:
    """One step of an action's plan, as known before it runs.

    Attributes:
        order: 0-based position in the run.
        name: The step's name.
        weight: Its ``progress_weight`` as declared.
        share: Its share of the run's progress, from 0.0 to 1.0 (weights normalised by their sum,
            equal shares when they are all 0), as the orchestrator computes it.
        can_roll_back: Whether the step (or the step a wrapper wraps) overrides ``rollback``.
            Undo actions a step registers while it runs are not visible beforehand.
        kind: The step's class name.
    """

    order: int
    name: str
    weight: float
    share: float
    can_roll_back: bool
    kind: str


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """How one step of a job ended.

    Attributes:
        rollback_data: For a success, its result's ``rollback_data``: what the step's
            ``rollback`` needs to undo its work later, in another process (``None`` otherwise).
        checkpoint: For a success, when the run writes checkpoints, the context's saved fields
            after the step (``{"fields": {...}, "not_saved": [...]}``, see docs/resume.md).
    """

    order: int
    name: str
    status: StepStatus
    duration: float
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    rollback_data: dict[str, Any] | None = None
    checkpoint: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """How a job ended.

    Attributes:
        status: ``success``, ``failed`` or ``cancelled``.
        error: Why it failed or was cancelled.
        rollback: Every rollback attempt made, in order.
        summary: What the action returned (the orchestrator's summary for step-based actions).
        duration: Wall-clock seconds from start to end.
        traceback: The formatted traceback of the exception a step (or ``execute``) raised when
            that ended the job; ``None`` otherwise.
        resumable: The run failed or was cancelled under the ``keep`` failure policy: its
            completed steps' work was kept, to be resumed or rolled back later.
    """

    status: Literal["success", "failed", "cancelled"]
    error: str | None
    rollback: tuple[RollbackEntry, ...]
    summary: dict[str, Any]
    duration: float
    traceback: str | None = None
    resumable: bool = False


class ActionRuntime(RuntimeContext):
    """A runtime that also hears the job's lifecycle from the action that runs it.

    Every hook does nothing here; subclasses override the ones they care about.
    """

    @property
    def records_checkpoints(self) -> bool:
        """Whether this runtime keeps checkpoints (the action takes them only then)."""
        return False

    def job_store(self) -> JobStore | None:
        """The job store this runtime records the job in, if any (what a resume claims in)."""
        return None

    def job_resumed(self, job: JobRecord) -> None:
        """The run is a new attempt of ``job`` (as claimed: ``job.attempt`` is this attempt's
        number, ``job.attempts[-1].from_step`` the first step it runs). Called instead of
        :meth:`job_created`; :meth:`job_started` follows as for a new job."""

    def job_created(self, action: str, params: Mapping[str, Any]) -> None:
        """A job for ``action`` with the raw (not yet validated) ``params`` exists."""

    def job_started(self, params: Mapping[str, Any], steps: Sequence[PlannedStep]) -> None:
        """``params`` (now validated) are valid and the run starts with ``steps``."""

    def step_started(self, step: PlannedStep) -> None:
        """``step`` is about to run."""

    def step_finished(self, outcome: StepOutcome) -> None:
        """A step ended (succeeded, failed, was skipped or was cancelled)."""

    def step_retrying(self, step: PlannedStep, attempt: int, error: str, wait: float) -> None:
        """Attempt ``attempt`` of ``step`` failed with ``error`` (recorded by
        :meth:`step_finished`) and its undo actions ran; attempt ``attempt + 1`` starts in
        ``wait`` seconds (with a new :meth:`step_started`)."""

    def step_rolled_back(self, entry: RollbackEntry) -> None:
        """A step's rollback ended: its ``rollback`` and its undo actions ran. ``entry.error`` is
        ``None`` when all worked, else what failed; it starts with ``stopped: `` when a second
        signal cut the rollback short (the step's work may still be in place)."""

    def job_placed(self, executor: str, node: str, pid: int) -> None:
        """The job's action started running elsewhere: with ``executor`` (``ray``) on ``node``,
        in process ``pid``. Only executors other than the in-process one call it, between
        :meth:`job_created` and :meth:`job_started`."""

    def job_lost(self, cause: str) -> None:
        """The process running the job's action was lost (it died, or its node did) before the
        job ended: ``cause`` says how. Nothing is reported after this (no :meth:`job_finished`)."""

    def job_finished(self, outcome: JobOutcome) -> None:
        """The job ended; nothing is reported after this."""
