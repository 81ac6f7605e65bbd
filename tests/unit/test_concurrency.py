"""in_order: results in the items' order, a bounded number computed ahead of the caller."""

from __future__ import annotations

from collections.abc import Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from qldb_dr.concurrency import in_order


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(), max_size=60), st.integers(1, 6))
def test_results_come_in_the_items_order(items: list[int], workers: int) -> None:
    assert list(in_order(lambda x: x * 3, items, workers)) == [x * 3 for x in items]


def test_no_more_than_twice_the_workers_are_taken_ahead_of_the_reader() -> None:
    """Executor.map took every item at once and kept every result (failed before)."""
    pulled = 0

    def items() -> Iterator[int]:
        nonlocal pulled
        for item in range(1_000):
            pulled += 1
            yield item

    taken = 0
    for result in in_order(lambda x: x, items(), 4):
        assert result == taken
        assert pulled <= taken + 1 + 2 * 4, (taken, pulled)
        taken += 1
    assert taken == 1_000


def test_a_failure_is_raised_where_its_item_is_and_the_rest_are_not_started() -> None:
    started: list[int] = []

    def work(item: int) -> int:
        started.append(item)
        if item == 5:
            raise ValueError("item 5")
        return item

    got = []
    try:
        for result in in_order(work, range(10_000), 2):
            got.append(result)
    except ValueError as exc:
        assert str(exc) == "item 5"
    assert got == [0, 1, 2, 3, 4] and len(started) < 50
