"""A job you can cancel: SIGTERM or Ctrl-C stops the running step, rolls back, records ``cancelled``.

Run it: ``python examples/cancellable_job.py`` runs the action as a recorded job and sends itself
SIGINT (what Ctrl-C sends) half a second into the slow step; it prints the outcome and the
record. From the command line, stop it yourself::

    steprail run examples/cancellable_job.py:SlowJob -p folder=/tmp/out -p seconds=30
    # press Ctrl-C (or: kill <pid>): exit code 130, the job is recorded as cancelled
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from steprail import BaseStep, BaseStepContext, StepRegistry, StepResult
from steprail.actions import ActionOutcome, BaseAction, Workflow
from steprail.jobs import ConsoleRuntime, FanOutRuntime, JobRecord, JobRuntime, JobStore


class SlowParams(BaseModel):
    """Where to write, and how long the slow step takes."""

    folder: str
    seconds: float = 5.0


@dataclass
class JobContext(BaseStepContext):
    """The params and the files made so far."""

    folder: str = ""
    seconds: float = 0.0
    made: list[str] = field(default_factory=list)


class WriteDraftStep(BaseStep[JobContext]):
    """Writes ``draft.txt`` into ``folder``, creating the folder (and its parents) if needed.

    Rollback removes the draft, then the folders this step created, deepest first. A folder that
    existed before the run is left in place.
    """

    @property
    def name(self) -> str:
        return "write_draft"

    @property
    def progress_weight(self) -> float:
        return 0.1

    def execute(self, context: JobContext) -> StepResult:
        folder = Path(context.folder)
        made = _missing_folders(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if made:
            # Registered as soon as the folders exist: it runs if the write below fails, and after
            # rollback() (which removes the draft first) if a later step fails.
            context.on_rollback(lambda: _remove_folders(made), label=f"remove {made[-1]}")
        draft = folder / "draft.txt"
        draft.write_text("work in progress\n")
        context.made = [*context.made, str(draft)]
        return StepResult(data={"draft": str(draft)}, rollback_data={"draft": str(draft)})

    def rollback(self, context: JobContext, result: StepResult) -> None:
        Path(str(result.rollback_data["draft"])).unlink(missing_ok=True)
        context.log("draft_removed", {"path": result.rollback_data["draft"]})


def _missing_folders(folder: Path) -> list[Path]:
    """The folders ``mkdir(parents=True)`` would create for ``folder``, deepest first."""
    missing: list[Path] = []
    current = folder.absolute()
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    return missing


def _remove_folders(folders: list[Path]) -> None:
    # rmdir, not rmtree: a file someone else put there since is kept, and the OSError
    # ("Directory not empty") shows up in the rollback report instead of the file vanishing.
    for folder in folders:
        folder.rmdir()


class SlowStep(BaseStep[JobContext]):
    """Takes ``seconds``, reporting progress ten times a second."""

    @property
    def name(self) -> str:
        return "slow_work"

    @property
    def progress_weight(self) -> float:
        return 0.8

    def execute(self, context: JobContext) -> StepResult:
        ticks = max(1, int(context.seconds * 10))
        for tick in range(ticks):
            time.sleep(context.seconds / ticks)
            context.set_progress(tick + 1, ticks)
        return StepResult()


class PublishStep(BaseStep[JobContext]):
    """Renames the draft to ``final.txt``."""

    @property
    def name(self) -> str:
        return "publish"

    @property
    def progress_weight(self) -> float:
        return 0.1

    def execute(self, context: JobContext) -> StepResult:
        final = Path(context.folder) / "final.txt"
        (Path(context.folder) / "draft.txt").rename(final)
        return StepResult(data={"final": str(final)})


class SlowJob(BaseAction[SlowParams]):
    """write_draft -> slow_work -> publish."""

    def build_workflow(self) -> Workflow[JobContext]:
        registry = StepRegistry[JobContext]()
        registry.register(WriteDraftStep())
        registry.register(SlowStep())
        registry.register(PublishStep())
        context = JobContext(runtime_ctx=self.runtime, folder=self.params.folder, seconds=self.params.seconds)
        return Workflow(registry, context)


def main(folder: Path | None = None, interrupt_after: float = 0.5) -> tuple[ActionOutcome, JobRecord]:
    """Run the job, interrupt it, and return the outcome and the job's record."""
    folder = folder if folder is not None else Path(tempfile.mkdtemp(prefix="steprail-cancel-"))
    with JobStore(folder / "jobs.sqlite3") as store:
        jobs = JobRuntime(store)
        action = SlowJob(
            {"folder": str(folder), "seconds": 10},
            runtime=FanOutRuntime(jobs, ConsoleRuntime(plain=True)),
            handle_signals=True,
        )
        timer = threading.Timer(interrupt_after, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        try:
            outcome = action.run()
        finally:
            timer.cancel()
        assert jobs.job_id is not None
        record = store.get(jobs.job_id)
    print(f"outcome: {outcome.status} ({outcome.error}); draft left behind: {(folder / 'draft.txt').exists()}")
    print(f"record: {record.status}, steps: {[(s.name, s.status, s.rolled_back) for s in record.steps]}")
    return outcome, record


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
