"""The backup steps: plan a contiguous export window, export, verify and anchor it, record it.

The Backup workflow (statemachines/backup.asl.json) runs these one Task each; the state
machine only routes, waits and retries. Every step is safe to retry: a plan is read from
the catalog, verification only reads, the proof is rewritten identically, and recording
is a conditional create.

Windows are contiguous and never overlap: a window starts where the previous recovery
point's ended (the ledger's creation for the first) and ends a settle delay before now.
An empty window (no block committed in it) is recorded deliberately, as a recovery point
with no blocks: the backup ran, the ledger was quiet, and the digest stored with it proves
what the ledger's last block was at that moment — so the RPO heartbeat stays honest and
the next window starts where this one ended.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from qldb_dr.aws.qldb import Qldb
from qldb_dr.catalog import Catalog, RecoveryPoint, TableCounts, Vault
from qldb_dr.checks import Status
from qldb_dr.errors import BackupInProgressError, ContinuityError, ExportVerificationError
from qldb_dr.journal.export import Proof
from qldb_dr.journal.hashing import fold
from qldb_dr.journal.models import BlockAddress, OutputFormat
from qldb_dr.journal.verify import ExportSummary, Report, b64, verify_source
from qldb_dr.store import Store

DEFAULT_SETTLE_SECONDS = 60
DEFAULT_OUTPUT_FORMAT = OutputFormat.ION_BINARY.value  # smallest, fastest to verify


@dataclass(frozen=True, slots=True)
class Backup:
    """What every step needs: the ledger, where it lives, and the vault."""

    ledger: str
    region: str
    vault: Vault

    @property
    def export_prefix(self) -> str:
        return self.vault.journal(self.ledger)


@dataclass(frozen=True, slots=True)
class Plan:
    """The next window, and the last block already backed up (None before the first)."""

    start: datetime
    end: datetime
    previous: str | None  # recovery point id this window continues
    after: BlockAddress | None
    after_hash: bytes | None

    def to_json(self) -> dict[str, Any]:
        return {
            "windowStart": _iso(self.start),
            "windowEnd": _iso(self.end),
            "previousRecoveryPointId": self.previous,
            "after": None if self.after is None else self.after.to_ion(),
            "afterHash": None if self.after_hash is None else b64(self.after_hash),
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Plan:
        after = value.get("after")
        return cls(
            start=_parse(value["windowStart"]),
            end=_parse(value["windowEnd"]),
            previous=value.get("previousRecoveryPointId"),
            after=None if after is None else BlockAddress(str(after["strandId"]), int(after["sequenceNo"])),
            after_hash=None if value.get("afterHash") is None else base64.b64decode(value["afterHash"]),
        )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def plan_window(backup: Backup, qldb: Qldb, *, now: datetime, settle_seconds: int) -> Plan | None:
    """The next window, or None when it would be empty of time (run again later)."""
    points = Catalog(backup.vault).recovery_points(backup.ledger)
    start = points[-1].window_end if points else qldb.created(backup.ledger)
    start = start.replace(microsecond=start.microsecond // 1000 * 1000)
    end = (now - timedelta(seconds=settle_seconds)).replace(microsecond=now.microsecond // 1000 * 1000)
    if end <= start:
        return None
    for export in qldb.exports(backup.ledger):
        same_window = abs((export["InclusiveStartTime"] - start).total_seconds()) < 0.001
        ours = export["S3ExportConfiguration"]["Prefix"] == backup.export_prefix
        if export["Status"] == "IN_PROGRESS" and ours and same_window:
            raise BackupInProgressError(
                f"ledger {backup.ledger}: export {export['ExportId']} is already backing up the window from "
                f"{_iso(start)}; that backup records the recovery point"
            )
    last = next((p for p in reversed(points) if not p.empty), None)
    return Plan(
        start=start,
        end=end,
        previous=points[-1].recovery_point_id if points else None,
        after=None if last is None else last.last_block,
        after_hash=None if last is None else last.last_block_hash,
    )


@dataclass(frozen=True, slots=True)
class Verified:
    """One export, verified, continuing the plan, anchored to the ledger's digest."""

    export_id: str
    report: Report
    summary: ExportSummary
    proof: Proof | None

    def to_json(self) -> dict[str, Any]:
        s = self.summary
        return {
            "exportId": self.export_id,
            "blocks": s.blocks,
            "revisions": s.revisions,
            "firstBlock": None if s.first is None else s.first.to_ion(),
            "lastBlock": None if s.last is None else s.last.to_ion(),
            "status": self.report.status.name,
            "checks": [{"name": c.name, "status": c.status.name, "summary": c.summary} for c in self.report.checks],
        }


def anchor(
    backup: Backup, qldb: Qldb, export_head: str, block: BlockAddress | None, block_hash: bytes | None
) -> Proof | None:
    """Take the ledger's digest and the proof of `block`; store both beside the export."""
    if block is None or block_hash is None:
        return None  # nothing backed up yet and nothing in this window: no block to prove
    digest = qldb.digest(backup.ledger)
    _, hashes = qldb.block_proof(backup.ledger, block, digest.tip)
    proof = Proof(backup.ledger, digest.digest, digest.tip, block, tuple(hashes))
    if fold(proof.hashes, block_hash) != proof.digest:
        raise ExportVerificationError(
            f"{export_head}: the ledger's digest at block {digest.tip.sequence_no} does not cover block "
            f"{block.sequence_no} with the hash in the export — the export is not this ledger's journal"
        )
    backup.vault.store.write(export_head + ".proof.json", proof.to_json())
    return proof


def verify_export(backup: Backup, qldb: Qldb, plan: Plan, export_id: str) -> Verified:
    """Verify the completed export, its continuity with the plan, and anchor it."""
    head = backup.export_prefix + export_id
    store = backup.vault.store.scoped(head)
    first_pass = _verify(store, head)
    summary = first_pass.exports[0]
    _check_continuity(head, plan, summary)
    if summary.last is not None:
        proof = anchor(backup, qldb, head, summary.last, summary.last_hash)
    else:
        proof = anchor(backup, qldb, head, plan.after, plan.after_hash)
        if proof is not None and proof.digest_tip.sequence_no < proof.block_address.sequence_no:
            raise ContinuityError(f"{head}: the ledger's tip is before the last block already backed up")
    report = _verify(store, head) if proof is not None and summary.last is not None else first_pass
    return Verified(export_id, report, report.exports[0], proof)


def _verify(store: Store, head: str) -> Report:
    report = verify_source(store)
    failed = [c for c in report.checks if c.status is Status.FAILURE]
    if failed:
        first = failed[0].first()
        raise ExportVerificationError(
            f"{head}: {failed[0].name} failed: {first.describe() if first else failed[0].summary}"
        )
    if len(report.exports) != 1:
        raise ExportVerificationError(f"{head}: expected one export, found {len(report.exports)}")
    return report


def _check_continuity(head: str, plan: Plan, summary: ExportSummary) -> None:
    if summary.first is None:
        return
    expected = 0 if plan.after is None else plan.after.sequence_no + 1
    if summary.first.sequence_no != expected:
        what = "gap" if summary.first.sequence_no > expected else "overlap"
        raise ContinuityError(
            f"{head}: {what} with the previous recovery point {plan.previous}: the export starts at block "
            f"{summary.first.sequence_no}, the next block to back up is {expected}; nothing recorded"
        )
    if plan.after_hash is not None and summary.first_previous_hash != plan.after_hash:
        raise ContinuityError(
            f"{head}: block {expected} does not chain to block {expected - 1} of recovery point {plan.previous} "
            f"(previousBlockHash {b64(summary.first_previous_hash or b'')}, expected {b64(plan.after_hash)})"
        )


def record(
    backup: Backup, plan: Plan, verified: Verified, *, output_format: str, now: datetime, execution: str | None
) -> RecoveryPoint:
    """Tag the export's objects, then write its recovery point (written last: a recovery
    point always means a verified, anchored, tagged export)."""
    head = backup.export_prefix + verified.export_id
    store = backup.vault.store
    keys = [k for k in store.list(head) if not k.endswith("/")]
    tags = {"qldb-dr:ledger": backup.ledger, "qldb-dr:export-id": verified.export_id, "qldb-dr:verified": "true"}
    size = 0
    for key in keys:
        store.tag(key, tags)
        size += store.size(key)
    s = verified.summary
    point = RecoveryPoint(
        recovery_point_id=verified.export_id,
        ledger_name=backup.ledger,
        region=backup.region,
        strand_id=None if s.first is None else s.first.strand_id,
        export_prefix=backup.export_prefix,
        output_format=output_format,
        window_start=plan.start,
        window_end=plan.end,
        first_block=s.first,
        last_block=s.last,
        first_previous_hash=s.first_previous_hash,
        last_block_hash=s.last_hash,
        previous=plan.previous,
        digest=b"" if verified.proof is None else verified.proof.digest,
        digest_tip=BlockAddress("", -1) if verified.proof is None else verified.proof.digest_tip,
        blocks=s.blocks,
        revisions=s.revisions,
        tables={
            name: TableCounts(count, len(s.table_documents.get(name, ()))) for name, count in s.table_revisions.items()
        },
        objects=tuple(k for k in keys if k.startswith(head + "/")),
        size=size,
        verification=verified.to_json(),
        created=now,
        execution=execution,
    )
    Catalog(backup.vault).record(point)
    return point
