"""The Restore workflow's steps, as its task handlers call them, and the state they share.

Everything a step needs travels in a small `RestoreState` (the plan itself stays in the
vault); every step can be run again: the plan is read back when a restore resumes, objects
already partitioned are not partitioned again, and replay is version-guarded.

Vault layout of a restore (in the vault of the region it runs in):
    <prefix><source>/restores/<restoreId>/plan.json        the plan
    …/objects.json, …/partitions*.json                     the Map manifests
    …/partitions/p<NNNN>/<first>-<last>.ion                 partition files
    …/partitioned/<first>.json, …/replayed/p<NNNN>.json     each item's outcome
    …/report.json                                           the report
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from qldb_dr.catalog import Vault
from qldb_dr.checks import Status
from qldb_dr.errors import InvalidInputError, ObjectNotFoundError
from qldb_dr.restore import expected
from qldb_dr.restore import plan as planning
from qldb_dr.restore import target as targets
from qldb_dr.restore.model import Mode, ReportStatus, RestoreRequest, Target, iso, parse_time
from qldb_dr.restore.partition import partition_object, partition_prefix
from qldb_dr.restore.replay import Replayer, read_partition
from qldb_dr.restore.verify import verify


@dataclass(frozen=True, slots=True)
class RestoreState:
    restore_id: str
    vault_bucket: str
    vault_prefix: str
    region: str
    source: str
    target: Target
    mode: Mode
    partitions: int
    cut: int
    watermark: int  # the target held the source up to this block when the restore planned (-1: nothing)
    started: str
    max_concurrency: int = 8

    def to_json(self) -> dict[str, Any]:
        return {
            "restoreId": self.restore_id,
            "vaultBucket": self.vault_bucket,
            "vaultPrefix": self.vault_prefix,
            "region": self.region,
            "sourceLedger": self.source,
            "targetLedger": self.target.ledger,
            "targetRegion": self.target.region,
            "mode": self.mode.value,
            "partitions": self.partitions,
            "cut": self.cut,
            "watermark": self.watermark,
            "startedAt": self.started,
            "maxConcurrency": self.max_concurrency,
        }

    @classmethod
    def from_json(cls, value: Any) -> RestoreState:
        try:
            return cls(
                restore_id=value["restoreId"],
                vault_bucket=value["vaultBucket"],
                vault_prefix=value["vaultPrefix"],
                region=value["region"],
                source=value["sourceLedger"],
                target=Target(value["targetLedger"], value["targetRegion"]),
                mode=Mode(value["mode"]),
                partitions=int(value["partitions"]),
                cut=int(value["cut"]),
                watermark=int(value["watermark"]),
                started=value["startedAt"],
                max_concurrency=int(value.get("maxConcurrency", 8)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"the restore state is incomplete ({exc})") from exc

    def vault(self) -> Vault:
        return Vault.open(f"s3://{self.vault_bucket}/{self.vault_prefix}", self.region)

    def base(self) -> str:
        return f"{self.vault_prefix}{self.source}/restores/{self.restore_id}/"


def _json(vault: Vault, key: str) -> Any:
    return json.loads(vault.store.read(key))


def _put(vault: Vault, key: str, value: Any) -> None:
    vault.store.write(key, (json.dumps(value, indent=2, default=str) + "\n").encode())


# -- Plan Restore ---------------------------------------------------------------------------------


def plan_restore(event: Any, region: str, vault_bucket: str, vault_prefix: str, restore_id: str) -> dict[str, Any]:
    """Plan (or, resuming, read back the plan) and write the Map manifests."""
    request = RestoreRequest.parse(event, region)
    vault = Vault.open(f"s3://{vault_bucket}/{vault_prefix}", region)
    if event.get("resume"):
        restore_id = str(event.get("restoreId") or restore_id)  # a retry continues the original restore
    base = f"{vault_prefix}{request.source_ledger}/restores/{restore_id}/"
    now = datetime.now(UTC)
    if event.get("resume"):
        try:
            written = _json(vault, base + "plan.json")
        except ObjectNotFoundError as exc:
            raise InvalidInputError(f"restore {restore_id} has no plan in s3://{vault_bucket}/{base}") from exc
        state = RestoreState(
            restore_id,
            vault_bucket,
            vault_prefix,
            region,
            request.source_ledger,
            request.target,
            request.mode,
            int(written["partitions"]),
            int(written["cut"]),
            int(written.get("watermark", written.get("after", -1))),  # plans written before 0.2 say "after"
            written["createdAt"],
            request.max_concurrency,
        )
        replayed = {k.rsplit("/", 1)[-1] for k in vault.store.list(base + "replayed/")}
        if targets.state(request.target) is None:
            # The target is gone (deleted, or never prepared): what the finished partitions wrote
            # went with it. A full restore starts over into a new one; an incremental restore's
            # base went too.
            if state.watermark >= 0:
                raise InvalidInputError(
                    f"restore {restore_id} adds blocks after {state.watermark} to {request.target.ledger}, which "
                    "no longer holds them (deleted or replaced); nothing was written",
                    hint="start a new restore (not --incremental) into the target",
                )
            replayed = set()
        pending = [
            {"restoreId": restore_id, "partition": p}
            for p in range(state.partitions)
            if f"p{p:04d}.json" not in replayed
        ]
        _put(vault, base + "partitions-pending.json", pending)
        return {
            "restore": state.to_json(),
            "objects": base + "objects.json",
            "partitions": base + "partitions-pending.json",
            "resumed": True,
            "schema": written["schema"],
            "results": _results(base),
        }
    current = targets.state(request.target)
    watermark = current.watermark if current is not None and request.incremental else -1
    partitions = current.partitions if current is not None else request.partitions
    request = RestoreRequest(
        request.source_ledger,
        request.target,
        request.mode,
        request.recovery_point,
        request.at,
        request.block,
        request.incremental,
        partitions,
        request.max_concurrency,
    )
    planned = planning.plan(restore_id, request, vault, watermark, now)
    keys = planning.write(planned, vault)
    state = RestoreState(
        restore_id,
        vault_bucket,
        vault_prefix,
        region,
        request.source_ledger,
        request.target,
        request.mode,
        partitions,
        planned.cut,
        watermark,
        iso(now),
        request.max_concurrency,
    )
    return {
        "restore": state.to_json(),
        "objects": keys["objects"],
        "partitions": keys["partitions"],
        "schema": planned.schema.to_json(),
        "blocks": planned.blocks,
        "revisions": planned.revisions,
        "recoveryPoints": len(planned.points),
        "resumed": False,
        "results": _results(base),
    }


def _results(base: str) -> dict[str, str]:
    """Where the two Distributed Maps write their result files (ResultWriter)."""
    return {"partition": base + "results/partition", "replay": base + "results/replay"}


# -- Prepare Target, Partition, Replay -------------------------------------------------------------


def prepare_target(state: RestoreState, schema: dict[str, Any]) -> dict[str, Any]:
    prepared = targets.prepare(state.target, state.source, state.mode, state.partitions, list(schema["sources"]))
    return {"partitions": prepared.partitions, "watermark": prepared.watermark}


def partition_item(state: RestoreState, item: dict[str, Any]) -> dict[str, Any]:
    vault = state.vault()
    marker = f"{state.base()}partitioned/{int(item['first']):012d}.json"
    try:
        done: dict[str, Any] = _json(vault, marker)  # partitioned by an earlier run of this restore
        return done
    except ObjectNotFoundError:
        pass
    outcome = partition_object(vault, state.source, state.restore_id, item, state.partitions, state.watermark)
    _put(vault, marker, outcome)
    return outcome


def replay_item(state: RestoreState, partition: int) -> dict[str, Any]:
    vault = state.vault()
    plan = _json(vault, state.base() + "plan.json")
    table_ids = set(plan["schema"]["tableIds"])
    revisions = read_partition(vault.store, partition_prefix(vault, state.source, state.restore_id, partition))
    with targets.driver(state.target) as driver:
        outcome = Replayer(driver, partition, state.mode, state.restore_id).replay(revisions, table_ids)
    result = outcome.to_json()
    _put(vault, f"{state.base()}replayed/p{partition:04d}.json", result)
    return result


# -- Verify Restore, Write Report ------------------------------------------------------------------

# The verification and report status of a restore whose target a later restore moved past
# its block before it could compare: every revision up to its block is applied (a later
# restore verifies the target at its own block), but this one could not prove equality.
SUPERSEDED = ReportStatus.SUPERSEDED.value


def verify_restore(state: RestoreState) -> dict[str, Any]:
    vault = state.vault()
    want = expected.from_vault(vault, state.source, state.cut)
    with targets.driver(state.target) as driver:
        checks = verify(driver, want, state.mode, state.partitions)
    status = max((c.status for c in checks), default=Status.OK)
    verification: dict[str, Any] = {
        "status": status.name,
        "checks": [c.to_json() for c in checks],
        "documents": len(want.documents),
    }
    # A later restore of the same target (a warm standby's next recovery point) may have
    # written past this one's block while it verified: the target then differs from the
    # journal at this block because it is ahead of it. Watermarks only move forward, so
    # reading them after the comparison tells whether any write beyond this block happened.
    beyond = targets.applied_beyond(state.target, state.cut) if status is Status.FAILURE else None
    if beyond is not None:
        verification.update(status=SUPERSEDED, supersededAtBlock=beyond)
    return verification


def write_report(state: RestoreState, verification: dict[str, Any], failed_partitions: int = 0) -> dict[str, Any]:
    vault = state.vault()
    plan = _json(vault, state.base() + "plan.json")
    outcomes = [_json(vault, k) for k in vault.store.list(state.base() + "replayed/")]
    totals: dict[str, int] = {}
    for outcome in outcomes:
        for name, value in outcome.items():
            if name != "partition":
                totals[name] = totals.get(name, 0) + int(value)
    finished = datetime.now(UTC)
    ok = verification.get("status") != "FAILURE" and failed_partitions == 0
    superseded = verification.get("status") == SUPERSEDED
    report = {
        "formatVersion": 1,
        "restoreId": state.restore_id,
        "sourceLedger": state.source,
        "targetLedger": state.target.ledger,
        "targetRegion": state.target.region,
        "mode": state.mode.value,
        "recoveryPoints": plan["recoveryPoints"],
        "request": plan["request"],
        "restoredToBlock": state.cut,
        "watermark": state.watermark,
        "blocks": plan["blocks"],
        "revisions": plan["revisions"],
        "replay": totals,
        "partitions": state.partitions,
        "partitionsReplayed": len(outcomes),
        "failedPartitions": failed_partitions,
        "startedAt": state.started,
        "finishedAt": iso(finished),
        "durationSeconds": round((finished - parse_time(state.started)).total_seconds(), 3),
        "verification": verification,
        "status": (ReportStatus.SUPERSEDED if superseded else ReportStatus.OK).value
        if ok
        else ReportStatus.FAILURE.value,
        "schemaNotes": plan["schema"]["notes"],
    }
    _put(vault, state.base() + "report.json", report)
    if ok:
        targets.advance(state.target, state.cut, state.restore_id)
    return {k: report[k] for k in ("restoreId", "status", "restoredToBlock", "durationSeconds", "revisions")}
