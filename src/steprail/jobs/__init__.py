"""Job records and runtime sinks.

A job is one run of an action. :class:`JobStore` keeps every job in a SQLite file;
:class:`JobRuntime` writes a running job into it; :class:`ConsoleRuntime` and
:class:`JsonLinesRuntime` show or stream the same events; :class:`LoggingRuntime` hands them to
stdlib ``logging``; :class:`FanOutRuntime` sends them to
several sinks at once. All of them are :class:`~steprail.RuntimeContext`\\s that also hear the
job's lifecycle (:class:`ActionRuntime`).
"""

from ._events import JOB_TRANSITIONS, ActionRuntime, JobOutcome, JobState, JobStatus, PlannedStep, StepOutcome, StepStatus
from ._logging_sink import LoggingRuntime
from ._sinks import ConsoleRuntime, FanOutRuntime, JobRuntime, JsonLinesRuntime, format_metrics
from ._store import (
    JobAttempt,
    JobLog,
    JobNotFoundError,
    JobRecord,
    JobStore,
    JobStoreDamagedError,
    JobStoreError,
    JobStoreFullError,
    JobStoreLockedError,
    JobStoreReadOnlyError,
    ParamsTooLargeError,
    StepRecord,
)

__all__ = [
    "ActionRuntime",
    "ConsoleRuntime",
    "FanOutRuntime",
    "JOB_TRANSITIONS",
    "JobAttempt",
    "JobLog",
    "JobNotFoundError",
    "JobOutcome",
    "JobRecord",
    "JobRuntime",
    "JobState",
    "JobStatus",
    "JobStore",
    "JobStoreDamagedError",
    "JobStoreError",
    "JobStoreFullError",
    "JobStoreLockedError",
    "JobStoreReadOnlyError",
    "JsonLinesRuntime",
    "LoggingRuntime",
    "ParamsTooLargeError",
    "PlannedStep",
    "StepOutcome",
    "StepRecord",
    "StepStatus",
    "format_metrics",
]
