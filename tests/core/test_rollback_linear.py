"""Rolling back many undo actions reads the report's items a bounded number of times each: the
cost grows linearly with the undo actions, not with their square (counted, not timed)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any, SupportsIndex

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steprail import Orchestrator, RollbackEntry, RollbackReport, StepFailedError, StepRegistry, StepResult
from steprail import _orchestrator

from ._steps import ItemsContext, Scripted, new_context


class CountingList(list[RollbackEntry | str]):
    """A report's items that count every item read (by index or by iteration)."""

    reads = 0

    def __getitem__(self, index: SupportsIndex | slice) -> Any:  # counts, then reads
        CountingList.reads += 1
        return super().__getitem__(index)

    def __iter__(self) -> Iterator[RollbackEntry | str]:
        for item in super().__iter__():
            CountingList.reads += 1
            yield item


class CountingReport(RollbackReport):
    __slots__ = ()

    def __init__(self, entries: list[RollbackEntry] | None = None) -> None:
        super().__init__(entries)
        self._items = CountingList(self._items)


def _undo_many(count: int) -> StepFailedError:
    def register(context: ItemsContext) -> StepResult:
        for number in range(count):
            context.on_rollback(functools.partial(context.journal.append, f"undo {number}"), label=f"u{number}")
        raise OSError("fail after registering")

    registry = StepRegistry[ItemsContext]()
    registry.register(Scripted("first"))
    registry.register(Scripted("many", action=register))
    listened: list[int] = []
    try:
        Orchestrator(registry, new_context(), lambda current, total: None).execute(
            rollback_listener=lambda name, entries, finished: listened.append(len(entries))
        )
    except StepFailedError as error:
        assert listened == [count, 1]
        return error
    raise AssertionError("the step did not fail")


def test_rolling_back_many_undo_actions_reads_each_item_a_bounded_number_of_times(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_orchestrator, "RollbackReport", CountingReport)
    reads = []
    for count in (500, 2000):
        CountingList.reads = 0
        error = _undo_many(count)
        assert len(error.rollback_report.entries) == count + 1
        reads.append(CountingList.reads)
    # Linear: four times the undo actions, about four times the reads (quadratic would be 16x).
    assert reads[1] <= 5 * reads[0], reads


def test_reading_entries_after_each_append_converts_every_noted_name_once() -> None:
    report = RollbackReport()
    items = CountingList()
    report._items = items
    CountingList.reads = 0
    for number in range(1000):
        report._note_rolled_back(f"s{number}")
        assert report.entries[-1] == RollbackEntry(f"s{number}", "rollback", f"s{number}")
    assert CountingList.reads <= 10 * 1000  # a few per append; rescanning would be ~500,000


@settings(max_examples=25)
@given(st.lists(st.sampled_from(["name", "entry", "read", "shorten"]), max_size=40))
def test_entries_always_match_the_items_noted_whatever_the_reads(operations: list[str]) -> None:
    report = RollbackReport()
    expected: list[RollbackEntry] = []
    for number, operation in enumerate(operations):
        if operation == "name":
            report._note_rolled_back(f"s{number}")
            expected.append(RollbackEntry(f"s{number}", "rollback", f"s{number}"))
        elif operation == "entry":
            entry = RollbackEntry(f"s{number}", "undo", "u", "OSError: x")
            report.entries.append(entry)
            expected.append(entry)
        elif operation == "shorten" and expected:
            del report.entries[0]
            del expected[0]
        else:
            assert report.entries == expected
    assert report.entries == expected


def test_undo_actions_still_run_newest_first_in_a_long_rollback() -> None:
    error = _undo_many(300)
    labels = [entry.label for entry in error.rollback_report.entries]
    assert labels == [f"u{number}" for number in reversed(range(300))] + ["first"]
