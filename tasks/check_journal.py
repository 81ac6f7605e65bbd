"""Check Journal (the gate after Partition): every export object verified and joined to the
next, or the restore stops here naming the block — before the target is created."""

from __future__ import annotations

from typing import Any

from qldb_dr.logs import step
from qldb_dr.restore.steps import check_journal


@step("Check Journal")
def handler(event: Any, context: Any) -> dict[str, Any]:
    return check_journal(event["planned"])
