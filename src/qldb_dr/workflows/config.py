"""A deployment's configuration: the ledgers qldb-dr protects, where, and by which strategy.

The same object configures the CDK app (its `qldb-dr` context key, in `infra/cdk.json` or
`cdk deploy -c`) and `qldb-dr local up --config FILE` (a JSON file of that key's value), so
the two deploy the same schedules and rules from one definition (`workflows.manifest`).
Names are the JSON's, camelCase; every default is stated once, here.

    {
      "primaryRegion": "us-east-1", "drRegion": "us-west-2", "drAccount": null,
      "rpoMinutes": 15, "retentionDays": 35, "coldAfterDays": 30,
      "ledgers": [
        {"name": "orders", "strategy": "warm-standby", "targetLedger": "orders-standby"},
        {"name": "payments", "strategy": "intermediate", "preloadMinutes": 360},
        {"name": "audit", "strategy": "backup-restore", "rpoMinutes": 60}
      ]
    }
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qldb_dr.errors import InvalidInputError
from qldb_dr.restore.settings import check_ledger_name
from qldb_dr.workflows.deployment import scratch_prefix

DEFAULT_PRIMARY_REGION = "us-east-1"
DEFAULT_DR_REGION = "us-west-2"
DEFAULT_RPO_MINUTES = 15
DEFAULT_RETENTION_DAYS = 35
DEFAULT_COLD_AFTER_DAYS = 30
DEFAULT_SETTLE_SECONDS = 60
DEFAULT_PRELOAD_MINUTES = 24 * 60
DEFAULT_DRILL_MINUTES = 7 * 24 * 60
DEFAULT_REPLICATION_ALARM_SECONDS = 900
VAULT_KEY_ALIAS = "alias/qldb-dr-vault"

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_ACCOUNT = re.compile(r"^\d{12}$")


class Strategy(enum.StrEnum):
    BACKUP_RESTORE = "backup-restore"  # back up at the RPO; restore on disaster
    WARM_STANDBY = "warm-standby"  # every recovery point replayed into a standby as it lands
    INTERMEDIATE = "intermediate"  # a scheduled incremental restore keeps a target close behind


@dataclass(frozen=True, slots=True)
class LedgerConfig:
    name: str
    strategy: Strategy = Strategy.BACKUP_RESTORE
    rpo_minutes: int = DEFAULT_RPO_MINUTES
    target_ledger: str | None = None  # the standby (warm standby) or preloaded target (intermediate)
    mode: str = "latest"
    preload_minutes: int = DEFAULT_PRELOAD_MINUTES  # intermediate: how often the target catches up
    drill_minutes: int | None = None  # a scheduled drill every so often (None: no scheduled drill)

    @property
    def target(self) -> str:
        return self.target_ledger or f"{self.name}-standby"


@dataclass(frozen=True, slots=True)
class DeploymentConfig:
    primary_region: str = DEFAULT_PRIMARY_REGION
    dr_region: str = DEFAULT_DR_REGION
    account: str | None = None  # None: the deploying credentials' account
    dr_account: str | None = None  # None: the same account as the primary
    vault_prefix: str = ""
    retention_days: int = DEFAULT_RETENTION_DAYS
    cold_after_days: int | None = DEFAULT_COLD_AFTER_DAYS  # None: objects stay in S3 Standard
    settle_seconds: int = DEFAULT_SETTLE_SECONDS
    rpo_minutes: int = DEFAULT_RPO_MINUTES  # each ledger's, unless it says
    replication_time_control: bool = False
    replication_alarm_seconds: int = DEFAULT_REPLICATION_ALARM_SECONDS
    alarm_emails: tuple[str, ...] = ()
    restore_targets: tuple[str, ...] = ()  # ledger name patterns restores may write (default: see targets())
    ledgers: tuple[LedgerConfig, ...] = field(default_factory=tuple)

    @property
    def cross_account(self) -> bool:
        return self.dr_account is not None and self.dr_account != self.account

    def targets(self) -> tuple[str, ...]:
        """The ledger names (IAM patterns) a restore may create and write: what the
        configuration says, or each source's `<name>-*` and its standby or preload target;
        and, either way, each source's drill scratch ledgers."""
        found: list[str] = list(self.restore_targets)
        for ledger in self.ledgers:
            names = (f"{ledger.name}-*", ledger.target) if not self.restore_targets else ()
            for name in (*names, f"{scratch_prefix(ledger.name)}*"):
                if name not in found:
                    found.append(name)
        return tuple(found)

    def scratch(self) -> tuple[str, ...]:
        """The ledger names (IAM patterns) of drills' scratch ledgers, which drills delete."""
        return tuple(f"{scratch_prefix(ledger.name)}*" for ledger in self.ledgers)

    @classmethod
    def from_json(cls, value: Any, where: str = "the qldb-dr configuration") -> DeploymentConfig:
        if value is None:
            return cls()
        if isinstance(value, str):  # a context value given on the command line (`-c qldb-dr='{…}'`)
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise InvalidInputError(f"{where} is not JSON: {exc}") from exc
        reader = _Reader(value, where)
        rpo = reader.number("rpoMinutes", DEFAULT_RPO_MINUTES, 1, 24 * 60)
        config = cls(
            rpo_minutes=rpo,
            primary_region=reader.text("primaryRegion", DEFAULT_PRIMARY_REGION, _REGION),
            dr_region=reader.text("drRegion", DEFAULT_DR_REGION, _REGION),
            account=reader.optional_text("account", _ACCOUNT),
            dr_account=reader.optional_text("drAccount", _ACCOUNT),
            vault_prefix=reader.prefix("vaultPrefix"),
            retention_days=reader.number("retentionDays", DEFAULT_RETENTION_DAYS, 1, 36500),
            cold_after_days=reader.optional_number("coldAfterDays", DEFAULT_COLD_AFTER_DAYS, 0, 36500),
            settle_seconds=reader.number("settleSeconds", DEFAULT_SETTLE_SECONDS, 0, 3600),
            replication_time_control=reader.flag("replicationTimeControl", False),
            replication_alarm_seconds=reader.number(
                "replicationAlarmSeconds", DEFAULT_REPLICATION_ALARM_SECONDS, 60, 86400
            ),
            alarm_emails=tuple(reader.texts("alarmEmails")),
            restore_targets=tuple(reader.texts("restoreTargets")),
            ledgers=tuple(
                _ledger(item, f"{where}: ledgers[{i}]", rpo) for i, item in enumerate(reader.items("ledgers"))
            ),
        )
        reader.done()
        if config.primary_region == config.dr_region:
            raise InvalidInputError(f"{where}: primaryRegion and drRegion are both {config.dr_region}")
        names = [ledger.name for ledger in config.ledgers]
        if len(set(names)) != len(names):
            raise InvalidInputError(f"{where}: a ledger is named twice in ledgers ({', '.join(names)})")
        return config

    @classmethod
    def from_file(cls, path: Path) -> DeploymentConfig:
        try:
            text = path.read_text()
        except OSError as exc:
            raise InvalidInputError(f"{path}: cannot read the configuration ({exc.strerror})") from exc
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise InvalidInputError(f"{path}: not JSON ({exc})") from exc
        if isinstance(value, dict) and "context" in value:  # infra/cdk.json itself
            value = value["context"].get("qldb-dr")
        return cls.from_json(value, str(path))


def _ledger(value: Any, where: str, rpo: int) -> LedgerConfig:
    if isinstance(value, str):
        value = {"name": value}
    reader = _Reader(value, where)
    name = reader.ledger("name")
    where = f"{where} ({name})"
    strategy_text = reader.text("strategy", Strategy.BACKUP_RESTORE.value)
    try:
        strategy = Strategy(strategy_text)
    except ValueError:
        choices = ", ".join(s.value for s in Strategy)
        raise InvalidInputError(f"{where}: strategy {strategy_text!r} is not one of {choices}") from None
    ledger = LedgerConfig(
        name=name,
        strategy=strategy,
        rpo_minutes=reader.number("rpoMinutes", rpo, 1, 24 * 60),
        target_ledger=reader.ledger("targetLedger") if value.get("targetLedger") is not None else None,
        mode=reader.choice("mode", "latest", ("latest", "history")),
        preload_minutes=reader.number("preloadMinutes", DEFAULT_PRELOAD_MINUTES, 1, 7 * 24 * 60),
        drill_minutes=reader.optional_number("drillMinutes", None, 60, 31 * 24 * 60),
    )
    reader.done()
    if ledger.target == ledger.name:
        raise InvalidInputError(f"{where}: targetLedger is the ledger itself")
    return ledger


class _Reader:
    """Reads one JSON object's fields, each once, and refuses the ones it does not know."""

    def __init__(self, value: Any, where: str) -> None:
        if not isinstance(value, dict):
            raise InvalidInputError(f"{where} is not an object: {value!r:.100}")
        self.value, self.where, self.read = value, where, set[str]()

    def _get(self, name: str) -> Any:
        self.read.add(name)
        return self.value.get(name)

    def done(self) -> None:
        unknown = sorted(set(self.value) - self.read)
        if unknown:
            known = ", ".join(sorted(self.read))
            raise InvalidInputError(f"{self.where}: unknown key {', '.join(unknown)} (known: {known})")

    def text(self, name: str, default: str | None, pattern: re.Pattern[str] | None = None) -> str:
        value = self._get(name)
        if value is None:
            if default is None:
                raise InvalidInputError(f"{self.where}: {name} is required")
            return default
        if not isinstance(value, str) or (pattern is not None and not pattern.match(value)):
            raise InvalidInputError(f"{self.where}: {name} {value!r} is not valid")
        return value

    def ledger(self, name: str) -> str:
        return check_ledger_name(self.text(name, None), f"{self.where}: {name}")

    def optional_text(self, name: str, pattern: re.Pattern[str]) -> str | None:
        self.read.add(name)
        return None if self.value.get(name) is None else self.text(name, None, pattern)

    def prefix(self, name: str) -> str:
        value = self.text(name, "")
        if value.startswith("/") or (value and not value.endswith("/")):
            raise InvalidInputError(f"{self.where}: {name} {value!r} must be empty or end with '/', not start with it")
        return value

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.text(name, default)
        if value not in choices:
            raise InvalidInputError(f"{self.where}: {name} {value!r} is not one of {', '.join(choices)}")
        return value

    def number(self, name: str, default: int, low: int, high: int) -> int:
        value = self._get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidInputError(f"{self.where}: {name} {value!r} is not a whole number from {low} to {high}")
        return value

    def optional_number(self, name: str, default: int | None, low: int, high: int) -> int | None:
        if name in self.value and self.value[name] is None:
            self.read.add(name)
            return None
        if name not in self.value:
            self.read.add(name)
            return default
        return self.number(name, 0, low, high)

    def flag(self, name: str, default: bool) -> bool:
        value = self._get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise InvalidInputError(f"{self.where}: {name} {value!r} is not true or false")
        return value

    def texts(self, name: str) -> list[str]:
        value = self._get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise InvalidInputError(f"{self.where}: {name} is not a list of strings")
        return list(value)

    def items(self, name: str) -> list[Any]:
        value = self._get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise InvalidInputError(f"{self.where}: {name} is not a list")
        return list(value)
