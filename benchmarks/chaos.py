"""Chaos: real ``steprail run`` processes stopped at random moments, and what their records say.

Run: ``.venv/bin/python benchmarks/chaos.py`` (``--trials N`` per scenario, default 200;
``--parallel P`` processes at once, default 4; ``--seed S``; ``--only NAME`` repeatable).

Each trial runs ``steprail run benchmarks/chaos.py:ChaosJob`` (five steps, each writes a file,
registers its removal with ``context.on_rollback`` and reports progress while it works) in a
fresh home, and checks the files against the job store's record once the process has ended:

- ``sigterm`` / ``sigint``: one signal at a random moment of the job (from its creation to a
  little past its expected end). Consistent: cancelled (exit 130) with every file gone, or
  success (exit 0) with every file there; the record agrees.
- ``double``: two SIGTERMs 0-40 ms apart. Consistent: as above, or cancelled with the rollback
  stopped, where the record names every step it rolled back and those files are gone.
- ``kill9``: SIGKILL at a random moment. Consistent: the record reads ``interrupted`` (never
  ``running``, never a success whose files are missing), or a finished job as above.
- ``writers``: several jobs at once on one store while readers list it. Consistent: every job
  succeeds and every reader gets JSON.
- ``disk-full`` (root only, where a tmpfs can be mounted): the store on a small tmpfs filled to
  a random level. Consistent: success, or exit 2 (nothing ran) or 3 (rolled back) naming the full
  disk, never "damaged", with every file gone.
- ``read-only`` (root only): the store on a tmpfs remounted read-only: ``jobs list`` and
  ``jobs show`` work, ``run`` exits 2 naming the read-only store.

It prints one line per scenario, such as
``sigterm at random moments: 200/200 ended consistently (cancelled and restored 131, success and recorded 69)``,
and exits 1 if any trial was inconsistent (``--json`` prints the figures as JSON too).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from steprail import BaseStep, BaseStepContext, StepRegistry, StepResult
from steprail.actions import BaseAction, Workflow
from steprail.cli._app import job_json
from steprail.jobs import JobStore

STEPS = 5
STEP_SECONDS = 0.06
_HERE = Path(__file__).resolve()
_STEPRAIL = str(Path(sys.executable).with_name("steprail"))


# -- the job every trial runs ------------------------------------------------------------------


class ChaosParams(BaseModel):
    """Where the steps write."""

    folder: str
    step_seconds: float = STEP_SECONDS


@dataclass
class ChaosContext(BaseStepContext):
    """The folder and how long each step works."""

    folder: str = ""
    step_seconds: float = STEP_SECONDS
    written: list[str] = field(default_factory=list)


class WriteStep(BaseStep[ChaosContext]):
    """Registers the removal of ``step-<index>.txt``, writes it, then works a while."""

    def __init__(self, index: int) -> None:
        self.index = index

    @property
    def name(self) -> str:
        return f"write_{self.index}"

    @property
    def progress_weight(self) -> float:
        return 0.2

    def execute(self, context: ChaosContext) -> StepResult:
        path = Path(context.folder) / f"step-{self.index}.txt"
        # The undo first, then the work: a cancellation between the two then finds it registered.
        context.on_rollback(lambda: path.unlink(missing_ok=True), label=f"remove {path.name}")
        path.write_text("work\n")
        slices = 6
        for part in range(slices):
            time.sleep(context.step_seconds / slices)
            context.set_progress(part + 1, slices)
        return StepResult(rollback_data={"path": str(path)})

    def rollback(self, context: ChaosContext, result: StepResult) -> None:
        Path(str(result.rollback_data["path"])).unlink(missing_ok=True)


class ChaosJob(BaseAction[ChaosParams]):
    """Five file-writing steps."""

    def build_workflow(self) -> Workflow[ChaosContext]:
        registry = StepRegistry[ChaosContext]()
        for index in range(STEPS):
            registry.register(WriteStep(index))
        context = ChaosContext(
            runtime_ctx=self.runtime, folder=self.params.folder, step_seconds=self.params.step_seconds
        )
        return Workflow(registry, context)


# -- one trial ---------------------------------------------------------------------------------


@dataclass
class Trial:
    """What one process did and what is left."""

    code: int
    files: list[str]
    record: dict[str, object] | None
    output: str


def _record(home: Path) -> dict[str, object] | None:
    """The newest job in ``home``'s store, as ``steprail jobs show --json`` prints it."""
    path = home / "jobs.sqlite3"
    if not path.exists():
        return None
    with JobStore(path, read_only=True) as store:
        jobs = store.list_jobs(1)
        if not jobs:
            return None
        return job_json(store.get(jobs[0].id))


def _wait_for_job(log: Path, process: subprocess.Popen[str], limit: float = 30.0) -> bool:
    """Wait until the job exists (its ``job_created`` line), or the process ended."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if log.exists() and "job_created" in log.read_text():
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.002)
    return False


def run_trial(
    work: Path, rng: random.Random, stop: Callable[[subprocess.Popen[str], random.Random], None] | None
) -> Trial:
    """Run the job in a fresh home under ``work``; ``stop`` interrupts it once the job exists."""
    home, folder, log = work / "home", work / "out", work / "events.jsonl"
    folder.mkdir(parents=True)
    process = subprocess.Popen(
        [_STEPRAIL, "run", f"{_HERE}:ChaosJob", "--home", str(home), "--plain", "--json-log", str(log),
         "-p", f"folder={folder}"],  # fmt: skip
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if stop is not None and _wait_for_job(log, process):
        stop(process, rng)
    output, _ = process.communicate()
    return Trial(process.returncode, sorted(p.name for p in folder.iterdir()), _record(home), output)


def _after_random_delay(signals: list[signal.Signals], gap: float = 0.0) -> Callable[[subprocess.Popen[str], random.Random], None]:
    def stop(process: subprocess.Popen[str], rng: random.Random) -> None:
        time.sleep(rng.uniform(0.0, STEPS * STEP_SECONDS * 1.3))
        for number, sig in enumerate(signals):
            if number:
                time.sleep(rng.uniform(0.0, gap))
            if process.poll() is None:
                process.send_signal(sig)

    return stop


# -- consistency ---------------------------------------------------------------------------------

ALL_FILES = [f"step-{index}.txt" for index in range(STEPS)]


def judge_signal(trial: Trial, *, double: bool = False) -> str | None:
    """The trial's ending if it is consistent, else ``None``."""
    record = trial.record
    if record is None:
        return "ended before the job was created" if not trial.files else None
    status = record["status"]
    if trial.code == 0 and status == "success" and trial.files == ALL_FILES and record["progress"] == 100:
        return "success and recorded"
    if trial.code == 130 and status == "cancelled" and trial.files == []:
        return "cancelled and restored"
    if double and trial.code == 130 and status == "cancelled" and "rollback stopped" in str(record["error"]):
        steps = record["steps"]
        assert isinstance(steps, list)
        # A step reads rolled back only once its rollback and all its undo actions finished
        # (with or without errors); the one the second signal cut short reads ``stopped: ...``.
        claimed = {f"step-{step['order']}.txt" for step in steps if step["rolled_back"]}
        if not claimed & set(trial.files):
            return "rollback stopped by the second signal, recorded as such"
    return None


def judge_kill(trial: Trial) -> str | None:
    record = trial.record
    if record is None:
        return "killed before the job was created" if not trial.files else None
    status = record["status"]
    if status == "interrupted" and trial.code == -signal.SIGKILL:
        return "killed, reads interrupted"
    if status == "success" and trial.files == ALL_FILES:
        return "success recorded before the kill"
    if status == "cancelled" and trial.files == []:
        return "cancelled and restored before the kill"
    return None


# -- scenarios -----------------------------------------------------------------------------------


@dataclass
class Figures:
    """One scenario's tally."""

    title: str
    trials: int = 0
    endings: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    skipped: str | None = None

    @property
    def consistent(self) -> int:
        return self.trials - len(self.failures)

    def line(self) -> str:
        if self.skipped is not None:
            return f"{self.title}: not run ({self.skipped})"
        detail = ", ".join(
            name if name.startswith("readers") else f"{name} {count}" for name, count in self.endings.most_common() if count
        )
        return f"{self.title}: {self.consistent}/{self.trials} ended consistently ({detail})"


def _signal_scenario(
    title: str, trials: int, parallel: int, seed: int, stop: Callable[[subprocess.Popen[str], random.Random], None],
    judge: Callable[[Trial], str | None],
) -> Figures:  # fmt: skip
    figures = Figures(title)

    def one(number: int) -> tuple[Trial, str | None]:
        with tempfile.TemporaryDirectory(prefix="steprail-chaos-") as work:
            trial = run_trial(Path(work), random.Random(seed * 100_003 + number), stop)
        return trial, judge(trial)

    with ThreadPoolExecutor(parallel) as pool:
        for trial, ending in pool.map(one, range(trials)):
            figures.trials += 1
            if ending is None:
                figures.failures.append(
                    f"exit {trial.code}, files {trial.files}, record "
                    f"{None if trial.record is None else (trial.record['status'], trial.record['error'])}"
                )
            else:
                figures.endings[ending] += 1
    return figures


def writers_scenario(trials: int, parallel: int) -> Figures:
    """``trials`` jobs at once on one store, with two readers listing it all the while."""
    figures = Figures(f"concurrent writers ({trials} jobs at once, 2 readers)")
    with tempfile.TemporaryDirectory(prefix="steprail-chaos-") as work:
        home = Path(work) / "home"
        folders = [Path(work) / f"out-{number}" for number in range(trials)]
        for folder in folders:
            folder.mkdir()
        jobs = [
            subprocess.Popen(
                [_STEPRAIL, "run", f"{_HERE}:ChaosJob", "--home", str(home), "--plain", "-p", f"folder={folder}"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for folder in folders
        ]
        reads = Counter[str]()
        while any(job.poll() is None for job in jobs):
            for _ in range(2):
                listing = subprocess.run(
                    [_STEPRAIL, "jobs", "list", "--json", "--home", str(home)], capture_output=True, text=True, check=False
                )
                try:
                    json.loads(listing.stdout)
                    reads["ok" if listing.returncode == 0 else f"exit {listing.returncode}"] += 1
                except json.JSONDecodeError:
                    reads[f"not JSON (exit {listing.returncode}): {listing.stderr.strip()[:80]}"] += 1
        for job, folder in zip(jobs, folders, strict=True):
            figures.trials += 1
            _, errors = job.communicate()
            files = sorted(p.name for p in folder.iterdir())
            if job.returncode == 0 and files == ALL_FILES:
                figures.endings["success and recorded"] += 1
            else:
                figures.failures.append(f"exit {job.returncode}: {errors.strip()[-200:]}")
        records = _all_records(home)
        if sorted(str(status) for status in records) != ["success"] * trials:
            figures.failures.append(f"records: {records}")
        bad_reads = {name: count for name, count in reads.items() if name != "ok"}
        if bad_reads:
            figures.failures.append(f"readers: {bad_reads}")
        figures.endings[f"readers listed the store {reads['ok']} times, each JSON"] = 1 if not bad_reads else 0
    return figures


def _all_records(home: Path) -> list[object]:
    listing = subprocess.run(
        [_STEPRAIL, "jobs", "list", "--json", "--home", str(home), "-n", "100000"], capture_output=True, text=True, check=True
    )
    return [job["status"] for job in json.loads(listing.stdout)]


@contextmanager
def small_tmpfs(size: str) -> Iterator[Path | str]:
    """A fresh tmpfs of ``size`` (yields why not, as text, where it cannot be mounted)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        yield "needs root to mount a tmpfs"
        return
    point = Path(tempfile.mkdtemp(prefix="steprail-chaos-fs-"))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)], capture_output=True, text=True)
    if mounted.returncode != 0:
        point.rmdir()
        yield f"cannot mount a tmpfs here: {mounted.stderr.strip()}"
        return
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)
        point.rmdir()


def disk_full_scenario(trials: int, seed: int) -> Figures:
    figures = Figures("full disk at a random level (store on a 1 MiB tmpfs)")
    rng = random.Random(seed)
    with small_tmpfs("1m") as mount:
        if isinstance(mount, str):
            figures.skipped = mount
            return figures
        for number in range(trials):
            home = mount / f"home-{number}"
            work = Path(tempfile.mkdtemp(prefix="steprail-chaos-"))
            try:
                # A first job makes the store; then fill the disk up to a random few KiB.
                first = run_trial(work / "first", rng, None)
                shutil.move(str(work / "first" / "home"), home)
                assert first.code == 0, first.output
                filler = mount / "filler"
                free = shutil.disk_usage(mount).free
                filler.write_bytes(b"\0" * max(0, free - rng.randrange(0, 48 * 1024)))
                folder = work / "out"
                folder.mkdir()
                done = subprocess.run(
                    [_STEPRAIL, "run", f"{_HERE}:ChaosJob", "--home", str(home), "--plain", "-p", f"folder={folder}"],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                files = sorted(p.name for p in folder.iterdir())
                text = done.stdout + done.stderr
                figures.trials += 1
                if "damaged" in text or "Traceback" in text:
                    figures.failures.append(f"exit {done.returncode}: {text.strip()[-300:]}")
                elif done.returncode == 0 and files == ALL_FILES:
                    figures.endings["success and recorded"] += 1
                elif done.returncode == 2 and files == [] and "disk is full" in text:
                    figures.endings["refused before any step (exit 2, disk full)"] += 1
                elif done.returncode == 3 and files == [] and "disk is full" in text:
                    figures.endings["rolled back, disk full named (exit 3)"] += 1
                elif done.returncode == 1 and files == [] and "disk is full" in text:
                    figures.endings["failed and rolled back, recorded (exit 1, disk full)"] += 1
                else:
                    figures.failures.append(f"exit {done.returncode}, files {files}: {text.strip()[-300:]}")
                filler.unlink()
            finally:
                shutil.rmtree(work, ignore_errors=True)
                shutil.rmtree(home, ignore_errors=True)
    return figures


def read_only_scenario() -> Figures:
    figures = Figures("read-only store (tmpfs remounted read-only)")
    with small_tmpfs("4m") as mount:
        if isinstance(mount, str):
            figures.skipped = mount
            return figures
        work = Path(tempfile.mkdtemp(prefix="steprail-chaos-"))
        try:
            first = run_trial(work / "first", random.Random(0), None)
            shutil.copytree(work / "first" / "home", mount / "home")
            assert first.code == 0, first.output
            remount = subprocess.run(["mount", "-o", "remount,ro", str(mount)], capture_output=True, text=True)
            if remount.returncode != 0:
                figures.skipped = f"cannot remount read-only: {remount.stderr.strip()}"
                return figures
            home = str(mount / "home")
            checks = {
                "jobs list": ([_STEPRAIL, "jobs", "list", "--home", home], 0, "success"),
                "jobs show": ([_STEPRAIL, "jobs", "show", "1", "--home", home], 0, "success"),
                "run refused": ([_STEPRAIL, "run", f"{_HERE}:ChaosJob", "--home", home, "-p", f"folder={work}"], 2, "read-only"),
            }
            for name, (command, code, expected) in checks.items():
                done = subprocess.run(command, capture_output=True, text=True, check=False)
                figures.trials += 1
                text = done.stdout + done.stderr
                if done.returncode == code and expected in text and "Traceback" not in text:
                    figures.endings[name] += 1
                else:
                    figures.failures.append(f"{name}: exit {done.returncode}: {text.strip()[-300:]}")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return figures


SCENARIOS = ("sigterm", "sigint", "double", "kill9", "writers", "disk-full", "read-only")


def run_scenarios(only: list[str], trials: int, parallel: int, seed: int) -> list[Figures]:
    chosen = only or list(SCENARIOS)
    results: list[Figures] = []
    for name in chosen:
        if name == "sigterm":
            results.append(_signal_scenario("SIGTERM at random moments", trials, parallel, seed, _after_random_delay([signal.SIGTERM]), judge_signal))
        elif name == "sigint":
            results.append(_signal_scenario("SIGINT at random moments", trials, parallel, seed + 1, _after_random_delay([signal.SIGINT]), judge_signal))
        elif name == "double":
            results.append(_signal_scenario(
                "double SIGTERM (0-40 ms apart) at random moments", trials, parallel, seed + 2,
                _after_random_delay([signal.SIGTERM, signal.SIGTERM], gap=0.04), lambda trial: judge_signal(trial, double=True),
            ))  # fmt: skip
        elif name == "kill9":
            results.append(_signal_scenario("kill -9 at random moments", trials, parallel, seed + 3, _after_random_delay([signal.SIGKILL]), judge_kill))
        elif name == "writers":
            results.append(writers_scenario(max(2, min(trials, 8)), parallel))
        elif name == "disk-full":
            results.append(disk_full_scenario(max(1, min(trials, 40)), seed + 4))
        elif name == "read-only":
            results.append(read_only_scenario())
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--trials", type=int, default=200, help="trials per signal scenario")
    parser.add_argument("--parallel", type=int, default=4, help="processes at once")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", action="append", choices=SCENARIOS, default=[], help="run only this scenario (repeatable)")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    started = time.monotonic()
    results = run_scenarios(args.only, args.trials, args.parallel, args.seed)
    for figures in results:
        print(figures.line())
        for failure in figures.failures[:5]:
            print(f"  inconsistent: {failure}")
    print(f"({time.monotonic() - started:.0f} s, seed {args.seed})")
    if args.json:
        print(json.dumps([
            {"scenario": f.title, "trials": f.trials, "consistent": f.consistent, "endings": dict(f.endings), "skipped": f.skipped}
            for f in results
        ]))  # fmt: skip
    sys.exit(1 if any(figures.failures for figures in results) else 0)


if __name__ == "__main__":
    main()
