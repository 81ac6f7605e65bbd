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
* the engine alone, in this process (no HTTP): commits/s — the ledger's own capacity;
* journal operations on a ledger of --blocks blocks (default 50,000, built through the
  engine): ExportJournalToS3 throughput in blocks/s per output format, against the
  straightforward encoder (amazon.ion `simpleion.dumps`) on the same blocks; GetDigest and
  GetRevision-with-proof latency at 50,000 blocks against the same calls at 1,000 blocks —
  a ratio near 1 shows they cost O(log n), not a scan.

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
        [
            sys.executable,
            "-m",
            "qldb_dr.cli.main",
            "local",
            "up",
            "--port",
            "0",
            "--data-dir",
            str(data_dir),
            "--max-ledgers",
            "100",
        ],
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


def build_ledger(data_dir: Path, name: str, blocks: int) -> None:
    """A ledger of `blocks` blocks (4 documents each), committed through the engine."""
    from qldb_dr.journal.hashing import commit_digest
    from qldb_dr.local.ledger.registry import Registry

    registry = Registry(data_dir, creating_seconds=0, max_ledgers=100)
    ledger = registry.create("us-east-1", name, permissions_mode="STANDARD", deletion_protection=False)
    engine = registry.ledger("us-east-1", ledger.name)

    def run(statement: str, *params: Any) -> None:
        txn = engine.begin()
        txn.execute(statement, list(params))
        engine.commit(txn, commit_digest(txn.id, [s.digest for s in txn.statements]))

    run("CREATE TABLE Item")
    for i in range(blocks - 1):
        run(
            "INSERT INTO Item ?", [{"key": f"k{i}-{j}", "n": i, "amount": i * 1.25, "note": "x" * 80} for j in range(4)]
        )
    registry.close()


def journal_operations(blocks: int) -> None:
    from datetime import UTC, datetime, timedelta

    from amazon.ion import simpleion
    from moto.server import ThreadedMotoServer

    from qldb_dr.ion import iter_binary

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    s3 = boto3.client("s3", endpoint_url=f"http://{host}:{port}")
    s3.create_bucket(Bucket="bench")
    os.environ["AWS_ENDPOINT_URL_S3"] = f"http://{host}:{port}"
    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        build_ledger(Path(directory), "big", blocks)
        build_ledger(Path(directory), "small", 1000)
        print(f"built ledgers of {blocks:,} and 1,000 blocks in {time.perf_counter() - started:.0f}s")
        process, url = start_endpoint(Path(directory))
        try:
            qldb = boto3.client("qldb", endpoint_url=url)
            rates = {}
            for fmt in ("ION_BINARY", "ION_TEXT", "JSON"):
                started = time.perf_counter()
                export_id = qldb.export_journal_to_s3(
                    Name="big",
                    InclusiveStartTime=datetime.now(UTC) - timedelta(days=1),
                    ExclusiveEndTime=datetime.now(UTC),
                    RoleArn="arn:aws:iam::123456789012:role/export",
                    OutputFormat=fmt,
                    S3ExportConfiguration={
                        "Bucket": "bench",
                        "Prefix": f"{fmt}/",
                        "EncryptionConfiguration": {"ObjectEncryptionType": "SSE_S3"},
                    },
                )["ExportId"]
                while (
                    qldb.describe_journal_s3_export(Name="big", ExportId=export_id)["ExportDescription"]["Status"]
                    == "IN_PROGRESS"
                ):
                    time.sleep(0.05)
                rates[fmt] = blocks / (time.perf_counter() - started)
            latency = {
                name: (_latency(qldb, name, "digest"), _latency(qldb, name, "revision")) for name in ("big", "small")
            }
        finally:
            process.terminate()
            process.wait()
        first_object = next(
            c["Key"]
            for c in s3.list_objects_v2(Bucket="bench", Prefix="ION_BINARY/")["Contents"]
            if c["Key"].endswith(".ion")
        )
        sample = list(iter_binary(s3.get_object(Bucket="bench", Key=first_object)["Body"].read()))
        started = time.perf_counter()
        simpleion.dumps(sample, binary=True, sequence_as_stream=True)
        baseline = len(sample) / (time.perf_counter() - started)
    moto.stop()
    for fmt, rate in rates.items():
        print(
            f"export {fmt:<10} of {blocks:,} blocks : {rate:8,.0f} blocks/s  "
            f"({rate / baseline:.1f}x simpleion's encoder alone)"
        )
    print(f"baseline: simpleion.dumps(binary)  : {baseline:8,.0f} blocks/s  (encoding only, no storage, no S3)")
    for label, index in (("GetDigest", 0), ("GetRevision + proof", 1)):
        big, small = latency["big"][index], latency["small"][index]
        print(
            f"{label:<20} at {blocks:,} blocks: {big * 1000:6.2f} ms; at 1,000 blocks: {small * 1000:6.2f} ms "
            f"({big / small:.2f}x)"
        )


def _latency(qldb: Any, ledger: str, what: str, count: int = 200) -> float:
    """Mean seconds of GetDigest, or of GetRevision with a proof to the tip, over `count` calls."""
    from amazon.ion import simpleion

    tip = qldb.get_digest(Name=ledger)["DigestTipAddress"]
    address = simpleion.loads(tip["IonText"])
    calls = []
    for i in range(count):
        seq = 1 + (i * 7919) % address["sequenceNo"]
        holder = {"IonText": simpleion.dumps({"strandId": address["strandId"], "sequenceNo": seq}, binary=False)}
        block = simpleion.loads(qldb.get_block(Name=ledger, BlockAddress=holder)["Block"]["IonText"])
        calls.append((holder, block["revisions"][0]["metadata"]["id"]))
    started = time.perf_counter()
    for holder, document_id in calls:
        if what == "digest":
            qldb.get_digest(Name=ledger)
        else:
            qldb.get_revision(Name=ledger, BlockAddress=holder, DocumentId=document_id, DigestTipAddress=tip)
    return (time.perf_counter() - started) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--transactions", type=int, default=300)
    parser.add_argument("--blocks", type=int, default=50_000, help="journal size for the export and proof figures")
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
    journal_operations(args.blocks)


if __name__ == "__main__":
    main()
