"""Prepare Target: the target ledger, qldb-dr's tables, the source's tables and indexes."""

from __future__ import annotations

from typing import Any

from qldb_dr.logs import step
from qldb_dr.restore.steps import RestoreState, prepare_target


@step("Prepare Target")
def handler(event: Any, context: Any) -> dict[str, Any]:
    return prepare_target(RestoreState.from_json(event["restore"]), event["schema"])
