"""A vault in a directory (a vault synced down from S3, an air-gapped copy): the backup's
verify and record steps and the whole restore run against it through the same `Vault` seam
as against S3. Only the export itself needs S3 (QLDB writes nowhere else)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyqldb.driver.qldb_driver import QldbDriver

from qldb_dr.backup import Settings, plan_window, record, start_export, verify_export
from qldb_dr.catalog import Catalog, Vault
from qldb_dr.errors import InvalidInputError, VaultVerificationError
from qldb_dr.journal.verify import verify_source
from tests.backup.conftest import wait_exports, write
from tests.local.conftest import Running
from tests.restore.conftest import backup, restore, rows


def _download(running: Running, bucket: str, directory: Path) -> None:
    """The bucket's current objects, by key, into `directory` (as `aws s3 sync` would)."""
    s3 = running.client("s3")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            path = directory / item["Key"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())


def test_restore_from_a_directory_vault_verifies_and_reports_there(
    source: tuple[Running, QldbDriver, Settings], tmp_path: Path
) -> None:
    running, driver, settings = source
    backup(running, settings)
    write(driver, 8, start=4000)
    backup(running, settings)
    copy = tmp_path / "vault"
    _download(running, "vault-primary", copy)
    request = {"sourceLedger": "orders", "targetLedger": "from-a-copy", "targetRegion": "us-west-2"}
    result = restore(running, request, "d1", vault=str(copy))
    assert result["verification"]["status"] == "OK", result["verification"]
    assert result["summary"]["status"] == "OK"
    report = json.loads((copy / "orders" / "restores" / "d1" / "report.json").read_text())
    assert report["status"] == "OK" and report["request"]["vault"] == str(copy)
    target = running.driver("from-a-copy", region="us-west-2")
    want = rows(driver, "SELECT COUNT(*) AS c FROM Vehicle")[0]["c"]
    assert rows(target, "SELECT COUNT(*) AS c FROM Vehicle")[0]["c"] == want


def test_tampered_directory_vault_stops_the_restore_before_any_write(
    source: tuple[Running, QldbDriver, Settings], tmp_path: Path
) -> None:
    running, _, settings = source
    backup(running, settings)
    copy = tmp_path / "vault"
    _download(running, "vault-primary", copy)
    data = next(p for p in sorted((copy / "orders" / "journal").rglob("*.ion")))
    body = bytearray(data.read_bytes())
    body[len(body) // 2] ^= 0x01
    data.write_bytes(bytes(body))
    request = {"sourceLedger": "orders", "targetLedger": "never-written", "targetRegion": "us-west-2"}
    with pytest.raises(VaultVerificationError) as error:
        restore(running, request, "d2", vault=str(copy))
    assert data.name in str(error.value), error.value
    assert running.client("qldb", "us-west-2").list_ledgers()["Ledgers"] == []


def test_backup_verifies_and_records_into_a_directory_vault(
    source: tuple[Running, QldbDriver, Settings], tmp_path: Path
) -> None:
    """The export lands in S3; verified and recorded from a directory holding it, the recovery
    point is in the directory's catalog and `verify` of the directory passes."""
    running, _, settings = source
    plan = plan_window(settings, now=datetime.now(UTC))
    assert plan is not None
    export_id = start_export(settings, plan)
    wait_exports(running)
    copy = tmp_path / "vault"
    _download(running, "vault-primary", copy)
    local = dataclasses.replace(settings, vault=str(copy))
    again = plan_window(local, now=datetime.now(UTC))  # an empty catalog: the window starts where it did
    assert again is not None and (again.start, again.previous) == (plan.start, None)
    verified = verify_export(local, plan, export_id)
    point = record(local, plan, verified, now=datetime.now(UTC), execution=None)
    (listed,) = Catalog(Vault.open(str(copy))).recovery_points("orders")
    assert listed == point and point.verification["status"] == "OK"
    assert (copy / "orders" / "journal" / f"{export_id}.proof.json").exists()
    assert verify_source(Vault.open(str(copy)).store.scoped("orders/journal/")).status.name == "OK"
    with pytest.raises(InvalidInputError, match="QLDB exports only to S3"):
        start_export(local, plan)
