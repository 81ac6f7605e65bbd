"""Warm standby: a ledger in the DR region kept current by replaying each recovery point as
its catalog object arrives (S3 event -> EventBridge rule -> Restore workflow).

A standby is its rule (`workflows.manifest.standby_rule`: one per source ledger, deployed by
the CDK app for a ledger whose strategy is warm-standby, or by `qldb-dr standby`); the rule
starts the workflow with `{"catalogKey": <the arrived object>, "standby": {"sourceLedger",
"targetLedger", "mode"}}`. Each arrival starts an incremental restore: only recovery points
after the target's watermark. One that arrives before its predecessor waits (Plan Restore
raises PredecessorMissingError, which the workflow retries); two arriving together replay
nothing twice (the version guard).
"""

from __future__ import annotations

from typing import Any

from qldb_dr.errors import InvalidInputError


def ledger_of(prefix: str, catalog_key: str) -> str | None:
    """`<prefix><ledger>/catalog/<x>.json` -> ledger; None for any other key."""
    rest = catalog_key[len(prefix) :] if catalog_key.startswith(prefix) else None
    parts = rest.split("/") if rest is not None else []
    if len(parts) != 3 or parts[1] != "catalog" or not parts[2].endswith(".json"):
        return None
    return parts[0]


def request_for(prefix: str, region: str, catalog_key: str, standby: Any) -> dict[str, Any] | None:
    """The incremental restore (the execution input) a newly arrived recovery point asks of
    its standby, or None when the key is not a recovery point of the standby's source."""
    if not isinstance(standby, dict) or not all(
        isinstance(standby.get(k), str) for k in ("sourceLedger", "targetLedger")
    ):
        raise InvalidInputError(
            f"a recovery point arrived ({catalog_key}) with no standby to replay it into: the input needs "
            '"standby": {"sourceLedger", "targetLedger", "mode"} (the standby rule gives it)'
        )
    if ledger_of(prefix, catalog_key) != standby["sourceLedger"]:
        return None
    return {
        "sourceLedger": standby["sourceLedger"],
        "targetLedger": standby["targetLedger"],
        "targetRegion": region,
        "mode": standby.get("mode", "latest"),
        "incremental": True,
    }
