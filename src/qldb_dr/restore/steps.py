"""The Restore workflow's steps, as its task handlers call them, and the state they share.

Everything a step needs travels in a small `RestoreState` (the plan itself stays in the
vault); every step can be run again: the plan is read back when a restore resumes, objects
already partitioned are not partitioned again, and replay is version-guarded.

The order: Plan Restore (metadata only) → Partition (each object read once: verified,
split, its findings written) → Check Journal (the gate: every object verified and joined,
the schema learnt) → Prepare Target → Replay → Verify Restore → Write Report. The target
is created only after the gate, so a vault that fails verification leaves it untouched.

Vault layout of a restore (in the vault of the region it runs in):
    <prefix><source>/restores/<restoreId>/plan.json        the plan (completed by the gate)
    …/objects.json, …/partitions*.json                     the Map manifests
    …/partitions/p<NNNN>/<first>-<last>.ion                 partition files
    …/partitions/p<NNNN>/<first>-<last>.catch-up.ion        revisions read again (tables undropped)
    …/partitioned/<first>.json, …/replayed/p<NNNN>.json     each item's outcome (and findings)
    …/report.json                                           the report
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from qldb_dr import fields
from qldb_dr.catalog import Vault
from qldb_dr.checks import Status
from qldb_dr.concurrency import in_order
from qldb_dr.encoding import iso, parse_iso
from qldb_dr.errors import InvalidInputError, ObjectNotFoundError
from qldb_dr.restore import expected, gate
from qldb_dr.restore import plan as planning
from qldb_dr.restore import target as targets
from qldb_dr.restore.model import Mode, ReportStatus, Target
from qldb_dr.restore.partition import partition_object, partition_prefix, summaries_prefix
from qldb_dr.restore.partition import write as write_partitions
from qldb_dr.restore.replay import Replayer, read_partition
from qldb_dr.restore.settings import Settings
from qldb_dr.restore.verify import verify


@dataclass(frozen=True, slots=True)
class RestoreState:
    """What every step after Plan Restore needs, in the execution's state and each Map item."""

    restore_id: str
    vault: str
    region: str
    source_ledger: str
    target_ledger: str
    target_region: str
    mode: Mode
    partitions: int
    cut: int
    watermark: int  # the target held the source up to this block when the restore planned (-1: nothing)
    started_at: datetime

    def to_json(self) -> dict[str, Any]:
        return fields.to_json(self)

    @classmethod
    def from_json(cls, value: Any) -> RestoreState:
        return fields.from_json(cls, value, "restore state")

    @property
    def target(self) -> Target:
        return Target(self.target_ledger, self.target_region)

    def open_vault(self) -> Vault:
        return Vault.open(self.vault, self.region)

    def base(self, vault: Vault) -> str:
        """Where this restore keeps its files in `vault` (opened once per step: it holds a client)."""
        return vault.restore(self.source_ledger, self.restore_id)


def _json(vault: Vault, key: str) -> Any:
    return json.loads(vault.store.read(key))


def _put(vault: Vault, key: str, value: Any) -> None:
    vault.store.write(key, (json.dumps(value, indent=2, default=str) + "\n").encode())


# -- Plan Restore ---------------------------------------------------------------------------------

UNKNOWN_CUT = -1  # a point in time's last block, until the gate has read the journal up to it


def plan_restore(settings: Settings, restore_id: str) -> dict[str, Any]:
    """Plan (or, resuming, read back the plan) and write the Map manifests."""
    vault = settings.open_vault()
    if settings.resume and settings.restore_id:
        restore_id = settings.restore_id  # a retry continues the original restore
    base = vault.restore(settings.source_ledger, restore_id)
    if settings.resume:
        return _resume(settings, vault, restore_id, base)
    now = datetime.now(UTC)
    current = targets.state(settings.target)
    watermark = current.watermark if current is not None and settings.incremental else -1
    if current is not None:
        settings = dataclasses.replace(settings, partitions=current.partitions)  # the target's own partitioning
    planned = planning.plan(restore_id, settings, vault, watermark, now)
    keys = planning.write(planned, vault)
    state = _state(settings, restore_id, UNKNOWN_CUT if planned.cut is None else planned.cut, watermark, now)
    return {
        **_maps(state, vault, keys["objects"], keys["partitions"], settings.max_concurrency),
        "schema": None,  # learnt as Partition reads the journal: the gate fills it in
        "blocks": 0,
        "revisions": 0,
        "recoveryPoints": len(planned.points),
        "resumed": False,
    }


def _resume(settings: Settings, vault: Vault, restore_id: str, base: str) -> dict[str, Any]:
    try:
        written = _json(vault, base + "plan.json")
    except ObjectNotFoundError as exc:
        raise InvalidInputError(f"restore {restore_id} has no plan in {vault.store.describe(base)}") from exc
    settings = dataclasses.replace(settings, partitions=int(written["partitions"]))
    watermark = int(written.get("watermark", written.get("after", -1)))  # plans written before 0.2 say "after"
    cut = UNKNOWN_CUT if written["cut"] is None else int(written["cut"])  # None: a point in time not read yet
    state = _state(settings, restore_id, cut, watermark, parse_iso(written["createdAt"]))
    replayed = {k.rsplit("/", 1)[-1] for k in vault.store.list(base + "replayed/")}
    if targets.state(settings.target) is None:
        # The target is gone (deleted, or never prepared): what the finished partitions wrote
        # went with it. A full restore starts over into a new one; an incremental restore's
        # base went too.
        if state.watermark >= 0:
            raise InvalidInputError(
                f"restore {restore_id} adds blocks after {state.watermark} to {settings.target_ledger}, which "
                "no longer holds them (deleted or replaced); nothing was written",
                hint="start a new restore (not --incremental) into the target",
            )
        replayed = set()
    pending = [
        {"restoreId": restore_id, "partition": p} for p in range(state.partitions) if f"p{p:04d}.json" not in replayed
    ]
    _put(vault, base + "partitions-pending.json", pending)
    objects, partitions = base + "objects.json", base + "partitions-pending.json"
    return {
        **_maps(state, vault, objects, partitions, settings.max_concurrency),
        "schema": written["schema"],
        "resumed": True,
    }


def _state(settings: Settings, restore_id: str, cut: int, watermark: int, started: datetime) -> RestoreState:
    return RestoreState(
        restore_id=restore_id,
        vault=settings.vault,
        region=settings.region,
        source_ledger=settings.source_ledger,
        target_ledger=settings.target_ledger,
        target_region=settings.target_region,
        mode=settings.mode,
        partitions=settings.partitions,
        cut=cut,
        watermark=watermark,
        started_at=started.replace(microsecond=started.microsecond // 1000 * 1000),
    )


def _maps(state: RestoreState, vault: Vault, objects: str, partitions: str, max_concurrency: int) -> dict[str, Any]:
    """The state every later step reads, and what the two Distributed Maps read and write:
    their manifests, where their results go, and how many replay workers run at once."""
    base = state.base(vault)
    return {
        "restore": state.to_json(),
        "bucket": vault.bucket,
        "objects": objects,
        "partitions": partitions,
        "results": {"partition": base + "results/partition", "replay": base + "results/replay"},
        "maxConcurrency": max_concurrency,
    }


# -- Prepare Target, Partition, Replay -------------------------------------------------------------


def prepare_target(state: RestoreState, schema: dict[str, Any]) -> dict[str, Any]:
    prepared = targets.prepare(state.target, state.source_ledger, state.mode, state.partitions, list(schema["sources"]))
    return {"partitions": prepared.partitions, "watermark": prepared.watermark}


def partition_item(state: RestoreState, item: dict[str, Any]) -> dict[str, Any]:
    vault = state.open_vault()
    marker = f"{state.base(vault)}partitioned/{int(item['first']):012d}.json"
    try:
        done: dict[str, Any] = _json(vault, marker)  # partitioned by an earlier run of this restore
        if done.get("findings", {}).get("verified"):
            return _summary(done)
    except ObjectNotFoundError:
        pass
    # Read, verified and split in one pass; an object that failed is read again on a retry
    outcome = partition_object(
        vault,
        state.source_ledger,
        state.restore_id,
        item,
        state.partitions,
        state.watermark,
        versions=state.mode is Mode.HISTORY,
    )
    _put(vault, marker, outcome)
    return _summary(outcome)


def _summary(outcome: dict[str, Any]) -> dict[str, Any]:
    """A Map item's result: its counts and verdict (the findings stay in the vault)."""
    found = outcome["findings"]
    return {
        **{k: v for k, v in outcome.items() if k not in ("findings", "schema", "earlierRevisions")},
        "verified": found["verified"],
        "failures": sum(int(c["failures"]) for c in found["checks"]),
    }


def check_journal(planned: dict[str, Any]) -> dict[str, Any]:
    """The gate after Partition: refuse (VaultVerificationError, naming the block) unless every
    object of the journal to restore verified and joins the next; then complete the plan with
    what the objects showed — the schema, the counts and, for a point in time, the cut."""
    state = RestoreState.from_json(planned["restore"])
    vault = state.open_vault()
    base = state.base(vault)
    plan = _json(vault, base + "plan.json")
    items = _json(vault, base + "objects.json")
    outcomes: dict[str, dict[str, Any] | None] = {}
    for item in items:
        try:
            outcomes[str(item["key"])] = _json(vault, f"{base}partitioned/{int(item['first']):012d}.json")
        except ObjectNotFoundError:
            outcomes[str(item["key"])] = None
    verified = gate.check(plan, items, outcomes)
    gate.prove(vault, state.source_ledger, plan.get("laterRecoveryPoints", []), verified.unproven)
    schema = verified.schema.to_json()
    plan.update(cut=verified.cut, schema=schema, blocks=verified.blocks, revisions=verified.revisions)
    plan.update(catchUp=verified.catch_up)
    # The tables undropped since the watermark: their earlier revisions, from the bytes verified
    for item, again in gate.catch_up(vault, plan, items, outcomes):
        write_partitions(vault, state.source_ledger, state.restore_id, item, again, "catch-up")
    plan.update(verified=True)
    _put(vault, base + "plan.json", plan)
    if not planned.get("resumed") and verified.blocks == 0:
        _put(vault, planned["partitions"], [])  # nothing after the target's watermark: no replay
    state = dataclasses.replace(state, cut=verified.cut)
    return {
        **planned,
        "restore": state.to_json(),
        "schema": schema,
        "blocks": verified.blocks,
        "revisions": verified.revisions,
        "verified": {"objects": verified.objects, "blocks": verified.blocks},
    }


def replay_item(state: RestoreState, partition: int) -> dict[str, Any]:
    vault = state.open_vault()
    base = state.base(vault)
    plan = _json(vault, base + "plan.json")
    table_ids = set(plan["schema"]["tableIds"])
    revisions = read_partition(vault.store, partition_prefix(vault, state.source_ledger, state.restore_id, partition))
    with targets.session_driver(state.target) as driver:
        outcome = Replayer(driver, partition, state.mode, state.restore_id).replay(revisions, table_ids)
    result = outcome.to_json()
    _put(vault, f"{base}replayed/p{partition:04d}.json", result)
    return result


# -- Verify Restore, Write Report ------------------------------------------------------------------

# The verification and report status of a restore whose target a later restore moved past
# its block before it could compare: every revision up to its block is applied (a later
# restore verifies the target at its own block), but this one could not prove equality.
SUPERSEDED = ReportStatus.SUPERSEDED.value


SUMMARY_READERS = 8  # summaries read at once (S3 GETs)


def _expected(state: RestoreState, vault: Vault) -> tuple[expected.ExpectedTarget, str]:
    """The expected target, and what it was computed from: the summaries Partition wrote of the
    objects it verified (the journal is not read again), or the vault's journal where they do
    not cover it (a restore resumed across an upgrade)."""
    versions = state.mode is Mode.HISTORY
    items = _json(vault, state.base(vault) + "objects.json")
    keys = sorted(vault.store.list(summaries_prefix(vault, state.source_ledger, state.restore_id)))
    if items:
        found = expected.from_summaries(
            in_order(vault.store.read, keys, SUMMARY_READERS),
            state.cut,
            min(int(i["first"]) for i in items),
            versions=versions,
        )
        if found is not None:
            return found, "summaries"
    return expected.from_vault(vault, state.source_ledger, state.cut, versions=versions), "journal"


def verify_restore(state: RestoreState) -> dict[str, Any]:
    vault = state.open_vault()
    want, computed_from = _expected(state, vault)
    with targets.session_driver(state.target) as driver:
        checks = verify(driver, want, state.mode, state.partitions)
    status = max((c.status for c in checks), default=Status.OK)
    verification: dict[str, Any] = {
        "status": status.name,
        "checks": [c.to_json() for c in checks],
        "documents": len(want.documents),
        "expectedFrom": computed_from,
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
    vault = state.open_vault()
    base = state.base(vault)
    plan = _json(vault, base + "plan.json")
    outcomes = [_json(vault, k) for k in vault.store.list(base + "replayed/")]
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
        "sourceLedger": state.source_ledger,
        "targetLedger": state.target_ledger,
        "targetRegion": state.target_region,
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
        "startedAt": iso(state.started_at),
        "finishedAt": iso(finished),
        "durationSeconds": round((finished - state.started_at).total_seconds(), 3),
        "verification": verification,
        "status": (ReportStatus.SUPERSEDED if superseded else ReportStatus.OK).value
        if ok
        else ReportStatus.FAILURE.value,
        "schemaNotes": plan["schema"]["notes"],
    }
    _put(vault, base + "report.json", report)
    if ok:
        targets.advance(state.target, state.cut, state.restore_id)
    return {k: report[k] for k in ("restoreId", "status", "restoredToBlock", "durationSeconds", "revisions")}
