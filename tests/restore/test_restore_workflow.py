"""The Restore workflow end to end: Step Functions runs statemachines/restore.asl.json with the
real handlers, Distributed Maps over the vault, on the local endpoint."""

from __future__ import annotations

import io
import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pyqldb.driver.qldb_driver import QldbDriver

from qldb_dr.backup import Settings
from qldb_dr.catalog import Vault
from qldb_dr.cli.main import Environment, main
from qldb_dr.ion import dump_binary
from qldb_dr.local.aws.executor import set_time_scale, time_scale
from qldb_dr.local.deploy import Deployment, deploy
from qldb_dr.restore.expected import journal
from qldb_dr.store.s3 import S3Store
from tests.backup.conftest import write
from tests.conftest import REPO
from tests.local.conftest import Running
from tests.restore.conftest import rows


def run(*argv: str) -> tuple[int, str, str]:
    env = Environment(stdout=io.StringIO(), stderr=io.StringIO())
    code = main(list(argv), env)
    return code, env.stdout.getvalue(), env.stderr.getvalue()  # type: ignore[attr-defined]


@pytest.fixture
def deployed(source: tuple[Running, QldbDriver, Settings]) -> Iterator[tuple[Running, QldbDriver, Deployment]]:
    running, driver, _ = source
    before = time_scale()
    set_time_scale(0.01)
    try:
        yield running, driver, deploy(running.url)
    finally:
        set_time_scale(before)


def _backed_up(running: Running, deployment: Deployment) -> str:
    code, out, err = run("backup", "run", "--ledger", "orders", "--settle-seconds", "0")
    assert code == 0, out + err
    dr = deployment.buckets[deployment.dr_region]
    s3 = running.client("s3", "us-west-2")
    deadline = time.monotonic() + 30
    while not any(o["Key"].startswith("orders/catalog/") for o in s3.list_objects_v2(Bucket=dr).get("Contents", [])):
        assert time.monotonic() < deadline, "the recovery point never reached the DR vault"
        time.sleep(0.05)
    return dr


def _sorted(driver: QldbDriver, table: str) -> list[bytes]:
    return sorted(dump_binary([r]) for r in rows(driver, f"SELECT VALUE x FROM {table} AS x"))


def test_restore_start_rebuilds_ledger_in_dr_region_from_dr_vault(
    deployed: tuple[Running, QldbDriver, Deployment],
) -> None:
    running, driver, deployment = deployed
    _backed_up(running, deployment)
    code, out, err = run(
        "restore",
        "start",
        "--source-ledger",
        "orders",
        "--target-ledger",
        "orders-dr",
        "--region",
        "us-west-2",
        "--max-concurrency",
        "4",
        "--partitions",
        "8",
    )
    assert code == 0, out + err
    for state in (
        "Plan Restore",
        "Partition",
        "Check Journal",
        "Prepare Target",
        "Replay",
        "Verify Restore",
        "Write Report",
    ):
        assert f"✓ {state}" in out, out
    assert "content    OK" in out and "documents  OK" in out
    target = running.driver("orders-dr", region="us-west-2")
    assert _sorted(target, "Vehicle") == _sorted(driver, "Vehicle")
    restore_id = out.split()[1].rstrip(":")
    code, report, _ = run("restore", "report", restore_id, "--region", "us-west-2", "--json")
    assert code == 0 and json.loads(report)["status"] == "OK"
    # without --region (the shell's default is us-east-1): found where it ran
    code, report, err = run("restore", "report", restore_id, "--json")
    assert code == 0 and json.loads(report)["restoreId"] == restore_id, err


def test_restore_started_from_the_console_is_followed_by_its_execution_name(
    deployed: tuple[Running, QldbDriver, Deployment],
) -> None:
    """As an operator does in the Step Functions console: Start execution with the input the
    state machine's Comment shows and a name the console makes up; the CLI then knows that
    execution by its name, the restore id."""
    running, driver, deployment = deployed
    _backed_up(running, deployment)
    comment = json.loads((REPO / "statemachines" / "restore.asl.json").read_text())["Comment"]
    example = json.loads(re.search(r"Execution input \(paste into Start execution\): (\{.*?\})\.", comment)[1])
    name = str(uuid.uuid4())
    sfn = running.client("stepfunctions", "us-west-2")
    arn = deployment.workflows["qldb-dr-restore us-west-2"]
    execution = sfn.start_execution(
        stateMachineArn=arn, name=name, input=json.dumps({**example, "at": None, "targetLedger": "orders-console"})
    )["executionArn"]
    deadline = time.monotonic() + 120
    while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the restore never ended"
        time.sleep(0.1)
    assert sfn.describe_execution(executionArn=execution)["status"] == "SUCCEEDED"
    code, status, err = run("restore", "status", name, "--json")
    assert code == 0 and json.loads(status)["state"] == "SUCCEEDED", err
    code, report, err = run("restore", "report", name, "--json")
    assert code == 0 and json.loads(report)["status"] == "OK", err
    code, listed, _ = run("restore", "list", "--region", "us-west-2", "--json")
    assert name in {r["restoreId"] for r in json.loads(listed)}
    assert _sorted(running.driver("orders-console", region="us-west-2"), "Vehicle") == _sorted(driver, "Vehicle")


def test_restore_dry_run_prints_plan_and_estimate(deployed: tuple[Running, QldbDriver, Deployment]) -> None:
    running, _, deployment = deployed
    _backed_up(running, deployment)
    code, out, _ = run(
        "restore", "start", "--source-ledger", "orders", "--target-ledger", "x", "--region", "us-west-2", "--dry-run"
    )
    assert code == 0 and "recovery points: 1" in out and "estimated duration" in out
    assert running.client("qldb", "us-west-2").list_ledgers()["Ledgers"] == []


@pytest.mark.lambda_inline  # patches or reads the handler in this process
def test_failed_batch_then_retry_gives_exact_target(
    deployed: tuple[Running, QldbDriver, Deployment], monkeypatch: pytest.MonkeyPatch
) -> None:
    running, driver, deployment = deployed
    _backed_up(running, deployment)
    import tasks.replay_partition as handler_module

    original = handler_module.replay_item

    def flaky(state: Any, partition: int) -> Any:  # an injected failure of one batch
        if partition == 3:
            raise RuntimeError("injected failure")
        return original(state, partition)

    monkeypatch.setattr(handler_module, "replay_item", flaky)
    code, out, _ = run(
        "restore",
        "start",
        "--source-ledger",
        "orders",
        "--target-ledger",
        "orders-retry",
        "--region",
        "us-west-2",
        "--partitions",
        "8",
    )
    monkeypatch.setattr(handler_module, "replay_item", original)
    assert code == 1 and "✗" in out
    restore_id = out.split()[1].rstrip(":")
    code, out, err = run("restore", "retry", restore_id, "--region", "us-west-2")
    assert code == 0, out + err
    target = running.driver("orders-retry", region="us-west-2")
    assert _sorted(target, "Vehicle") == _sorted(driver, "Vehicle")
    assert rows(target, "SELECT COUNT(*) AS c FROM qldbdr_partition")[0]["c"] <= 8


def test_standby_follows_recovery_points_as_they_arrive(deployed: tuple[Running, QldbDriver, Deployment]) -> None:
    running, driver, deployment = deployed
    code, out, err = run("standby", "--ledger", "orders", "--target-ledger", "orders-standby", "--region", "us-west-2")
    assert code == 0 and "warm standby" in out, err
    for round_ in range(3):
        write(driver, 4, start=20_000 + 100 * round_)
        _backed_up(running, deployment)
    sfn = running.client("stepfunctions", "us-west-2")
    restore_arn = deployment.workflows["qldb-dr-restore us-west-2"]
    deadline = time.monotonic() + 120
    while True:
        executions = sfn.list_executions(stateMachineArn=restore_arn)["executions"]
        if len(executions) >= 3 and all(e["status"] != "RUNNING" for e in executions):
            break
        assert time.monotonic() < deadline, executions
        time.sleep(0.1)
    target = running.driver("orders-standby", region="us-west-2")
    assert _sorted(target, "Vehicle") == _sorted(driver, "Vehicle")
    # Each recovery point changes Vehicle only: every standby restore verified all the same,
    # and the operator finds them, and reads their state and report, from the CLI. Two standby
    # restores may overlap (three backups in a row, each arrival starts one): one the next
    # overtook before it could compare is SUPERSEDED, the documented and true verdict; the
    # newest is OK.
    code, out, err = run("restore", "list", "--region", "us-west-2", "--json")
    assert code == 0, err
    listed = json.loads(out)
    assert len(listed) == 3 and {r["targetLedger"] for r in listed} == {"orders-standby"}, listed
    assert all(r["standby"] and r["state"] == "SUCCEEDED" for r in listed), listed
    assert {r["verification"] for r in listed} <= {"OK", "SUPERSEDED"} and listed[0]["verification"] == "OK", listed
    code, table, _ = run("restore", "list", "--region", "us-west-2", "--target-ledger", "orders-standby")
    assert code == 0 and table.count("(standby)") == 3 and "SUCCEEDED" in table
    code, out, _ = run("restore", "list", "--region", "us-west-2", "--source-ledger", "someone-else")
    assert code == 0 and "no restores" in out
    newest = listed[0]["restoreId"]
    code, out, err = run("restore", "status", newest, "--region", "us-west-2", "--json")
    status = json.loads(out)
    assert code == 0 and status["sourceLedger"] == "orders" and status["result"] == "OK", out + err
    assert status["partitionsDone"] == status["partitionsTotal"] > 0 and status["revisionsApplied"] > 0, status
    code, out, _ = run("restore", "report", newest, "--region", "us-west-2")
    assert code == 0 and "restore " + newest + ": OK" in out and "orders -> orders-standby" in out
    _, out, _ = run("restore", "report", newest, "--region", "us-west-2", "--json")
    duration = json.loads(out)["durationSeconds"]  # a finished restore's rate: over its measured duration
    assert status["elapsedSeconds"] == duration and status["revisionsPerSecond"] == round(
        status["revisionsApplied"] / duration, 1
    )
    # The standby changed behind qldb-dr's back: the next restore fails verification; its report
    # is in the vault, and `status` and `report` read it (exit 1: the target is not the journal).
    tamper = "UPDATE Vehicle AS v SET v.Mileage = -1 WHERE v.VIN = 'V00005'"
    target.execute_lambda(lambda t: t.execute_statement(tamper))
    write(driver, 1, start=29_000)
    _backed_up(running, deployment)
    deadline = time.monotonic() + 120
    while len(_executions(running, restore_arn)) < 4 or any(
        e["status"] == "RUNNING" for e in _executions(running, restore_arn)
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    failed = next(e for e in _executions(running, restore_arn) if e["status"] == "FAILED")
    code, out, _ = run("restore", "report", failed["name"], "--region", "us-west-2")
    assert code == 1 and ": FAILURE" in out and "content    FAILURE" in out, out
    code, out, _ = run("restore", "status", failed["name"], "--region", "us-west-2")
    assert code == 0 and "FAILED (FAILURE)" in out and "orders -> orders-standby" in out, out
    # The operator puts the value back and retries the standby's restore: it resumes (nothing left
    # to replay), verifies, and says so (a standby's input names no ledger: it failed on that).
    (mileage,) = rows(driver, "SELECT VALUE v.Mileage FROM Vehicle AS v WHERE v.VIN = 'V00005'")
    target.execute_lambda(
        lambda t: t.execute_statement("UPDATE Vehicle AS v SET v.Mileage = ? WHERE v.VIN = 'V00005'", mileage)
    )
    code, out, err = run("restore", "retry", failed["name"], "--region", "us-west-2")
    assert code == 0 and f"restore {failed['name']}: OK" in out and "orders -> its standby" in out, out + err


def _executions(running: Running, arn: str) -> list[dict[str, Any]]:
    return running.client("stepfunctions", "us-west-2").list_executions(stateMachineArn=arn)["executions"]


def _waited_for_predecessor(running: Running, execution_arn: str) -> bool:
    events = running.client("stepfunctions", "us-west-2").get_execution_history(executionArn=execution_arn)["events"]
    return any(
        (e.get("taskFailedEventDetails") or e.get("lambdaFunctionFailedEventDetails") or {}).get("error")
        == "PredecessorMissingError"
        for e in events
    )


def test_standby_recovery_points_arriving_out_of_order_converge(
    deployed: tuple[Running, QldbDriver, Deployment],
) -> None:
    """Replication is held back while three recovery points are recorded, then they reach the
    DR vault last first: the standby's restore of the third waits for its predecessors, and
    the standby ends equal to the source, nothing applied twice."""
    running, driver, deployment = deployed
    primary, dr = deployment.buckets[deployment.primary_region], deployment.buckets[deployment.dr_region]
    code, _, err = run("standby", "--ledger", "orders", "--target-ledger", "orders-standby", "--region", "us-west-2")
    assert code == 0, err
    source_s3, dr_s3 = running.client("s3", "us-east-1"), running.client("s3", "us-west-2")
    source_s3.delete_bucket_replication(Bucket=primary)
    for round_ in range(3):
        write(driver, 4, start=30_000 + 100 * round_)
        code, out, err = run("backup", "run", "--ledger", "orders", "--settle-seconds", "0")
        assert code == 0, out + err
    keys = [o["Key"] for o in source_s3.list_objects_v2(Bucket=primary)["Contents"]]
    catalog = sorted(k for k in keys if k.startswith("orders/catalog/"))
    held = [o["Key"] for o in dr_s3.list_objects_v2(Bucket=dr).get("Contents", [])]
    assert len(catalog) == 3 and not [k for k in held if k.startswith("orders/")]  # nothing replicated

    def arrive(key: str) -> None:
        body = source_s3.get_object(Bucket=primary, Key=key)["Body"].read()
        dr_s3.put_object(Bucket=dr, Key=key, Body=body)

    for key in keys:
        if key not in catalog:
            arrive(key)
    restore_arn = deployment.workflows["qldb-dr-restore us-west-2"]
    arrive(catalog[2])  # the last recovery point first: its predecessors are not there yet
    deadline = time.monotonic() + 60
    while not any(_waited_for_predecessor(running, e["executionArn"]) for e in _executions(running, restore_arn)):
        assert time.monotonic() < deadline, "the early recovery point's restore never waited for its predecessor"
        time.sleep(0.1)
    arrive(catalog[0])
    arrive(catalog[1])
    deadline = time.monotonic() + 180
    while True:
        executions = _executions(running, restore_arn)
        if len(executions) >= 3 and all(e["status"] != "RUNNING" for e in executions):
            break
        assert time.monotonic() < deadline, executions
        time.sleep(0.1)
    sfn = running.client("stepfunctions", "us-west-2")
    failed = [sfn.describe_execution(executionArn=e["executionArn"]) for e in executions if e["status"] != "SUCCEEDED"]
    assert not failed, "\n".join(f"{f['status']} {f.get('error')} {f.get('cause')}" for f in failed)
    target = running.driver("orders-standby", region="us-west-2")
    for table in ("Vehicle", "Typed"):  # a document applied twice would be there twice
        assert _sorted(target, table) == _sorted(driver, table)


def test_restore_from_the_vault_named_with_vault_and_refused_when_it_is_not_there(
    deployed: tuple[Running, QldbDriver, Deployment],
) -> None:
    running, _, deployment = deployed
    _backed_up(running, deployment)
    base = ("restore", "start", "--source-ledger", "orders", "--region", "us-west-2")
    code, out, err = run(*base, "--target-ledger", "nowhere", "--vault", "s3://no-such-vault")
    assert code == 2 and "no-such-vault: no such bucket" in err, out + err
    code, out, err = run(*base, "--target-ledger", "nowhere", "--vault", str(running.data_dir))
    assert code == 2 and "is a directory: the Restore workflow reads its vault from S3" in err, out + err
    started = _executions(running, deployment.workflows["qldb-dr-restore us-west-2"])
    assert not [e for e in started if e["name"].startswith("nowhere")]
    assert running.client("qldb", "us-west-2").list_ledgers()["Ledgers"] == []
    primary = deployment.buckets[deployment.primary_region]  # the other region's vault, named
    code, out, err = run(*base, "--target-ledger", "from-primary", "--vault", f"s3://{primary}")
    assert code == 0, out + err
    restore_id = out.split()[1].rstrip(":")
    s3 = running.client("s3", "us-east-1")
    # planned and reported in the vault named (the DR vault gets them only by replication from it)
    assert s3.list_objects_v2(Bucket=primary, Prefix=f"orders/restores/{restore_id}/report.json")["KeyCount"] == 1


def test_restore_bad_input_exit_2_before_anything_starts(deployed: tuple[Running, QldbDriver, Deployment]) -> None:
    running, _, deployment = deployed
    base = ("restore", "start", "--source-ledger", "orders", "--target-ledger", "x", "--region", "us-west-2")
    for extra, message in (
        (("--partitions", "0"), "partitions must be 1 to 1024, not 0"),
        (("--max-concurrency", "-1"), "maxConcurrency must be 1 to 1000, not -1"),
        (("--at", "yesterday"), "'yesterday' is not a time: use ISO 8601, e.g. 2026-12-06T14:30:00Z"),
        (("--target-ledger", "bad name!"), "targetLedger 'bad name!' is not a QLDB ledger name: 1 to 32 letters"),
    ):
        code, out, err = run(*base, *extra)
        assert code == 2 and message in err and "Traceback" not in err, (extra, out, err)
    assert _executions(running, deployment.workflows["qldb-dr-restore us-west-2"]) == []
    code, _, err = run("backup", "run", "--ledger", "orders", "--settle-seconds", "-1")
    assert code == 2 and "--settle-seconds must be 0 or more" in err
    code, _, err = run("restore", "status", "nope", "--region", "us-west-2", "--debug")  # --debug after the verb
    assert code == 2 and "no restore nope in us-west-2" in err and "Traceback" in err


def test_restore_dry_run_counts_exactly_what_a_point_in_time_restore_replays(
    deployed: tuple[Running, QldbDriver, Deployment],
) -> None:
    running, _, deployment = deployed
    dr = _backed_up(running, deployment)
    vault = Vault(S3Store(dr, "", running.client("s3", "us-west-2")))
    blocks = list(journal(vault, "orders"))
    block = blocks[len(blocks) // 2].sequence_no
    wanted = sum(1 for b in blocks if b.sequence_no <= block for r in b.revisions or () if r.metadata is not None)
    code, out, _ = run(*_DRY, "--block", str(block))
    assert code == 0 and f"revisions: {wanted:,} in 16 partitions" in out and f"blocks: 0 to {block} " in out, out
    code, out, _ = run(*_DRY, "--block", str(block), "--incremental", "--target-ledger", "never-restored")
    assert code == 0 and f"revisions: {wanted:,}" in out


_DRY = ("restore", "start", "--source-ledger", "orders", "--target-ledger", "x", "--region", "us-west-2", "--dry-run")


def test_restore_of_unknown_ledger_says_why_in_one_line_without_a_trace(
    deployed: tuple[Running, QldbDriver, Deployment],
) -> None:
    code, out, _ = run("restore", "start", "--source-ledger", "nope", "--target-ledger", "x", "--region", "us-west-2")
    assert code == 1
    assert (
        out.rstrip()
        .splitlines()[-1]
        .endswith("FAILED — NoRecoveryPointsError: ledger nope has no recovery points in this vault")
    ), out
    assert "stackTrace" not in out and "File " not in out
