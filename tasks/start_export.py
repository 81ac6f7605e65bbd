"""Start Export: ExportJournalToS3 of the planned window into the vault."""

from __future__ import annotations

from typing import Any

from qldb_dr.backup import Plan, Settings
from qldb_dr.logs import step


@step("Start Export")
def handler(event: Any, context: Any) -> dict[str, Any]:
    settings, plan = Settings.from_json(event["backup"]), Plan.from_json(event["plan"])
    export_id = settings.qldb().export(
        settings.ledger,
        start=plan.start,
        end=plan.end,
        bucket=settings.vault_bucket,
        prefix=settings.backup().export_prefix,
        role_arn=settings.export_role_arn,
        output_format=settings.output_format,
        kms_key_arn=settings.kms_key_arn,
    )
    return {"exportId": export_id}
