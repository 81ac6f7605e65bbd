"""`in_order`: a function over many items, a few at a time, results in the items' order.

`concurrent.futures.Executor.map` submits every item at once and keeps every result until it
is taken, so a reader slower than its workers ends up holding all of them — the whole
journal's summaries in Verify Restore. This keeps at most `workers` × 2 results in hand.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def in_order(function: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """function(item) for each item, `workers` threads at a time, yielded in order; no more
    than 2 × `workers` results are computed ahead of the one the caller takes."""
    with ThreadPoolExecutor(workers) as pool:
        pending: deque[Future[R]] = deque()
        try:
            for item in items:
                pending.append(pool.submit(function, item))
                if len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:  # the caller stopped early (or one failed): do not start what is not needed
            for future in pending:
                future.cancel()
