"""Serializable optimistic concurrency under real contention, through pyqldb."""

from __future__ import annotations

import threading
from typing import Any

from pyqldb.config.retry_config import RetryConfig
from pyqldb.driver.qldb_driver import QldbDriver

from tests.local.conftest import Running

THREADS = 8
INCREMENTS = 12
COUNTERS = 3


def test_eight_threads_incrementing_counters_lose_no_update(local: Running, ledger: str) -> None:
    setup = local.driver(ledger)
    setup.execute_lambda(lambda t: t.execute_statement("CREATE TABLE Counter"))
    setup.execute_lambda(lambda t: t.execute_statement("CREATE INDEX ON Counter (name)"))
    setup.execute_lambda(
        lambda t: t.execute_statement("INSERT INTO Counter ?", [{"name": f"c{i}", "value": 0} for i in range(COUNTERS)])
    )
    driver = QldbDriver(
        ledger,
        endpoint_url=local.url,
        region_name="us-east-1",
        retry_config=RetryConfig(retry_limit=200, base=1),
        max_concurrent_transactions=THREADS,
    )
    done = [0] * COUNTERS
    lock = threading.Lock()
    errors: list[BaseException] = []

    def increment(t: Any, name: str) -> None:
        (current,) = list(t.execute_statement("SELECT VALUE c.value FROM Counter AS c WHERE c.name = ?", name))
        t.execute_statement("UPDATE Counter AS c SET c.value = ? WHERE c.name = ?", current + 1, name)

    def worker(n: int) -> None:
        try:
            for i in range(INCREMENTS):
                counter = (n + i) % COUNTERS
                driver.execute_lambda(lambda t, c=counter: increment(t, f"c{c}"))
                with lock:
                    done[counter] += 1
        except BaseException as exc:  # surfaced below, never swallowed
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    driver.close()
    assert errors == []
    final = setup.execute_lambda(
        lambda t: {r["name"]: r["value"] for r in t.execute_statement("SELECT * FROM Counter")}
    )
    assert final == {f"c{i}": done[i] for i in range(COUNTERS)}
    assert sum(done) == THREADS * INCREMENTS
