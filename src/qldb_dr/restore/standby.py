"""Warm standby: a ledger in the DR region kept current by replaying each recovery point as
its catalog object arrives (S3 event -> EventBridge rule -> Restore workflow).

A standby is declared in the DR vault itself, so nothing else needs to be reachable:
    <vault prefix>standby/<source ledger>.json   {"sourceLedger", "targetLedger", "mode"}
Each arrival starts an incremental restore: only recovery points after the target's
watermark. One that arrives before its predecessor waits (Plan Restore raises
PredecessorMissingError, which the workflow retries); two arriving together replay nothing
twice (the version guard).
"""

from __future__ import annotations

import json
from typing import Any

from qldb_dr.catalog import Vault
from qldb_dr.errors import CatalogError, ObjectNotFoundError


def config_key(prefix: str, ledger: str) -> str:
    return f"{prefix}standby/{ledger}.json"


def enable(vault: Vault, source: str, target: str, mode: str = "latest", enabled: bool = True) -> str:
    """Declare (or, enabled=False, retire) the standby of `source`. The vault keeps every
    version: a retired standby is a new version saying so, not a deletion."""
    key = config_key(vault.prefix, source)
    config = {"sourceLedger": source, "targetLedger": target, "mode": mode, "enabled": enabled}
    vault.store.write(key, json.dumps(config).encode())
    return key


def ledger_of(prefix: str, catalog_key: str) -> str | None:
    """`<prefix><ledger>/catalog/<x>.json` -> ledger; None for any other key."""
    rest = catalog_key[len(prefix) :] if catalog_key.startswith(prefix) else None
    parts = rest.split("/") if rest is not None else []
    if len(parts) != 3 or parts[1] != "catalog" or not parts[2].endswith(".json"):
        return None
    return parts[0]


def request_for(vault: Vault, region: str, catalog_key: str) -> dict[str, Any] | None:
    """The incremental restore (the execution input) a newly arrived recovery point asks for,
    or None when the key is not a recovery point or its ledger has no standby."""
    ledger = ledger_of(vault.prefix, catalog_key)
    if ledger is None:
        return None
    key = config_key(vault.prefix, ledger)
    try:
        config = json.loads(vault.store.read(key))
    except ObjectNotFoundError:
        return None
    except ValueError as exc:
        raise CatalogError(f"{vault.store.describe(key)}: not JSON ({exc})") from exc
    if not config.get("enabled", True):
        return None
    return {
        "sourceLedger": config["sourceLedger"],
        "targetLedger": config["targetLedger"],
        "targetRegion": region,
        "mode": config.get("mode", "latest"),
        "incremental": True,
    }
