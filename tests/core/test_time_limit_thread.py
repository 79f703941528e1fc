"""The watchdog thread itself: it survives any limit and any failed expiry (or is restarted),
takes no signal meant for the program, and exits when idle so a later fork is single-threaded."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

import pytest

from steprail import RuntimeContext, StepTimeoutError, TimeLimitStep
from steprail._timeout import _CANDIDATES, check_time_limit
from steprail._watchdog import Watchdog

from .test_time_limit_watchdog import Ctx, Run

pytestmark = pytest.mark.skipif(not _CANDIDATES, reason="no signal can be sent to one thread here")


def _python(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("seconds", [10**400, -(10**400)])
def test_an_int_beyond_a_floats_range_is_refused_with_the_documented_value_error(seconds: int) -> None:
    with pytest.raises(ValueError, match="finite number of seconds > 0"):
        check_time_limit(seconds)


@pytest.mark.parametrize("huge", [1e10, 1e300])
def test_a_huge_limit_leaves_later_limits_working(huge: float) -> None:
    context = Ctx(runtime_ctx=RuntimeContext())
    TimeLimitStep(Run("huge", lambda: time.sleep(0.02)), huge).execute(context)
    began = time.monotonic()
    with pytest.raises(StepTimeoutError, match="step 'short'"):
        TimeLimitStep(Run("short", lambda: time.sleep(10)), 0.2).execute(context)
    assert time.monotonic() - began < 5  # interrupted, not run to its end


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the thread it kills
def test_a_watchdog_whose_thread_died_starts_a_new_one_for_the_next_deadline() -> None:
    watchdog = Watchdog()

    def fatal() -> None:
        raise SystemExit  # not an Exception: it ends the thread

    fired = threading.Event()
    watchdog.schedule(time.monotonic(), fatal)
    deadline = time.monotonic() + 10
    while watchdog.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not watchdog.started
    watchdog.schedule(time.monotonic() + 0.01, fired.set)
    assert fired.wait(10)


def test_the_watchdog_thread_exits_when_idle_and_restarts_for_the_next_deadline() -> None:
    watchdog = Watchdog(idle_exit=0.05)
    fired = threading.Event()
    watchdog.schedule(time.monotonic(), fired.set)
    assert fired.wait(10)
    deadline = time.monotonic() + 10
    while watchdog.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not watchdog.started
    again = threading.Event()
    watchdog.schedule(time.monotonic() + 0.01, again.set)
    assert again.wait(10)


def test_a_fork_after_the_watchdog_went_idle_does_not_warn_about_threads() -> None:
    child = _python(
        """
        import os, threading, time, warnings
        from steprail import RuntimeContext, TimeLimitStep
        from steprail._watchdog import watchdog
        from tests.core.test_time_limit_watchdog import Ctx, Run

        watchdog.idle_exit = 0.05
        TimeLimitStep(Run("a", lambda: None), 5).execute(Ctx(runtime_ctx=RuntimeContext()))
        while any(thread.name == "steprail-watchdog" for thread in threading.enumerate()):
            time.sleep(0.01)
        warnings.simplefilter("error")
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        print("no warning")
        """
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "no warning"


def test_a_process_directed_signal_goes_to_the_programs_sigwait_thread_not_the_watchdog() -> None:
    # The program blocks SIGTERM in the main thread and takes it with sigwait in another one; a
    # limit ran before, so the watchdog thread exists: it must not take the signal (which would
    # end the process).
    child = _python(
        """
        import os, signal, threading
        from steprail import RuntimeContext, TimeLimitStep
        from steprail._watchdog import watchdog
        from tests.core.test_time_limit_watchdog import Ctx, Run

        watchdog.idle_exit = 60
        TimeLimitStep(Run("a", lambda: None), 5).execute(Ctx(runtime_ctx=RuntimeContext()))
        assert watchdog.started
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        got = []
        waiter = threading.Thread(target=lambda: got.append(signal.sigwait({signal.SIGTERM})))
        waiter.start()
        for _ in range(20):
            os.kill(os.getpid(), signal.SIGTERM)
            waiter.join(5)
            print(got == [signal.SIGTERM])
            got.clear()
            waiter = threading.Thread(target=lambda: got.append(signal.sigwait({signal.SIGTERM})))
            waiter.start()
        os.kill(os.getpid(), signal.SIGTERM)
        waiter.join(5)
        """
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.split() == ["True"] * 20
