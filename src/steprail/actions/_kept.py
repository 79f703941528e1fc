"""Rolling back, in a later process, the work a ``keep`` run left in place.

A run under the ``keep`` failure policy leaves its completed steps' work as it was and records,
for each, its result's ``data`` and ``rollback_data`` in the job store. :func:`roll_back_job`
rebuilds the action's steps from the job's params (``build_workflow``, i.e. ``setup_steps`` for
a training action), checks that they are the steps the job ran, and calls each completed step's
``rollback`` with a :class:`StepResult` rebuilt from what was stored, newest first.

What is not available in the new process: undo actions the steps registered with
``context.on_rollback`` while they ran (they were closures of the old process), and context
fields the old run set (the context is new, built from the params). A step whose work must be
undoable later therefore keeps in ``rollback_data`` everything its ``rollback`` needs.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .._errors import RollbackEntry
from .._orchestrator import error_text
from .._result import StepResult
from ..jobs import JobRecord, JobStore, JobStoreError, PlannedStep
from ..jobs._store import to_json
from ._plan import plan_steps

if TYPE_CHECKING:
    from ._base import BaseAction

__all__ = ["KeptWorkError", "roll_back_job", "workflow_differences"]


class KeptWorkError(JobStoreError):
    """The kept work of a job cannot be acted on with this action: another action, other params,
    or a workflow that is not the one the job ran. Nothing was changed."""


def workflow_differences(job: JobRecord, plan: list[PlannedStep]) -> list[str]:
    """How ``plan`` (the steps the action builds now) differs from the steps ``job`` ran, one
    line per difference (position, name, class), empty when they are the same."""
    lines: list[str] = []
    for order in range(max(len(job.steps), len(plan))):
        was = job.steps[order] if order < len(job.steps) else None
        now = plan[order] if order < len(plan) else None
        before = "(none)" if was is None else f"{was.name!r} ({was.kind})"
        after = "(none)" if now is None else f"{now.name!r} ({now.kind})"
        if before != after:
            lines.append(f"step {order}: was {before}, now {after}")
    return lines


def check_job_matches(action: BaseAction[Any], job: JobRecord, plan: list[PlannedStep]) -> None:
    """Refuse (:class:`KeptWorkError`) an action, params or steps other than the job's."""
    if action.action_name != job.action:
        raise KeptWorkError(f"job {job.id} ran {job.action}, not {action.action_name}")
    params = json.loads(to_json(action.params.model_dump(mode="json")))
    if params != job.params:
        changed = sorted(key for key in params.keys() | job.params.keys() if params.get(key) != job.params.get(key))
        raise KeptWorkError(
            f"job {job.id} ran with other params than this action's (differing: {', '.join(changed)}); "
            "build the action from the job's params (JobRecord.params)"
        )
    differences = workflow_differences(job, plan)
    if differences:
        raise KeptWorkError(
            f"the steps of {job.action} changed since job {job.id} ran:\n  " + "\n  ".join(differences)
        )


def roll_back_job(action: BaseAction[Any], store: JobStore, job_id: int) -> list[RollbackEntry]:
    """Roll back the work job ``job_id`` kept: each completed, not rolled back step's
    ``rollback``, newest first, with its stored result. See :meth:`BaseAction.roll_back_job`."""
    job = store.get(job_id)
    workflow = action.build_workflow()
    if workflow is None:
        raise KeptWorkError(f"{action.action_name} runs no steps: it has no step work to roll back")
    plan = workflow.plan()
    check_job_matches(action, job, plan)
    job = store.claim_kept_work(job_id)  # from here on neither a resume nor a second rollback
    steps = workflow.registry.get_steps()
    context = workflow.context
    fields = context.__dict__  # bookkeeping, as the orchestrator writes it: not validated
    entries: list[RollbackEntry] = []
    for record in reversed(job.kept_steps):
        fields["current_step"] = record.name
        fields["current_step_order"] = record.order
        result = StepResult(data=dict(record.data), rollback_data=dict(record.rollback_data or {}))
        try:
            steps[record.order].rollback(context, result)
        except Exception as error:
            entry = RollbackEntry(record.name, "rollback", record.name, error_text(error))
        else:
            entry = RollbackEntry(record.name, "rollback", record.name)
        entries.append(entry)
        store.step_rolled_back(job_id, record.order, entry.error)
    fields["current_step"] = None
    fields["current_step_order"] = None
    store.add_rollback(job_id, entries)
    return entries
