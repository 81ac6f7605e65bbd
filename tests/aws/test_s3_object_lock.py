"""S3 Object Lock on the local endpoint, as AWS enforces it: a locked version can be neither
deleted nor overwritten, COMPLIANCE not even with the governance bypass, and its retention
can only grow."""

from __future__ import annotations

import datetime
from typing import Any

import moto
import pytest
from botocore.exceptions import ClientError

from qldb_dr.local.aws import object_lock
from tests.local.conftest import Running

LOCKED = "Access Denied because object protected by object lock."


def _later(**delta: float) -> datetime.datetime:
    return (datetime.datetime.now(datetime.UTC) + datetime.timedelta(**delta)).replace(microsecond=0)


def _refused(call: Any, code: str = "AccessDenied") -> str:
    with pytest.raises(ClientError) as exc:
        call()
    error = exc.value.response["Error"]
    assert error["Code"] == code, error
    if code == "AccessDenied":
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    return str(error["Message"])


@pytest.fixture
def s3(aws: Running) -> Any:
    client = aws.client("s3")
    client.create_bucket(Bucket="vault", ObjectLockEnabledForBucket=True)
    return client


def _put(s3: Any, key: str = "catalog/rp-1.json", body: bytes = b"v1", **lock: Any) -> str:
    version: str = s3.put_object(Bucket="vault", Key=key, Body=body, **lock)["VersionId"]
    return version


def test_moto_is_the_version_the_aws_patches_were_written_for() -> None:
    """The local endpoint patches moto's S3 and EventBridge where they fall short of AWS
    (src/qldb_dr/local/aws/{s3_async,object_lock,replication,events,schedules}.py, each
    patch saying what moto lacks). On a moto upgrade, re-check each gap, drop the patches
    moto made unnecessary, then move this pin."""
    assert moto.__version__ == "5.2.5"


def test_object_lock_compliance_version_cannot_be_deleted_even_with_bypass(s3: Any) -> None:
    version = _put(s3, ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=_later(days=1))

    assert _refused(lambda: s3.delete_object(Bucket="vault", Key="catalog/rp-1.json", VersionId=version)) == LOCKED
    bypass = {"BypassGovernanceRetention": True}
    _refused(lambda: s3.delete_object(Bucket="vault", Key="catalog/rp-1.json", VersionId=version, **bypass))
    batch = s3.delete_objects(
        Bucket="vault", Delete={"Objects": [{"Key": "catalog/rp-1.json", "VersionId": version}]}, **bypass
    )
    assert [(e["Code"], e["Message"]) for e in batch["Errors"]] == [("AccessDenied", LOCKED)]
    assert s3.get_object(Bucket="vault", Key="catalog/rp-1.json", VersionId=version)["Body"].read() == b"v1"


def test_object_lock_version_is_never_overwritten_a_put_adds_a_version(s3: Any) -> None:
    version = _put(s3, ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=_later(days=1))

    newer = _put(s3, body=b"v2")
    s3.copy_object(
        Bucket="vault",
        Key="catalog/rp-1.json",
        CopySource={"Bucket": "vault", "Key": "catalog/rp-1.json", "VersionId": version},
        MetadataDirective="REPLACE",
        Metadata={"copied": "yes"},
    )

    assert newer != version
    assert s3.get_object(Bucket="vault", Key="catalog/rp-1.json", VersionId=version)["Body"].read() == b"v1"
    assert len(s3.list_object_versions(Bucket="vault")["Versions"]) == 3
    # Nor can versioning be suspended, which would let a PUT replace the null version.
    message = _refused(
        lambda: s3.put_bucket_versioning(Bucket="vault", VersioningConfiguration={"Status": "Suspended"}),
        "InvalidBucketState",
    )
    assert "Object Lock configuration is present" in message
    assert s3.get_bucket_versioning(Bucket="vault")["Status"] == "Enabled"


def test_object_lock_delete_without_version_adds_a_delete_marker(s3: Any) -> None:
    version = _put(s3, ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=_later(days=1))

    deleted = s3.delete_object(Bucket="vault", Key="catalog/rp-1.json")

    assert deleted["DeleteMarker"] is True
    _refused(lambda: s3.get_object(Bucket="vault", Key="catalog/rp-1.json"), "NoSuchKey")
    assert s3.get_object(Bucket="vault", Key="catalog/rp-1.json", VersionId=version)["Body"].read() == b"v1"
    s3.delete_object(
        Bucket="vault", Key="catalog/rp-1.json", VersionId=deleted["VersionId"]
    )  # the marker holds no lock
    assert s3.get_object(Bucket="vault", Key="catalog/rp-1.json")["Body"].read() == b"v1"


def test_object_lock_governance_is_bypassed_only_with_the_header(s3: Any) -> None:
    version = _put(s3, ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=_later(days=1))
    delete = {"Bucket": "vault", "Key": "catalog/rp-1.json", "VersionId": version}

    _refused(lambda: s3.delete_object(**delete))
    _refused(lambda: s3.delete_object(**delete, BypassGovernanceRetention=False))  # sends the header as "false"
    s3.delete_object(**delete, BypassGovernanceRetention=True)

    assert "Versions" not in s3.list_object_versions(Bucket="vault")


def test_object_lock_legal_hold_blocks_deletion_until_released(s3: Any) -> None:
    version = _put(s3, ObjectLockLegalHoldStatus="ON")
    delete = {"Bucket": "vault", "Key": "catalog/rp-1.json", "VersionId": version}

    _refused(lambda: s3.delete_object(**delete, BypassGovernanceRetention=True))
    s3.put_object_legal_hold(Bucket="vault", Key="catalog/rp-1.json", VersionId=version, LegalHold={"Status": "OFF"})
    s3.delete_object(**delete)


def test_object_lock_compliance_retention_can_be_extended_but_never_shortened(s3: Any) -> None:
    until = _later(days=1)
    version = _put(s3, ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until)
    target = {"Bucket": "vault", "Key": "catalog/rp-1.json", "VersionId": version, "BypassGovernanceRetention": True}

    shorter = {"Mode": "COMPLIANCE", "RetainUntilDate": until - datetime.timedelta(hours=1)}
    assert _refused(lambda: s3.put_object_retention(**target, Retention=shorter)) == LOCKED
    _refused(lambda: s3.put_object_retention(**target, Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until}))
    _refused(lambda: s3.put_object_retention(**target, Retention={}))
    longer = until + datetime.timedelta(days=1)
    s3.put_object_retention(
        Bucket="vault",
        Key="catalog/rp-1.json",
        VersionId=version,
        Retention={"Mode": "COMPLIANCE", "RetainUntilDate": longer},
    )

    retention = s3.get_object_retention(Bucket="vault", Key="catalog/rp-1.json", VersionId=version)["Retention"]
    assert retention == {"Mode": "COMPLIANCE", "RetainUntilDate": longer}


def test_object_lock_governance_retention_is_weakened_only_with_the_bypass(s3: Any) -> None:
    until = _later(days=1)
    version = _put(s3, ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until)
    target = {"Bucket": "vault", "Key": "catalog/rp-1.json", "VersionId": version}
    shorter = {"Mode": "GOVERNANCE", "RetainUntilDate": until - datetime.timedelta(hours=1)}

    _refused(lambda: s3.put_object_retention(**target, Retention=shorter))
    s3.put_object_retention(**target, Retention=shorter, BypassGovernanceRetention=True)
    s3.put_object_retention(**target, Retention={}, BypassGovernanceRetention=True)

    _refused(lambda: s3.get_object_retention(**target), "NoSuchObjectLockConfiguration")
    s3.delete_object(**target)


def test_object_lock_default_retention_protects_every_new_version(s3: Any) -> None:
    s3.put_object(Bucket="vault", Key="before-the-rule", Body=b"x")
    s3.put_object_lock_configuration(
        Bucket="vault",
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 2}},
        },
    )
    upload = s3.create_multipart_upload(Bucket="vault", Key="multipart")
    part = s3.upload_part(Bucket="vault", Key="multipart", UploadId=upload["UploadId"], PartNumber=1, Body=b"m")
    s3.complete_multipart_upload(
        Bucket="vault",
        Key="multipart",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )
    _put(s3, key="held", ObjectLockLegalHoldStatus="ON")
    _put(s3, key="plain")
    s3.copy_object(Bucket="vault", Key="copied", CopySource={"Bucket": "vault", "Key": "plain"})

    for key in ("multipart", "held", "plain", "copied"):
        head = s3.head_object(Bucket="vault", Key=key)
        assert head["ObjectLockMode"] == "COMPLIANCE", key
        assert _later(days=1) < head["ObjectLockRetainUntilDate"] <= _later(days=2, seconds=5), key
        _refused(lambda key=key, head=head: s3.delete_object(Bucket="vault", Key=key, VersionId=head["VersionId"]))
    assert s3.head_object(Bucket="vault", Key="held")["ObjectLockLegalHoldStatus"] == "ON"
    assert "ObjectLockMode" not in s3.head_object(Bucket="vault", Key="before-the-rule")


def test_object_lock_multipart_upload_keeps_its_own_lock_settings(s3: Any) -> None:
    until = _later(days=3)
    upload = s3.create_multipart_upload(
        Bucket="vault",
        Key="m",
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=until,
        ObjectLockLegalHoldStatus="ON",
    )
    part = s3.upload_part(Bucket="vault", Key="m", UploadId=upload["UploadId"], PartNumber=1, Body=b"m")
    s3.complete_multipart_upload(
        Bucket="vault",
        Key="m",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )

    head = s3.head_object(Bucket="vault", Key="m")
    assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"], head["ObjectLockLegalHoldStatus"]) == (
        "GOVERNANCE",
        until,
        "ON",
    )


def test_object_lock_settings_are_checked_when_a_version_is_written(aws: Running, s3: Any) -> None:
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)
    message = _refused(lambda: _put(s3, ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=past), "InvalidArgument")
    assert message == "The retain until date must be in the future!"
    plain = aws.client("s3")
    plain.create_bucket(Bucket="plain")
    _refused(
        lambda: plain.put_object(Bucket="plain", Key="k", Body=b"x", ObjectLockLegalHoldStatus="ON"), "InvalidRequest"
    )
    _refused(
        lambda: plain.create_multipart_upload(Bucket="plain", Key="k", ObjectLockLegalHoldStatus="ON"), "InvalidRequest"
    )
    _refused(lambda: plain.get_object_retention(Bucket="plain", Key="k"), "InvalidRequest")


def test_object_lock_dates_in_any_iso_form_lock_until_they_pass() -> None:
    class Version:
        lock_legal_status = None
        lock_mode = "COMPLIANCE"

        def __init__(self, until: str) -> None:
            self.lock_until = until

    future, past = _later(days=1), _later(days=-1)
    for text in (future.isoformat(), future.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), future.strftime("%Y-%m-%dT%H:%M:%SZ")):
        assert object_lock.is_locked(Version(text), governance_bypass=True), text
    assert not object_lock.is_locked(Version(past.isoformat()), governance_bypass=False)
