"""Preparing a resume: compare the workflow with the job's, restore the checkpoint, claim the job.

The job's fingerprint is what its record already holds: the params and the plan (each step's
position, name, class name and weight). A resume rebuilds the action's workflow from its params
and compares both; a difference is refused unless forced, and a forced one is recorded with the
attempt. Everything that can be refused is checked before the job is claimed, so a refused
resume changes nothing.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .._checkpoint import merge_checkpoints, restore_checkpoint
from .._result import StepResult
from ..jobs import ActionRuntime, JobRecord, JobStoreError, PlannedStep
from ..jobs._store import not_resumable, resume_point, to_json
from ._kept import KeptWorkError

if TYPE_CHECKING:
    from ._base import BaseAction, _Resumption

__all__ = ["WorkflowChangedError", "fingerprint_differences", "prepare_resume"]


class WorkflowChangedError(KeptWorkError):
    """The steps or params an action builds now differ from those of the job to resume.

    Attributes:
        differences: One line per difference (``step 2: was 'train' (Train, weight 1.0), now ...``,
            ``params.epochs: was 3, now 5``).
    """

    def __init__(self, job_id: int, differences: list[str]) -> None:
        self.differences = differences
        super().__init__(
            f"job {job_id} ran another workflow than this action builds now:\n  "
            + "\n  ".join(differences)
            + "\nresume with force=True (steprail jobs resume --force) to accept the difference"
        )


def fingerprint_differences(job: JobRecord, plan: list[PlannedStep], params: dict[str, Any]) -> list[str]:
    """How ``plan`` and ``params`` differ from what ``job`` recorded, one line each."""
    lines: list[str] = []
    for order in range(max(len(job.steps), len(plan))):
        was = job.steps[order] if order < len(job.steps) else None
        now = plan[order] if order < len(plan) else None
        before = "(none)" if was is None else f"{was.name!r} ({was.kind}, weight {was.weight:g})"
        after = "(none)" if now is None else f"{now.name!r} ({now.kind}, weight {now.weight:g})"
        if before != after:
            lines.append(f"step {order}: was {before}, now {after}")
    for key in sorted(job.params.keys() | params.keys()):
        if job.params.get(key) != params.get(key):
            was_text = json.dumps(job.params[key]) if key in job.params else "(none)"
            now_text = json.dumps(params[key]) if key in params else "(none)"
            lines.append(f"params.{key}: was {was_text}, now {now_text}")
    return lines


def prepare_resume(action: BaseAction[Any], job_id: int, *, force: bool) -> _Resumption:
    """Everything :meth:`BaseAction.resume` needs before it runs; see there."""
    from ._base import _Resumption

    runtime = action.runtime
    store = runtime.job_store() if isinstance(runtime, ActionRuntime) else None
    if store is None:
        raise JobStoreError(
            f"resuming job {job_id} needs a runtime that records into the job store (a JobRuntime, "
            f"alone or in a FanOutRuntime); {type(action).__name__} has {type(runtime).__name__}"
        )
    job = store.get(job_id, checkpoints=True)
    why = not_resumable(job)
    if why is not None:
        raise JobStoreError(f"job {job_id} ({job.status}) cannot be resumed: {why}")
    if action.action_name != job.action:
        raise KeptWorkError(f"job {job_id} ran {job.action}, not {action.action_name}")
    params: dict[str, Any] = json.loads(to_json(action.params.model_dump(mode="json")))
    try:
        workflow = action.build_workflow()
    except Exception as error:  # before the job is claimed: the record stays as it was
        raise KeptWorkError(
            f"job {job_id} cannot be resumed: {action.action_name}.build_workflow() failed:"
            f" {type(error).__name__}: {error}"
        ) from error
    if workflow is None:
        raise KeptWorkError(f"{action.action_name} runs no steps: there is nothing to resume from")
    plan = workflow.plan()
    differences = fingerprint_differences(job, plan, params)
    if differences and not force:
        raise WorkflowChangedError(job_id, differences)
    start = min(resume_point(job.steps), len(plan))
    restored: list[StepResult | None] = []
    # Each checkpoint holds the fields that changed since the one before: replay them in order.
    checkpoints: list[dict[str, Any]] = []
    for record in job.steps[:start]:
        if record.status == "skipped":
            restored.append(None)
        else:
            restored.append(StepResult(data=dict(record.data), rollback_data=dict(record.rollback_data or {})))
            if record.checkpoint is not None:
                checkpoints.append(record.checkpoint)
    if checkpoints:
        try:
            restore_checkpoint(workflow.context, merge_checkpoints(checkpoints))
        except ValueError as error:
            raise KeptWorkError(f"job {job_id} cannot be resumed: {error}") from error
    claimed = store.resume_job(job_id, params=params, plan=plan, forced="\n".join(differences) or None)
    if claimed.attempts[-1].from_step != start:
        raise JobStoreError(f"job {job_id} changed while it was being resumed; it reads as interrupted: resume it again")
    return _Resumption(claimed, workflow, restored)
