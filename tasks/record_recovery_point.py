"""Record Recovery Point: tag the verified export's objects, then write its catalog entry."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from qldb_dr import metrics
from qldb_dr.backup import Plan, Settings, Verification, record
from qldb_dr.logs import step


@step("Record Recovery Point")
def handler(event: Any, context: Any) -> dict[str, Any]:
    settings, plan = Settings.from_json(event["backup"]), Plan.from_json(event["plan"])
    point = record(
        settings,
        plan,
        Verification.from_json(event["verification"]),
        now=datetime.now(UTC),
        execution=event.get("executionArn"),
    )
    metrics.recovery_point_recorded(settings.ledger_name)
    return {
        "recoveryPointId": point.recovery_point_id,
        "key": point.key(settings.open_vault()),
        "blocks": point.blocks,
        "revisions": point.revisions,
        "firstBlock": None if point.first_block is None else point.first_block.sequence_no,
        "lastBlock": None if point.last_block is None else point.last_block.sequence_no,
    }
