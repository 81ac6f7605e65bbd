"""Check Restore: the status of the drill's restore execution (RUNNING until it ends)."""

from __future__ import annotations

from typing import Any

from qldb_dr.drill.core import restore_status
from qldb_dr.logs import step


@step("Check Restore")
def handler(event: Any, context: Any) -> dict[str, Any]:
    return {"status": restore_status(event)}
