"""Benchmark: the local ledger through pyqldb, as applications and restores use it.

    python -m benchmarks.ledger [--transactions 300]

Starts `qldb-dr local up` as its own process (as in use) and measures, in one run:

* floor     — the QLDB Session protocol with nothing to do: StartTransaction + AbortTransaction
              through botocore. A pyqldb transaction is 3 such requests, so floor/3 is the
              most transactions/s any server could give one writer on this machine;
* single writer, one insert per transaction, through pyqldb (the ratio to the floor says how
  much of the time is the ledger's);
* single writer, 40 documents per transaction;
* 1, 2, 4 and 8 concurrent writers, each its own process with its own driver;
* point lookups by an indexed field, one per transaction;
* the engine alone, in this process (no HTTP): commits/s — the ledger's own capacity.

Real QLDB gave about 10-20 transactions/s per writer. Compare ratios, not seconds: the
machine is a noisy 2-core VM, and client and server share it.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from pyqldb.driver.qldb_driver import QldbDriver

ENV = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}


def start_endpoint(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "qldb_dr.cli.main", "local", "up", "--port", "0", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        match = re.search(r"http://127\.0\.0\.1:\d+", line)
        if match:
            return process, match.group(0)
    raise RuntimeError("qldb-dr local up did not start")


def create_ledger(url: str, name: str) -> None:
    qldb = boto3.client("qldb", endpoint_url=url)
    qldb.create_ledger(Name=name, PermissionsMode="STANDARD", DeletionProtection=False)
    while qldb.describe_ledger(Name=name)["State"] != "ACTIVE":
        time.sleep(0.05)
    driver = QldbDriver(name, endpoint_url=url)
    driver.execute_lambda(lambda t: t.execute_statement("CREATE TABLE Item"))
    driver.execute_lambda(lambda t: t.execute_statement("CREATE INDEX ON Item (key)"))
    driver.close()


def floor(url: str, ledger: str, count: int) -> float:
    """Protocol round trips that do no work: requests per second."""
    session = boto3.client("qldb-session", endpoint_url=url)
    token = session.send_command(StartSession={"LedgerName": ledger})["StartSession"]["SessionToken"]
    started = time.perf_counter()
    for _ in range(count):
        session.send_command(SessionToken=token, StartTransaction={})
        session.send_command(SessionToken=token, AbortTransaction={})
    return 2 * count / (time.perf_counter() - started)


def writer(url: str, ledger: str, count: int, per_transaction: int, offset: int) -> float:
    """`count` insert transactions through pyqldb; returns the seconds taken."""
    driver = QldbDriver(ledger, endpoint_url=url)
    started = time.perf_counter()
    for i in range(count):
        docs = [{"key": f"k{offset + i}-{j}", "n": i, "payload": "x" * 200} for j in range(per_transaction)]
        driver.execute_lambda(lambda t, d=docs: t.execute_statement("INSERT INTO Item ?", d if len(d) > 1 else d[0]))
    elapsed = time.perf_counter() - started
    driver.close()
    return elapsed


def _writer_process(args: tuple[str, str, int, int, int]) -> float:
    os.environ.update(ENV)
    return writer(*args)


def concurrent(url: str, ledger: str, writers: int, count: int) -> float:
    """Aggregate transactions/s of `writers` processes, one insert per transaction."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(writers) as pool:
        started = time.perf_counter()
        pool.map(_writer_process, [(url, ledger, count, 1, 10_000_000 * (n + 1)) for n in range(writers)])
        return writers * count / (time.perf_counter() - started)


def lookups(url: str, ledger: str, count: int) -> float:
    driver = QldbDriver(ledger, endpoint_url=url)
    started = time.perf_counter()
    for i in range(count):
        found = driver.execute_lambda(
            lambda t, k=f"k{i}-0": list(t.execute_statement("SELECT n FROM Item WHERE key = ?", k))
        )
        assert len(found) == 1, found
    elapsed = time.perf_counter() - started
    driver.close()
    return count / elapsed


def engine_commits(count: int) -> float:
    """The engine with no HTTP and no driver: commits per second of one-insert transactions."""
    from qldb_dr.journal.hashing import commit_digest
    from qldb_dr.local.ledger.engine import Ledger

    with tempfile.TemporaryDirectory() as directory:
        ledger = Ledger.create(Path(directory) / "engine.sqlite", "engine")

        def run(statement: str, *params: Any) -> None:
            txn = ledger.begin()
            txn.execute(statement, list(params))
            ledger.commit(txn, commit_digest(txn.id, [s.digest for s in txn.statements]))

        run("CREATE TABLE Item")
        started = time.perf_counter()
        for i in range(count):
            run("INSERT INTO Item ?", {"key": f"k{i}", "n": i, "payload": "x" * 200})
        rate = count / (time.perf_counter() - started)
        ledger.close()
        return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--transactions", type=int, default=300)
    args = parser.parse_args()
    n = args.transactions
    os.environ.update(ENV)
    with tempfile.TemporaryDirectory() as directory:
        process, url = start_endpoint(Path(directory))
        try:
            create_ledger(url, "bench")
            requests = floor(url, "bench", n)
            single = n / writer(url, "bench", n, 1, 0)
            batch = n / writer(url, "bench", n, 40, 1_000_000)
            parallel = {w: concurrent(url, "bench", w, max(n // w, 50)) for w in (1, 2, 4, 8)}
            point = lookups(url, "bench", n)
        finally:
            process.terminate()
            process.wait()
    engine = engine_commits(n * 3)
    ceiling = requests / 3
    print(f"protocol floor (no-op requests)     : {requests:8.0f} requests/s = {ceiling:.0f} transactions/s at most")
    print(f"single writer, 1 insert/transaction : {single:8.0f} transactions/s  ({single / ceiling:.2f} of the floor)")
    print(f"single writer, 40 docs/transaction  : {batch:8.0f} transactions/s  = {batch * 40:,.0f} documents/s")
    for w, rate in parallel.items():
        print(
            f"{w} concurrent writer(s)              : {rate:8.0f} transactions/s ({rate / parallel[1]:.2f}x one writer)"
        )
    print(f"point lookups by indexed field      : {point:8.0f} lookups/s (one transaction each)")
    print(f"engine alone, no HTTP               : {engine:8.0f} commits/s  ({engine / single:.1f}x one pyqldb writer)")
    print(f"versus real QLDB's 10-20 transactions/s per writer: {single / 15:.0f}x")


if __name__ == "__main__":
    main()
