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
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from qldb_dr.aws.qldb import Qldb
from qldb_dr.catalog import Catalog, RecoveryPoint, TableCounts, Vault
from qldb_dr.checks import Check, Status
from qldb_dr.errors import BackupInProgressError, ContinuityError, ExportVerificationError, InvalidInputError
from qldb_dr.journal.export import PROOF_SUFFIX, Proof
from qldb_dr.journal.hashing import fold
from qldb_dr.journal.models import BlockAddress, OutputFormat
from qldb_dr.journal.verify import ExportSummary, Report, b64, verify_source
from qldb_dr.store import Store
from qldb_dr.store.pinned import Pin, Recorder

DEFAULT_SETTLE_SECONDS = 60  # window ends this long before now: commits in flight land first
DEFAULT_POLL_SECONDS = 15  # between DescribeJournalS3Export calls
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


# Function environment variables read when an input field is absent.
ENVIRONMENT = {
    "vaultBucket": "QLDB_DR_VAULT_BUCKET",
    "vaultPrefix": "QLDB_DR_VAULT_PREFIX",
    "exportRoleArn": "QLDB_DR_EXPORT_ROLE_ARN",
    "kmsKeyArn": "QLDB_DR_KMS_KEY_ARN",
    "outputFormat": "QLDB_DR_OUTPUT_FORMAT",
    "settleSeconds": "QLDB_DR_SETTLE_SECONDS",
    "pollSeconds": "QLDB_DR_POLL_SECONDS",
}


@dataclass(frozen=True, slots=True)
class Settings:
    """A backup's settings, resolved once by the first step and carried in the execution's
    state: input field > function environment variable > default."""

    ledger: str
    region: str
    vault_bucket: str
    vault_prefix: str
    export_role_arn: str
    kms_key_arn: str | None
    output_format: str
    settle_seconds: int
    poll_seconds: int

    @classmethod
    def resolve(cls, event: Any, environment: Any, region: str) -> Settings:
        if not isinstance(event, dict) or not event.get("ledgerName"):
            raise InvalidInputError(f"a backup needs {{ledgerName}}, got {event!r:.200}")

        def value(field: str, default: str | None = None) -> str | None:
            given = event.get(field)
            if given is not None:
                return str(given)
            return environment.get(ENVIRONMENT[field]) or default

        bucket, role = value("vaultBucket"), value("exportRoleArn")
        if not bucket or not role:
            raise InvalidInputError(
                "a backup needs a vault bucket and an export role: vaultBucket / exportRoleArn in the input, or "
                "QLDB_DR_VAULT_BUCKET / QLDB_DR_EXPORT_ROLE_ARN in the function's environment"
            )
        output_format = value("outputFormat", DEFAULT_OUTPUT_FORMAT) or DEFAULT_OUTPUT_FORMAT
        if output_format not in {f.value for f in OutputFormat}:
            raise InvalidInputError(f"outputFormat must be ION_BINARY, ION_TEXT or JSON, not {output_format}")
        try:
            settle = int(value("settleSeconds", str(DEFAULT_SETTLE_SECONDS)) or DEFAULT_SETTLE_SECONDS)
            poll = int(value("pollSeconds", str(DEFAULT_POLL_SECONDS)) or DEFAULT_POLL_SECONDS)
        except ValueError as exc:
            raise InvalidInputError(f"settleSeconds and pollSeconds must be whole seconds ({exc})") from exc
        return cls(
            ledger=str(event["ledgerName"]),
            region=str(event.get("region") or region),
            vault_bucket=bucket,
            vault_prefix=value("vaultPrefix", "") or "",
            export_role_arn=role,
            kms_key_arn=value("kmsKeyArn"),
            output_format=output_format,
            settle_seconds=settle,
            poll_seconds=max(poll, 1),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "ledgerName": self.ledger,
            "region": self.region,
            "vaultBucket": self.vault_bucket,
            "vaultPrefix": self.vault_prefix,
            "exportRoleArn": self.export_role_arn,
            "kmsKeyArn": self.kms_key_arn,
            "outputFormat": self.output_format,
            "settleSeconds": self.settle_seconds,
            "pollSeconds": self.poll_seconds,
        }

    @classmethod
    def from_json(cls, value: Any) -> Settings:
        try:
            return cls(
                ledger=value["ledgerName"],
                region=value["region"],
                vault_bucket=value["vaultBucket"],
                vault_prefix=value["vaultPrefix"],
                export_role_arn=value["exportRoleArn"],
                kms_key_arn=value.get("kmsKeyArn"),
                output_format=value["outputFormat"],
                settle_seconds=int(value["settleSeconds"]),
                poll_seconds=int(value["pollSeconds"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"the backup settings in the state are incomplete ({exc})") from exc

    def backup(self) -> Backup:
        return Backup(
            self.ledger, self.region, Vault.open(f"s3://{self.vault_bucket}/{self.vault_prefix}", self.region)
        )

    def qldb(self) -> Qldb:
        return Qldb(self.region)


@dataclass(frozen=True, slots=True)
class Plan:
    """The next window, and the last block already backed up (None before the first)."""

    start: datetime
    end: datetime
    previous: str | None  # recovery point id this window continues
    previous_block: BlockAddress | None  # the last block of the recovery point it continues
    previous_block_hash: bytes | None

    def to_json(self) -> dict[str, Any]:
        return {
            "windowStart": _iso(self.start),
            "windowEnd": _iso(self.end),
            "previousRecoveryPointId": self.previous,
            "previousBlock": None if self.previous_block is None else self.previous_block.to_ion(),
            "previousBlockHash": None if self.previous_block_hash is None else b64(self.previous_block_hash),
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Plan:
        previous = value.get("previousBlock")
        return cls(
            start=_parse(value["windowStart"]),
            end=_parse(value["windowEnd"]),
            previous=value.get("previousRecoveryPointId"),
            previous_block=None
            if previous is None
            else BlockAddress(str(previous["strandId"]), int(previous["sequenceNo"])),
            previous_block_hash=None
            if value.get("previousBlockHash") is None
            else base64.b64decode(value["previousBlockHash"]),
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
        previous_block=None if last is None else last.last_block,
        previous_block_hash=None if last is None else last.last_block_hash,
    )


@dataclass(frozen=True, slots=True)
class Verification:
    """What Verify Export established about one export; Record Recovery Point records it."""

    export_id: str
    blocks: int
    revisions: int
    first: BlockAddress | None
    last: BlockAddress | None
    first_previous_hash: bytes | None
    last_hash: bytes | None
    tables: dict[str, TableCounts]
    proof: Proof | None
    status: str
    checks: list[dict[str, str]]
    pins: dict[str, Pin] = field(default_factory=dict)  # what was verified: each object's version and SHA-256

    @classmethod
    def of(cls, export_id: str, report: Report, proof: Proof | None, pins: dict[str, Pin]) -> Verification:
        s = report.exports[0]
        return cls(
            export_id=export_id,
            blocks=s.blocks,
            revisions=s.revisions,
            first=s.first,
            last=s.last,
            first_previous_hash=s.first_previous_hash,
            last_hash=s.last_hash,
            tables={
                name: TableCounts(n, len(s.table_documents.get(name, ()))) for name, n in s.table_revisions.items()
            },
            proof=proof,
            status=report.status.name,
            checks=[{"name": c.name, "status": c.status.name, "summary": c.summary} for c in report.checks],
            pins=dict(pins),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "exportId": self.export_id,
            "blocks": self.blocks,
            "revisions": self.revisions,
            "firstBlock": None if self.first is None else self.first.to_ion(),
            "lastBlock": None if self.last is None else self.last.to_ion(),
            "firstPreviousBlockHash": None if self.first_previous_hash is None else b64(self.first_previous_hash),
            "lastBlockHash": None if self.last_hash is None else b64(self.last_hash),
            "tables": {k: {"revisions": v.revisions, "documents": v.documents} for k, v in self.tables.items()},
            "proof": None if self.proof is None else json.loads(self.proof.to_json()),
            "status": self.status,
            "checks": self.checks,
            "pins": {k: p.to_json() for k, p in self.pins.items()},
        }

    @classmethod
    def from_json(cls, value: Any) -> Verification:
        try:
            proof = value.get("proof")
            return cls(
                export_id=value["exportId"],
                blocks=int(value["blocks"]),
                revisions=int(value["revisions"]),
                first=_address(value.get("firstBlock")),
                last=_address(value.get("lastBlock")),
                first_previous_hash=_unb64(value.get("firstPreviousBlockHash")),
                last_hash=_unb64(value.get("lastBlockHash")),
                tables={k: TableCounts(int(v["revisions"]), int(v["documents"])) for k, v in value["tables"].items()},
                proof=None if proof is None else Proof.from_json(json.dumps(proof).encode(), "state"),
                status=value["status"],
                checks=list(value["checks"]),
                pins={str(k): Pin.from_json(v) for k, v in (value.get("pins") or {}).items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"the verification in the state is incomplete ({exc})") from exc


def _address(value: Any) -> BlockAddress | None:
    return None if value is None else BlockAddress(str(value["strandId"]), int(value["sequenceNo"]))


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


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


def verify_export(backup: Backup, qldb: Qldb, plan: Plan, export_id: str) -> Verification:
    """Verify the completed export, its continuity with the plan, and anchor it."""
    head = backup.export_prefix + export_id
    store = Recorder(backup.vault.store.scoped(head))  # the versions and digests verified: the pins
    first_pass = _verify(store, head)
    summary = first_pass.exports[0]
    continuity = _check_continuity(head, plan, summary)
    if summary.last is not None:
        proof = anchor(backup, qldb, head, summary.last, summary.last_hash)
    else:
        proof = anchor(backup, qldb, head, plan.previous_block, plan.previous_block_hash)
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
    backup: Backup, plan: Plan, verified: Verification, *, output_format: str, now: datetime, execution: str | None
) -> RecoveryPoint:
    """Tag the export's objects, then write its recovery point (written last: a recovery
    point always means a verified, anchored, tagged export)."""
    head = backup.export_prefix + verified.export_id
    store = backup.vault.store
    keys = list(store.scoped(head).list())
    tags = {"qldb-dr:ledger": backup.ledger, "qldb-dr:export-id": verified.export_id, "qldb-dr:verified": "true"}
    size = 0
    for key in keys:
        store.tag(key, tags)
        size += store.size(key)
    proof = verified.proof
    point = RecoveryPoint(
        recovery_point_id=verified.export_id,
        ledger_name=backup.ledger,
        region=backup.region,
        strand_id=None if verified.first is None else verified.first.strand_id,
        export_prefix=backup.export_prefix,
        output_format=output_format,
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
    Catalog(backup.vault).record(point)
    return point
