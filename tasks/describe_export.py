"""Describe Export: the export job's status (IN_PROGRESS, COMPLETED or CANCELLED)."""

from __future__ import annotations

from typing import Any

from qldb_dr.backup import Settings
from qldb_dr.logs import step


@step("Describe Export")
def handler(event: Any, context: Any) -> dict[str, Any]:
    settings = Settings.from_json(event["backup"])
    description = settings.qldb().export_description(settings.ledger, event["export"]["exportId"])
    return {"status": description["Status"]}
