"""Plan Export Window: resolve the backup's settings and the next contiguous window."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from qldb_dr.backup import Settings, plan_window
from qldb_dr.logs import step
from qldb_dr.runtime import environment


@step("Plan Export Window")
def handler(event: Any, context: Any) -> dict[str, Any]:
    env = environment()
    settings = Settings.resolve(event, env, env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1")
    plan = plan_window(
        settings.backup(), settings.qldb(), now=datetime.now(UTC), settle_seconds=settings.settle_seconds
    )
    return {"backup": settings.to_json(), "plan": None if plan is None else plan.to_json()}
