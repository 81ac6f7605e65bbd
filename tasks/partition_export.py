"""Partition (one Map item): split one export object's revisions into partition files."""

from __future__ import annotations

from typing import Any

from qldb_dr.logs import step
from qldb_dr.restore.steps import RestoreState, partition_item


@step("Partition Export Object")
def handler(event: Any, context: Any) -> dict[str, Any]:
    return partition_item(RestoreState.from_json(event["restore"]), event["item"])
