"""Plan Restore: resolve the restore's settings, choose and re-verify the recovery points,
write the plan and the Map manifests."""

from __future__ import annotations

from typing import Any

from qldb_dr.catalog import Vault
from qldb_dr.logs import step
from qldb_dr.restore import standby
from qldb_dr.restore.settings import Settings, vault_of
from qldb_dr.restore.steps import plan_restore
from qldb_dr.runtime import environment, region


@step("Plan Restore")
def handler(event: Any, context: Any) -> dict[str, Any]:
    env, here = environment(), region()
    request = event["request"]  # the execution's input: it may name its vault (`restore start --vault`)
    if isinstance(request, dict) and "catalogKey" in request:  # a recovery point arrived: its standby's restore
        vault = Vault.open(vault_of(request, env), here)
        asked = standby.request_for(vault.prefix, here, request["catalogKey"], request.get("standby"))
        if asked is None:
            return {"planned": False}
        retry = {k: request[k] for k in ("resume", "restoreId") if k in request}  # `restore retry` of it
        request = {**asked, "vault": vault.url, **retry}
    return {"planned": True, **plan_restore(Settings.resolve(request, env, here), event["restoreId"])}
