"""ExportJournalToS3 on the local ledger: QLDB's layout, every format, chaining, failures, limits."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from amazon.ion import simpleion
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer
from pyqldb.driver.qldb_driver import QldbDriver

from qldb_dr.checks import Status
from qldb_dr.journal.verify import verify_source
from qldb_dr.store.s3 import S3Store
from tests.local.conftest import Running, serve_in_process

ROLE = "arn:aws:iam::123456789012:role/qldb-export"


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _s3(url: str) -> Any:
    return boto3.client("s3", region_name="us-east-1", endpoint_url=url)


@pytest.fixture
def exporting(tmp_path: Path, s3_url: str) -> Iterator[tuple[Running, Any]]:
    bucket = f"vault-{time.monotonic_ns()}"
    _s3(s3_url).create_bucket(Bucket=bucket)
    running = serve_in_process(tmp_path, s3_client=lambda region: _s3(s3_url))
    running.create_ledger("orders")
    driver = running.driver("orders")
    driver.execute_lambda(lambda t: t.execute_statement("CREATE TABLE Orders"))
    for i in range(30):
        driver.execute_lambda(lambda t, i=i: t.execute_statement("INSERT INTO Orders ?", {"n": i, "amount": i * 1.5}))
    yield running, bucket
    running.stop()


def _export(
    running: Running,
    bucket: str,
    start: datetime,
    end: datetime,
    fmt: str = "ION_BINARY",
    prefix: str = "orders/journal/",
    encryption: str = "SSE_S3",
    **extra: Any,
) -> str:
    export_id: str = running.client("qldb").export_journal_to_s3(
        Name="orders",
        InclusiveStartTime=start,
        ExclusiveEndTime=end,
        RoleArn=ROLE,
        OutputFormat=fmt,
        S3ExportConfiguration={
            "Bucket": bucket,
            "Prefix": prefix,
            "EncryptionConfiguration": {"ObjectEncryptionType": encryption, **extra},
        },
    )["ExportId"]
    return export_id


def _wait(running: Running, export_id: str) -> dict[str, Any]:
    assert running.endpoint is not None
    running.endpoint.exports.wait(timeout=60)
    description: dict[str, Any] = running.client("qldb").describe_journal_s3_export(Name="orders", ExportId=export_id)[
        "ExportDescription"
    ]
    return description


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.mark.parametrize("fmt", ["ION_BINARY", "ION_TEXT", "JSON"])
def test_export_any_format_verifies(exporting: tuple[Running, str], s3_url: str, fmt: str) -> None:
    running, bucket = exporting
    export_id = _export(running, bucket, _now() - timedelta(days=1), _now(), fmt=fmt)
    assert running.client("qldb").describe_journal_s3_export(Name="orders", ExportId=export_id)["ExportDescription"][
        "Status"
    ] in ("IN_PROGRESS", "COMPLETED")
    assert _wait(running, export_id)["Status"] == "COMPLETED"
    report = verify_source(S3Store(bucket, "orders/journal/", _s3(s3_url)))
    assert report.counts["blocks"] == 31 and report.ledger_name == "orders"
    for name in ("manifest", "block-hashes", "chain", "continuity"):
        assert report.check(name).status is Status.OK, report.check(name).findings
    expected = Status.OK if fmt != "JSON" else Status.WARNING  # floats do not survive JSON
    assert report.check("revision-hashes").status is expected
    assert report.check("digest-proof").status is Status.WARNING  # proofs are the backup's job


def test_export_layout_is_qldbs(exporting: tuple[Running, str], s3_url: str) -> None:
    running, bucket = exporting
    export_id = _export(running, bucket, _now() - timedelta(days=1), _now(), fmt="ION_TEXT")
    _wait(running, export_id)
    s3 = _s3(s3_url)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    started = simpleion.loads(
        s3.get_object(Bucket=bucket, Key=f"orders/journal/{export_id}.started.manifest")["Body"].read()
    )
    assert started["exportId"] == export_id and started["ledgerName"] == "orders"
    assert started["bucket"] == bucket and started["prefix"] == "orders/journal/"
    (completed_key,) = [k for k in keys if k.endswith(".completed.manifest")]
    assert completed_key.startswith(f"orders/journal/{export_id}.") and len(completed_key.split(".")[1]) == 22
    manifest = simpleion.loads(s3.get_object(Bucket=bucket, Key=completed_key)["Body"].read())
    assert list(manifest["keys"]) == [k for k in keys if k.endswith(".ion")]
    assert manifest["keys"][0].endswith(".0-30.ion")
    head = s3.head_object(Bucket=bucket, Key=manifest["keys"][0])
    assert head["ServerSideEncryption"] == "AES256"


def test_consecutive_exports_chain_no_gap_no_overlap(exporting: tuple[Running, str], s3_url: str) -> None:
    running, bucket = exporting
    middle = _now()
    driver = running.driver("orders")
    driver.execute_lambda(lambda t: t.execute_statement("INSERT INTO Orders ?", {"n": 99}))
    time.sleep(0.002)  # the next window must end after the commit's millisecond
    end = _now()
    first = _export(running, bucket, middle - timedelta(days=1), middle)
    second = _export(running, bucket, middle, end)
    assert _wait(running, first)["Status"] == _wait(running, second)["Status"] == "COMPLETED"
    report = verify_source(S3Store(bucket, "orders/journal/", _s3(s3_url)))
    assert report.check("continuity").status is Status.OK and report.check("continuity").checked == 1
    assert report.counts["blocks"] == 32 and len(report.exports) == 2


def test_empty_window_gives_valid_empty_manifest(exporting: tuple[Running, str], s3_url: str) -> None:
    running, bucket = exporting
    start = _now()
    time.sleep(0.002)
    export_id = _export(running, bucket, start, _now(), prefix="empty/")
    assert _wait(running, export_id)["Status"] == "COMPLETED"
    s3 = _s3(s3_url)
    (key,) = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=bucket, Prefix="empty/")["Contents"]
        if o["Key"].endswith(".completed.manifest")
    ]
    assert list(simpleion.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())["keys"]) == []


def test_failing_s3_write_cancels_without_completed_manifest(exporting: tuple[Running, str], s3_url: str) -> None:
    running, bucket = exporting
    export_id = _export(running, "no-such-bucket", _now() - timedelta(days=1), _now())
    assert _wait(running, export_id)["Status"] == "CANCELLED"
    assert "Contents" not in _s3(s3_url).list_objects_v2(Bucket=bucket)


def test_third_party_check_boto3_only_validates_chain(exporting: tuple[Running, str], s3_url: str) -> None:
    """What an auditor with only boto3, amazon.ion and hashlib would write."""
    running, bucket = exporting
    export_id = _export(running, bucket, _now() - timedelta(days=1), _now(), fmt="ION_TEXT")
    _wait(running, export_id)
    s3 = _s3(s3_url)

    def dot(a: bytes, b: bytes) -> bytes:
        if not a or not b:
            return a or b
        key = lambda h: [x - 256 if x > 127 else x for x in reversed(h)]  # noqa: E731
        first, second = (a, b) if key(a) < key(b) else (b, a)
        return hashlib.sha256(first + second).digest()

    completed = next(
        o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"] if o["Key"].endswith(".completed.manifest")
    )
    previous = None
    count = 0
    for key in simpleion.loads(s3.get_object(Bucket=bucket, Key=completed)["Body"].read())["keys"]:
        for block in simpleion.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read(), single_value=False):
            assert dot(block["entriesHash"], block["previousBlockHash"]) == block["blockHash"]
            if previous is not None:
                assert block["previousBlockHash"] == previous
            previous = block["blockHash"]
            count += 1
    assert count == 31
    digest = running.client("qldb").get_digest(Name="orders")["Digest"]
    assert len(digest) == 32


def test_more_than_two_running_exports_limit_exceeded(tmp_path: Path, s3_url: str) -> None:
    gate = threading.Event()

    class Gated:
        """A real S3 client whose writes wait for the gate: keeps exports IN_PROGRESS."""

        def __init__(self) -> None:
            self.client = _s3(s3_url)

        def put_object(self, **kwargs: Any) -> Any:
            gate.wait(timeout=60)
            return self.client.put_object(**kwargs)

    _s3(s3_url).create_bucket(Bucket="gated")
    running = serve_in_process(tmp_path, s3_client=lambda region: Gated())
    try:
        running.create_ledger("orders")
        QldbDriver("orders", endpoint_url=running.url, region_name="us-east-1").execute_lambda(
            lambda t: t.execute_statement("CREATE TABLE T")
        )
        window = (_now() - timedelta(hours=1), _now())
        first, second = _export(running, "gated", *window), _export(running, "gated", *window)
        with pytest.raises(ClientError) as error:
            _export(running, "gated", *window)
        assert error.value.response["Error"]["Code"] == "LimitExceededException"
        gate.set()
        assert _wait(running, first)["Status"] == _wait(running, second)["Status"] == "COMPLETED"
        _export(running, "gated", *window)  # room again
    finally:
        gate.set()
        running.stop()


def test_window_rules_clamp_start_refuse_future_end(exporting: tuple[Running, str]) -> None:
    running, bucket = exporting
    created = running.client("qldb").describe_ledger(Name="orders")["CreationDateTime"]
    export_id = _export(running, bucket, datetime(2001, 1, 1, tzinfo=UTC), _now())
    description = _wait(running, export_id)
    assert abs((description["InclusiveStartTime"] - created).total_seconds()) < 0.002
    with pytest.raises(ClientError) as error:
        _export(running, bucket, _now() - timedelta(hours=1), _now() + timedelta(hours=1))
    assert error.value.response["Error"]["Code"] == "InvalidParameterException" and "future" in str(error.value)
    with pytest.raises(ClientError) as error:
        _export(running, bucket, _now() - timedelta(hours=1), _now(), encryption="SSE_KMS")
    assert "KmsKeyArn" in str(error.value)


def test_list_exports_paginated_and_records_expire_after_7_days(exporting: tuple[Running, str]) -> None:
    running, bucket = exporting
    ids = [_export(running, bucket, _now() - timedelta(days=1), _now(), prefix=f"p{i}/") for i in range(3)]
    for export_id in ids:
        _wait(running, export_id)
    qldb = running.client("qldb")
    first = qldb.list_journal_s3_exports_for_ledger(Name="orders", MaxResults=2)
    rest = qldb.list_journal_s3_exports_for_ledger(Name="orders", MaxResults=2, NextToken=first["NextToken"])
    listed = [e["ExportId"] for e in first["JournalS3Exports"] + rest["JournalS3Exports"]]
    assert listed == ids and "NextToken" not in rest
    assert [e["ExportId"] for e in qldb.list_journal_s3_exports()["JournalS3Exports"]] == ids
    assert running.endpoint is not None
    running.endpoint.exports.clock = lambda: time.time() + 8 * 24 * 3600
    with pytest.raises(qldb.exceptions.ResourceNotFoundException):
        qldb.describe_journal_s3_export(Name="orders", ExportId=ids[0])
    assert qldb.list_journal_s3_exports_for_ledger(Name="orders")["JournalS3Exports"] == []


def test_sse_kms_export_passes_key_to_s3(exporting: tuple[Running, str], s3_url: str) -> None:
    running, bucket = exporting
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    export_id = _export(
        running, bucket, _now() - timedelta(days=1), _now(), encryption="SSE_KMS", prefix="kms/", KmsKeyArn=key
    )
    assert _wait(running, export_id)["Status"] == "COMPLETED"
    s3 = _s3(s3_url)
    data_key = next(
        o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="kms/")["Contents"] if o["Key"].endswith(".ion")
    )
    head = s3.head_object(Bucket=bucket, Key=data_key)
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key
