"""Start Export: ExportJournalToS3 of the planned window into the vault."""

from __future__ import annotations

from typing import Any

from qldb_dr.backup import Plan, Settings, start_export
from qldb_dr.logs import step


@step("Start Export")
def handler(event: Any, context: Any) -> dict[str, Any]:
    return {"exportId": start_export(Settings.from_json(event["backup"]), Plan.from_json(event["plan"]))}
