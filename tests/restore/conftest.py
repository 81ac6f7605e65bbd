"""A backed-up source ledger with every kind of change, for the restore tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from amazon.ion import simpleion
from pyqldb.driver.qldb_driver import QldbDriver

from qldb_dr.backup import Settings
from qldb_dr.catalog import RecoveryPoint
from qldb_dr.restore import steps
from qldb_dr.restore.model import Mode
from qldb_dr.restore.settings import Settings as RestoreSettings
from tests.backup.conftest import ROLE, write
from tests.backup.test_backup_steps import _backup
from tests.local.conftest import Running, aws  # noqa: F401

EVERY_TYPE = (
    '{name: "every type", n: 42, big: 123456789012345678901234567890, neg: -7, f: 1.5e0, d: 12.3400, '
    'dz: -0.0, t: 2024-03-01T09:10:11.123456Z, day: 2024-03-01, s: sym, b: {{aGVsbG8=}}, c: {{"clob"}}, '
    'nul: null.string, l: [1, "two", [3]], sx: (a b 1), st: {nested: true}, an: units::5}'
)


def populate(driver: QldbDriver) -> None:
    driver.execute_lambda(lambda t: t.execute_statement("CREATE TABLE Vehicle"))
    driver.execute_lambda(lambda t: t.execute_statement("CREATE INDEX ON Vehicle (VIN)"))
    driver.execute_lambda(lambda t: t.execute_statement("CREATE TABLE Typed"))
    driver.execute_lambda(lambda t: t.execute_statement("CREATE TABLE Gone"))
    write(driver, 60)
    driver.execute_lambda(lambda t: t.execute_statement("INSERT INTO Typed ?", simpleion.loads(EVERY_TYPE)))
    driver.execute_lambda(
        lambda t: t.execute_statement(
            "INSERT INTO Typed VALUE {'name': 'literal', 'when': `2020-01-01T00:00Z`, 'amount': 3.50}"
        )
    )
    driver.execute_lambda(lambda t: t.execute_statement("INSERT INTO Gone ?", {"x": 1}))
    driver.execute_lambda(lambda t: t.execute_statement("DROP TABLE Gone"))
    driver.execute_lambda(
        lambda t: t.execute_statement(
            "UPDATE Typed AS t SET t.amount = ?, t.extra = ? WHERE t.name = 'literal'", Decimal("4.25"), "added"
        )
    )
    # the same number at a new precision, and a field removed: a replayed update must send both
    driver.execute_lambda(
        lambda t: t.execute_statement(
            "UPDATE Typed AS t SET t.amount = ? REMOVE t.extra WHERE t.name = 'literal'", Decimal("4.250")
        )
    )


@pytest.fixture
def source(aws: Running) -> Iterator[tuple[Running, QldbDriver, Settings]]:  # noqa: F811
    aws.create_ledger("orders")
    driver = aws.driver("orders")
    populate(driver)
    aws.client("s3").create_bucket(Bucket="vault-primary")
    settings = Settings.resolve(
        {"ledgerName": "orders", "vaultBucket": "vault-primary", "exportRoleArn": ROLE, "settleSeconds": 0},
        {},
        "us-east-1",
    )
    yield aws, driver, settings


def backup(running: Running, settings: Settings) -> RecoveryPoint:
    return _backup(running, settings)


VAULT = "s3://vault-primary/"


def plan(request: dict[str, Any], restore_id: str, vault: str = VAULT) -> dict[str, Any]:
    """Plan Restore, as the workflow's first step runs it: the settings resolved from its input."""
    return steps.plan_restore(RestoreSettings.resolve({"vault": vault, **request}, {}, "us-east-1"), restore_id)


def partitioned(
    request: dict[str, Any], restore_id: str, vault: str = VAULT
) -> tuple[dict[str, Any], steps.RestoreState]:
    """The Restore workflow's steps up to replay: Plan Restore, Partition, Check Journal (the
    gate), Prepare Target."""
    planned = plan(request, restore_id, vault)
    state = steps.RestoreState.from_json(planned["restore"])
    for item in json.loads(state.open_vault().store.read(planned["objects"])):
        steps.partition_item(state, item)
    planned = steps.check_journal(planned)
    state = steps.RestoreState.from_json(planned["restore"])
    if not planned["resumed"]:
        prepared = steps.prepare_target(state, planned["schema"])
        assert prepared["partitions"] == state.partitions
    return planned, state


def restore(running: Running, request: dict[str, Any], restore_id: str, vault: str = VAULT) -> dict[str, Any]:
    """The Restore workflow's steps in order, as the state machine runs them."""
    planned, state = partitioned(request, restore_id, vault)
    for item in json.loads(state.open_vault().store.read(planned["partitions"])):
        steps.replay_item(state, item["partition"])
    verification = steps.verify_restore(state)
    summary = steps.write_report(state, verification)
    return {"state": state, "verification": verification, "summary": summary}


def rows(driver: QldbDriver, statement: str, *params: Any) -> list[Any]:
    return list(driver.execute_lambda(lambda t: list(t.execute_statement(statement, *params))))


def now() -> datetime:
    return datetime.now(UTC)


__all__ = ["Mode", "backup", "partitioned", "populate", "restore", "rows"]
