"""Describe Export: the export job's status (IN_PROGRESS, COMPLETED or CANCELLED)."""

from __future__ import annotations

from typing import Any

from qldb_dr.backup import Settings, export_status
from qldb_dr.logs import step


@step("Describe Export")
def handler(event: Any, context: Any) -> dict[str, Any]:
    return {"status": export_status(Settings.from_json(event["backup"]), event["export"]["exportId"])}
