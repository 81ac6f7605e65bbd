"""Verify Restore: the target against the verified journal, every mismatch listed."""

from __future__ import annotations

from typing import Any

from qldb_dr.logs import step
from qldb_dr.restore.steps import RestoreState, verify_restore


@step("Verify Restore")
def handler(event: Any, context: Any) -> dict[str, Any]:
    return verify_restore(RestoreState.from_json(event["restore"]))
