"""The scheduled drill (the CDK app's `qldb-dr-drill-<ledger>` schedule) on the local endpoint:
the drill workflow restores the latest recovery point in the DR vault into a scratch ledger,
follows it, records RPO, RTO and the restore's checks in the vault under Object Lock, deletes
the scratch ledger, and fails — alarming — when the restore does not verify."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pyqldb.driver.qldb_driver import QldbDriver

from qldb_dr.backup import Settings
from qldb_dr.catalog import Vault
from qldb_dr.drill.core import reports
from qldb_dr.local.aws.executor import set_time_scale, time_scale
from qldb_dr.local.deploy import Deployment, deploy
from qldb_dr.restore.faults import replay_fault, set_replay_fault
from qldb_dr.workflows.config import DeploymentConfig
from tests.local.conftest import Running, aws  # noqa: F401
from tests.restore.conftest import source  # noqa: F401
from tests.restore.test_restore_workflow import _backed_up

pytestmark = pytest.mark.slow

CONFIG = {"ledgers": [{"name": "orders", "drillMinutes": 10080}]}


@pytest.fixture
def deployed(source: tuple[Running, QldbDriver, Settings]) -> Iterator[tuple[Running, Deployment]]:  # noqa: F811
    running, _, _ = source
    before = time_scale()
    set_time_scale(0.01)  # Wait For Restore's 30 s: 0.3 s
    try:
        yield running, deploy(running.url, DeploymentConfig.from_json(CONFIG))
    finally:
        set_time_scale(before)


def _drill(running: Running, deployment: Deployment, name: str, given: dict[str, Any]) -> dict[str, Any]:
    sfn = running.client("stepfunctions", deployment.dr_region)
    arn = deployment.workflows[f"qldb-dr-drill {deployment.dr_region}"]
    execution = sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(given))["executionArn"]
    deadline = time.monotonic() + 180
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the drill did not end"
        time.sleep(0.1)
    return described


def _ledgers(running: Running, region: str) -> list[str]:
    return [entry["Name"] for entry in running.client("qldb", region).list_ledgers()["Ledgers"]]


def test_drill_workflow_restores_verifies_records_and_deletes_its_scratch_ledger(
    deployed: tuple[Running, Deployment],
) -> None:
    running, deployment = deployed
    dr = _backed_up(running, deployment)
    scheduler = running.client("scheduler", deployment.dr_region)
    schedule = scheduler.get_schedule(Name="qldb-dr-drill-orders")
    assert schedule["ScheduleExpression"] == "rate(7 days)"
    given = json.loads(schedule["Target"]["Input"])
    assert schedule["Target"]["Arn"] == deployment.workflows[f"qldb-dr-drill {deployment.dr_region}"]

    described = _drill(running, deployment, "scheduled-1", given)
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["report"]["status"] == "OK"

    vault = Vault.open(f"s3://{dr}", deployment.dr_region)
    [report] = reports(vault, "orders")
    assert report["kind"] == "scheduled" and report["status"] == "OK" and report["targetDeleted"]
    assert report["rpo"]["seconds"] >= 0 and report["rto"]["seconds"] > 0
    assert [c["status"] for c in report["checks"]] == ["OK"]
    assert report["targetLedger"].startswith("orders-drill-")
    assert report["targetLedger"] not in _ledgers(running, deployment.dr_region), "the scratch ledger is deleted"
    s3 = running.client("s3", deployment.dr_region)
    locked = s3.get_object_retention(Bucket=dr, Key=output["report"]["reportKey"])["Retention"]
    assert locked["Mode"] == "COMPLIANCE"


def test_drill_whose_restore_does_not_verify_fails_and_still_records_and_cleans_up(
    deployed: tuple[Running, Deployment],
) -> None:
    running, deployment = deployed
    dr = _backed_up(running, deployment)
    # Every restore's first replay batch fails (the drill's restore id is chosen when it begins).
    set_replay_fault(running.client("lambda", deployment.dr_region), replay_fault("*", 0))
    described = _drill(running, deployment, "scheduled-2", {"sourceLedger": "orders"})
    assert described["status"] == "FAILED"
    history = running.client("stepfunctions", deployment.dr_region).get_execution_history(
        executionArn=described["executionArn"], reverseOrder=True
    )["events"]
    failed = next(e for e in history if e["type"] == "ExecutionFailed")["executionFailedEventDetails"]
    assert failed["error"] == "DrillFailedError"
    [report] = reports(Vault.open(f"s3://{dr}", deployment.dr_region), "orders")
    assert report["status"] == "FAILURE" and report["targetDeleted"]
    assert report["targetLedger"] not in _ledgers(running, deployment.dr_region)


def test_drill_of_a_ledger_without_recovery_points_fails_naming_it(deployed: tuple[Running, Deployment]) -> None:
    running, deployment = deployed
    described = _drill(running, deployment, "scheduled-3", {"sourceLedger": "nothing-here"})
    assert described["status"] == "FAILED"
    assert "no recovery point of nothing-here" in described.get(
        "cause", ""
    ) or "NoRecoveryPointsError" in described.get("error", "")
