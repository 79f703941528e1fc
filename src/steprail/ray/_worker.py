"""What runs in the Ray worker: the action, with a runtime that forwards every call to the driver.

The worker never opens the job store: every hook, log, progress report and metrics report
becomes a plain-data message on the job's :class:`~._channel.Channel`, answered by the driver once
it has recorded it.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import os
import pickle
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NoReturn

from .._errors import RollbackEntry
from .._runtime import RuntimeContext
from ..actions import ActionOutcome, BaseAction
from ..jobs import (
    ActionRuntime,
    JobNotFoundError,
    JobOutcome,
    JobStoreDamagedError,
    JobStoreError,
    JobStoreFullError,
    JobStoreLockedError,
    JobStoreReadOnlyError,
    ParamsTooLargeError,
    PlannedStep,
    StepOutcome,
)
from ._channel import Channel, ChannelClosed

__all__ = ["ForwardingRuntime", "WorkerPayload", "node_address", "resolve_action", "run_on_worker"]

# The store's errors, rebuilt by name on the worker so the action handles a failed record
# exactly as it does in-process (a full disk is a full disk, wherever the store is).
_STORE_ERRORS: Final[dict[str, type[JobStoreError]]] = {
    cls.__name__: cls
    for cls in (
        JobStoreError, JobStoreFullError, JobStoreLockedError, JobStoreReadOnlyError,
        JobStoreDamagedError, JobNotFoundError, ParamsTooLargeError,
    )
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class WorkerPayload:
    """Everything the worker needs to run the action (plain data: it crosses the network).

    Attributes:
        action_ref: ``package.module:Class``, or ``file.py:Class`` relative to the working dir.
        params: The params as given (they were validated on the driver, and are again here).
        on_failure: The run's failure policy.
        checkpoints: Whether the run takes checkpoints.
        records_checkpoints: Whether the driver's runtime keeps them.
        client_root: For a training action, the folder of its LocalBackend (shared storage).
        work_dir: For a training action, its work folder.
        driver: Where the driver listens for this job's events; ``token`` introduces the job.
    """

    action_ref: str
    params: dict[str, Any]
    on_failure: str
    checkpoints: bool
    records_checkpoints: bool
    client_root: str | None
    work_dir: str | None
    driver: tuple[str, int]
    token: str


def _store_error(kind: str, text: str) -> Exception:
    cls = _STORE_ERRORS.get(kind)
    if cls is not None:
        return cls(text)
    return RuntimeError(f"the driver could not record the event: {kind}: {text}")


class ForwardingRuntime(ActionRuntime):
    """Sends every call to the driver and waits until the driver has recorded it."""

    def __init__(self, channel: Channel, records_checkpoints: bool) -> None:
        super().__init__()
        self._channel = channel
        self._records_checkpoints = records_checkpoints

    @property
    def records_checkpoints(self) -> bool:
        """Whether the driver's runtime keeps checkpoints."""
        return self._records_checkpoints

    def _ask(self, hook: str, *args: object) -> None:
        try:
            self._channel.send({"hook": hook, "args": list(args)})
            answer = self._channel.receive()
        except ChannelClosed as error:
            stop_without_the_driver(hook, error)
        if not answer.get("ok"):
            raise _store_error(str(answer.get("kind")), str(answer.get("error")))

    def job_created(self, action: str, params: Mapping[str, Any]) -> None:
        """Nothing to send: the driver created the job before submitting it."""

    def job_started(self, params: Mapping[str, Any], steps: Sequence[PlannedStep]) -> None:
        """Forward."""
        self._ask("job_started", dict(params), [dataclasses.asdict(step) for step in steps])

    def step_started(self, step: PlannedStep) -> None:
        """Forward."""
        self._ask("step_started", dataclasses.asdict(step))

    def step_finished(self, outcome: StepOutcome) -> None:
        """Forward."""
        self._ask("step_finished", dataclasses.asdict(outcome))

    def step_retrying(self, step: PlannedStep, attempt: int, error: str, wait: float) -> None:
        """Forward."""
        self._ask("step_retrying", dataclasses.asdict(step), attempt, error, wait)

    def step_rolled_back(self, entry: RollbackEntry) -> None:
        """Forward."""
        self._ask("step_rolled_back", dataclasses.asdict(entry))

    def job_finished(self, outcome: JobOutcome) -> None:
        """Forward; returns once the driver recorded it (a success is then final)."""
        self._ask("job_finished", dataclasses.asdict(outcome))

    def log(self, event: str, data: dict[str, Any], file: str | None = None) -> None:
        """Forward."""
        self._ask("log", event, data, file)

    def set_progress(self, current: int, total: int, step: str | None = None) -> None:
        """Forward."""
        self._ask("set_progress", current, total, step)

    def set_metrics(self, value: dict[str, Any], step: str | None = None) -> None:
        """Forward."""
        self._ask("set_metrics", value, step)


#: The worker's exit code when it stops because it lost its driver.
DRIVER_LOST_EXIT: Final = 75


def stop_without_the_driver(hook: str, error: ChannelClosed) -> NoReturn:
    """End this worker process at once, leaving the job's work as it is.

    Without its driver nothing can record what the worker does any more: a rollback now would
    undo steps the job record still shows done, and ``jobs resume`` would then trust that record
    and skip them. So the worker does what an in-process run does when its process is killed:
    it stops where it is. The job reads ``interrupted`` (its driver is gone) with every recorded
    step's work in place, and ``jobs resume`` or ``jobs rollback`` take it from there.
    """
    try:
        sys.stderr.write(
            f"steprail: the driver of this job is gone ({error}, while sending {hook!r}); "
            "stopping the worker without rolling back: the job reads interrupted, its work is left in place\n"
        )
        sys.stderr.flush()
    finally:
        os._exit(DRIVER_LOST_EXIT)


def resolve_action(ref: str) -> type[BaseAction[Any]]:
    """The action class ``ref`` names: ``package.module:Class`` (imported) or ``file.py:Class``
    (loaded from the file, relative to the current folder: the shipped working dir).

    Raises:
        ImportError: the module cannot be imported or the file loaded.
        TypeError: the name is not an action class.
    """
    module_part, _, attribute = ref.rpartition(":")
    if module_part.endswith(".py"):
        path = Path(module_part).absolute()
        name = f"_steprail_ray_{path.stem}_{abs(hash(str(path))):x}"
        module = sys.modules.get(name)
        if module is None:
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None or not path.is_file():
                raise ImportError(f"no action file {module_part!r} in {os.getcwd()!r} on this worker")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            sys.path.insert(0, str(path.parent))
            try:
                spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(name, None)
                raise
    else:
        module = importlib.import_module(module_part)
    value: object = module
    for part in attribute.split("."):
        value = getattr(value, part)
    if not (isinstance(value, type) and issubclass(value, BaseAction)):
        raise TypeError(f"{ref!r} is not an action class on this worker")
    return value


def _action(payload: WorkerPayload, runtime: RuntimeContext) -> BaseAction[Any]:
    action_class = resolve_action(payload.action_ref)
    options: dict[str, Any] = {
        "runtime": runtime,
        "handle_signals": True,  # ray.cancel() arrives as SIGINT in the task's (main) thread
        "on_failure": payload.on_failure,
        "checkpoints": payload.checkpoints,
    }
    if payload.client_root is not None or payload.work_dir is not None:
        from ..datasets import LocalBackend

        options["client"] = None if payload.client_root is None else LocalBackend(payload.client_root)
        options["work_dir"] = payload.work_dir
    return action_class(payload.params, **options)


def _exception_bytes(error: BaseException | None) -> bytes | None:
    if error is None:
        return None
    try:
        return pickle.dumps(error)
    except Exception:  # an exception that does not pickle: its text still travels
        return None


def node_address() -> str:
    """This node's address in the Ray cluster."""
    import ray.util

    return str(ray.util.get_node_ip_address())  # type: ignore[no-untyped-call]  # ray's API is not annotated


def run_on_worker(payload: WorkerPayload) -> dict[str, Any]:
    """Run the action (this is the Ray task's body) and return its outcome as plain data.

    The first message tells the driver where the action runs (node and pid). An action that
    cannot be loaded here returns ``{"loaded": False, "error": ...}`` (the driver records the
    job failed); anything raised by the run itself (its final record could not be written)
    propagates to the driver as the task's error.
    """
    channel = Channel.connect(payload.driver, payload.token)
    try:
        runtime = ForwardingRuntime(channel, payload.records_checkpoints)
        runtime._ask("job_placed", "ray", node_address(), os.getpid())
        try:
            action = _action(payload, runtime)
        except Exception as error:
            return {"loaded": False, "error": f"the worker could not load {payload.action_ref!r}: {type(error).__name__}: {error}"}
        outcome = action.run()
        return _outcome_data(outcome)
    finally:
        channel.close()


def _outcome_data(outcome: ActionOutcome) -> dict[str, Any]:
    return {
        "loaded": True,
        "status": outcome.status,
        "error": outcome.error,
        "exception": _exception_bytes(outcome.exception),
        "exception_text": None if outcome.exception is None else f"{type(outcome.exception).__name__}: {outcome.exception}",
        "plan": [dataclasses.asdict(step) for step in outcome.plan],
        "steps": [dataclasses.asdict(step) for step in outcome.steps],
        "rollback": [dataclasses.asdict(entry) for entry in outcome.rollback],
        "summary": outcome.summary,
        "duration": outcome.duration,
        "resumable": outcome.resumable,
    }
