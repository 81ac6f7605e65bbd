"""The warm standby through the real workflow: a workload with every kind of change written
window by window, each window backed up with `qldb-dr backup run`; the recovery points reach
the DR vault by replication, the standby rule starts the Restore workflow (Step Functions,
the real handlers), and the standby ends equal to the model — every restore verified."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator

import pytest

from qldb_dr.catalog import Vault
from qldb_dr.cli.main import Environment, main
from qldb_dr.local.aws.executor import set_time_scale, time_scale
from qldb_dr.local.deploy import Deployment, deploy
from qldb_dr.restore import expected
from qldb_dr.store.s3 import S3Store
from tests.differential.harness import agree
from tests.differential.workload import Runner, every_change
from tests.local.conftest import Running


def run(*argv: str) -> tuple[int, str, str]:
    env = Environment(stdout=io.StringIO(), stderr=io.StringIO())
    code = main(list(argv), env)
    return code, env.stdout.getvalue(), env.stderr.getvalue()  # type: ignore[attr-defined]


@pytest.fixture
def deployed(aws: Running) -> Iterator[Deployment]:
    before = time_scale()
    set_time_scale(0.01)
    try:
        yield deploy(aws.url)
    finally:
        set_time_scale(before)


def _settled(aws: Running, deployment: Deployment, count: int) -> list[dict[str, object]]:
    """The restore executions, once `count` of them exist and none runs."""
    sfn = aws.client("stepfunctions", deployment.dr_region)
    arn = deployment.workflows[f"qldb-dr-restore {deployment.dr_region}"]
    deadline = time.monotonic() + 180
    while True:
        executions = sfn.list_executions(stateMachineArn=arn)["executions"]
        if len(executions) >= count and all(e["status"] != "RUNNING" for e in executions):
            return executions  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, executions
        time.sleep(0.1)


def test_warm_standby_through_the_workflow_equals_model(aws: Running, deployed: Deployment) -> None:
    aws.create_ledger("fleet")
    runner = Runner(aws.driver("fleet", retries=8))
    workload = every_change()
    runner.setup(workload)
    code, _, err = run("standby", "--ledger", "fleet", "--target-ledger", "fleet-standby", "--region", "us-west-2")
    assert code == 0, err
    for number, window in enumerate(workload.windows, start=1):
        runner.window(window)
        code, out, err = run("backup", "run", "--ledger", "fleet", "--settle-seconds", "0")
        assert code == 0, out + err
        _settled(aws, deployed, number)  # each recovery point's arrival starts one restore
    executions = _settled(aws, deployed, len(workload.windows))
    assert [e["status"] for e in executions] == ["SUCCEEDED"] * len(workload.windows), executions
    vault = Vault(S3Store(deployed.buckets[deployed.dr_region], "", aws.client("s3", deployed.dr_region)))
    want = expected.from_vault(vault, "fleet", max(b.sequence_no for b in expected.journal(vault, "fleet")))
    code, out, _ = run("restore", "list", "--region", "us-west-2", "--json")
    listed = json.loads(out)
    assert code == 0 and len(listed) == len(workload.windows)
    assert {r["verification"] for r in listed} <= {"OK", "WARNING"}, listed
    newest = max(listed, key=lambda r: r["startedAt"])
    _, report, _ = run("restore", "report", newest["restoreId"], "--region", "us-west-2", "--json")
    comparison = agree(
        aws.driver("fleet-standby", region="us-west-2"), want, "latest", json.loads(report)["verification"]
    )
    assert comparison.equal, comparison.differences
