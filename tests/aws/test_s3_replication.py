"""S3 replication between two regions of the local endpoint, as the vault uses it: every new
version in the primary bucket is copied to the DR bucket with its metadata, tags and Object
Lock settings, and both sides show their ReplicationStatus."""

from __future__ import annotations

import datetime
import hashlib
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.local.conftest import Running

PRIMARY, DR = "us-east-1", "us-west-2"
ROLE = "arn:aws:iam::123456789012:role/replication"


def _bucket(s3: Any, name: str, region: str, *, locked: bool = False, versioned: bool = True) -> str:
    options: dict[str, Any] = {"ObjectLockEnabledForBucket": True} if locked else {}
    if region != "us-east-1":
        options["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(Bucket=name, **options)
    if versioned and not locked:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def _rule(destination: str, prefix: str = "", priority: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "ID": f"to-{destination}-{priority}",
        "Priority": priority,
        "Status": "Enabled",
        "Filter": {"Prefix": prefix},
        "DeleteMarkerReplication": {"Status": "Disabled"},
        "Destination": {"Bucket": f"arn:aws:s3:::{destination}"},
        **extra,
    }


def _replicate(s3: Any, source: str, *rules: dict[str, Any]) -> None:
    s3.put_bucket_replication(Bucket=source, ReplicationConfiguration={"Role": ROLE, "Rules": list(rules)})


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = exc.value.response["Error"]
    return error["Code"], error["Message"]


@pytest.fixture
def clients(aws: Running) -> tuple[Any, Any]:
    return aws.client("s3", PRIMARY), aws.client("s3", DR)


def test_replication_across_regions_copies_body_metadata_tags_and_object_lock(clients: tuple[Any, Any]) -> None:
    primary, dr = clients
    _bucket(primary, "vault-primary", PRIMARY, locked=True)
    _bucket(dr, "vault-dr", DR, locked=True)
    _replicate(primary, "vault-primary", _rule("vault-dr"))
    until = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=3)).replace(microsecond=0)

    put = primary.put_object(
        Bucket="vault-primary",
        Key="catalog/rp-0001.json",
        Body=b'{"recovery point": 1}',
        ContentType="application/json",
        Metadata={"ledger": "orders"},
        Tagging="kind=catalog&verified=true",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=until,
        ObjectLockLegalHoldStatus="ON",
    )

    source = primary.head_object(Bucket="vault-primary", Key="catalog/rp-0001.json")
    replica = dr.head_object(Bucket="vault-dr", Key="catalog/rp-0001.json")
    assert source["ReplicationStatus"] == "COMPLETED"
    assert replica["ReplicationStatus"] == "REPLICA"
    assert replica["VersionId"] == source["VersionId"] == put["VersionId"]
    assert replica["ETag"] == source["ETag"]
    assert replica["LastModified"] == source["LastModified"]
    assert replica["ContentType"] == "application/json"
    assert replica["Metadata"] == source["Metadata"]
    assert {k.lower(): v for k, v in replica["Metadata"].items()} == {"ledger": "orders"}
    assert replica["ObjectLockMode"] == "COMPLIANCE"
    assert replica["ObjectLockRetainUntilDate"] == until
    assert replica["ObjectLockLegalHoldStatus"] == "ON"
    tags = dr.get_object_tagging(Bucket="vault-dr", Key="catalog/rp-0001.json")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("kind", "catalog"), ("verified", "true")]
    body = dr.get_object(Bucket="vault-dr", Key="catalog/rp-0001.json")["Body"].read()
    assert body == b'{"recovery point": 1}'
    # The replica is as protected as the source.
    with pytest.raises(ClientError) as refused:
        dr.delete_object(Bucket="vault-dr", Key="catalog/rp-0001.json", VersionId=put["VersionId"])
    assert _error(refused)[0] == "AccessDenied"


def test_replication_applies_to_multipart_uploads_copies_and_default_retention(clients: tuple[Any, Any]) -> None:
    primary, dr = clients
    _bucket(primary, "vault-primary", PRIMARY, locked=True)
    _bucket(dr, "vault-dr", DR, locked=True)
    primary.put_object_lock_configuration(
        Bucket="vault-primary",
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
        },
    )
    _replicate(primary, "vault-primary", _rule("vault-dr"))
    part = b"x" * (5 * 1024 * 1024)
    upload = primary.create_multipart_upload(Bucket="vault-primary", Key="exports/big.ion", Tagging="kind=export")
    etags = [
        primary.upload_part(
            Bucket="vault-primary", Key="exports/big.ion", UploadId=upload["UploadId"], PartNumber=n, Body=part
        )["ETag"]
        for n in (1, 2)
    ]
    primary.complete_multipart_upload(
        Bucket="vault-primary",
        Key="exports/big.ion",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"ETag": e, "PartNumber": n} for n, e in enumerate(etags, start=1)]},
    )
    primary.copy_object(
        Bucket="vault-primary", Key="exports/copy.ion", CopySource={"Bucket": "vault-primary", "Key": "exports/big.ion"}
    )

    for key in ("exports/big.ion", "exports/copy.ion"):
        source = primary.head_object(Bucket="vault-primary", Key=key)
        replica = dr.head_object(Bucket="vault-dr", Key=key)
        assert (source["ReplicationStatus"], replica["ReplicationStatus"]) == ("COMPLETED", "REPLICA"), key
        assert replica["VersionId"] == source["VersionId"]
        assert replica["ETag"] == source["ETag"]
        assert source["ObjectLockMode"] == replica["ObjectLockMode"] == "COMPLIANCE", key
        assert replica["ObjectLockRetainUntilDate"] == source["ObjectLockRetainUntilDate"]
    assert primary.head_object(Bucket="vault-primary", Key="exports/big.ion")["ETag"].endswith('-2"')
    body = dr.get_object(Bucket="vault-dr", Key="exports/big.ion")["Body"].read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(part * 2).digest()
    tags = dr.get_object_tagging(Bucket="vault-dr", Key="exports/big.ion")["TagSet"]
    assert tags == [{"Key": "kind", "Value": "export"}]


def test_replication_prefix_filter_replicates_only_matching_keys(clients: tuple[Any, Any]) -> None:
    primary, dr = clients
    _bucket(primary, "vault-primary", PRIMARY)
    _bucket(dr, "vault-dr", DR)
    _replicate(primary, "vault-primary", _rule("vault-dr", prefix="catalog/"))

    primary.put_object(Bucket="vault-primary", Key="catalog/rp-1.json", Body=b"1")
    primary.put_object(Bucket="vault-primary", Key="scratch/tmp", Body=b"2")

    assert [o["Key"] for o in dr.list_objects_v2(Bucket="vault-dr")["Contents"]] == ["catalog/rp-1.json"]
    assert "ReplicationStatus" not in primary.head_object(Bucket="vault-primary", Key="scratch/tmp")


def test_replication_highest_priority_rule_per_destination_and_tag_filters(clients: tuple[Any, Any]) -> None:
    primary, dr = clients
    _bucket(primary, "vault-primary", PRIMARY)
    _bucket(dr, "vault-dr", DR)
    _bucket(dr, "vault-archive", DR)
    _replicate(
        primary,
        "vault-primary",
        _rule("vault-dr", prefix="catalog/", priority=1),
        _rule(
            "vault-dr",
            prefix="",
            priority=2,
            Destination={"Bucket": "arn:aws:s3:::vault-dr", "StorageClass": "GLACIER"},
        ),
        {**_rule("vault-archive", priority=3), "Filter": {"Tag": {"Key": "archive", "Value": "yes"}}},
    )

    primary.put_object(Bucket="vault-primary", Key="catalog/rp-1.json", Body=b"1", Tagging="archive=yes")
    primary.put_object(Bucket="vault-primary", Key="catalog/rp-2.json", Body=b"2")

    assert dr.head_object(Bucket="vault-dr", Key="catalog/rp-1.json")["StorageClass"] == "GLACIER"
    assert dr.head_object(Bucket="vault-archive", Key="catalog/rp-1.json")["ReplicationStatus"] == "REPLICA"
    with pytest.raises(ClientError):
        dr.head_object(Bucket="vault-archive", Key="catalog/rp-2.json")


def test_replication_configuration_refuses_unversioned_or_missing_destination(clients: tuple[Any, Any]) -> None:
    primary, dr = clients
    _bucket(primary, "vault-primary", PRIMARY)
    _bucket(dr, "vault-dr", DR, versioned=False)
    _bucket(primary, "unversioned-source", PRIMARY, versioned=False)

    with pytest.raises(ClientError) as unversioned:
        _replicate(primary, "vault-primary", _rule("vault-dr"))
    assert _error(unversioned) == ("InvalidRequest", "Destination bucket must have versioning enabled.")
    with pytest.raises(ClientError) as missing:
        _replicate(primary, "vault-primary", _rule("no-such-bucket"))
    assert _error(missing) == ("InvalidRequest", "Destination bucket must exist.")
    with pytest.raises(ClientError) as source:
        _replicate(primary, "unversioned-source", _rule("vault-primary"))
    assert _error(source) == (
        "InvalidRequest",
        "Versioning must be 'Enabled' on the bucket to apply a replication configuration",
    )
    with pytest.raises(ClientError) as no_delete_marker_setting:
        rule = _rule("vault-primary")
        del rule["DeleteMarkerReplication"]
        _replicate(primary, "vault-primary", rule)
    assert _error(no_delete_marker_setting)[0] == "InvalidRequest"
    with pytest.raises(ClientError) as none:
        primary.get_bucket_replication(Bucket="vault-primary")
    assert _error(none)[0] == "ReplicationConfigurationNotFoundError"


def test_replication_configuration_reads_back_as_configured(clients: tuple[Any, Any]) -> None:
    primary, dr = clients
    _bucket(primary, "vault-primary", PRIMARY)
    _bucket(dr, "vault-dr", DR)
    rules = [
        {**_rule("vault-dr", prefix="catalog/"), "DeleteMarkerReplication": {"Status": "Enabled"}},
        {
            **_rule("vault-dr", priority=2),
            "Filter": {"And": {"Prefix": "exports/", "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]}},
        },
    ]
    _replicate(primary, "vault-primary", *rules)

    configuration = primary.get_bucket_replication(Bucket="vault-primary")["ReplicationConfiguration"]

    assert configuration["Role"] == ROLE
    assert configuration["Rules"] == rules


def test_replication_of_delete_markers_follows_the_rule_and_version_deletes_stay_local(
    clients: tuple[Any, Any],
) -> None:
    primary, dr = clients
    _bucket(primary, "vault-primary", PRIMARY)
    _bucket(dr, "vault-dr", DR)
    _bucket(dr, "vault-dr-2", DR)
    _replicate(
        primary,
        "vault-primary",
        {**_rule("vault-dr", prefix="a/"), "DeleteMarkerReplication": {"Status": "Enabled"}},
        _rule("vault-dr-2", prefix="b/", priority=2),
    )
    first = primary.put_object(Bucket="vault-primary", Key="a/k", Body=b"1")["VersionId"]
    primary.put_object(Bucket="vault-primary", Key="b/k", Body=b"1")

    marker = primary.delete_object(Bucket="vault-primary", Key="a/k")["VersionId"]
    primary.delete_object(Bucket="vault-primary", Key="b/k")

    versions = dr.list_object_versions(Bucket="vault-dr")
    assert [(m["Key"], m["VersionId"]) for m in versions["DeleteMarkers"]] == [("a/k", marker)]
    assert [v["VersionId"] for v in versions["Versions"]] == [first]
    assert "DeleteMarkers" not in dr.list_object_versions(Bucket="vault-dr-2")  # disabled for that rule
    primary.delete_object(Bucket="vault-primary", Key="a/k", VersionId=first)  # never replicated
    assert [v["VersionId"] for v in dr.list_object_versions(Bucket="vault-dr")["Versions"]] == [first]


def test_replication_marks_failed_when_destination_stops_being_usable(clients: tuple[Any, Any]) -> None:
    primary, dr = clients
    _bucket(primary, "vault-primary", PRIMARY, locked=True)
    _bucket(dr, "vault-dr", DR)
    _replicate(primary, "vault-primary", _rule("vault-dr"))

    # A locked version needs a destination with Object Lock.
    until = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
    primary.put_object(
        Bucket="vault-primary", Key="locked", Body=b"1", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until
    )
    primary.put_object(Bucket="vault-primary", Key="free", Body=b"1")
    dr.put_bucket_versioning(Bucket="vault-dr", VersioningConfiguration={"Status": "Suspended"})
    primary.put_object(Bucket="vault-primary", Key="late", Body=b"1")

    status = {
        k: primary.head_object(Bucket="vault-primary", Key=k)["ReplicationStatus"] for k in ("locked", "free", "late")
    }
    assert status == {"locked": "FAILED", "free": "COMPLETED", "late": "FAILED"}


def test_replication_replicas_are_not_replicated_onwards(clients: tuple[Any, Any]) -> None:
    primary, dr = clients
    _bucket(primary, "vault-primary", PRIMARY)
    _bucket(dr, "vault-dr", DR)
    _bucket(primary, "vault-third", PRIMARY)
    _replicate(primary, "vault-primary", _rule("vault-dr"))
    _replicate(dr, "vault-dr", _rule("vault-third"))

    primary.put_object(Bucket="vault-primary", Key="k", Body=b"1")
    dr.put_object(Bucket="vault-dr", Key="own", Body=b"2")

    assert [o["Key"] for o in primary.list_objects_v2(Bucket="vault-third")["Contents"]] == ["own"]


def test_replication_replica_without_retention_gets_the_destination_default(clients: tuple[Any, Any]) -> None:
    primary, dr = clients
    _bucket(primary, "vault-primary", PRIMARY)
    _bucket(dr, "vault-dr", DR, locked=True)
    dr.put_object_lock_configuration(
        Bucket="vault-dr",
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
        },
    )
    _replicate(primary, "vault-primary", _rule("vault-dr"))

    primary.put_object(Bucket="vault-primary", Key="k", Body=b"1")

    assert "ObjectLockMode" not in primary.head_object(Bucket="vault-primary", Key="k")
    assert dr.head_object(Bucket="vault-dr", Key="k")["ObjectLockMode"] == "GOVERNANCE"


def test_replication_of_sse_kms_versions_needs_their_selection_and_uses_the_replica_key(
    aws: Running, clients: tuple[Any, Any]
) -> None:
    """As on AWS: a rule replicates SSE-KMS versions only when its SourceSelectionCriteria
    selects them, and the replica is encrypted with the destination's ReplicaKmsKeyID."""
    primary, dr = clients
    source_key = aws.client("kms", PRIMARY).create_key()["KeyMetadata"]["Arn"]
    replica_key = aws.client("kms", DR).create_key()["KeyMetadata"]["Arn"]
    _bucket(primary, "kms-primary", PRIMARY)
    _bucket(dr, "kms-dr", DR)
    _bucket(dr, "kms-dr-unselected", DR)
    selecting = _rule("kms-dr", SourceSelectionCriteria={"SseKmsEncryptedObjects": {"Status": "Enabled"}})
    selecting["Destination"]["EncryptionConfiguration"] = {"ReplicaKmsKeyID": replica_key}
    _replicate(primary, "kms-primary", selecting, _rule("kms-dr-unselected", priority=2))

    primary.put_object(
        Bucket="kms-primary", Key="journal/a.ion", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=source_key
    )
    primary.put_object(Bucket="kms-primary", Key="journal/b.ion", Body=b"y")  # SSE-S3 or none: every rule

    replica = dr.head_object(Bucket="kms-dr", Key="journal/a.ion")
    assert replica["ServerSideEncryption"] == "aws:kms" and replica["SSEKMSKeyId"] == replica_key
    with pytest.raises(ClientError):
        dr.head_object(Bucket="kms-dr-unselected", Key="journal/a.ion")
    assert dr.head_object(Bucket="kms-dr-unselected", Key="journal/b.ion")["ReplicationStatus"] == "REPLICA"
