"""S3 replication (SRR and CRR) on top of moto's S3: every new version written to a bucket
with a replication configuration is copied to each destination bucket its rules select.

moto 5.2.5 stores PutBucketReplication (refusing it when the source bucket is not
versioned) and replicates nothing. It also accepts a destination that does not exist or
is not versioned, accepts V2 rules without DeleteMarkerReplication, and GetBucketReplication
answers with `Filter: {Prefix: ""}` and `DeleteMarkerReplication: Disabled` whatever was
configured. `install()` closes these gaps.

Replication here is synchronous with the write: the replica exists when the PUT, POST,
CopyObject or CompleteMultipartUpload response is sent (AWS takes seconds to minutes and
shows PENDING meanwhile; nothing here is ever PENDING). As on AWS:

* the replica keeps the source's key, version id, last-modified time, body, ETag,
  content type and user metadata, tags, ACL, encryption, checksum, storage class (or
  the rule's Destination.StorageClass; SSE-KMS versions are replicated only by a rule whose
  SourceSelectionCriteria selects them, re-encrypted with its ReplicaKmsKeyID) and Object
  Lock settings (mode, retain-until date, legal hold; a version without retention gets the
  destination's default retention);
* the source version's ReplicationStatus becomes COMPLETED (FAILED when a destination is
  missing, not versioned, not Object Lock enabled for a locked version, or not owned by
  Destination.Account), the replica's is REPLICA (HeadObject / GetObject show both);
* for each destination the highest-priority enabled rule whose filter (prefix, tag, or
  both) selects the version applies;
* replicas are not replicated onwards; deleting a version is never replicated; a delete
  marker is, by V1 rules (no Filter) and V2 rules with DeleteMarkerReplication Enabled;
* the replica raises its own S3 event notifications in the destination bucket (that is
  what starts the warm standby in the DR region).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from qldb_dr.local.aws import s3_async

log = logging.getLogger(__name__)

COMPLETED = "COMPLETED"
FAILED = "FAILED"
REPLICA = "REPLICA"
STATUS_ATTRIBUTE = "qldb_dr_replication_status"

_writing = threading.local()  # set while this module writes a replica


class ReplicationFailed(Exception):
    """A version could not be replicated to one destination (the source shows FAILED)."""


@dataclass(frozen=True)
class ReplicationRule:
    """One replication rule, as configured."""

    id: str
    priority: int
    enabled: bool
    prefix: str
    tags: dict[str, str]
    v2: bool
    delete_markers: bool
    destination_bucket: str
    destination_account: str | None
    storage_class: str | None
    kms_objects: bool = False  # SourceSelectionCriteria: SSE-KMS versions are replicated only when enabled
    replica_kms_key: str | None = None  # Destination.EncryptionConfiguration.ReplicaKmsKeyID

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> ReplicationRule:
        """From moto's stored rule (xmltodict: empty elements are None, one child is not a list)."""
        destination = raw.get("Destination") or {}
        filter_ = raw.get("Filter")
        prefix, tags = raw.get("Prefix") or "", {}
        if isinstance(filter_, dict):
            both = filter_.get("And") or {}
            prefix = filter_.get("Prefix") or both.get("Prefix") or ""
            tags = {t["Key"]: t.get("Value") or "" for t in _listed(filter_.get("Tag")) + _listed(both.get("Tag"))}
        delete_marker_replication = (raw.get("DeleteMarkerReplication") or {}).get("Status")
        selection = (raw.get("SourceSelectionCriteria") or {}).get("SseKmsEncryptedObjects") or {}
        return cls(
            id=str(raw.get("ID") or ""),
            priority=int(raw.get("Priority") or 0),
            enabled=raw.get("Status") == "Enabled",
            prefix=prefix,
            tags=tags,
            v2="Filter" in raw,
            delete_markers=delete_marker_replication == "Enabled" if "Filter" in raw else True,
            destination_bucket=str(destination.get("Bucket") or "").split(":::")[-1],
            destination_account=destination.get("Account"),
            storage_class=destination.get("StorageClass"),
            kms_objects=selection.get("Status") == "Enabled",
            replica_kms_key=(destination.get("EncryptionConfiguration") or {}).get("ReplicaKmsKeyID"),
        )

    def selects(self, key_name: str, tags: dict[str, str], kms: bool = False) -> bool:
        return (
            self.enabled
            and (self.kms_objects or not kms)
            and key_name.startswith(self.prefix)
            and all(tags.get(k) == v for k, v in self.tags.items())
        )


def _listed(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def rules_of(bucket: Any) -> list[ReplicationRule]:
    configuration = getattr(bucket, "replication", None)
    if not configuration:
        return []
    return [ReplicationRule.parse(raw) for raw in _listed(configuration.get("Rule"))]


def destinations(
    rules: list[ReplicationRule], key_name: str, tags: dict[str, str], kms: bool = False
) -> list[ReplicationRule]:
    """Per destination bucket, the highest-priority rule that selects the version (`kms`: it
    is encrypted with SSE-KMS, which AWS replicates only by a rule selecting such objects)."""
    chosen: dict[str, ReplicationRule] = {}
    for rule in rules:
        if rule.selects(key_name, tags, kms):
            best = chosen.get(rule.destination_bucket)
            if best is None or rule.priority > best.priority:
                chosen[rule.destination_bucket] = rule
    return list(chosen.values())


def replication_status(key: Any) -> str | None:
    status: str | None = getattr(key, STATUS_ATTRIBUTE, None)
    return status


@contextmanager
def _writing_replica() -> Iterator[None]:
    _writing.active = True
    try:
        yield
    finally:
        _writing.active = False


def _destination(rule: ReplicationRule) -> tuple[Any, Any]:
    """(destination backend, destination bucket), checked as AWS checks at replication time."""
    from moto.s3.models import s3_backends

    located = s3_backends.bucket_accounts.get(rule.destination_bucket)
    if located is None:
        raise ReplicationFailed(f"destination bucket {rule.destination_bucket} does not exist")
    partition, owner = located
    if rule.destination_account is not None and rule.destination_account != owner:
        raise ReplicationFailed(
            f"destination bucket {rule.destination_bucket} is not owned by {rule.destination_account}"
        )
    backend = s3_backends[owner][partition]
    bucket = backend.buckets.get(rule.destination_bucket)
    if bucket is None:
        raise ReplicationFailed(f"destination bucket {rule.destination_bucket} does not exist")
    if not bucket.is_versioned:
        raise ReplicationFailed(f"destination bucket {bucket.name} is not versioned")
    return backend, bucket


def replicate(backend: Any, bucket: Any, key: Any) -> None:
    """Copy one new version to every destination its bucket's rules select, then record
    the outcome as the version's replication status."""
    tags = backend.tagger.get_tag_dict_for_resource(key.arn)
    chosen = destinations(rules_of(bucket), key.name, tags, kms=key.encryption == "aws:kms")
    if not chosen:
        return
    status = COMPLETED
    for rule in chosen:
        try:
            write_replica(backend, key, rule)
        except Exception:
            log.warning("replication of s3://%s/%s (%s) failed", bucket.name, key.name, key.version_id, exc_info=True)
            status = FAILED
    setattr(key, STATUS_ATTRIBUTE, status)


def write_replica(backend: Any, key: Any, rule: ReplicationRule) -> Any:
    from moto.s3 import notifications

    target_backend, target = _destination(rule)
    locked = key.lock_legal_status == "ON" or bool(key.lock_mode)
    if locked and not target.object_lock_enabled:
        raise ReplicationFailed(f"destination bucket {target.name} does not have Object Lock enabled")
    with _writing_replica():
        replica = target_backend.put_object(
            target.name,
            key.name,
            key.value,
            storage=rule.storage_class or key.storage_class,
            etag=key.etag.strip('"'),
            multipart=key.multipart,
            encryption=key.encryption,
            kms_key_id=rule.replica_kms_key if key.encryption == "aws:kms" and rule.replica_kms_key else key.kms_key_id,
            bucket_key_enabled=key.bucket_key_enabled,
            lock_mode=key.lock_mode,
            lock_legal_status=key.lock_legal_status,
            lock_until=key.lock_until,
            checksum_value=key.checksum_value,
            disable_notification=True,
        )
    replica._version_id = key.version_id  # a replica keeps the source's version id …
    replica.last_modified = key.last_modified  # … and its creation time
    replica.set_metadata(dict(key.metadata), replace=True)
    replica.set_acl(key.acl)
    replica.website_redirect_location = key.website_redirect_location
    replica.checksum_algorithm = key.checksum_algorithm
    tags = backend.tagger.list_tags_for_resource(key.arn)["Tags"]
    if tags:
        target_backend.tagger.tag_resource(replica.arn, tags)
    setattr(replica, STATUS_ATTRIBUTE, REPLICA)
    notifications.send_event(
        target_backend.account_id, notifications.S3NotificationEvent.OBJECT_CREATED_PUT_EVENT, target, replica
    )
    return replica


def replicate_delete_marker(backend: Any, bucket: Any, marker: Any) -> None:
    from moto.s3.models import FakeDeleteMarker

    for rule in destinations([r for r in rules_of(bucket) if r.delete_markers and not r.tags], marker.name, {}):
        try:
            target_backend, target = _destination(rule)
        except ReplicationFailed:
            log.warning("replication of a delete marker for s3://%s/%s failed", bucket.name, marker.name, exc_info=True)
            continue
        if marker.name not in target.keys:  # moto cannot hold a delete marker without a version under it
            continue
        replica = FakeDeleteMarker(key=target.keys[marker.name])
        replica._version_id = marker.version_id
        replica.last_modified = marker.last_modified
        setattr(replica, STATUS_ATTRIBUTE, REPLICA)
        target.keys[marker.name] = replica
        log.debug("replicated delete marker to %s via %s", target_backend.account_id, rule.id)


def check_configuration(backend: Any, configuration: dict[str, Any]) -> None:
    """AWS's checks at PutBucketReplication that moto does not make."""
    from moto.s3.exceptions import S3ClientError

    def invalid(message: str) -> Exception:
        error: Exception = S3ClientError("InvalidRequest", message)
        return error

    raw_rules = _listed(configuration.get("Rule"))
    for raw in raw_rules:
        if "Filter" in raw and raw.get("DeleteMarkerReplication") is None:
            raise invalid(
                "DeleteMarkerReplication must be specified for this version of Cross Region Replication "
                "configuration schema."
            )
        rule = ReplicationRule.parse(raw)
        if rule.delete_markers and rule.v2 and rule.tags:
            raise invalid("Delete marker replication is not supported if any Tag filter is specified.")
        try:
            destination = backend.get_bucket(rule.destination_bucket)
        except Exception:
            raise invalid("Destination bucket must exist.") from None
        if not destination.is_versioned:
            raise invalid("Destination bucket must have versioning enabled.")
    priorities = [ReplicationRule.parse(raw).priority for raw in raw_rules if "Filter" in raw]
    if len(priorities) != len(set(priorities)):
        raise invalid("Found overlapping priority in replication configuration")


def _configuration_for_response(configuration: dict[str, Any]) -> dict[str, Any]:
    """GetBucketReplication's answer: the rules as configured (moto's answer drops each
    rule's Filter and DeleteMarkerReplication)."""
    rules = []
    for raw in _listed(configuration.get("Rule")):
        rule: dict[str, Any] = {"ID": raw.get("ID"), "Status": raw.get("Status"), "Destination": raw["Destination"]}
        filter_ = raw.get("Filter")
        if "Filter" in raw:
            rule["Priority"] = int(raw.get("Priority") or 0)
            rule["Filter"] = _filter_for_response(filter_ or {})
            rule["DeleteMarkerReplication"] = raw.get("DeleteMarkerReplication") or {"Status": "Disabled"}
        else:
            rule["Prefix"] = raw.get("Prefix") or ""
        for optional in ("SourceSelectionCriteria", "ExistingObjectReplication"):
            if raw.get(optional) is not None:
                rule[optional] = raw[optional]
        rules.append(rule)
    return {"Role": configuration.get("Role"), "Rules": rules}


def _filter_for_response(filter_: dict[str, Any]) -> dict[str, Any]:
    if "And" in filter_:
        both = filter_["And"] or {}
        out: dict[str, Any] = {"Tags": _listed(both.get("Tag"))}
        if "Prefix" in both:
            out["Prefix"] = both["Prefix"] or ""
        return {"And": out}
    if "Tag" in filter_:
        return {"Tag": filter_["Tag"]}
    return {"Prefix": filter_.get("Prefix") or ""}


def install() -> None:
    """Patch moto's S3 (idempotent)."""
    from moto.core.responses import ActionResult
    from moto.s3.exceptions import ReplicationConfigurationNotFoundError
    from moto.s3.models import FakeKey, S3Backend
    from moto.s3.responses import S3Response

    from qldb_dr.local.aws.patching import first_time, original, replace

    s3_async.install()
    if not first_time("replication"):
        return

    put_object = original(S3Backend, "put_object")

    @functools.wraps(put_object)
    def put_object_replicated(
        self: Any, bucket_name: str, key_name: str, value: bytes, *args: Any, **kwargs: Any
    ) -> Any:
        key = put_object(self, bucket_name, key_name, value, *args, **kwargs)
        bucket = self.get_bucket(bucket_name)
        if getattr(bucket, "replication", None) and not getattr(_writing, "active", False):
            # Deferred: the request handler sets the metadata, tags and ACL after this call.
            s3_async.defer(lambda: replicate(self, bucket, key), stage=s3_async.REPLICATION)
        return key

    replace(S3Backend, "put_object", put_object_replicated)

    set_delete_marker = original(S3Backend, "_set_delete_marker")

    @functools.wraps(set_delete_marker)
    def set_delete_marker_replicated(self: Any, bucket_name: str, key_name: str) -> Any:
        marker = set_delete_marker(self, bucket_name, key_name)
        bucket = self.get_bucket(bucket_name)
        if getattr(bucket, "replication", None):
            s3_async.defer(lambda: replicate_delete_marker(self, bucket, marker), stage=s3_async.REPLICATION)
        return marker

    replace(S3Backend, "_set_delete_marker", set_delete_marker_replicated)

    put_bucket_replication = original(S3Backend, "put_bucket_replication")

    @functools.wraps(put_bucket_replication)
    def put_bucket_replication_checked(self: Any, bucket_name: str, replication: dict[str, Any]) -> None:
        check_configuration(self, replication)
        put_bucket_replication(self, bucket_name, replication)

    replace(S3Backend, "put_bucket_replication", put_bucket_replication_checked)

    def get_bucket_replication(self: Any) -> Any:
        self.data["Action"] = "GetBucketReplication"
        configuration = self.backend.get_bucket_replication(self.bucket_name)
        if not configuration:
            raise ReplicationConfigurationNotFoundError(bucket_name=self.bucket_name)
        return self.serialized(ActionResult({"ReplicationConfiguration": _configuration_for_response(configuration)}))

    replace(S3Response, "get_bucket_replication", get_bucket_replication)

    response_dict = original(FakeKey, "response_dict").fget

    def response_dict_with_status(self: Any) -> dict[str, Any]:
        headers: dict[str, Any] = response_dict(self)
        status = replication_status(self)
        if status is not None:
            headers["x-amz-replication-status"] = status
        return headers

    replace(FakeKey, "response_dict", property(response_dict_with_status))
