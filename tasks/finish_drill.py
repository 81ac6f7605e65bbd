"""Finish Drill: the drill's report (RPO, RTO, the restore's checks) written to the vault once,
its metrics emitted, and the scratch ledger deleted."""

from __future__ import annotations

from typing import Any

from qldb_dr import metrics
from qldb_dr.drill.core import finish_scheduled
from qldb_dr.logs import step


@step("Finish Drill")
def handler(event: Any, context: Any) -> dict[str, Any]:
    report = finish_scheduled(event)
    metrics.drill_reported(str(report["sourceLedger"]), report)
    return {k: report[k] for k in ("drillId", "status", "reportKey", "rpo", "rto", "targetLedger")}
