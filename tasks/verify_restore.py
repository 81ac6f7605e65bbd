"""Verify Restore: the target against the verified journal, every mismatch listed."""

from __future__ import annotations

from typing import Any

from qldb_dr.restore.workflow import RestoreState, verify_restore


def handler(event: Any, context: Any) -> dict[str, Any]:
    return verify_restore(RestoreState.from_json(event["restore"]))
