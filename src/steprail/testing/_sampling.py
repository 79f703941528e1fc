"""Exploring a sample of fault points with hypothesis (imported only when sampling is asked for)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .._extras import MissingExtraError, install_advice

__all__ = ["explore_sample"]


def explore_sample[T](points: Sequence[T], count: int, check: Callable[[T], None]) -> None:
    """Run ``check`` on up to ``count`` distinct ``points`` chosen by hypothesis.

    The first failure is re-raised as it is, with a note saying which point it was. Hypothesis
    is used to choose only, never to replay: a leaking rollback leaves state behind, so running a
    point again would not fail the same way (hypothesis would call that flaky).

    Raises:
        ImportError: hypothesis is not installed (it comes with ``steprail[testing]``); a
            ``MissingExtraError`` that says so.
    """
    try:
        from hypothesis import HealthCheck, Phase, given, settings
        from hypothesis import strategies as st
    except ImportError as error:
        raise MissingExtraError(
            "exploring a sample of fault points needs the [testing] extra (missing: hypothesis): "
            f"{install_advice('testing')} "
            "(or explore every fault point: no --steprail-fault-points / max_fault_points=None)",
            name="hypothesis",
        ) from error

    indexes = list(range(len(points)))
    seen: list[int] = []
    failures: list[tuple[int, Exception]] = []

    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(st.sampled_from(indexes))
    def explore(index: int) -> None:
        if failures or index in seen:
            return  # after a failure the state may be polluted: stop checking
        seen.append(index)
        try:
            check(points[index])
        except Exception as error:  # noqa: BLE001 - re-raised below, outside hypothesis
            failures.append((index, error))

    explore()
    if failures:
        index, failure = failures[0]
        failure.add_note(
            f"steprail.testing: fault point {index + 1} of {len(points)}; "
            f"{len(seen)} point(s) sampled by hypothesis ({count} allowed)"
        )
        raise failure
