"""Exploring a sample of fault points with hypothesis (imported only when sampling is asked for)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

__all__ = ["explore_sample"]


def explore_sample[T](points: Sequence[T], count: int, check: Callable[[T], None]) -> None:
    """Run ``check`` on up to ``count`` of ``points`` chosen by hypothesis.

    On a failure hypothesis shrinks towards the earliest failing point and re-raises its error.

    Raises:
        ImportError: hypothesis is not installed (it comes with ``steprail[testing]``).
    """
    try:
        from hypothesis import HealthCheck, Phase, given, settings
        from hypothesis import strategies as st
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "exploring a sample of fault points needs hypothesis: pip install 'steprail[testing]' "
            "(or pass max_fault_points=None to explore them all)"
        ) from error

    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(st.sampled_from(list(points)))
    def explore(point: T) -> None:
        check(point)

    explore()
