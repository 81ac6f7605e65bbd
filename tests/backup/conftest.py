"""A busy ledger and a vault on the whole local endpoint, for the backup tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pyqldb.driver.qldb_driver import QldbDriver

from qldb_dr.backup import Settings
from tests.local.conftest import Running, aws  # noqa: F401

ROLE = "arn:aws:iam::123456789012:role/qldb-dr-export"


def write(driver: QldbDriver, n: int, start: int = 0) -> None:
    """n transactions: inserts, then updates and a delete now and then."""
    for i in range(start, start + n):
        driver.execute_lambda(
            lambda t, i=i: t.execute_statement(
                "INSERT INTO Vehicle ?", {"VIN": f"V{i:05d}", "Mileage": i, "Owner": {"Name": f"owner {i}"}}
            )
        )
        if i % 5 == 4:
            driver.execute_lambda(
                lambda t, i=i: t.execute_statement(
                    "UPDATE Vehicle AS v SET v.Mileage = v.Mileage + 1000 WHERE v.VIN = ?", f"V{i - 1:05d}"
                )
            )
        if i % 17 == 16:
            driver.execute_lambda(
                lambda t, i=i: t.execute_statement("DELETE FROM Vehicle AS v WHERE v.VIN = ?", f"V{i - 2:05d}")
            )


@pytest.fixture
def busy(aws: Running) -> Iterator[tuple[Running, QldbDriver]]:  # noqa: F811
    aws.create_ledger("orders")
    driver = aws.driver("orders")
    driver.execute_lambda(lambda t: t.execute_statement("CREATE TABLE Vehicle"))
    driver.execute_lambda(lambda t: t.execute_statement("CREATE INDEX ON Vehicle (VIN)"))
    write(driver, 120)
    aws.client("s3").create_bucket(Bucket="vault-primary")
    yield aws, driver


@pytest.fixture
def settings() -> Settings:
    return Settings.resolve(
        {"ledgerName": "orders", "vaultBucket": "vault-primary", "exportRoleArn": ROLE, "settleSeconds": 0},
        {},
        "us-east-1",
    )


def wait_exports(running: Running) -> Any:
    assert running.endpoint is not None
    running.endpoint.exports.wait(timeout=120)
