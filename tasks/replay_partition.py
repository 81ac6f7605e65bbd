"""Replay (one Map item): apply one partition's revisions to the target, version-guarded."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from qldb_dr.errors import ServiceError
from qldb_dr.logs import step
from qldb_dr.restore import faults
from qldb_dr.restore.steps import RestoreState, replay_item
from qldb_dr.runtime import environment


@step("Replay Partition")
def handler(event: Any, context: Any) -> dict[str, Any]:
    state = RestoreState.from_json(event["restore"])
    partition = int(event["item"]["partition"])
    faults.check_replay(environment(), state.restore_id, partition)  # a drill's or test's fault; off unless set
    try:
        return replay_item(state, partition)
    except (ClientError, BotoCoreError) as exc:  # pyqldb gave up (OCC, capacity, throttling): retryable
        raise ServiceError(f"partition {partition}: {exc}") from exc
