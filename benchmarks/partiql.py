"""Micro-benchmark of the PartiQL engine against the in-memory access (not a test; run on demand):

    python -m benchmarks.partiql [count]

Prints executions per second of the statements a restore runs most, parse cache included.
"""

from __future__ import annotations

import sys
import time
from decimal import Decimal

from tests.partiql.memory import MemoryAccess

from qldb_dr.partiql import execute, parse

INSERT = "INSERT INTO t ?"
UPDATE = "UPDATE t AS d BY pid SET d.a = ?, d.b = ? WHERE pid = ?"
SELECT = "SELECT * FROM t AS d WHERE d.key = ?"


def rate(count: int, run: object) -> float:
    assert callable(run)
    start = time.perf_counter()
    for i in range(count):
        run(i)
    return count / (time.perf_counter() - start)


def main(count: int) -> None:
    access = MemoryAccess()
    execute("CREATE TABLE t", [], access)
    execute("CREATE INDEX ON t (key)", [], access)

    def document(i: int) -> dict[str, object]:
        return {"key": f"k{i}", "a": i, "b": Decimal("1.50"), "name": "x" * 20, "tags": ["p", "q"], "n": {"m": i}}

    ids: list[str] = []
    inserts = rate(count, lambda i: ids.append(execute(INSERT, [document(i)], access)[0]["documentId"]))
    updates = rate(count, lambda i: execute(UPDATE, [i, Decimal(i), ids[(i * 7919) % count]], access))
    selects = rate(min(count, 2000), lambda i: execute(SELECT, [f"k{i}"], access))

    def parse_uncached(i: int) -> None:
        parse.cache_clear()
        parse(UPDATE)

    parses = rate(200, parse_uncached)
    print(f"INSERT INTO t ?                         {inserts:10,.0f}/s")
    print(f"UPDATE t AS d BY pid SET ... WHERE pid  {updates:10,.0f}/s")
    print(f"SELECT * FROM t WHERE indexed = ?      {selects:10,.0f}/s")
    print(f"parse without cache (UPDATE statement)  {parses:10,.0f}/s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
