"""Benchmark: restoring a ledger from its vault, against the naive loader and the bulk-insert floor.

    python -m benchmarks.restore [--documents 20000] [--versions 5] [--baseline-revisions 10000]
                                 [--workers 1,2,4,8] [--workflow 1,2,4]

    (small: --documents 2000 --baseline-revisions 1000 --workers 2 --modes latest)

One run, one local endpoint (`qldb-dr local up` in its own process):

1. a source ledger of --documents documents x --versions versions (the last tenth of the
   documents then deleted), built through the engine; backed up (export, verify, record);
2. (a) the naive baseline: one target transaction per source transaction, a single writer,
   as AWS's sequential export loader does — run on the first --baseline-revisions revisions;
3. (b) this restore, called as a library — plan, partition (each object read once: verified
   and split), the gate, prepare, then replay with 1, 2, 4 and 8 worker processes — in
   `latest` and `history` mode, each verified against the journal once;
4. (d) this restore through the real workflow: `qldb-dr restore start` (latest) on the
   endpoint at --max-concurrency 1, 2 and 4 (--workflow), timed from the execution's start
   to its end (the report written), as Step Functions records them, with the seconds in each
   state; the endpoint runs each Lambda function in worker processes of its own, as AWS does;
   then the peak resident memory of the endpoint and of each function's largest execution
   environment, beside its MemorySize;
5. (c) the floor: bulk insert of the final states, 40 documents per transaction, same workers.

Prints revisions/s of each, the ratio to the baseline and (latest mode, library and
workflow) to the floor at the same number of workers. Pass
--documents 200000 --modes latest --workers 2 for the 1,000,000-revision point, and
--baseline-revisions 0 --modes '' --workers '' --workflow 2 for the workflow alone (with its
floor). The machine is a noisy 2-core VM: the endpoint and the workers share it, compare
ratios, not seconds.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.ledger import ENV, start_endpoint

LEDGER = "bench"
VAULT = "qldb-dr-vault-123456789012-us-east-1"
ROLE = "arn:aws:iam::123456789012:role/qldb-dr-export"


def build_source(data_dir: Path, documents: int, versions: int) -> int:
    """The source ledger, through the engine (fast); returns its revision count.

    Interleaved, as a live ledger writes: each round inserts 40 new documents and moves older
    ones up a version, so any prefix of the journal has the same mix of inserts and updates
    (the baseline runs on a prefix). The last tenth of the documents is then deleted."""
    from qldb_dr.journal.hashing import commit_digest
    from qldb_dr.local.ledger.registry import Registry

    registry = Registry(data_dir, creating_seconds=0, max_ledgers=100)
    registry.create("us-east-1", LEDGER, permissions_mode="STANDARD", deletion_protection=False)
    engine = registry.ledger("us-east-1", LEDGER)

    def run(*statements: tuple[str, list[Any]]) -> list[Any]:
        txn = engine.begin()
        results = [row for text, params in statements for row in txn.execute(text, params)]
        engine.commit(txn, commit_digest(txn.id, [s.digest for s in txn.statements]))
        return results

    def update(chunk: list[str], version: int) -> int:
        run(*[("UPDATE Vehicle AS v BY vid SET v.Mileage = ? WHERE vid = ?", [version * 1000, i]) for i in chunk])
        return len(chunk)

    run(("CREATE TABLE Vehicle", []))
    run(("CREATE INDEX ON Vehicle (VIN)", []))
    revisions = 0
    chunks: list[list[str]] = []
    for start in range(0, documents, 40):
        batch = [
            {"VIN": f"V{n:07d}", "Mileage": 0, "Owner": {"Name": f"owner {n}"}, "Notes": "x" * 60}
            for n in range(start, min(start + 40, documents))
        ]
        chunks.append([row["documentId"] for row in run(("INSERT INTO Vehicle ?", [batch]))])
        revisions += len(batch)
        for version in range(1, versions):
            if len(chunks) - 1 - version >= 0:
                revisions += update(chunks[len(chunks) - 1 - version], version)
    for version in range(1, versions):  # the versions the last chunks have not had yet
        for older in range(max(0, len(chunks) - version), len(chunks)):
            revisions += update(chunks[older], version)
    ids = [i for chunk in chunks for i in chunk]
    doomed = ids[-(len(ids) // 10) :]
    for start in range(0, len(doomed), 40):
        chunk = doomed[start : start + 40]
        run(*[("DELETE FROM Vehicle BY vid WHERE vid = ?", [i]) for i in chunk])
        revisions += len(chunk)
    registry.close()
    return revisions


def _backup_polling(settings: Any) -> Any:
    from qldb_dr.backup import export_status, plan_window, record, start_export, verify_export

    time.sleep(0.01)
    plan = plan_window(settings, now=datetime.now(UTC))
    export_id = start_export(settings, plan)
    while export_status(settings, export_id) == "IN_PROGRESS":
        time.sleep(0.2)
    verified = verify_export(settings, plan, export_id)
    return record(settings, plan, verified, now=datetime.now(UTC), execution=None)


def naive(limit: int) -> tuple[int, float]:
    """One target transaction per source block, one writer; returns (revisions, seconds)."""
    from pyqldb.driver.qldb_driver import QldbDriver

    from qldb_dr.aws import client
    from qldb_dr.catalog import Catalog, Vault
    from qldb_dr.ion.typed import typed
    from qldb_dr.journal.export import discover, open_export
    from qldb_dr.journal.reader import read_blocks
    from qldb_dr.store.s3 import S3Store

    qldb = client("qldb", "us-east-1")
    qldb.create_ledger(Name="naive", PermissionsMode="STANDARD", DeletionProtection=False)
    while qldb.describe_ledger(Name="naive")["State"] != "ACTIVE":
        time.sleep(0.05)
    driver = QldbDriver("naive", region_name="us-east-1")
    driver.execute_lambda(lambda t: t.execute_statement("CREATE TABLE Vehicle"))
    store = S3Store(VAULT, "", client("s3", "us-east-1"))
    (point,) = Catalog(Vault(store)).recovery_points(LEDGER)
    export = open_export(store, next(r for r in discover(store.scoped(point.export_head))))
    mapped: dict[str, str] = {}
    done = 0
    started = time.perf_counter()
    for key in export.completed.keys:  # type: ignore[union-attr]
        for block in read_blocks(store.read(key), key):
            revisions = [r for r in block.revisions or () if r.metadata is not None]
            if not revisions:
                continue

            def apply(txn: Any, revisions: list[Any] = revisions) -> None:
                for r in revisions:
                    if r.version == 0:
                        (row,) = list(txn.execute_statement("INSERT INTO Vehicle ?", typed(r.data)))
                        mapped[r.document_id] = row["documentId"]
                    elif r.data is not None:
                        fields = dict(r.data.items())
                        txn.execute_statement(
                            "UPDATE Vehicle AS v BY vid SET "
                            + ", ".join(f"v.{k} = ?" for k in fields)
                            + " WHERE vid = ?",
                            *(typed(v) for v in fields.values()),
                            mapped[r.document_id],
                        )
                    else:
                        txn.execute_statement("DELETE FROM Vehicle BY vid WHERE vid = ?", mapped[r.document_id])

            driver.execute_lambda(apply)
            done += len(revisions)
            if done >= limit:
                return done, time.perf_counter() - started
    return done, time.perf_counter() - started


def _replay(args: tuple[dict[str, Any], int]) -> dict[str, Any]:
    os.environ.update(ENV)
    from qldb_dr.restore import steps

    state, partition = args
    return steps.replay_item(steps.RestoreState.from_json(state), partition)


def restore(mode: str, workers: int, name: str, verify: bool) -> dict[str, Any]:
    from qldb_dr.restore import steps
    from qldb_dr.restore.settings import Settings

    partitions = max(16, workers * 4)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    request = {
        "sourceLedger": LEDGER,
        "targetLedger": name,
        "targetRegion": "us-east-1",
        "mode": mode,
        "partitions": partitions,
        "maxConcurrency": workers,
        "vault": f"s3://{VAULT}/",
    }
    planned = steps.plan_restore(Settings.resolve(request, {}, "us-east-1"), name)
    timings["plan"] = time.perf_counter() - started
    mark = time.perf_counter()
    state = steps.RestoreState.from_json(planned["restore"])
    vault = state.open_vault()
    for item in json.loads(vault.store.read(planned["objects"])):
        steps.partition_item(state, item)
    timings["partition"] = time.perf_counter() - mark
    mark = time.perf_counter()
    planned = steps.check_journal(planned)
    state = steps.RestoreState.from_json(planned["restore"])
    steps.prepare_target(state, planned["schema"])
    timings["gate+prepare"] = time.perf_counter() - mark
    mark = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers) as pool:
        outcomes = pool.map(_replay, [(state.to_json(), p) for p in range(partitions)], chunksize=1)
    timings["replay"] = time.perf_counter() - mark
    timings["total"] = time.perf_counter() - started
    result = {
        "mode": mode,
        "workers": workers,
        "revisions": planned["revisions"],
        "applied": sum(o["applied"] for o in outcomes),
        "transactions": sum(o["transactions"] for o in outcomes),
        **timings,
    }
    if verify:
        verification = steps.verify_restore(state)
        result["verified"] = verification["status"]
    return result


def workflow(concurrency: int, name: str) -> dict[str, Any]:
    """`qldb-dr restore start` (latest) as a user runs it, on the endpoint; the execution's
    own start and stop times (Step Functions'), and the report's revision count."""
    import subprocess
    import sys

    from qldb_dr.aws import client

    partitions = max(16, concurrency * 4)
    command = [
        sys.executable,
        "-m",
        "qldb_dr.cli.main",
        "restore",
        "start",
        "--source-ledger",
        LEDGER,
        "--target-ledger",
        name,
        "--region",
        "us-east-1",
        "--mode",
        "latest",
        "--max-concurrency",
        str(concurrency),
        "--partitions",
        str(partitions),
    ]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(), check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"restore start failed ({done.returncode}): {done.stdout}{done.stderr}")
    restore_id = done.stdout.split()[1].rstrip(":")
    sfn = client("stepfunctions", "us-east-1")
    machine = next(m for m in sfn.list_state_machines()["stateMachines"] if m["name"] == "qldb-dr-restore")
    execution = sfn.describe_execution(
        executionArn=f"{machine['stateMachineArn'].replace(':stateMachine:', ':execution:')}:{restore_id}"
    )
    seconds = (execution["stopDate"] - execution["startDate"]).total_seconds()
    report = json.loads(
        client("s3", "us-east-1")
        .get_object(Bucket=VAULT, Key=f"{LEDGER}/restores/{restore_id}/report.json")["Body"]
        .read()
    )
    return {
        "workers": concurrency,
        "states": _state_seconds(sfn, execution["executionArn"]),
        "seconds": seconds,
        "wall": wall,
        "revisions": report["revisions"],
        "status": report["status"],
    }


def _state_seconds(sfn: Any, arn: str) -> dict[str, float]:
    """Seconds in each of the execution's top-level states that took any, from its history."""
    entered: dict[str, Any] = {}
    spent: dict[str, float] = {}
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
    for event in (e for page in pages for e in page["events"]):
        if "stateEnteredEventDetails" in event:
            entered[event["stateEnteredEventDetails"]["name"]] = event["timestamp"]
        elif "stateExitedEventDetails" in event:
            name = event["stateExitedEventDetails"]["name"]
            if name in entered:
                spent[name] = spent.get(name, 0.0) + (event["timestamp"] - entered.pop(name)).total_seconds()
    return {k: v for k, v in spent.items() if v >= 0.05}


def peak_memory(pid: int) -> tuple[int, dict[str, int]]:
    """Peak resident memory (VmHWM, MiB) of the endpoint process, and of each function's
    largest execution environment — its descendants, named after their handler's module
    (`local.aws.environments.process_name`) — from /proc (Linux)."""
    from qldb_dr.local.aws.environments import memory_mb

    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    descendants, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - descendants
        descendants |= frontier

    def hwm(process: int) -> int:
        return memory_mb(process, "VmHWM") or 0

    functions: dict[str, int] = {}
    for process in descendants:
        try:
            name = Path(f"/proc/{process}/comm").read_text().strip()
        except OSError:
            continue
        functions[name] = max(functions.get(name, 0), hwm(process))
    return hwm(pid), functions


def memory_sizes() -> dict[str, tuple[str, int]]:
    """Each workflow function's handler module and MemorySize (MB), by the name its
    environments go by (cut to 15 bytes)."""
    from qldb_dr.local.aws.environments import process_name
    from qldb_dr.workflows.manifest import FUNCTIONS

    return {process_name(f.handler): (f.handler.split(".")[-2], f.memory_mb) for f in FUNCTIONS}


def _floor_worker(args: tuple[str, bytes]) -> None:
    os.environ.update(ENV)
    from pyqldb.driver.qldb_driver import QldbDriver

    from qldb_dr.ion import iter_binary
    from qldb_dr.ion.typed import typed

    name, encoded = args  # Ion binary: IonPy values do not survive pickling intact
    documents = list(iter_binary(encoded))
    driver = QldbDriver(name, region_name="us-east-1")
    for start in range(0, len(documents), 40):
        chunk = typed(documents[start : start + 40])
        driver.execute_lambda(lambda t, c=chunk: t.execute_statement("INSERT INTO Vehicle ?", c))
    driver.close()


def floor(workers: int, name: str, count: int) -> tuple[int, float]:
    """Bulk insert of the source's final states, 40 per transaction, `workers` processes.

    The states are read by VIN (indexed), 1,000 to a transaction: one transaction reading
    them all passes QLDB's 30 s limit at 1,000,000 revisions."""
    from pyqldb.driver.qldb_driver import QldbDriver

    from qldb_dr.aws import client

    source = QldbDriver(LEDGER, region_name="us-east-1")
    documents: list[Any] = []
    for start in range(0, count, 1000):
        vins = [f"V{n:07d}" for n in range(start, min(start + 1000, count))]
        statement = "SELECT * FROM Vehicle AS v WHERE v.VIN IN (" + ", ".join("?" * len(vins)) + ")"
        documents += source.execute_lambda(lambda t, s=statement, v=vins: [dict(r) for r in t.execute_statement(s, *v)])
    source.close()
    qldb = client("qldb", "us-east-1")
    qldb.create_ledger(Name=name, PermissionsMode="STANDARD", DeletionProtection=False)
    while qldb.describe_ledger(Name=name)["State"] != "ACTIVE":
        time.sleep(0.05)
    target = QldbDriver(name, region_name="us-east-1")
    target.execute_lambda(lambda t: t.execute_statement("CREATE TABLE Vehicle"))
    target.close()
    from qldb_dr.ion import dump_binary

    shares = [(name, dump_binary(documents[i::workers])) for i in range(workers)]
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pool.map(_floor_worker, shares)
    return len(documents), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=20_000)
    parser.add_argument("--versions", type=int, default=5)
    parser.add_argument("--baseline-revisions", type=int, default=10_000)
    parser.add_argument("--workers", default="1,2,4,8")
    parser.add_argument("--modes", default="latest,history", help="e.g. latest, for the 1,000,000-revision point")
    parser.add_argument(
        "--workflow", default="1,2,4", help="MaxConcurrency of `qldb-dr restore start` runs (latest); '' for none"
    )
    args = parser.parse_args()
    os.environ.update(ENV)
    workers = [int(w) for w in args.workers.split(",") if w]
    flows = [int(w) for w in args.workflow.split(",") if w]
    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        total = build_source(Path(directory), args.documents, args.versions)
        built = time.perf_counter() - started
        print(f"source: {total:,} revisions of {args.documents:,} documents, built in {built:.0f}s")
        process, url = start_endpoint(Path(directory))
        os.environ["AWS_ENDPOINT_URL"] = url
        try:
            started = time.perf_counter()
            point = _backup_polling(
                __import__("qldb_dr.backup", fromlist=["Settings"]).Settings.resolve(
                    {"ledgerName": LEDGER, "vaultBucket": VAULT, "exportRoleArn": ROLE, "settleSeconds": 0},
                    {},
                    "us-east-1",
                )
            )
            print(
                f"backup: {point.blocks:,} blocks, {point.revisions:,} revisions, "
                f"verified and recorded in {time.perf_counter() - started:.0f}s"
            )
            baseline = float("nan")
            if args.baseline_revisions:
                done, seconds = naive(args.baseline_revisions)
                baseline = done / seconds
                print(f"(a) naive loader, 1 writer       : {baseline:8,.0f} revisions/s  ({done:,} revisions)")
            results = []
            for mode in [m for m in args.modes.split(",") if m]:
                for count in workers:
                    result = restore(mode, count, f"{mode}-{count}", verify=count == workers[-1])
                    results.append(result)
                    rate = result["revisions"] / result["total"]
                    verified = f", verified {result['verified']}" if "verified" in result else ""
                    print(
                        f"(b) restore {mode:<7} {count} worker(s) : {rate:8,.0f} revisions/s  "
                        f"({rate / baseline:.1f}x baseline; plan {result['plan']:.1f}s, "
                        f"partition {result['partition']:.1f}s, gate+prepare {result['gate+prepare']:.1f}s, "
                        f"replay {result['replay']:.1f}s in {result['transactions']:,} transactions, "
                        f"total {result['total']:.1f}s{verified})"
                    )
            flowed = []
            for count in flows:
                result = workflow(count, f"flow-{count}")
                flowed.append(result)
                print(
                    f"(d) restore start, MaxConcurrency {count}: {result['revisions'] / result['seconds']:8,.0f} "
                    f"revisions/s  (execution {result['seconds']:.1f}s, CLI {result['wall']:.1f}s, {result['status']}; "
                    + ", ".join(f"{k} {v:.1f}s" for k, v in result["states"].items())
                    + ")"
                )
            if flowed:
                endpoint, functions = peak_memory(process.pid)
                sizes = memory_sizes()
                print(
                    f"(d) peak resident memory: endpoint {endpoint:,} MiB; each function's largest "
                    "execution environment (of its MemorySize): "
                    + ", ".join(
                        f"{sizes[name][0]} {peak:,} MiB ({sizes[name][1]} MB)"
                        for name, peak in sorted(functions.items(), key=lambda kv: -kv[1])
                        if name in sizes
                    )
                )
            for count in sorted(set(workers) | set(flows)):
                documents, seconds = floor(count, f"floor-{count}", args.documents)
                latest = next((r for r in results if r["mode"] == "latest" and r["workers"] == count), None)
                against = f"; latest restore took {latest['total'] / seconds:.2f}x the floor" if latest else ""
                through = next((r for r in flowed if r["workers"] == count), None)
                if through is not None:
                    against += f"; through the workflow {through['seconds'] / seconds:.2f}x"
                print(
                    f"(c) floor, bulk insert, {count} worker(s): {documents / seconds:8,.0f} documents/s in "
                    f"{seconds:.1f}s{against}"
                )
        finally:
            process.terminate()
            process.wait()


if __name__ == "__main__":
    main()
