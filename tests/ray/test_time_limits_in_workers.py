"""Time limits inside real Ray workers (multi-threaded processes): a task runs in the worker's
main thread, so its limited step is interrupted mid-sleep, and the worker program's own SIGALRM
handler and ITIMER_REAL timer are left alone; a threaded actor's method runs in another thread,
where the step fails when it returns."""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass
from types import FrameType
from typing import TypedDict

import pytest
import ray

from steprail import BaseStep, BaseStepContext, RuntimeContext, StepResult, StepTimeoutError, TimeLimitStep
from tests._ray_cluster import RayCluster

pytestmark = pytest.mark.ray


@dataclass
class _Ctx(BaseStepContext):
    pass


class _Sleep(BaseStep[_Ctx]):
    name = "sleep"
    progress_weight = 1.0

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def execute(self, context: _Ctx) -> StepResult:
        time.sleep(self.seconds)
        return StepResult()


def _limited_sleep(sleep: float, limit: float) -> tuple[str, float]:
    began = time.monotonic()
    try:
        TimeLimitStep(_Sleep(sleep), limit).execute(_Ctx(runtime_ctx=RuntimeContext()))
        return "ok", time.monotonic() - began
    except StepTimeoutError:
        return "timeout", time.monotonic() - began


class _Report(TypedDict):
    main_thread: bool
    os_threads: int
    stopped: tuple[str, float]
    alarms: int
    most: int
    interval_kept: bool
    handler_kept: bool


@ray.remote(max_retries=0)
def _in_a_task() -> _Report:
    interval = 0.02
    alarms = [0]

    def program_handler(signum: int, frame: FrameType | None) -> None:
        alarms[0] += 1

    previous = signal.signal(signal.SIGALRM, program_handler)
    signal.setitimer(signal.ITIMER_REAL, interval, interval)
    began = time.monotonic()
    try:
        for index in range(300):  # steps ending around their limit: late expiries
            _limited_sleep(0.0005 * (index % 3), 0.0005)
        stopped = _limited_sleep(30, 0.2)
        elapsed = time.monotonic() - began
        timer = signal.getitimer(signal.ITIMER_REAL)
        handler_kept = signal.getsignal(signal.SIGALRM) is program_handler
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return {
        "main_thread": threading.current_thread() is threading.main_thread(),
        "os_threads": len(os.listdir("/proc/self/task")),
        "stopped": stopped,
        "alarms": alarms[0],
        "most": int(elapsed / interval) + 1,
        "interval_kept": timer[1] == interval,
        "handler_kept": handler_kept,
    }


class _ThreadedActor:
    def run(self) -> tuple[bool, tuple[str, float]]:
        return threading.current_thread() is threading.main_thread(), _limited_sleep(0.5, 0.1)


def test_a_limited_step_in_a_ray_task_is_interrupted_and_the_workers_alarm_is_left_alone(ray_driver: RayCluster) -> None:
    report: _Report = ray.get(_in_a_task.remote(), timeout=120)
    assert report["main_thread"]
    assert report["os_threads"] > 1  # a multi-threaded process
    outcome, seconds = report["stopped"]
    assert outcome == "timeout" and seconds < 5
    assert report["interval_kept"] and report["handler_kept"]
    assert report["most"] // 4 <= report["alarms"] <= report["most"]


def test_in_a_threaded_actor_an_overrun_fails_when_the_step_returns(ray_driver: RayCluster) -> None:
    actor = ray.remote(_ThreadedActor).options(max_concurrency=2).remote()  # methods run in a thread pool
    # Ray's stubs type an actor handle's methods as the plain functions: ``.remote`` is unknown.
    on_main, (outcome, seconds) = ray.get(actor.run.remote(), timeout=120)  # type: ignore[attr-defined]
    assert on_main is False
    assert outcome == "timeout" and seconds >= 0.5
