"""Verify Export: every hash, the chain and continuity of one export in the vault, anchored
to the live ledger's digest (the proof is stored beside it) — or, given only a bucket and an
export, the offline verification of an export already there."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qldb_dr.backup import Plan, Settings, verify_export
from qldb_dr.catalog import Vault
from qldb_dr.checks import Status
from qldb_dr.errors import ExportVerificationError, InvalidInputError
from qldb_dr.journal.verify import verify_source
from qldb_dr.logs import step


@dataclass(frozen=True, slots=True)
class VerifyExportInput:
    bucket: str
    export: str  # the export's head: <prefix><exportId>

    @classmethod
    def parse(cls, event: Any) -> VerifyExportInput:
        if not isinstance(event, dict) or not event.get("bucket") or not event.get("export"):
            raise InvalidInputError(
                f"Verify Export needs {{bucket, export}} or {{backup, plan, export}}, got {event!r:.200}"
            )
        return cls(str(event["bucket"]), str(event["export"]))


@step("Verify Export")
def handler(event: Any, context: Any) -> dict[str, Any]:
    if isinstance(event, dict) and "backup" in event:  # a step of the Backup workflow
        settings, plan = Settings.from_json(event["backup"]), Plan.from_json(event["plan"])
        return verify_export(settings, plan, event["export"]["exportId"]).to_json()
    request = VerifyExportInput.parse(event)
    report = verify_source(Vault.open(f"s3://{request.bucket}").store.scoped(request.export))
    failed = [c for c in report.checks if c.status is Status.FAILURE]
    if failed:
        first = failed[0].first()
        raise ExportVerificationError(
            f"{request.export}: {failed[0].name} failed: {first.describe() if first else failed[0].summary}"
        )
    (export,) = report.exports
    return {
        "exportId": export.export_id,
        "blocks": export.blocks,
        "revisions": export.revisions,
        "firstBlock": None if export.first is None else export.first.sequence_no,
        "lastBlock": None if export.last is None else export.last.sequence_no,
        "status": report.status.name,
    }
