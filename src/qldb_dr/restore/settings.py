"""A restore's settings: what an operator asks for, resolved once by Plan Restore.

The CLI's flags become the execution's input; Plan Restore resolves input > function
environment variable > default, and writes the result into the plan. Only what a later state
needs rides on in the execution's state (`steps.RestoreState`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from qldb_dr import fields
from qldb_dr.catalog import Vault, vault_url
from qldb_dr.encoding import parse_iso
from qldb_dr.errors import InvalidInputError
from qldb_dr.restore.model import Mode, Target

DEFAULT_PARTITIONS = 16
DEFAULT_MAX_CONCURRENCY = 8


@dataclass(frozen=True, slots=True)
class Settings:
    """One of recovery_point_id / at / block, or none (the latest)."""

    source_ledger: str
    target_ledger: str
    target_region: str
    vault: str  # s3://bucket/prefix/ (a directory in tests): plans, partitions and reports go here too
    region: str  # the vault's, where the restore runs
    mode: Mode = Mode.LATEST
    recovery_point_id: str | None = None
    at: datetime | None = None
    block: int | None = None
    incremental: bool = False  # only what the target's watermark does not cover (standby)
    partitions: int = DEFAULT_PARTITIONS
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    resume: bool = False  # `restore retry`: continue restore_id, replaying what did not finish
    restore_id: str | None = None

    @classmethod
    def resolve(cls, event: Any, environment: Any, region: str) -> Settings:
        if not isinstance(event, dict) or not event.get("sourceLedger") or not event.get("targetLedger"):
            raise InvalidInputError(f"a restore needs {{sourceLedger, targetLedger}}, got {event!r:.200}")
        chosen = [k for k in ("recoveryPointId", "at", "block") if event.get(k) is not None]
        if len(chosen) > 1:
            raise InvalidInputError(f"choose one of recoveryPointId, at and block, not {' and '.join(chosen)}")
        try:
            mode = Mode(event.get("mode") or Mode.LATEST.value)
        except ValueError as exc:
            raise InvalidInputError(f"mode must be latest or history, not {event.get('mode')!r}") from exc
        for name in ("sourceLedger", "targetLedger"):
            check_ledger_name(str(event[name]), name)
        block = _count(event, "block", None)
        partitions = _count(event, "partitions", DEFAULT_PARTITIONS)
        concurrency = _count(event, "maxConcurrency", DEFAULT_MAX_CONCURRENCY)
        if block is not None and block < 0:
            raise InvalidInputError("block must be a block sequence number (0 or more)")
        if not 1 <= partitions <= 1024:
            raise InvalidInputError(f"partitions must be 1 to 1024, not {partitions}")
        if not 1 <= concurrency <= 1000:
            raise InvalidInputError(f"maxConcurrency must be 1 to 1000, not {concurrency}")
        return cls(
            source_ledger=str(event["sourceLedger"]),
            target_ledger=str(event["targetLedger"]),
            target_region=str(event.get("targetRegion") or region),
            vault=vault_of(event, environment),
            region=region,
            mode=mode,
            recovery_point_id=event.get("recoveryPointId"),
            at=None if event.get("at") is None else parse_time(str(event["at"])),
            block=block,
            incremental=bool(event.get("incremental", False)),
            partitions=partitions,
            max_concurrency=concurrency,
            resume=bool(event.get("resume", False)),
            restore_id=None if event.get("restoreId") is None else str(event["restoreId"]),
        )

    def to_json(self) -> dict[str, Any]:
        return fields.to_json(self)

    @classmethod
    def from_json(cls, value: Any) -> Settings:
        return fields.from_json(cls, value, "restore settings")

    @property
    def target(self) -> Target:
        return Target(self.target_ledger, self.target_region)

    def open_vault(self) -> Vault:
        return Vault.open(self.vault, self.region)


def vault_of(event: Any, environment: Any) -> str:
    """The URL of the vault a restore's input names, else the function's."""
    url = vault_url(event, environment)
    if url is None:
        raise InvalidInputError("Plan Restore needs the vault: vaultBucket, or QLDB_DR_VAULT_BUCKET in its environment")
    return url


# QLDB's rule for ledger names (the API's pattern): 1-32 letters, digits and hyphens, not all
# digits, no leading, trailing or doubled hyphen.
_LEDGER_NAME = re.compile(r"(?!^.*--)(?!^[0-9]+$)(?!^-)(?!.*-$)^[A-Za-z0-9-]{1,32}$")


def check_ledger_name(name: str, what: str = "ledger") -> str:
    if not _LEDGER_NAME.match(name):
        raise InvalidInputError(
            f"{what} {name!r} is not a QLDB ledger name: 1 to 32 letters, digits and hyphens, not all digits, "
            "with no hyphen first, last or twice in a row"
        )
    return name


def _count(event: dict[str, Any], name: str, default: int | None) -> Any:
    value = event.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be a whole number, not {value!r}") from exc


def parse_time(text: str) -> datetime:
    """An ISO 8601 time; UTC when it has no offset."""
    try:
        return parse_iso(text)
    except ValueError as exc:
        raise InvalidInputError(
            f"{text!r} is not a time: use ISO 8601, e.g. 2026-12-06T14:30:00Z, 2026-12-06T14:30:00.250+01:00 or "
            "2026-12-06 (UTC when no offset is given)"
        ) from exc
