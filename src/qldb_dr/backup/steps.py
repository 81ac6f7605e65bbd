"""The backup steps: plan a contiguous export window, export, verify and anchor it, record it.

The Backup workflow (statemachines/backup.asl.json) runs these one Task each; the state
machine only routes, waits and retries. Every step is safe to retry: a plan is read from
the catalog, verification only reads, the proof is rewritten identically, and recording
is a conditional create. Each takes the backup's `Settings` (resolved once, by the first).

Windows are contiguous and never overlap: a window starts where the previous recovery
point's ended (the ledger's creation for the first) and ends a settle delay before now.
An empty window (no block committed in it) is recorded deliberately, as a recovery point
with no blocks: the backup ran, the ledger was quiet, and the digest stored with it proves
what the ledger's last block was at that moment — so the RPO heartbeat stays honest and
the next window starts where this one ended.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from qldb_dr.aws.qldb import Qldb
from qldb_dr.backup.model import Plan, Verification
from qldb_dr.backup.settings import Settings
from qldb_dr.catalog import Catalog, RecoveryPoint, Vault
from qldb_dr.checks import Check, Status
from qldb_dr.encoding import b64, iso
from qldb_dr.errors import BackupInProgressError, ContinuityError, ExportVerificationError, InvalidInputError
from qldb_dr.journal.export import PROOF_SUFFIX, Proof
from qldb_dr.journal.hashing import fold
from qldb_dr.journal.models import BlockAddress
from qldb_dr.journal.verify import ExportSummary, Report, verify_source
from qldb_dr.store import Store
from qldb_dr.store.pinned import Recorder


def plan_window(settings: Settings, *, now: datetime) -> Plan | None:
    """The next window, or None when it would be empty of time (run again later)."""
    vault, qldb, ledger = settings.open_vault(), settings.qldb(), settings.ledger_name
    points = Catalog(vault).recovery_points(ledger)
    start = points[-1].window_end if points else qldb.created(ledger)
    start = start.replace(microsecond=start.microsecond // 1000 * 1000)
    end = (now - timedelta(seconds=settings.settle_seconds)).replace(microsecond=now.microsecond // 1000 * 1000)
    if end <= start:
        return None
    for export in qldb.exports(ledger):
        same_window = abs((export["InclusiveStartTime"] - start).total_seconds()) < 0.001
        ours = export["S3ExportConfiguration"]["Prefix"] == vault.journal(ledger)
        if export["Status"] == "IN_PROGRESS" and ours and same_window:
            raise BackupInProgressError(
                f"ledger {ledger}: export {export['ExportId']} is already backing up the window from "
                f"{iso(start)}; that backup records the recovery point"
            )
    last = next((p for p in reversed(points) if not p.empty), None)
    return Plan(
        start=start,
        end=end,
        previous=points[-1].recovery_point_id if points else None,
        previous_block=None if last is None else last.last_block,
        previous_block_hash=None if last is None else last.last_block_hash,
    )


def start_export(settings: Settings, plan: Plan) -> str:
    """ExportJournalToS3 of the planned window into the vault's journal prefix; the export id."""
    vault = settings.open_vault()
    if vault.bucket is None:
        raise InvalidInputError(f"QLDB exports only to S3; the vault {settings.vault} is a directory")
    return settings.qldb().export(
        settings.ledger_name,
        start=plan.start,
        end=plan.end,
        bucket=vault.bucket,
        prefix=vault.journal(settings.ledger_name),
        role_arn=settings.export_role_arn,
        output_format=settings.output_format,
        kms_key_arn=settings.kms_key_arn,
    )


def export_status(settings: Settings, export_id: str) -> str:
    """IN_PROGRESS, COMPLETED or CANCELLED."""
    return str(settings.qldb().export_description(settings.ledger_name, export_id)["Status"])


def anchor(
    vault: Vault, qldb: Qldb, ledger: str, export_head: str, block: BlockAddress | None, block_hash: bytes | None
) -> Proof | None:
    """Take the ledger's digest and the proof of `block`; store both beside the export."""
    if block is None or block_hash is None:
        return None  # nothing backed up yet and nothing in this window: no block to prove
    digest = qldb.digest(ledger)
    _, hashes = qldb.block_proof(ledger, block, digest.tip)
    proof = Proof(ledger, digest.digest, digest.tip, block, tuple(hashes))
    if fold(proof.hashes, block_hash) != proof.digest:
        raise ExportVerificationError(
            f"{export_head}: the ledger's digest at block {digest.tip.sequence_no} does not cover block "
            f"{block.sequence_no} with the hash in the export — the export is not this ledger's journal"
        )
    vault.store.write(export_head + PROOF_SUFFIX, proof.to_json())
    return proof


def verify_export(settings: Settings, plan: Plan, export_id: str) -> Verification:
    """Verify the completed export, its continuity with the plan, and anchor it."""
    vault, qldb, ledger = settings.open_vault(), settings.qldb(), settings.ledger_name
    head = vault.journal(ledger) + export_id
    store = Recorder(vault.store.scoped(head))  # the versions and digests verified: the pins
    first_pass = _verify(store, head)
    summary = first_pass.exports[0]
    continuity = _check_continuity(head, plan, summary)
    if summary.last is not None:
        proof = anchor(vault, qldb, ledger, head, summary.last, summary.last_hash)
    else:
        proof = anchor(vault, qldb, ledger, head, plan.previous_block, plan.previous_block_hash)
        if proof is not None and proof.digest_tip.sequence_no < proof.block_address.sequence_no:
            raise ContinuityError(f"{head}: the ledger's tip is before the last block already backed up")
    report = _verify(store, head) if proof is not None and summary.last is not None else first_pass
    # Verified alone, an export after the first cannot see the blocks before it (its continuity
    # check warns of that); what a recovery point records is its join to the previous one.
    report.checks = [continuity if c.name == continuity.name else c for c in report.checks]
    if proof is not None:
        store.read(head + PROOF_SUFFIX)  # written after the pass that verified it, or after the only one
    return Verification.of(export_id, report, proof, store.pins)


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


def _check_continuity(head: str, plan: Plan, summary: ExportSummary) -> Check:
    """The export continues the previous recovery point (or starts the journal): block
    numbers and hash. A gap or an overlap raises, and nothing is recorded."""
    check = Check("continuity", "the export's first block follows the previous recovery point's last, by hash")
    if summary.first is None:
        check.summary = "no blocks in this window (nothing to join)"
        return check
    expected = 0 if plan.previous_block is None else plan.previous_block.sequence_no + 1
    if summary.first.sequence_no != expected:
        what = "gap" if summary.first.sequence_no > expected else "overlap"
        raise ContinuityError(
            f"{head}: {what} with the previous recovery point {plan.previous}: the export starts at block "
            f"{summary.first.sequence_no}, the next block to back up is {expected}; nothing recorded"
        )
    if plan.previous_block_hash is not None and summary.first_previous_hash != plan.previous_block_hash:
        raise ContinuityError(
            f"{head}: block {expected} does not chain to block {expected - 1} of recovery point {plan.previous} "
            f"(previousBlockHash {b64(summary.first_previous_hash or b'')}, expected {b64(plan.previous_block_hash)})"
        )
    check.passed()
    check.summary = (
        "starts at block 0, the journal's first"
        if plan.previous_block is None
        else f"block {expected} follows block {expected - 1} of recovery point {plan.previous}, chained by hash"
    )
    return check


def record(
    settings: Settings, plan: Plan, verified: Verification, *, now: datetime, execution: str | None
) -> RecoveryPoint:
    """Tag the export's objects, then write its recovery point (written last: a recovery
    point always means a verified, anchored, tagged export)."""
    vault, ledger = settings.open_vault(), settings.ledger_name
    export_prefix = vault.journal(ledger)
    head = export_prefix + verified.export_id
    store = vault.store
    keys = list(store.scoped(head).list())
    tags = {"qldb-dr:ledger": ledger, "qldb-dr:export-id": verified.export_id, "qldb-dr:verified": "true"}
    size = 0
    for key in keys:
        store.tag(key, tags)
        size += store.size(key)
    proof = verified.proof
    point = RecoveryPoint(
        recovery_point_id=verified.export_id,
        ledger_name=ledger,
        region=settings.region,
        strand_id=None if verified.first is None else verified.first.strand_id,
        export_prefix=export_prefix,
        output_format=settings.output_format,
        window_start=plan.start,
        window_end=plan.end,
        first_block=verified.first,
        last_block=verified.last,
        first_previous_hash=verified.first_previous_hash,
        last_block_hash=verified.last_hash,
        previous=plan.previous,
        digest=b"" if proof is None else proof.digest,
        digest_tip=BlockAddress("", -1) if proof is None else proof.digest_tip,
        blocks=verified.blocks,
        revisions=verified.revisions,
        tables=verified.tables,
        objects=tuple(k for k in keys if k.startswith(head + "/")),
        pins=verified.pins,
        size=size,
        verification={"status": verified.status, "checks": verified.checks},
        created=now.replace(microsecond=now.microsecond // 1000 * 1000),  # the catalog keeps milliseconds
        execution=execution,
    )
    Catalog(vault).record(point)
    return point
