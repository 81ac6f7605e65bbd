"""The backup steps in order, as the workflow runs them, against the local ledger and S3."""

from __future__ import annotations

import dataclasses
import itertools
import time
from datetime import UTC, datetime

import pytest
from pyqldb.driver.qldb_driver import QldbDriver

from qldb_dr.backup import Plan, Settings, export_status, plan_window, record, start_export, verify_export
from qldb_dr.catalog import Catalog, RecoveryPoint
from qldb_dr.checks import Status
from qldb_dr.errors import BackupInProgressError, ContinuityError, ExportVerificationError, RecoveryPointConflictError
from qldb_dr.journal.verify import verify_source
from qldb_dr.store.s3 import S3Store
from tests.backup.conftest import wait_exports, write
from tests.local.conftest import Running


def _now() -> datetime:
    time.sleep(0.002)  # windows are in milliseconds: let the clock pass the last commit
    return datetime.now(UTC)


def _backup(running: Running, settings: Settings, plan: Plan | None = None) -> RecoveryPoint:
    plan = plan or plan_window(settings, now=_now())
    assert plan is not None
    export_id = start_export(settings, plan)
    wait_exports(running)
    assert export_status(settings, export_id) == "COMPLETED"
    verified = verify_export(settings, plan, export_id)
    return record(settings, plan, verified, now=datetime.now(UTC), execution=None)


def test_first_backup_records_verified_anchored_recovery_point(
    busy: tuple[Running, QldbDriver], settings: Settings
) -> None:
    running, _ = busy
    point = _backup(running, settings)
    assert point.first_block is not None and point.first_block.sequence_no == 0
    assert point.blocks > 150 and point.revisions > 140
    assert point.tables["Vehicle"].documents == 120
    assert point.verification["status"] == "OK"
    assert point.digest_tip.sequence_no >= point.last_block.sequence_no  # type: ignore[union-attr]
    (listed,) = Catalog(settings.open_vault()).recovery_points("orders")
    assert listed == point
    s3 = running.client("s3")
    tags = s3.get_object_tagging(Bucket="vault-primary", Key=point.objects[0])["TagSet"]
    assert {"Key": "qldb-dr:export-id", "Value": point.recovery_point_id} in tags
    report = verify_source(S3Store("vault-primary", "orders/journal/", s3))
    assert report.status is Status.OK  # digest-proof included


def test_three_incremental_backups_chain(busy: tuple[Running, QldbDriver], settings: Settings) -> None:
    running, driver = busy
    points = [_backup(running, settings)]
    for round_ in range(1, 3):
        write(driver, 15, start=1000 * round_)
        points.append(_backup(running, settings))
    for before, after in itertools.pairwise(points):
        assert after.window_start == before.window_end and after.previous == before.recovery_point_id
        assert after.first_block.sequence_no == before.last_block.sequence_no + 1  # type: ignore[union-attr]
        assert after.first_previous_hash == before.last_block_hash
        # what the recovery point records is its join to the previous one, not a lone export's warning
        continuity = next(c for c in after.verification["checks"] if c["name"] == "continuity")
        assert after.verification["status"] == "OK" and continuity["status"] == "OK"
        assert f"of recovery point {before.recovery_point_id}, chained by hash" in continuity["summary"]
    report = verify_source(S3Store("vault-primary", "orders/journal/", running.client("s3")))
    assert report.status is Status.OK and report.check("continuity").checked == 2


def test_empty_window_recorded_with_digest_next_window_continues(
    busy: tuple[Running, QldbDriver], settings: Settings
) -> None:
    running, driver = busy
    first = _backup(running, settings)
    quiet = _backup(running, settings)
    assert quiet.empty and quiet.first_block is None and quiet.previous == first.recovery_point_id
    assert quiet.digest_tip.sequence_no == first.last_block.sequence_no  # type: ignore[union-attr]
    write(driver, 3, start=5000)
    third = _backup(running, settings)
    assert third.first_block.sequence_no == first.last_block.sequence_no + 1  # type: ignore[union-attr]


def test_tampered_export_fails_verification_records_nothing(
    busy: tuple[Running, QldbDriver], settings: Settings
) -> None:
    running, _ = busy
    settings = dataclasses.replace(settings, output_format="ION_TEXT")
    plan = plan_window(settings, now=_now())
    assert plan is not None
    export_id = start_export(settings, plan)
    wait_exports(running)
    s3 = running.client("s3")
    key = next(
        o["Key"] for o in s3.list_objects_v2(Bucket="vault-primary", Prefix=f"orders/journal/{export_id}/")["Contents"]
    )
    body = s3.get_object(Bucket="vault-primary", Key=key)["Body"].read()
    s3.put_object(Bucket="vault-primary", Key=key, Body=body.replace(b'"owner 7"', b'"owner 8"', 1))
    with pytest.raises(ExportVerificationError) as error:
        verify_export(settings, plan, export_id)
    assert "revision-hashes failed" in str(error.value) and "block" in str(error.value)
    assert Catalog(settings.open_vault()).recovery_points("orders") == []


def test_gap_in_plan_fails_continuity(busy: tuple[Running, QldbDriver], settings: Settings) -> None:
    running, driver = busy
    first = _backup(running, settings)
    write(driver, 5, start=7000)
    plan = plan_window(settings, now=_now())
    assert plan is not None and plan.previous_block is not None
    skewed = Plan(
        plan.start,
        plan.end,
        plan.previous,
        type(plan.previous_block)(plan.previous_block.strand_id, plan.previous_block.sequence_no - 1),
        plan.previous_block_hash,
    )
    export_id = start_export(settings, plan)
    wait_exports(running)
    with pytest.raises(ContinuityError) as error:
        verify_export(settings, skewed, export_id)
    assert "gap with the previous recovery point" in str(error.value) and first.recovery_point_id in str(error.value)


def test_two_backups_of_one_window_record_one(busy: tuple[Running, QldbDriver], settings: Settings) -> None:
    running, _ = busy
    plan = plan_window(settings, now=_now())
    assert plan is not None
    ids = [start_export(settings, plan) for _ in range(2)]
    wait_exports(running)
    verified = [verify_export(settings, plan, export_id) for export_id in ids]
    record(settings, plan, verified[0], now=datetime.now(UTC), execution=None)
    with pytest.raises(RecoveryPointConflictError):
        record(settings, plan, verified[1], now=datetime.now(UTC), execution=None)
    assert [p.recovery_point_id for p in Catalog(settings.open_vault()).recovery_points("orders")] == [ids[0]]


def test_plan_while_same_window_exporting_refused(
    tmp_path: object, busy: tuple[Running, QldbDriver], settings: Settings
) -> None:
    running, _ = busy
    plan = plan_window(settings, now=_now())
    assert plan is not None
    assert running.endpoint is not None
    engine = running.endpoint.registry.ledger("us-east-1", "orders")
    engine.put_export(
        "Xq1" * 7 + "X",
        int(plan.start.timestamp() * 1000),
        "IN_PROGRESS",
        __import__("json").dumps(
            {
                "export_id": "Xq1" * 7 + "X",
                "ledger_name": "orders",
                "region": "us-east-1",
                "created_ms": int(time.time() * 1000),
                "status": "IN_PROGRESS",
                "start_ms": int(plan.start.timestamp() * 1000),
                "end_ms": int(plan.end.timestamp() * 1000),
                "bucket": "vault-primary",
                "prefix": settings.open_vault().journal("orders"),
                "encryption": "SSE_S3",
                "kms_key_arn": None,
                "role_arn": settings.export_role_arn,
                "output_format": "ION_BINARY",
            }
        ),
    )
    with pytest.raises(BackupInProgressError):
        plan_window(settings, now=_now())


def test_window_inside_settle_delay_plans_nothing(busy: tuple[Running, QldbDriver], settings: Settings) -> None:
    running, _ = busy
    _backup(running, settings)
    assert plan_window(dataclasses.replace(settings, settle_seconds=3600), now=datetime.now(UTC)) is None
