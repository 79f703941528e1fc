"""The executor seam: the in-process executor is ``action.run()``; resources are checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from steprail.actions import Executor, InProcessExecutor, Resources
from steprail.jobs import JobRuntime, JobStore
from tests.actions.test_actions import CountingAction


def test_the_in_process_executor_runs_and_records_the_action_here(tmp_path: Path) -> None:
    executor: Executor = InProcessExecutor()
    assert isinstance(executor, Executor)
    with JobStore(tmp_path / "jobs.sqlite3") as store:
        runtime = JobRuntime(store)
        outcome = executor.run(CountingAction({"name": "ab", "count": 2}, runtime=runtime))
        assert outcome.ok and outcome.summary == {"echo": "abab"}
        assert runtime.job_id is not None
        job = store.get(runtime.job_id)
        assert (job.status, job.executor, job.node, job.worker_pid) == ("success", "in-process", None, None)


def test_an_action_asks_for_one_cpu_unless_it_declares_more() -> None:
    assert CountingAction.resources == Resources(cpus=1.0, gpus=0.0, memory=None)
    assert Resources(cpus=0.5, gpus=2, memory=1 << 30).memory == 1 << 30


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"cpus": -1}, "Resources.cpus must be a finite number >= 0, got -1"),
        ({"gpus": float("nan")}, "Resources.gpus must be a finite number >= 0, got nan"),
        ({"cpus": True}, "Resources.cpus must be a finite number >= 0, got True"),
        ({"memory": 0}, "Resources.memory must be a whole number of bytes > 0 (or None), got 0"),
        ({"memory": 1.5}, "Resources.memory must be a whole number of bytes > 0 (or None), got 1.5"),
    ],
)
def test_bad_resources_are_refused_naming_the_field(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as error:
        Resources(**fields)  # type: ignore[arg-type]  # wrong types on purpose
    assert str(error.value) == message
