"""Plan Export Window: resolve the backup's settings and the next contiguous window."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from qldb_dr.backup import Settings, plan_window
from qldb_dr.logs import step
from qldb_dr.runtime import environment, region


@step("Plan Export Window")
def handler(event: Any, context: Any) -> dict[str, Any]:
    settings = Settings.resolve(event, environment(), region())
    plan = plan_window(settings, now=datetime.now(UTC))
    return {"backup": settings.to_json(), "plan": None if plan is None else plan.to_json()}
