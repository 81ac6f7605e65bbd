"""Write Report: the restore's report in the vault — what was restored, how long, verified how."""

from __future__ import annotations

from typing import Any

from qldb_dr import metrics
from qldb_dr.logs import step
from qldb_dr.restore.steps import RestoreState, write_report


@step("Write Report")
def handler(event: Any, context: Any) -> dict[str, Any]:
    verification = event.get("verification") or {"status": "FAILURE", "checks": [], "reason": "replay incomplete"}
    failed = int((event.get("replayError") or {}).get("failedPartitions", 0)) or (1 if event.get("replayError") else 0)
    state = RestoreState.from_json(event["restore"])
    report = write_report(state, verification, failed)
    metrics.restore_reported(state.source_ledger, report["status"])
    return report
