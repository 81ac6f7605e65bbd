"""The ledgers of a local endpoint, per region: create, describe, update, delete, tag.

Layout: ``<data-dir>/<region>/<ledger>.sqlite``, one file per ledger; its control
settings (deletion protection, permissions mode, KMS key, tags) live in the same file, so
a ledger is one thing to back up, move or delete.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from qldb_dr.local.ledger.engine import Ledger
from qldb_dr.local.ledger.errors import (
    InvalidParameter,
    LimitExceeded,
    ResourceAlreadyExists,
    ResourceNotFound,
    ResourcePreconditionNotMet,
)

ACCOUNT_ID = "123456789012"  # the account every local endpoint pretends to be (moto's default)
LEDGER_NAME = re.compile(r"^(?!^.*--)(?!^[0-9]+$)(?!^-)(?!.*-$)^[A-Za-z0-9-]{1,32}$")
ACTIVE_LEDGERS = 5  # QLDB's default quota per account and region; --max-ledgers raises it
CREATING_SECONDS = 0.5  # how long a new ledger stays CREATING (QLDB takes about a minute)


@dataclass(frozen=True, slots=True)
class LedgerDescription:
    name: str
    region: str
    state: str
    created: datetime
    deletion_protection: bool
    permissions_mode: str
    kms_key: str
    tags: dict[str, str]

    @property
    def arn(self) -> str:
        return f"arn:aws:qldb:{self.region}:{ACCOUNT_ID}:ledger/{self.name}"


class Registry:
    def __init__(
        self,
        data_dir: Path,
        *,
        max_ledgers: int = ACTIVE_LEDGERS,
        creating_seconds: float = CREATING_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.data_dir = data_dir
        self.max_ledgers = max_ledgers
        self.creating_seconds = creating_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._open: dict[tuple[str, str], Ledger] = {}
        self._created_at: dict[tuple[str, str], float] = {}

    def _path(self, region: str, name: str) -> Path:
        return self.data_dir / region / f"{name}.sqlite"

    def all(self) -> list[tuple[str, str]]:
        """(region, name) of every ledger in the data directory."""
        if not self.data_dir.is_dir():
            return []
        return [(d.name, name) for d in sorted(self.data_dir.iterdir()) if d.is_dir() for name in self.names(d.name)]

    def names(self, region: str) -> list[str]:
        directory = self.data_dir / region
        return sorted(p.stem for p in directory.glob("*.sqlite")) if directory.is_dir() else []

    def ledger(self, region: str, name: str, *, active: bool = True) -> Ledger:
        """The open ledger; ResourceNotFound if absent, ResourcePreconditionNotMet while CREATING."""
        with self._lock:
            ledger = self._open.get((region, name))
            if ledger is None:
                path = self._path(region, name)
                if not LEDGER_NAME.match(name) or not path.exists():
                    raise ResourceNotFound(f"Ledger {name} does not exist in {region}")
                try:
                    ledger = self._open[(region, name)] = Ledger(path)
                except FileNotFoundError as exc:  # deleted between the check and the open
                    raise ResourceNotFound(f"Ledger {name} does not exist in {region}") from exc
        if active and self._state(region, name) != "ACTIVE":
            raise ResourcePreconditionNotMet(f"Ledger {name} is still being created")
        return ledger

    def _state(self, region: str, name: str) -> str:
        created = self._created_at.get((region, name))
        if created is not None and self.clock() - created < self.creating_seconds:
            return "CREATING"
        return "ACTIVE"

    def describe(self, region: str, name: str) -> LedgerDescription:
        ledger = self.ledger(region, name, active=False)
        settings = ledger.settings()
        return LedgerDescription(
            name=ledger.name,
            region=region,
            state=self._state(region, name),
            created=ledger.created,
            deletion_protection=bool(settings.get("deletionProtection", True)),
            permissions_mode=str(settings.get("permissionsMode", "STANDARD")),
            kms_key=str(settings.get("kmsKey", "AWS_OWNED_KMS_KEY")),
            tags=dict(settings.get("tags", {})),
        )

    def create(
        self,
        region: str,
        name: str,
        *,
        permissions_mode: str,
        deletion_protection: bool = True,
        kms_key: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> LedgerDescription:
        if not LEDGER_NAME.match(name):
            raise InvalidParameter(f"Ledger name {name!r} must be 1-32 letters, digits and single hyphens")
        if permissions_mode not in ("ALLOW_ALL", "STANDARD"):
            raise InvalidParameter(f"PermissionsMode must be ALLOW_ALL or STANDARD, not {permissions_mode!r}")
        with self._lock:
            if self._path(region, name).exists():
                raise ResourceAlreadyExists(f"Ledger {name} already exists in {region}")
            if len(self.names(region)) >= self.max_ledgers:
                raise LimitExceeded(f"{region} already has {self.max_ledgers} ledgers, the quota")
            ledger = Ledger.create(self._path(region, name), name)
            ledger.update_settings(
                deletionProtection=deletion_protection,
                permissionsMode=permissions_mode,
                kmsKey=kms_key or "AWS_OWNED_KMS_KEY",
                tags=dict(tags or {}),
            )
            self._open[(region, name)] = ledger
            self._created_at[(region, name)] = self.clock()
        return self.describe(region, name)

    def update(self, region: str, name: str, **settings: Any) -> LedgerDescription:
        ledger = self.ledger(region, name, active=False)
        ledger.update_settings(**{k: v for k, v in settings.items() if v is not None})
        return self.describe(region, name)

    def tag(self, region: str, name: str, tags: dict[str, str]) -> None:
        ledger = self.ledger(region, name, active=False)
        ledger.update_settings(tags={**ledger.settings().get("tags", {}), **tags})

    def untag(self, region: str, name: str, keys: list[str]) -> None:
        ledger = self.ledger(region, name, active=False)
        ledger.update_settings(tags={k: v for k, v in ledger.settings().get("tags", {}).items() if k not in keys})

    def delete(self, region: str, name: str) -> None:
        if self.describe(region, name).deletion_protection:
            raise ResourcePreconditionNotMet(
                f"Ledger {name} has deletion protection; turn it off with UpdateLedger first"
            )
        with self._lock:
            ledger = self._open.pop((region, name), None)
            if ledger is not None:
                ledger.deleted()
            self._created_at.pop((region, name), None)
            base = self._path(region, name)
            for suffix in ("", "-wal", "-shm"):
                base.with_name(base.name + suffix).unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            for ledger in self._open.values():
                ledger.close()
            self._open.clear()
