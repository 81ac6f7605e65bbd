"""The core of a drill, the same locally and on AWS: restore the latest recovery point into a
target with the Restore workflow, follow it (retrying it once a failure is cleared), and then
record the drill's report in the vault (Object Lock keeps it) and delete the scratch target.

`scheduled_drill` is the whole of a scheduled drill — what the CDK app's schedule runs in the
DR region: its RPO is the age of the latest recovery point when the drill starts (what a loss
then would have lost at most), its RTO the restore's measured duration. Its two halves,
`begin_scheduled` and `finish_scheduled`, exchange a small JSON state, for a workflow that
waits for the restore between them (a Lambda cannot outlast a long restore).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from qldb_dr.aws import client as aws_client
from qldb_dr.catalog import Catalog, RecoveryPoint, Vault
from qldb_dr.checks import Check, Status, worst
from qldb_dr.encoding import iso, parse_iso
from qldb_dr.errors import InvalidInputError, NoRecoveryPointsError, ObjectExistsError, QldbDrError, ServiceError
from qldb_dr.restore import runs
from qldb_dr.restore.model import Mode, ReportStatus, Target
from qldb_dr.workflows.deployment import RESTORE, Workflow, scratch_prefix, workflow
from qldb_dr.workflows.watch import Step, Watcher, history, state_durations

FORMAT_VERSION = 1
RETRY_WAIT_SECONDS = 900  # how long a drill waits for someone else (the console) to retry its restore


def new_drill_id(now: datetime | None = None) -> str:
    return f"{(now or datetime.now(UTC)):%Y%m%dT%H%M%S}-{secrets.token_hex(2)}"


def scratch_name(source: str, drill_id: str) -> str:
    """A target name for the drill's restore: QLDB's 32 characters at most, and under the
    pattern the deployed drills may delete (`scratch_prefix`)."""
    return f"{scratch_prefix(source)}{drill_id[9:15]}{drill_id[-4:]}"


@dataclass
class RestoreRun:
    """One restore of a drill: its first execution and any retries."""

    restore_id: str
    source: str
    request: dict[str, Any]
    executions: list[str] = field(default_factory=list)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    ended_at: datetime | None = None
    status: str = "RUNNING"  # the last execution's
    report: dict[str, Any] | None = None

    @property
    def verified(self) -> bool:
        return self.report is not None and self.report.get("status") == ReportStatus.OK.value

    def to_json(self) -> dict[str, Any]:
        return {
            "restoreId": self.restore_id,
            "executions": list(self.executions),
            "startedAt": iso(self.started_at),
            "endedAt": None if self.ended_at is None else iso(self.ended_at),
            "status": self.status,
            "result": None if self.report is None else self.report.get("status"),
        }


def start_restore(
    sfn: Any, restore: Workflow, vault: Vault, source: str, request: dict[str, Any], restore_id: str | None = None
) -> RestoreRun:
    """Start the Restore workflow for `request` (its execution input)."""
    restore_id = restore_id or runs.new_restore_id(str(request["targetLedger"]))
    run = RestoreRun(restore_id, source, dict(request))
    run.executions.append(_call(runs.start, sfn, restore.arn, restore_id, request))
    return run


def follow(
    sfn: Any,
    vault: Vault,
    run: RestoreRun,
    on_step: Callable[[Step], None] | None = None,
    *,
    interval: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Follow the run's last execution to its end; its final status (the report read back)."""
    final, ended = "FAILED", None
    for step in Watcher(sfn, run.executions[-1], interval=interval, sleep=sleep).follow():
        if on_step is not None:
            on_step(step)
        if step.kind == "finished":
            final, ended = step.name, step.at
    run.status, run.ended_at = final, ended or datetime.now(UTC)
    run.report = runs.report(vault, run.source, run.restore_id)
    return final


def retry(sfn: Any, restore: Workflow, run: RestoreRun) -> None:
    """Start the execution that retries the run's restore (only what did not finish runs)."""
    description = _call(sfn.describe_execution, executionArn=run.executions[0])
    name, request = runs.retry_request(json.loads(description["input"]), run.restore_id)
    run.executions.append(_call(runs.start, sfn, restore.arn, name, request))
    run.status = "RUNNING"


def retried_elsewhere(
    sfn: Any,
    restore: Workflow,
    run: RestoreRun,
    *,
    timeout: float = RETRY_WAIT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    poll: float = 1.0,
) -> bool:
    """Wait for someone else — an operator's `restore retry`, the console's Retry — to retry the
    run's restore; True once its execution is found (added to the run), False at the timeout."""
    deadline = time.monotonic() + timeout
    prefix = f"{run.restore_id}-retry-"
    while time.monotonic() < deadline:
        pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=restore.arn)
        found = sorted(
            (e for page in pages for e in page["executions"] if e["name"].startswith(prefix)),
            key=lambda e: e["startDate"],
        )
        fresh = [e["executionArn"] for e in found if e["executionArn"] not in run.executions]
        if fresh:
            run.executions.append(fresh[-1])
            run.status = "RUNNING"
            return True
        sleep(poll)
    return False


def steps_of(sfn: Any, run: RestoreRun) -> list[dict[str, Any]]:
    """Per-state durations of every execution of the run, in order."""
    steps = []
    for number, arn in enumerate(run.executions):
        for entry in state_durations(_call(history, sfn, arn)):
            steps.append({**entry, "execution": number})
    return steps


def restore_check(run: RestoreRun) -> Check:
    """The restore's own verdict: Verify Restore's checks, as its report wrote them."""
    check = Check("restore", "the Restore workflow verified the target equal to the journal")
    if run.report is None:
        check.fail(f"restore {run.restore_id} wrote no report: its execution ended {run.status}")
        check.summary = f"no report ({run.status})"
        return check
    verification = run.report.get("verification") or {}
    for inner in verification.get("checks", []):
        if inner["status"] == "FAILURE":
            check.fail(f"{inner['name']}: {inner['summary']}")
        elif inner["status"] == "WARNING":
            check.warn(f"{inner['name']}: {inner['summary']}")
        else:
            check.passed()
    if run.report.get("failedPartitions"):
        check.fail(f"{run.report['failedPartitions']} partitions failed to replay")
    if run.report.get("status") != ReportStatus.OK.value and not check.failures:
        check.fail(f"the report's status is {run.report.get('status')}")
    check.summary = (
        f"{run.report['status']}: up to block {run.report['restoredToBlock']}, {run.report['revisions']:,} "
        f"revisions, {len(run.executions)} execution{'s' if len(run.executions) > 1 else ''}"
    )
    return check


def fault_check(partition: int, failed: list[dict[str, Any]], run: RestoreRun) -> Check:
    """Whether the replay failure a drill injected into `partition` happened, and the restore
    recovered from it: `failed` is the restore's failed Map items (`runs.failed_items`). A
    restore that never reached Replay (a standby already holding the recovery point has
    nothing to replay) cannot fail there: the drill did not exercise the retry, and says so."""
    check = Check("injected-fault", f"the replay failure injected into partition {partition} happened and was retried")
    fired = [
        f
        for f in failed
        if f.get("map") == "replay"
        and f.get("error") == "InjectedFaultError"
        and int((f.get("item") or {}).get("partition", -1)) == partition
    ]
    if not fired:
        replayed = (run.report or {}).get("revisions")
        check.warn(
            f"restore {run.restore_id} never replayed partition {partition}"
            + (f" ({replayed} revisions to replay)" if replayed is not None else "")
            + ": the injected failure did not happen, so the retry was not exercised; run the drill with a "
            "strategy or a --fail-after that leaves the final restore something to replay"
        )
        check.summary = "not exercised: nothing failed"
    elif run.verified and len(run.executions) > 1:
        check.passed()
        check.summary = f"partition {partition} failed as injected; {len(run.executions) - 1} retry verified the target"
    else:
        check.fail(f"partition {partition} failed as injected, but no retry verified the target (ended {run.status})")
        check.summary = "not recovered"
    return check


def write_report(vault: Vault, source: str, report: dict[str, Any]) -> str:
    """Put the drill's report into the vault, once (`<source>/drills/<drillId>.json`); a step
    retried after writing it finds it there and leaves it (Object Lock keeps the first)."""
    key = f"{vault.drills(source)}{report['drillId']}.json"
    with contextlib.suppress(ObjectExistsError):
        vault.store.create(key, (json.dumps(report, indent=2, default=str) + "\n").encode())
    return key


def reports(vault: Vault, source: str) -> list[dict[str, Any]]:
    """The drills of `source` recorded in the vault, oldest first."""
    found = [json.loads(vault.store.read(k)) for k in vault.store.list(vault.drills(source)) if k.endswith(".json")]
    return sorted(found, key=lambda r: str(r.get("startedAt")))


def delete_ledger(target: Target) -> None:
    """Delete a scratch ledger (deletion protection off first, as QLDB requires); one already
    gone (an earlier attempt, or a restore that never created it) is left gone."""
    qldb = aws_client("qldb", target.region)
    try:
        qldb.update_ledger(Name=target.ledger, DeletionProtection=False)
        qldb.delete_ledger(Name=target.ledger)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return
        raise ServiceError(f"cannot delete the scratch ledger {target.ledger} in {target.region}: {exc}") from exc
    except BotoCoreError as exc:
        raise ServiceError(f"cannot delete the scratch ledger {target.ledger} in {target.region}: {exc}") from exc


def _call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return function(*args, **kwargs)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise ServiceError(f"Step Functions: {error.get('Code')} {error.get('Message', '')}".rstrip()) from exc


# -- the scheduled drill ----------------------------------------------------------------------------


def begin_scheduled(
    source: str,
    region: str,
    *,
    vault: Vault | None = None,
    mode: Mode = Mode.LATEST,
    now: datetime | None = None,
    restore: Workflow | None = None,
) -> dict[str, Any]:
    """Start restoring the latest recovery point of `source` in the DR vault of `region` into a
    scratch ledger; the state `finish_scheduled` takes. `restore`: the restore workflow, when the
    caller knows it (a deployed drill's function is given its ARN and may not list state machines)."""
    now = now or datetime.now(UTC)
    deployed = restore or workflow(RESTORE, region)
    vault = vault or _deployed_vault(deployed)
    latest = Catalog(vault).latest(source)
    if latest is None:
        raise NoRecoveryPointsError(f"no recovery point of {source} in {vault.url}: nothing to drill")
    drill_id = new_drill_id(now)
    target = scratch_name(source, drill_id)
    request = {
        "sourceLedger": source,
        "targetLedger": target,
        "targetRegion": deployed.region,
        "mode": mode.value,
        "recoveryPointId": latest.recovery_point_id,
        "vault": vault.url,
    }
    run = start_restore(aws_client("stepfunctions", deployed.region), deployed, vault, source, request)
    return {
        "drillId": drill_id,
        "startedAt": iso(now),
        "region": deployed.region,
        "vault": vault.url,
        "sourceLedger": source,
        "targetLedger": target,
        "mode": mode.value,
        "recoveryPoint": point_json(latest, now),
        "restore": run.to_json(),
    }


def restore_status(state: dict[str, Any]) -> str:
    """The status of the drill's restore execution (RUNNING until it ends)."""
    sfn = aws_client("stepfunctions", str(state["region"]))
    description = _call(sfn.describe_execution, executionArn=state["restore"]["executions"][-1])
    return str(description["status"])


def finish_scheduled(state: dict[str, Any], *, delete: bool = True) -> dict[str, Any]:
    """Once the drill's restore has ended: its report, recorded in the vault; the scratch
    ledger deleted (kept when the restore failed and delete is False)."""
    region = str(state["region"])
    vault = Vault.open(str(state["vault"]), region)
    sfn = aws_client("stepfunctions", region)
    run = RestoreRun(str(state["restore"]["restoreId"]), str(state["sourceLedger"]), {})
    run.executions = list(state["restore"]["executions"])
    run.started_at = parse_iso(state["restore"]["startedAt"])
    description = _call(sfn.describe_execution, executionArn=run.executions[-1])
    run.status, run.ended_at = description["status"], description.get("stopDate") or datetime.now(UTC)
    run.report = runs.report(vault, run.source, run.restore_id)
    checks = [restore_check(run)]
    status = worst(checks)
    report = {
        "formatVersion": FORMAT_VERSION,
        "kind": "scheduled",
        "drillId": state["drillId"],
        "sourceLedger": state["sourceLedger"],
        "targetLedger": state["targetLedger"],
        "targetRegion": region,
        "mode": state["mode"],
        "startedAt": state["startedAt"],
        "finishedAt": iso(datetime.now(UTC)),
        "status": "FAILURE" if status is Status.FAILURE else "OK",
        "rpo": {"seconds": state["recoveryPoint"]["ageSeconds"], "recoveryPoint": state["recoveryPoint"]},
        "rto": {"seconds": None if run.report is None else run.report.get("durationSeconds")},
        "revisions": None if run.report is None else run.report.get("revisions"),
        "restore": run.to_json(),
        "checks": [c.to_json() for c in checks],
        "steps": steps_of(sfn, run),
    }
    # The scratch ledger goes first, so that the report (written once) says whether it went.
    cleanup: ServiceError | None = None
    report["targetDeleted"] = False
    if delete and run.status != "RUNNING":
        scratch = str(state["targetLedger"])
        if not scratch.startswith(scratch_prefix(run.source)):  # never a ledger the drill did not name
            raise InvalidInputError(f"{scratch} is not a scratch ledger of {run.source}'s drills: not deleted")
        try:
            delete_ledger(Target(scratch, region))
            report["targetDeleted"] = True
        except ServiceError as exc:
            cleanup = exc
            report["cleanupError"] = str(exc)
    report["reportKey"] = write_report(vault, run.source, report)
    if cleanup is not None:
        raise cleanup  # the drill fails (and alarms): its scratch ledger is still there
    return report


def scheduled_drill(
    source: str, region: str, *, vault: Vault | None = None, mode: Mode = Mode.LATEST
) -> dict[str, Any]:
    """The whole scheduled drill in one call: begin, follow the restore, finish."""
    state = begin_scheduled(source, region, vault=vault, mode=mode)
    sfn = aws_client("stepfunctions", region)
    for _ in Watcher(sfn, state["restore"]["executions"][-1], interval=2.0).follow():
        pass
    return finish_scheduled(state)


def _deployed_vault(deployed: Workflow) -> Vault:
    if not deployed.vault_bucket:
        raise QldbDrError(f"the {deployed.name} workflow in {deployed.region} does not name its vault")
    return Vault.open(f"s3://{deployed.vault_bucket}", deployed.region)


def point_json(point: RecoveryPoint, now: datetime) -> dict[str, Any]:
    return {
        "recoveryPointId": point.recovery_point_id,
        "windowStart": iso(point.window_start),
        "windowEnd": iso(point.window_end),
        "lastBlock": None if point.last_block is None else point.last_block.sequence_no,
        "ageSeconds": round((now - point.window_end).total_seconds(), 3),
    }
