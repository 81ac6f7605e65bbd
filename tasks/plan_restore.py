"""Plan Restore: choose and re-verify the recovery points, write the plan and Map manifests."""

from __future__ import annotations

from typing import Any

from qldb_dr.errors import InvalidInputError
from qldb_dr.logs import step
from qldb_dr.restore import standby
from qldb_dr.restore.workflow import plan_restore
from qldb_dr.runtime import environment


@step("Plan Restore")
def handler(event: Any, context: Any) -> dict[str, Any]:
    env = environment()
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    request = event["request"]  # the execution's input: it may name its vault (`restore start --vault`)
    bucket = request.get("vaultBucket") or env.get("QLDB_DR_VAULT_BUCKET")
    if not bucket:
        raise InvalidInputError("Plan Restore needs the vault: vaultBucket, or QLDB_DR_VAULT_BUCKET in its environment")
    prefix = request.get("vaultPrefix") or env.get("QLDB_DR_VAULT_PREFIX") or ""
    if "catalogKey" in request:  # a recovery point arrived: an incremental restore of its standby
        request = standby.request_for(bucket, prefix, region, request["catalogKey"])
        if request is None:
            return {"planned": False}
    return {"planned": True, **plan_restore(request, region, bucket, prefix, event["restoreId"])}
