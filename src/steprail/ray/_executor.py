"""The driver's side of a Ray run: submit the action, replay what the worker reports, end the job.

See docs/ray.md for what runs where. In short: the driver validates the params and creates the
job (its process is the job's ``host``/``pid``), submits one Ray task with the action's declared
resources and no retries, listens on a socket for the task's events and replays each into the
action's runtime (the job store, the console, ...) before answering it, and turns the task's end
(a result, a cancellation, a dead worker) into the job's final record.
"""

from __future__ import annotations

import dataclasses
import hmac
import os
import queue
import secrets
import signal
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any, Final, Literal

from pydantic import BaseModel

from .._errors import RollbackEntry
from .._runtime import RuntimeContext
from ..actions import ActionOutcome, BaseAction, InvalidParamsError, JobCancelled
from ..actions._cancel import CANCEL_SIGNALS
from ..jobs import ActionRuntime, JobOutcome, JobStoreError, PlannedStep, StepOutcome
from ._channel import Channel, ChannelClosed
from ._worker import WorkerPayload, node_address, run_on_worker

__all__ = ["ClusterUnreachableError", "CodeNotShippableError", "RayExecutor", "WorkerLostError", "check_reachable", "check_shippable"]

#: How often the driver looks at signals and at the task while it waits for an event (seconds).
_POLL_SECONDS: Final = 0.2
#: How long the driver waits for the worker's last events once Ray says the task has ended.
_DRAIN_SECONDS: Final = 5.0
#: How long a connection may take to introduce itself before the driver hangs up on it, and the
#: longest introduction it reads: anything that reaches the port can connect, so neither a
#: silent stranger nor a flood may hold the job up.
_HELLO_SECONDS: Final = 10.0
_HELLO_MAX_BYTES: Final = 1024


#: How long the executor tries to reach the cluster's address before it gives up (Ray's own
#: ``ray.init`` retries an unreachable address for ever).
CONNECT_SECONDS: Final = 15.0


class ClusterUnreachableError(ConnectionError):
    """The Ray cluster's address (``address``, or ``$RAY_ADDRESS``) could not be reached, or is
    not ``HOST:PORT``. Raised before anything is recorded or submitted."""


def check_reachable(address: str | None, timeout: float = CONNECT_SECONDS) -> None:
    """Fail fast when ``address`` (``None``: ``$RAY_ADDRESS``) names a cluster that cannot be
    reached within ``timeout`` seconds. ``auto``, ``local`` and no address at all are left to Ray
    (they find or start a cluster on this machine).

    Raises:
        ClusterUnreachableError: nothing answers at the address, or it is not ``HOST:PORT``.
    """
    target = address if address is not None else os.environ.get("RAY_ADDRESS")
    if not target or target in ("auto", "local"):
        return
    scheme, _, rest = target.rpartition("://")
    if scheme not in ("", "ray"):
        return  # another protocol: Ray's business
    host, _, port = rest.rstrip("/").rpartition(":")
    if not host or not port.isdigit():
        raise ClusterUnreachableError(f"Ray address {target!r} is not HOST:PORT")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as error:
        raise ClusterUnreachableError(
            f"cannot reach the Ray cluster at {target!r} within {timeout:g}s ({error}); check --address / $RAY_ADDRESS"
        ) from error


# The runtime env this module gave ray.init when it connected this process (a later run that
# ships the same local code reuses it; Ray refuses local folders in a task's own runtime env).
_CONNECTED_WITH: list[dict[str, Any]] = []


class CodeNotShippableError(ValueError):
    """A local folder the action's code would be shipped from cannot be (see
    :func:`check_shippable`). Raised before anything is recorded or submitted."""


class WorkerLostError(RuntimeError):
    """The worker running the action died (killed, out of memory, its node lost) before the job
    ended. The job was recorded ``interrupted`` with :attr:`cause`; it can be resumed."""

    def __init__(self, action: str, cause: str) -> None:
        super().__init__(f"{action}: the job is interrupted: {cause}")
        self.action = action
        self.cause = cause


class RayExecutor:
    """Runs an action in a Ray worker; the job is recorded by this process (the driver) alone.

    Args:
        address: The cluster to connect to when this process is not connected yet: ``None``
            uses ``$RAY_ADDRESS``, else a cluster already running on this machine (whoever
            started it), else starts a local one (``ray.init()``); ``"auto"`` finds a running
            local one. An address that cannot be reached within :data:`CONNECT_SECONDS` raises
            :class:`ClusterUnreachableError`.
        runtime_env: Ray's runtime environment for the task (``working_dir``, ``py_modules``,
            ``pip``, ``env_vars``, ...): how the action's code reaches the workers. An action
            loaded from a file (``path/to/file.py:MyAction``) ships the file's folder as the
            ``working_dir`` unless one is given that holds the file.
        log_to_driver: Show what the workers print on this process's output (Ray's prefix
            included); passed to ``ray.init`` when this executor connects.

    The action's :attr:`~steprail.actions.BaseAction.resources` are asked of Ray; the task is
    never retried (an action is not idempotent).
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        runtime_env: Mapping[str, Any] | None = None,
        log_to_driver: bool = True,
    ) -> None:
        self.address = address
        self.runtime_env: dict[str, Any] = _modules_as_paths(runtime_env or {})
        self.log_to_driver = log_to_driver

    def run(self, action: BaseAction[Any]) -> ActionOutcome:
        """Run ``action`` on the cluster and return how it ended, as :meth:`BaseAction.run` does.

        Invalid params are refused here, before anything is submitted: the job is recorded
        ``failed`` exactly as in-process. The returned outcome has no ``context`` (the workflow's
        context stayed on the worker).

        Raises:
            ClusterUnreachableError: the cluster's address cannot be reached (nothing recorded).
            CodeNotShippableError: a local folder to ship holds a special file, or is a home or
                shared temp folder (nothing recorded).
            WorkerLostError: the worker died before the job ended (recorded ``interrupted``).
            steprail.jobs.JobStoreError: this process could not record the job.
            ValueError: ``action`` was prepared for a resume (resumes run in-process).
        """
        if action._resuming is not None:
            raise ValueError("RayExecutor runs new jobs only; resume a job in-process (steprail jobs resume)")
        try:
            action.validate_params(action._raw)
        except InvalidParamsError:
            return action.run()  # fails at validation, in this process: nothing is submitted
        import ray

        ref, env = _action_ref(type(action), self.runtime_env)
        task_env: dict[str, Any] | None = None
        if not ray.is_initialized():
            check_shippable(_local_paths(env))  # before Ray opens every file in them
            check_reachable(self.address)  # ray.init would retry an unreachable address for ever
            # Ray uploads local folders (working_dir, py_modules) only for a whole driver: the
            # runtime env is given when this process connects.
            shipped = _copied(env)  # ray.init rewrites the local paths it uploads in place
            ray.init(address=self.address, log_to_driver=self.log_to_driver, runtime_env=env or None)
            _CONNECTED_WITH[:] = [shipped]
        elif _local_paths(env) and _CONNECTED_WITH == [env]:
            pass  # the code this run needs was shipped when this process connected: reuse it
        elif _local_paths(env):
            raise ValueError(
                "this process is already connected to Ray, and Ray ships local code (working_dir, "
                f"py_modules: {_local_paths(env)}) only when a driver connects: pass that runtime_env to "
                "ray.init() yourself, or let RayExecutor connect (do not call ray.init first)"
            )
        else:
            task_env = env or None
        resources = action.resources
        remote = ray.remote(run_on_worker).options(
            num_cpus=resources.cpus,
            num_gpus=resources.gpus,
            memory=resources.memory,
            max_retries=0,
            retry_exceptions=False,
            runtime_env=task_env,
            name=f"steprail {action.action_name}",
        )
        return _Drive(action, lambda payload: remote.remote(dataclasses.replace(payload, action_ref=ref))).run()


def check_shippable(paths: Sequence[str]) -> None:
    """Refuse local code folders Ray cannot or should not upload: a special file in them (a
    FIFO blocks Ray's packaging for ever; sockets and devices are not code), and a home folder
    or a shared, world-writable one such as ``/tmp`` (Ray would upload all of it, other people's
    files and your credentials included, into the cluster).

    Raises:
        CodeNotShippableError: naming the folder and what is wrong with it.
    """
    for item in paths:
        folder = Path(item).absolute()
        if not folder.is_dir():
            continue
        if folder == Path.home().absolute() or folder.stat().st_mode & stat.S_ISVTX:
            raise CodeNotShippableError(
                f"refusing to ship {str(folder)!r} to the Ray workers (a home folder or a shared temp folder: Ray "
                "would upload all of it): put the action file in a folder of its own, or give runtime_env working_dir"
            )
        for root, dirs, files in os.walk(folder):
            for name in (*dirs, *files):
                path = Path(root, name)
                try:
                    mode = path.stat().st_mode  # through links: Ray reads what they point at
                except OSError:
                    continue  # a dangling link: Ray skips it too
                if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                    raise CodeNotShippableError(
                        f"cannot ship {str(folder)!r} to the Ray workers: {str(path)!r} is not a regular file "
                        "(a FIFO, socket or device would block or break Ray's upload); move it out, or put the "
                        "action file in a folder of its own"
                    )


def _modules_as_paths(env: Mapping[str, Any]) -> dict[str, Any]:
    """``env`` with each module object in ``py_modules`` replaced by its local path (a package's
    folder, a plain module's file), as Ray's ``ray.init`` would ship it. Ray accepts module
    objects only when a driver connects, not in a task's options; as paths they are also checked
    by :func:`check_shippable` and recognised as shipped by the next run of this process."""
    found = dict(env)
    modules = found.get("py_modules")
    if isinstance(modules, list | tuple):
        found["py_modules"] = [_module_path(item) if isinstance(item, ModuleType) else item for item in modules]
    return found


def _module_path(module: ModuleType) -> str:
    source = getattr(module, "__file__", None)
    if not source:
        raise CodeNotShippableError(f"py_modules: the module {module.__name__!r} has no file to ship (a namespace or built-in module)")
    path = Path(source)
    return str(path.parent if path.name == "__init__.py" else path)


def _copied(env: Mapping[str, Any]) -> dict[str, Any]:
    return {key: list(value) if isinstance(value, list | tuple) else value for key, value in env.items()}


def _local_paths(env: Mapping[str, Any]) -> list[str]:
    """The local folders and files ``env`` ships (``working_dir``, ``py_modules``), not URIs."""
    found: list[Any] = []
    if env.get("working_dir") is not None:
        found.append(env["working_dir"])
    found.extend(env.get("py_modules") or ())
    return [str(item) for item in found if isinstance(item, str | os.PathLike) and "://" not in str(item)]


def _action_ref(action_class: type[BaseAction[Any]], runtime_env: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """How the worker finds the action, and the runtime env that gets it there.

    An action loaded from a file (its name is ``path/file.py:Class``) is loaded from the file in
    the working dir: the file's folder, unless ``runtime_env`` has a ``working_dir`` holding it.
    Any other action is imported by module name (installed on the workers, or shipped with
    ``py_modules`` / ``working_dir``).
    """
    env = dict(runtime_env)
    module_part, _, attribute = action_class.action_name.rpartition(":")
    if not module_part.endswith(".py"):
        if action_class.__module__ == "__main__" or "<locals>" in action_class.__qualname__:
            raise CodeNotShippableError(
                f"the action {action_class.__qualname__} is defined in the script being run (__main__) or inside a "
                "function, which Ray workers cannot import: move it into a module or an action file and import it"
            )
        return f"{action_class.__module__}:{action_class.__qualname__}", env
    source = Path(module_part).absolute()
    working_dir = env.get("working_dir")
    if isinstance(working_dir, str | os.PathLike) and "://" not in str(working_dir):
        folder = Path(working_dir).absolute()
        if source.is_relative_to(folder):
            return f"{source.relative_to(folder)}:{attribute}", env
        raise ValueError(
            f"runtime_env working_dir {str(folder)!r} does not hold the action's file {str(source)!r}; "
            "give a working_dir that holds it, or none (its folder is shipped)"
        )
    env["working_dir"] = str(source.parent)
    return f"{source.name}:{attribute}", env


class _Drive:
    """One run: the job's events in, the job's records out."""

    def __init__(self, action: BaseAction[Any], submit: Callable[[WorkerPayload], Any]) -> None:
        self.action = action
        self.submit = submit
        self.runtime: RuntimeContext = action.runtime
        self.hooks = action.runtime if isinstance(action.runtime, ActionRuntime) else None
        self.signals: list[int] = []
        self.finished = False
        self.placed = False
        #: The worker reported ``job_started``: from then on steps may have run and left work.
        self.began = False
        self.final: JobOutcome | None = None
        self.started = time.monotonic()

    def run(self) -> ActionOutcome:
        host = node_address()
        with socket.create_server((host, 0)) as server:
            server.settimeout(_POLL_SECONDS)
            with self._signals_noted():  # from the job's creation on, a signal cancels it
                if self.hooks is not None:
                    self.hooks.job_created(self.action.action_name, self.action._raw_params())
                payload = self._payload(server.getsockname()[:2])
                ref = self.submit(payload)
                channel = self._pump(server, ref, payload.token)
            if channel is not None:
                channel.close()
        return self._ending(ref)

    def _payload(self, address: tuple[str, int]) -> WorkerPayload:
        action = self.action
        raw: BaseModel | Mapping[str, Any] = action._raw
        params = raw.model_dump() if isinstance(raw, BaseModel) else dict(raw)
        client_root = work_dir = None
        client = getattr(action, "client", None)
        if client is not None or hasattr(action, "_work_dir"):
            root = getattr(client, "root", None)
            if client is not None and root is None:
                raise ValueError(
                    f"RayExecutor runs a training action with a LocalBackend client only (its root must be "
                    f"shared with the workers), not {type(client).__name__}"
                )
            client_root = None if root is None else str(root)
            work_dir = str(getattr(action, "work_dir")) if hasattr(action, "work_dir") else None
        return WorkerPayload(
            action_ref=action.action_name,
            params=params,
            on_failure=action.on_failure,
            checkpoints=action.checkpoints,
            records_checkpoints=self.hooks is not None and self.hooks.records_checkpoints,
            client_root=client_root,
            work_dir=work_dir,
            driver=(address[0], int(address[1])),
            token=secrets.token_hex(16),
        )

    @contextmanager
    def _signals_noted(self) -> Iterator[None]:
        """While the task runs: a SIGINT/SIGTERM/SIGHUP/SIGQUIT is noted, and the loop cancels
        the task (the first signal: the worker rolls back; a later one: the worker is killed)."""
        if not self.action.handle_signals or threading.current_thread() is not threading.main_thread():
            yield
            return

        def note(signum: int, frame: FrameType | None) -> None:
            self.signals.append(signum)

        previous = {number: signal.getsignal(number) for number in CANCEL_SIGNALS}
        for number in CANCEL_SIGNALS:
            signal.signal(number, note)
        mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, CANCEL_SIGNALS)  # one held back is noted now
        try:
            yield
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            for number, handler in previous.items():
                signal.signal(number, handler)

    def _cancel_if_asked(self, ref: Any, sent: int) -> int:
        import ray

        if len(self.signals) > sent:
            # The first cancel raises KeyboardInterrupt... as SIGINT in the task: the action's
            # own handler turns it into JobCancelled and rolls back. A second one kills it.
            ray.cancel(ref, force=sent > 0)
        return len(self.signals)

    def _pump(self, server: socket.socket, ref: Any, token: str) -> Channel | None:
        import ray

        sent = 0
        channel: Channel | None = None
        inbox: queue.Queue[dict[str, Any] | ChannelClosed] = queue.Queue()
        # Connections are introduced in threads of their own, so the loop keeps acting on
        # signals (and noticing the task's end) whoever connects and however slowly.
        introduced: queue.Queue[Channel] = queue.Queue()
        ended_at: float | None = None
        while True:
            sent = self._cancel_if_asked(ref, sent)
            if channel is None:
                try:
                    conn, _ = server.accept()
                except TimeoutError:
                    pass
                else:
                    threading.Thread(target=_introduce, args=(conn, token, introduced), daemon=True).start()
                try:
                    channel = introduced.get(timeout=_POLL_SECONDS / 4)
                except queue.Empty:
                    if ray.wait([ref], timeout=0)[0]:
                        return None  # the task ended before it connected
                    continue
                threading.Thread(target=_read_all, args=(channel, inbox), daemon=True).start()
                continue
            try:
                message = inbox.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if ended_at is None and ray.wait([ref], timeout=0)[0]:
                    ended_at = time.monotonic()
                if ended_at is not None and time.monotonic() - ended_at > _DRAIN_SECONDS:
                    return channel  # the task ended and its connection never closed (node lost)
                continue
            if isinstance(message, ChannelClosed):
                return channel
            answer = self._replay(message, sent > 0)
            try:
                channel.send(answer)
            except ChannelClosed:
                return channel

    def _replay(self, message: Mapping[str, Any], cancel_sent: bool) -> dict[str, Any]:
        hook = str(message.get("hook"))
        args: list[Any] = list(message.get("args", []))
        try:
            self._dispatch(hook, args, cancel_sent)
        except Exception as error:
            return {"ok": False, "kind": type(error).__name__, "error": str(error)}
        return {"ok": True}

    def _dispatch(self, hook: str, args: list[Any], cancel_sent: bool) -> None:
        hooks = self.hooks
        if hook == "log":
            self.runtime.log(args[0], args[1], args[2])
        elif hook == "set_progress":
            self.runtime.set_progress(args[0], args[1], args[2])
        elif hook == "set_metrics":
            self.runtime.set_metrics(args[0], args[1])
        elif hooks is None:
            # A runtime that does not hear the lifecycle: only what the end needs is kept.
            self.placed = self.placed or hook == "job_placed"
            self.began = self.began or hook == "job_started"
            self.finished = self.finished or hook == "job_finished"
            return
        elif hook == "job_placed":
            self.placed = True
            hooks.job_placed(str(args[0]), str(args[1]), int(args[2]))
        elif hook == "job_started":
            self.began = True
            hooks.job_started(args[0], [PlannedStep(**step) for step in args[1]])
        elif hook == "step_started":
            hooks.step_started(PlannedStep(**args[0]))
        elif hook == "step_finished":
            hooks.step_finished(StepOutcome(**args[0]))
        elif hook == "step_retrying":
            hooks.step_retrying(PlannedStep(**args[0]), int(args[1]), str(args[2]), float(args[3]))
        elif hook == "step_rolled_back":
            hooks.step_rolled_back(RollbackEntry(**args[0]))
        elif hook == "job_finished":
            fields = dict(args[0])
            fields["rollback"] = tuple(RollbackEntry(**entry) for entry in fields["rollback"])
            if cancel_sent and fields["status"] == "cancelled":
                fields["error"] = self._cancel_text(fields["error"])
            else:
                fields["error"] = self._signal_named(fields["error"])
            self.final = JobOutcome(**fields)
            hooks.job_finished(self.final)
            self.finished = True
        else:
            raise ValueError(f"unknown event {hook!r} from the worker")

    def _signal_named(self, error: str | None) -> str | None:
        """``error`` naming the signal the driver was sent where the worker saw ray.cancel's SIGINT."""
        if error is None or not self.signals:
            return error
        asked = signal.Signals(self.signals[0]).name
        return error.replace(
            "(SIGINT arrived during the rollback;", f"({asked} arrived during the rollback (ray.cancel on the driver);"
        )

    def _cancel_text(self, error: str | None) -> str:
        asked = signal.Signals(self.signals[0]).name if self.signals else "a cancel"
        return f"{error} (ray.cancel after {asked} on the driver)"

    def _ending(self, ref: Any) -> ActionOutcome:
        """The job's end from the task's: its outcome, or a record written here for a task that
        ended without recording one (cancelled in the queue, failed to load, worker lost)."""
        import ray
        from ray.exceptions import RayTaskError, TaskCancelledError

        name = self.action.action_name
        try:
            result: dict[str, Any] = ray.get(ref)
        except TaskCancelledError as error:
            if self.final is not None:  # the end was recorded; the worker was cut on its way out
                return self._end_here(self.final.status, self.final.error, None)
            if self.began:
                # Ray reports a cancelled task whose worker then died (a second signal:
                # ray.cancel(force=True); or killed while it rolled back) the same way as one
                # cancelled in its queue. This one ran: its work may still be in place.
                return self._lost(self._cancelled_worker_lost(), error)
            if not self.placed:
                return self._end_here("cancelled", self._cancel_text("cancelled before it started on a worker"), None)
            return self._end_here("cancelled", self._cancel_text("cancelled before the action ran"), None)
        except RayTaskError as error:
            cause = error.cause
            if isinstance(cause, JobStoreError):
                raise cause from error  # the run could not record its end (notes say how it ended)
            if self.finished:
                raise
            if isinstance(cause, KeyboardInterrupt | TaskCancelledError):
                if self.began:  # the cancel cut the worker after its steps started: nothing recorded the end
                    return self._lost(self._cancelled_worker_lost(), error)
                return self._end_here("cancelled", self._cancel_text("cancelled before the action ran"), None)
            text = f"the Ray task failed: {type(cause).__name__}: {cause}"
            return self._end_here("failed", text, cause if isinstance(cause, Exception) else None)
        except ray.exceptions.RayError as error:
            if self.finished:
                raise
            return self._lost(f"the Ray worker running the job was lost: {type(error).__name__}: {_first_line(error)}", error)
        if not result.get("loaded", True):
            return self._end_here("failed", str(result["error"]), None)
        if not self.finished:
            cause = "the Ray task ended without recording the job's end"
            if self.hooks is not None:
                self.hooks.job_lost(cause)
            raise WorkerLostError(name, cause)
        return self._outcome(result)

    def _lost(self, cause: str, error: BaseException | None) -> ActionOutcome:
        """Record the job ``interrupted`` with ``cause`` (its worker ended without recording the
        end) and raise :class:`WorkerLostError`."""
        if self.hooks is not None:
            self.hooks.job_lost(cause)
        raise WorkerLostError(self.action.action_name, cause) from error

    def _cancelled_worker_lost(self) -> str:
        asked = [signal.Signals(number).name for number in self.signals]
        if len(asked) > 1:
            how = f"killed by ray.cancel(force=True) after a second {asked[1]} on the driver"
        elif asked:
            how = f"lost after ray.cancel ({asked[0]} on the driver)"
        else:
            how = "lost after its task was cancelled"
        return (
            f"the Ray worker running the job was {how}, before it recorded the job's end; "
            "steps not recorded as rolled back may still have their work in place"
        )

    def _end_here(
        self, status: Literal["success", "failed", "cancelled"], error: str | None, exception: BaseException | None
    ) -> ActionOutcome:
        duration = time.monotonic() - self.started
        if self.hooks is not None and not self.finished:
            self.hooks.job_finished(JobOutcome(status, error, (), {}, duration))
            self.finished = True
        if exception is None and status != "success":
            exception = JobCancelled(self.signals[0] if self.signals else signal.SIGINT) if status == "cancelled" else RuntimeError(error)
        return ActionOutcome(self.action.action_name, status, error, exception, duration=duration)

    def _outcome(self, result: Mapping[str, Any]) -> ActionOutcome:
        import pickle

        status = result["status"]
        exception: BaseException | None = None
        if status == "cancelled":
            exception = JobCancelled(self.signals[0] if self.signals else signal.SIGINT)
        elif result["exception"] is not None:
            try:
                exception = pickle.loads(result["exception"])
            except Exception:
                exception = None
        if exception is None and result["exception_text"] is not None:
            exception = RuntimeError(result["exception_text"])
        error = result["error"]
        return ActionOutcome(
            action=self.action.action_name,
            status=status,
            error=self._cancel_text(error) if status == "cancelled" and self.signals else self._signal_named(error),
            exception=exception,
            plan=[PlannedStep(**step) for step in result["plan"]],
            steps=[StepOutcome(**step) for step in result["steps"]],
            rollback=[RollbackEntry(**entry) for entry in result["rollback"]],
            summary=dict(result["summary"]),
            duration=float(result["duration"]),
            resumable=bool(result["resumable"]),
        )


def _introduce(conn: socket.socket, token: str, introduced: queue.Queue[Channel]) -> None:
    """Read a new connection's hello (bounded in time and size); a connection that gives this
    job's token goes into ``introduced``, any other is closed."""
    conn.settimeout(_HELLO_SECONDS)
    candidate = Channel(conn)
    try:
        hello = candidate.receive(max_bytes=_HELLO_MAX_BYTES)
    except ChannelClosed:
        candidate.close()  # silent, slow, or not speaking the protocol
        return
    given = hello.get("token")
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), token.encode()):
        candidate.close()  # not this job's worker
        return
    conn.settimeout(None)
    introduced.put(candidate)


def _read_all(channel: Channel, inbox: queue.Queue[dict[str, Any] | ChannelClosed]) -> None:
    """The reader thread: every message into ``inbox``, then the reason it stopped (a broken
    protocol included: the connection is not usable any more)."""
    while True:
        try:
            inbox.put(channel.receive())
        except ChannelClosed as closed:
            inbox.put(closed)
            return


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
