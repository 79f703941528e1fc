"""Per-step retry policies: :class:`RetryPolicy`, run with tenacity.

A policy says which exceptions are worth another attempt, how many attempts a step gets in all,
how long to wait between them (exponential backoff with random jitter) and the total time the
attempts may take. The orchestrator runs a step that has one through :func:`run_attempts`;
between two attempts it runs the undo actions the failed attempt registered, so that each
attempt starts clean. tenacity does the counting, waiting and stopping.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from ._extras import require_extra

if TYPE_CHECKING:
    from tenacity import RetryCallState

__all__ = ["NO_RETRY", "RetryListener", "RetryPolicy", "run_attempts"]

type RetryListener = Callable[[str, int, BaseException, float], None]
"""Hears each failed attempt that will be retried: ``(step name, attempt number, what it
raised, seconds until the next attempt)``, after the attempt's undo actions ran."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a step is tried again when it raises.

    Args:
        on: The exception types worth another attempt (``Exception`` by default). Only
            ``Exception`` subclasses: ``KeyboardInterrupt`` and other ``BaseException``\\s, and
            an exception marked ``steprail_no_retry = True`` (a cancellation), are never retried.
        attempts: Attempts in all, at least 1 (1 means no retry).
        wait_initial: Seconds before the second attempt; each later wait doubles.
        wait_max: The longest wait between two attempts.
        wait_jitter: Up to this many random seconds added to each wait, so that many jobs that
            failed together do not all retry at the same moment.
        timeout: The total seconds the attempts may take, waits included (``None``: no limit):
            no attempt starts once the next one would start after this budget.

    Raises:
        ValueError: a count, wait or budget out of range, or ``on`` not exception types.
    """

    on: type[Exception] | tuple[type[Exception], ...] = Exception
    attempts: int = 3
    wait_initial: float = 0.1
    wait_max: float = 5.0
    wait_jitter: float = 1.0
    timeout: float | None = None

    def __post_init__(self) -> None:
        # Checked at run time too: policies also come from untyped code and configuration.
        on: object = self.on
        kinds: tuple[object, ...] = on if isinstance(on, tuple) else (on,)
        if not kinds or not all(isinstance(kind, type) and issubclass(kind, Exception) for kind in kinds):
            raise ValueError(f"RetryPolicy.on must be Exception types, got {self.on!r}")
        attempts: object = self.attempts
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ValueError(f"RetryPolicy.attempts must be an int >= 1, got {self.attempts!r}")
        for name in ("wait_initial", "wait_max", "wait_jitter"):
            value: object = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ValueError(f"RetryPolicy.{name} must be a finite number of seconds >= 0, got {value!r}")
        timeout: object = self.timeout
        if timeout is not None and (not isinstance(timeout, int | float) or not math.isfinite(timeout) or timeout <= 0):
            raise ValueError(f"RetryPolicy.timeout must be a finite number of seconds > 0, or None for no limit, got {self.timeout!r}")
        if self.attempts > 1:
            # tenacity comes with the [retries] extra: say so when the policy is made, not when
            # a step first fails in the middle of a run (one attempt never needs it).
            require_extra("retries", "RetryPolicy")

    def retries(self, error: BaseException) -> bool:
        """Whether ``error`` is worth another attempt under this policy (attempts left aside)."""
        return isinstance(error, self.on) and not getattr(error, "steprail_no_retry", False)


#: A policy of one attempt: no retry (what a step without a policy gets).
NO_RETRY: Final = RetryPolicy(attempts=1)


def run_attempts[T](
    policy: RetryPolicy,
    attempt: Callable[[], T],
    between: Callable[[int, BaseException, float], None],
    sleep: Callable[[float], None] | None = None,
) -> T:
    """Call ``attempt`` until it returns, as ``policy`` allows; return what it returned.

    ``between(number, error, wait)`` runs after each failed attempt that will be retried and
    before the wait; if it raises, no further attempt is made and the attempt's own exception
    propagates (with the other as its context). The last attempt's exception propagates
    unchanged.
    """
    import tenacity

    def before_sleep(state: RetryCallState) -> None:
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        assert error is not None  # only failed attempts are retried
        wait = state.upcoming_sleep
        try:
            between(state.attempt_number, error, wait)
        except BaseException as stop:
            raise error from stop

    stop: tenacity.stop.stop_base = tenacity.stop_after_attempt(policy.attempts)
    if policy.timeout is not None:
        stop = stop | tenacity.stop_before_delay(policy.timeout)
    retrying = tenacity.Retrying(
        stop=stop,
        # initial * 2 ** (n - 1), at most wait_max, plus up to wait_jitter random seconds.
        wait=tenacity.wait_exponential(multiplier=policy.wait_initial, max=policy.wait_max)
        + tenacity.wait_random(0, policy.wait_jitter),
        retry=tenacity.retry_if_exception(policy.retries),
        before_sleep=before_sleep,
        reraise=True,
        sleep=time.sleep if sleep is None else sleep,
    )
    return retrying(attempt)
