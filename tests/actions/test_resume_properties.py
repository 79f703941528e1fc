"""Property: fail -> resume ends where an uninterrupted run ends, running no completed step twice.

For any workflow of deterministic steps (some skipped), any failing step and either way of
failing (raising, returning a failed result), a ``keep`` run that fails there and is then
resumed leaves the same context fields and the same step results as a run that never failed;
each step runs exactly once, except the failed one, which runs once more.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from steprail import BaseStep, BaseStepContext, RuntimeContext, StepRegistry, StepResult
from steprail.actions import BaseAction, Workflow
from steprail.jobs import JobRuntime, JobStore

# What the current example injects: the steps that fail, and every execution, by step name.
FAILING: dict[str, str] = {}
EXECUTIONS: Counter[str] = Counter()


class ChainParams(BaseModel):
    steps: list[tuple[str, float, bool]]  # name, weight, skipped


@dataclass
class ChainContext(BaseStepContext):
    trail: list[str] = field(default_factory=list)
    total: int = 0
    last: str | None = None


class ChainStep(BaseStep[ChainContext]):
    def __init__(self, name: str, weight: float, skipped: bool) -> None:
        self._name, self._weight, self._skipped = name, weight, skipped

    @property
    def name(self) -> str:
        return self._name

    @property
    def progress_weight(self) -> float:
        return self._weight

    def can_skip(self, context: ChainContext) -> bool:
        return self._skipped

    def execute(self, context: ChainContext) -> StepResult:
        EXECUTIONS[self._name] += 1
        how = FAILING.pop(self._name, None)
        context.trail = [*context.trail, f"{self._name}:{context.total}"]
        context.total += len(self._name)
        if how == "raise":
            raise RuntimeError(f"{self._name} failed")
        if how == "result":
            return StepResult(success=False, error=f"{self._name} failed")
        context.last = self._name
        return StepResult(data={"total": context.total}, rollback_data={"name": self._name})


class ChainAction(BaseAction[ChainParams]):
    on_failure = "keep"

    def build_workflow(self) -> Workflow[ChainContext]:
        registry = StepRegistry[ChainContext]()
        for name, weight, skipped in self.params.steps:
            registry.register(ChainStep(name, weight, skipped))
        return Workflow(registry, ChainContext(runtime_ctx=RuntimeContext()))


def _fields(context: object) -> tuple[list[str], int, str | None, list[dict[str, object]], list[bool]]:
    assert isinstance(context, ChainContext)
    return (
        context.trail,
        context.total,
        context.last,
        [dict(r.data) for r in context.step_results],
        [r.skipped for r in context.step_results],
    )


workflows = st.lists(
    st.tuples(st.sampled_from([0.0, 0.1, 0.25, 1.0]), st.booleans()), min_size=1, max_size=6
).map(lambda specs: [(f"s{i}", weight, skipped) for i, (weight, skipped) in enumerate(specs)])


@given(workflow=workflows, data=st.data())
def test_fail_then_resume_matches_an_uninterrupted_run(
    workflow: list[tuple[str, float, bool]], data: st.DataObject
) -> None:
    runnable = [name for name, _, skipped in workflow if not skipped]
    params = {"steps": workflow}
    FAILING.clear()
    EXECUTIONS.clear()
    reference = ChainAction(params).run()
    assert reference.ok
    expected = _fields(reference.context)
    if not runnable:
        return
    failing = data.draw(st.sampled_from(runnable), label="failing step")
    FAILING[failing] = data.draw(st.sampled_from(["raise", "result"]), label="how")
    EXECUTIONS.clear()
    with tempfile.TemporaryDirectory() as folder, JobStore(Path(folder) / "jobs.sqlite3") as store:
        first = JobRuntime(store)
        failed = ChainAction(params, runtime=first).run()
        assert failed.status == "failed" and failed.resumable and first.job_id is not None
        progress_before = store.get(first.job_id).progress
        resumed = ChainAction(params, runtime=JobRuntime(store)).resume(first.job_id)
        assert resumed.ok, resumed.error
        job = store.get(first.job_id)
    assert _fields(resumed.context) == expected
    assert EXECUTIONS == Counter({name: 2 if name == failing else 1 for name in runnable})
    assert job.progress == 100 >= progress_before
    assert [s.status for s in job.steps] == ["skipped" if skipped else "success" for _, _, skipped in workflow]
