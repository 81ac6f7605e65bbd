"""Begin Drill: the latest recovery point of the ledger in this region's vault, a scratch ledger
named for the drill, and the restore of one into the other started (named by its restore id)."""

from __future__ import annotations

from typing import Any

from qldb_dr.catalog import Vault, vault_url
from qldb_dr.drill.core import begin_scheduled
from qldb_dr.errors import InvalidInputError
from qldb_dr.logs import step
from qldb_dr.restore.model import Mode
from qldb_dr.restore.settings import check_ledger_name
from qldb_dr.runtime import environment, region
from qldb_dr.workflows.deployment import RESTORE, Workflow
from qldb_dr.workflows.manifest import Setting


@step("Begin Drill")
def handler(event: Any, context: Any) -> dict[str, Any]:
    if not isinstance(event, dict) or not event.get("sourceLedger"):
        raise InvalidInputError('the drill\'s input names no ledger: give {"sourceLedger": "<ledger>"}')
    source = check_ledger_name(str(event["sourceLedger"]), "sourceLedger")
    try:
        mode = Mode(event.get("mode") or Mode.LATEST.value)
    except ValueError:
        raise InvalidInputError(f"mode {event.get('mode')!r} is not latest or history") from None
    url = vault_url(event, environment())
    if url is None:
        raise InvalidInputError("no vault: the function's environment names none and the input gives no vault")
    arn = environment().get(Setting.RESTORE_STATE_MACHINE.value)
    if not arn:
        raise InvalidInputError(f"the function's environment lacks {Setting.RESTORE_STATE_MACHINE.value}: redeploy")
    restore = Workflow(RESTORE, arn, region(), None)
    return begin_scheduled(source, region(), vault=Vault.open(url, region()), mode=mode, restore=restore)
