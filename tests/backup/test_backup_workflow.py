"""The Backup workflow end to end: Step Functions executing statemachines/backup.asl.json with
the real handlers from tasks/, on the local endpoint, against the local ledger."""

from __future__ import annotations

import io
import itertools
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from pyqldb.driver.qldb_driver import QldbDriver

from qldb_dr.catalog import Catalog, Vault
from qldb_dr.cli.main import Environment, main
from qldb_dr.local.aws.executor import set_time_scale, time_scale
from qldb_dr.local.deploy import Deployment, deploy
from qldb_dr.store.s3 import S3Store
from tests.backup.conftest import write
from tests.local.conftest import Running


@pytest.fixture
def deployed(busy: tuple[Running, QldbDriver]) -> Iterator[tuple[Running, QldbDriver, Deployment]]:
    running, driver = busy
    before = time_scale()
    set_time_scale(0.01)  # Wait and Retry intervals: seconds become 10 ms
    try:
        yield running, driver, deploy(running.url)
    finally:
        set_time_scale(before)


def run(*argv: str) -> tuple[int, str, str]:
    env = Environment(stdout=io.StringIO(), stderr=io.StringIO())
    code = main(list(argv), env)
    return code, env.stdout.getvalue(), env.stderr.getvalue()  # type: ignore[attr-defined]


def _primary(deployment: Deployment) -> str:
    return deployment.buckets[deployment.primary_region]


def _points(running: Running, bucket: str, region: str = "us-east-1") -> list[Any]:
    s3 = running.client("s3", region)
    return Catalog(Vault(S3Store(bucket, "", s3))).recovery_points("orders")


def _start(running: Running, deployment: Deployment, **extra: Any) -> str:
    sfn = running.client("stepfunctions")
    arn = deployment.workflows["qldb-dr-backup us-east-1"]
    request = {"ledgerName": "orders", "settleSeconds": 0, **extra}
    return str(sfn.start_execution(stateMachineArn=arn, input=json.dumps(request))["executionArn"])


def _finish(running: Running, execution: str, timeout: float = 120) -> dict[str, Any]:
    sfn = running.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while (description := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the backup did not finish"
        time.sleep(0.05)
    return dict(description)


def test_backup_run_records_verified_recovery_point(deployed: tuple[Running, QldbDriver, Deployment]) -> None:
    running, _, deployment = deployed
    code, out, err = run("backup", "run", "--ledger", "orders", "--settle-seconds", "0")
    assert code == 0, out + err
    for state in ("Plan Export Window", "Start Export", "Describe Export", "Verify Export", "Record Recovery Point"):
        assert f"✓ {state}" in out, out
    (point,) = _points(running, _primary(deployment))
    assert f"recovery point {point.recovery_point_id}: blocks 0-{point.last_block.sequence_no}" in out
    assert point.verification["status"] == "OK" and point.execution and "orders" in point.execution
    code, listed, _ = run("backup", "list", "--ledger", "orders", "--json")
    assert code == 0 and json.loads(listed)[0]["recoveryPointId"] == point.recovery_point_id
    code, out, _ = run("verify", f"s3://{_primary(deployment)}/orders/")
    assert code == 0 and "VERIFIED: all 10 checks OK" in out


def test_three_incremental_backups_chain_and_replicate(deployed: tuple[Running, QldbDriver, Deployment]) -> None:
    running, driver, deployment = deployed
    for round_ in range(3):
        write(driver, 6, start=10_000 * (round_ + 1))
        code, out, err = run("backup", "run", "--ledger", "orders", "--settle-seconds", "0")
        assert code == 0, out + err
    points = _points(running, _primary(deployment))
    assert len(points) == 3
    for before, after in itertools.pairwise(points):
        assert after.previous == before.recovery_point_id
        assert after.first_block.sequence_no == before.last_block.sequence_no + 1
    dr_bucket = deployment.buckets[deployment.dr_region]
    deadline = time.monotonic() + 30
    while len(_points(running, dr_bucket, "us-west-2")) < 3:  # replication to the DR region
        assert time.monotonic() < deadline, "recovery points never reached the DR vault"
        time.sleep(0.05)
    code, out, _ = run("verify", f"s3://{dr_bucket}/orders/")
    assert code == 0, out


def test_tampered_journal_fails_execution_records_nothing(deployed: tuple[Running, QldbDriver, Deployment]) -> None:
    running, _, deployment = deployed
    assert running.endpoint is not None
    engine = running.endpoint.registry.ledger("us-east-1", "orders")
    # The ledger's stored copy of block 5 is altered: the export carries data that no longer
    # matches its revision hash, which is exactly what verification exists to catch.
    body = engine.block_body(5)
    assert body is not None and b"owner" in body
    engine._writer.execute("UPDATE blocks SET body = ? WHERE seq = 5", (body.replace(b"owner", b"OWNER", 1),))
    description = _finish(running, _start(running, deployment))
    assert description["status"] == "FAILED"
    assert description["error"] == "ExportVerificationError" and "block 5" in description["cause"]
    assert _points(running, _primary(deployment)) == []


def test_two_concurrent_backups_yield_one_recovery_point(deployed: tuple[Running, QldbDriver, Deployment]) -> None:
    running, _, deployment = deployed
    executions = [_start(running, deployment), _start(running, deployment)]
    outcomes = [_finish(running, e) for e in executions]
    assert sorted(o["status"] for o in outcomes) == ["FAILED", "SUCCEEDED"]
    failed = next(o for o in outcomes if o["status"] == "FAILED")
    assert failed["error"] in ("BackupInProgressError", "RecoveryPointConflictError")
    assert len(_points(running, _primary(deployment))) == 1


def test_export_limit_retried_until_a_slot_frees(deployed: tuple[Running, QldbDriver, Deployment]) -> None:
    running, _, deployment = deployed
    assert running.endpoint is not None
    engine = running.endpoint.registry.ledger("us-east-1", "orders")
    blockers = []
    for n in range(2):  # two exports of another prefix hold QLDB's two slots
        export_id = f"Blocker{n}".ljust(22, "x")
        blockers.append(export_id)
        record = {
            "export_id": export_id,
            "ledger_name": "orders",
            "region": "us-east-1",
            "created_ms": int(time.time() * 1000),
            "status": "IN_PROGRESS",
            "start_ms": 0,
            "end_ms": 1,
            "bucket": "elsewhere",
            "prefix": "other/",
            "encryption": "SSE_S3",
            "kms_key_arn": None,
            "role_arn": "arn:aws:iam::123456789012:role/x",
            "output_format": "ION_BINARY",
        }
        engine.put_export(export_id, record["created_ms"], "IN_PROGRESS", json.dumps(record))
    execution = _start(running, deployment)
    sfn = running.client("stepfunctions")
    deadline = time.monotonic() + 60
    while not any(
        "ExportLimitExceededError" in json.dumps(e, default=str)
        for e in sfn.get_execution_history(executionArn=execution)["events"]
    ):
        assert time.monotonic() < deadline, "the export was never refused"
        time.sleep(0.05)
    for export_id in blockers:  # the slots free up: the retried Start Export now succeeds
        record = json.loads(next(r for r in engine.export_records() if export_id in r))
        engine.put_export(export_id, record["created_ms"], "COMPLETED", json.dumps({**record, "status": "COMPLETED"}))
    assert _finish(running, execution)["status"] == "SUCCEEDED"
    assert len(_points(running, _primary(deployment))) == 1


def test_cancelled_export_fails_execution(deployed: tuple[Running, QldbDriver, Deployment]) -> None:
    running, _, deployment = deployed
    assert running.endpoint is not None
    running.endpoint.exports.s3_client = lambda region: boto3.client(  # S3 unreachable: QLDB cancels the export
        "s3",
        region_name=region,
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="x",
        aws_secret_access_key="y",
        config=__import__("botocore.config").config.Config(connect_timeout=1, retries={"max_attempts": 1}),
    )
    description = _finish(running, _start(running, deployment))
    assert description["status"] == "FAILED" and description["error"] == "ExportCancelledError"
    assert _points(running, _primary(deployment)) == []


def test_backup_of_unknown_ledger_fails_clearly(deployed: tuple[Running, QldbDriver, Deployment]) -> None:
    code, out, _ = run("backup", "run", "--ledger", "nope", "--settle-seconds", "0")
    assert code == 1 and "LedgerNotFoundError" in out


def test_concurrency_guard_is_not_a_lock(deployed: tuple[Running, QldbDriver, Deployment]) -> None:
    """Backups of two ledgers at once do not block each other."""
    running, _, deployment = deployed
    running.create_ledger("payments")
    other = running.driver("payments")
    other.execute_lambda(lambda t: t.execute_statement("CREATE TABLE P"))
    done = {}

    def backup(ledger: str) -> None:
        sfn = running.client("stepfunctions")
        arn = deployment.workflows["qldb-dr-backup us-east-1"]
        execution = sfn.start_execution(
            stateMachineArn=arn, input=json.dumps({"ledgerName": ledger, "settleSeconds": 0})
        )["executionArn"]
        done[ledger] = _finish(running, execution)["status"]

    threads = [threading.Thread(target=backup, args=(name,)) for name in ("orders", "payments")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert done == {"orders": "SUCCEEDED", "payments": "SUCCEEDED"}


def test_backup_schedule_fires_at_the_rpo_interval_until_disabled(
    deployed: tuple[Running, QldbDriver, Deployment], monkeypatch: pytest.MonkeyPatch
) -> None:
    running, _, deployment = deployed
    monkeypatch.setenv("QLDB_DR_LOCAL_TIME_SCALE", "0.01")  # a minute passes in 0.6 s
    code, out, err = run("backup", "schedule", "--ledger", "orders", "--every", "1")
    assert code == 0 and "every 1 minute" in out, err
    sfn = running.client("stepfunctions")
    arn = deployment.workflows["qldb-dr-backup us-east-1"]
    deadline = time.monotonic() + 60
    while not any(e["status"] == "SUCCEEDED" for e in sfn.list_executions(stateMachineArn=arn)["executions"]):
        assert time.monotonic() < deadline, "the schedule never started a backup"
        time.sleep(0.05)
    code, out, _ = run("backup", "schedule", "--ledger", "orders", "--disable")
    assert code == 0 and "stopped" in out
    schedule = running.client("scheduler").get_schedule(Name="qldb-dr-backup-orders")
    assert schedule["State"] == "DISABLED" and schedule["ScheduleExpression"] == "rate(1 minute)"
    assert json.loads(schedule["Target"]["Input"]) == {"ledgerName": "orders"}
    assert schedule["Target"]["Arn"] == arn and schedule["Target"]["RoleArn"].endswith(":role/qldb-dr-start-us-east-1")
