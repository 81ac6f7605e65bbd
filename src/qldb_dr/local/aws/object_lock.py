"""S3 Object Lock as AWS enforces it, on top of moto's S3.

What moto 5.2.5 already does, and is kept: a locked version (retention in force, or a
legal hold) cannot be deleted by version id, COMPLIANCE even with the governance bypass,
GOVERNANCE unless the bypass header is sent; a delete without a version id only adds a
delete marker; a bucket's default retention applies to PutObject and CopyObject; a
version is never overwritten (Object Lock buckets are versioned, so a PUT adds a version).

What moto lacks, and `install()` adds (each patch below says which gap it closes):

* GetObjectRetention is not implemented (a 500).
* PutObjectRetention accepts anything: a COMPLIANCE retention can be shortened, removed
  or turned into GOVERNANCE; a GOVERNANCE one weakened without the bypass header.
* PutBucketVersioning can suspend versioning on an Object Lock bucket, after which a PUT
  replaces the null version.
* Multipart uploads get neither the lock headers of CreateMultipartUpload nor the
  bucket's default retention: every multipart object is unprotected.
* The bucket's default retention is applied by the PutObject and CopyObject handlers only,
  and only when no lock header is sent: not with a legal hold header, not to POST
  uploads or replicas.
* `x-amz-bypass-governance-retention: false` counts as a bypass (any header value does).
* A retain-until date that is not `…Z` makes every later delete of the version fail with
  a 500; lock headers are not validated (mode without date, date in the past).
* PutObjectLockConfiguration refuses to change the default retention of a bucket that
  already holds objects (AWS allows it, and allows enabling Object Lock on an existing
  versioned bucket).
* CopyObject into a bucket with a default retention fails unless it carries Content-MD5,
  which a copy (no body) does not send.
* A refused delete says "Access Denied"; AWS says why.
"""

from __future__ import annotations

import datetime
import functools
import threading
from typing import Any

COMPLIANCE = "COMPLIANCE"
GOVERNANCE = "GOVERNANCE"
MODES = (GOVERNANCE, COMPLIANCE)
LOCKED_MESSAGE = "Access Denied because object protected by object lock."

LOCK_ATTRIBUTE = "qldb_dr_lock"  # the lock settings a multipart upload was created with
_pending = threading.local()  # the lock settings of the CreateMultipartUpload being served

Lock = tuple[str | None, str | None, str | None]  # (legal hold, mode, retain until)


def parse_time(value: str) -> datetime.datetime:
    """An ISO 8601 date as S3 accepts it (`Z`, offsets, fractions), in UTC."""
    parsed = datetime.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed.astimezone(datetime.UTC)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _true(header: Any) -> bool:
    return header is True or (isinstance(header, str) and header.strip().lower() == "true")


def retention_in_force(key: Any) -> bool:
    """Whether the version's retention period has not ended yet."""
    if key.lock_mode not in MODES or not key.lock_until:
        return False
    try:
        return parse_time(key.lock_until) > _now()
    except ValueError:
        return True  # an unreadable date never unlocks a version


def is_locked(key: Any, governance_bypass: bool) -> bool:
    """Whether deleting this version is refused. Replaces FakeKey.is_locked, which parses
    only `%Y-%m-%dT%H:%M:%S[.%f]Z` and raises (a 500) on any other date."""
    if key.lock_legal_status == "ON":
        return True
    if not retention_in_force(key):
        return False
    return not (key.lock_mode == GOVERNANCE and governance_bypass)


def _errors() -> Any:
    from moto.s3 import exceptions

    return exceptions


@functools.cache
def _locked_error_class() -> type[Exception]:
    from moto.s3.exceptions import AccessDeniedByLock, S3ClientError

    class ObjectLocked(AccessDeniedByLock):
        """AccessDenied with AWS's message; a subclass, so DeleteObjects still reports it per key."""

        def __init__(self) -> None:
            S3ClientError.__init__(self, "AccessDenied", LOCKED_MESSAGE)

    return ObjectLocked


def _locked_error() -> Exception:
    return _locked_error_class()()


def _invalid(message: str, name: str, value: str) -> Exception:
    error: Exception = _errors().InvalidArgumentError(message, name, value)
    return error


def check_lock_headers(legal_hold: str | None, mode: str | None, until: str | None) -> None:
    """AWS's checks on the lock settings of a new object (moto makes none)."""
    if bool(mode) != bool(until):
        name = "x-amz-object-lock-mode" if until else "x-amz-object-lock-retain-until-date"
        raise _invalid("x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied", name, "")
    if mode and mode not in MODES:
        raise _invalid("Unknown wormMode directive.", "x-amz-object-lock-mode", mode)
    if until:
        try:
            in_future = parse_time(until) > _now()
        except ValueError:
            raise _invalid(
                "The retain until date must be provided in ISO 8601 format",
                "x-amz-object-lock-retain-until-date",
                until,
            ) from None
        if not in_future:
            raise _invalid("The retain until date must be in the future!", "x-amz-object-lock-retain-until-date", until)
    if legal_hold is not None and legal_hold not in ("ON", "OFF"):
        raise _invalid("Legal hold must be either of 'ON' or 'OFF'", "x-amz-object-lock-legal-hold", legal_hold)


def check_retention_change(key: Any, mode: str | None, until: str | None, bypass: bool) -> None:
    """PutObjectRetention may extend a retention in force; shortening it, removing it or
    changing its mode needs GOVERNANCE mode and the bypass header, and is never allowed
    in COMPLIANCE mode."""
    if until is not None and parse_time(until) <= _now():
        raise _invalid("The retain until date must be in the future!", "RetainUntilDate", until)
    if not retention_in_force(key):
        return
    weakened = mode != key.lock_mode or until is None or parse_time(until) < parse_time(key.lock_until)
    if weakened and (key.lock_mode == COMPLIANCE or not bypass):
        raise _locked_error()


def _retention_from_body(body: bytes) -> tuple[str | None, str | None]:
    """(Mode, RetainUntilDate) of a PutObjectRetention document; (None, None) removes it."""
    from xml.etree import ElementTree

    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise _errors().MalformedXML() from None
    if root.tag.rpartition("}")[2] != "Retention":
        raise _errors().MalformedXML()
    fields = {child.tag.rpartition("}")[2]: (child.text or "").strip() for child in root}
    mode, until = fields.get("Mode") or None, fields.get("RetainUntilDate") or None
    if bool(mode) != bool(until) or (mode is not None and mode not in MODES):
        raise _errors().MalformedXML()
    try:
        if until is not None:
            parse_time(until)
    except ValueError:
        raise _errors().MalformedXML() from None
    return mode, until


def _put_object_retention(self: Any) -> Any:
    """Replaces S3Response.put_object_retention, which applies any retention unchecked
    (and fails with a 500 on an empty <Retention/>, the way to remove one)."""
    errors = _errors()
    version_id = self._get_param("versionId")
    bucket = self.backend.get_bucket(self.bucket_name)
    key_name = self.parse_key_name()
    if not bucket.object_lock_enabled:
        raise errors.LockNotEnabled()
    mode, until = _retention_from_body(self.body)
    key = self.backend.get_object(self.bucket_name, key_name, version_id=version_id)
    if key is None:
        if version_id:
            raise errors.MissingVersion(key=key_name, version_id=version_id)
        raise errors.MissingKey(key=key_name)
    check_retention_change(key, mode, until, _true(self.headers.get("x-amz-bypass-governance-retention")))
    self.backend.put_object_retention(self.bucket_name, key_name, version_id=version_id, retention=(mode, until))
    response_headers = self._get_cors_headers_other()
    self._get_checksum(response_headers)
    return 200, response_headers, ""


def _get_object_retention(self: Any) -> Any:
    """GetObjectRetention, which moto 5.2.5 does not implement (it answers a 500)."""
    from moto.core.responses import ActionResult

    errors = _errors()
    if not self.backend.get_bucket(self.bucket_name).object_lock_enabled:
        raise errors.LockNotEnabled()
    key, _ = self._get_key()
    if not (key.lock_mode and key.lock_until):
        raise errors.S3ClientError(
            "NoSuchObjectLockConfiguration", "The specified object does not have a ObjectLock configuration"
        )
    self.data["Action"] = "GetObjectRetention"
    retention = {"Mode": key.lock_mode, "RetainUntilDate": parse_time(key.lock_until)}
    return self.serialized(ActionResult({"Retention": retention}))


def install() -> None:
    """Patch moto's S3 (idempotent)."""
    from moto.s3.models import FakeKey, S3Backend
    from moto.s3.responses import S3Response

    from qldb_dr.local.aws.patching import first_time, original, replace

    if not first_time("object_lock"):
        return

    errors = _errors()
    replace(FakeKey, "is_locked", is_locked)

    # The bypass header arrives as a string; moto treats any value, "false" included, as a bypass.
    delete_object = original(S3Backend, "delete_object")

    @functools.wraps(delete_object)
    def delete_object_checked(
        self: Any, bucket_name: str, key_name: str, version_id: str | None = None, bypass: Any = False
    ) -> Any:
        self.get_bucket(bucket_name)  # its errors (a missing bucket, another account's) pass unchanged
        try:
            return delete_object(self, bucket_name, key_name, version_id=version_id, bypass=_true(bypass))
        except errors.AccessDeniedByLock as exc:
            raise _locked_error() from exc

    replace(S3Backend, "delete_object", delete_object_checked)
    replace(S3Response, "put_object_retention", _put_object_retention)

    key_response_get = original(S3Response, "_key_response_get")

    @functools.wraps(key_response_get)
    def key_response_get_retention(self: Any, query: Any, key_name: str) -> Any:
        if "retention" not in query or query.get("uploadId"):
            return key_response_get(self, query, key_name)
        self._set_action("KEY", "GET", query)
        self._authenticate_and_authorize_s3_action(bucket_name=self.bucket_name, key_name=key_name)
        return _get_object_retention(self)

    replace(S3Response, "_key_response_get", key_response_get_retention)

    # AWS refuses to suspend versioning on an Object Lock bucket; moto suspends it.
    put_bucket_versioning = original(S3Backend, "put_bucket_versioning")

    @functools.wraps(put_bucket_versioning)
    def put_bucket_versioning_checked(self: Any, bucket_name: str, status: str) -> None:
        if self.get_bucket(bucket_name).object_lock_enabled and status != "Enabled":
            raise errors.InvalidBucketState(
                "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed."
            )
        put_bucket_versioning(self, bucket_name, status)

    replace(S3Backend, "put_bucket_versioning", put_bucket_versioning_checked)

    # moto applies a bucket's default retention in the PutObject and CopyObject handlers, and
    # only when no lock header at all is sent: not with a legal hold header, not to POST
    # uploads, multipart uploads or replicas. AWS applies it to every new version that
    # does not carry a retention of its own.
    put_object = original(S3Backend, "put_object")

    @functools.wraps(put_object)
    def put_object_defaulted(
        self: Any, bucket_name: str, key_name: str, value: bytes, *args: Any, **kwargs: Any
    ) -> Any:
        key = put_object(self, bucket_name, key_name, value, *args, **kwargs)
        bucket = self.get_bucket(bucket_name)
        if not key.lock_mode and not key.lock_until and bucket.object_lock_enabled and bucket.has_default_lock:
            key.lock_mode, key.lock_until = bucket.default_lock_mode, bucket.default_retention()
        return key

    replace(S3Backend, "put_object", put_object_defaulted)

    # moto checks no lock header (a mode without a date, a date in the past, …).
    get_lock_details = original(S3Response, "_get_lock_details")

    @functools.wraps(get_lock_details)
    def lock_details_checked(self: Any, bucket: Any, lock_enabled: bool) -> Lock:
        details: Lock = get_lock_details(self, bucket, lock_enabled)
        check_lock_headers(*details)
        return details

    replace(S3Response, "_get_lock_details", lock_details_checked)

    # moto demands Content-MD5 of a CopyObject into a bucket with a default retention (or
    # with lock headers); a copy has no body, AWS demands no checksum, and boto3 sends none.
    key_response_put = original(S3Response, "_key_response_put")

    @functools.wraps(key_response_put)
    def key_response_put_copy(self: Any, query: Any, key_name: str) -> Any:
        other = ("uploadId", "retention", "legal-hold", "acl", "tagging")
        if "x-amz-copy-source" not in self.headers or any(name in query for name in other):
            return key_response_put(self, query, key_name)
        self._set_action("KEY", "PUT", query)
        self._authenticate_and_authorize_s3_action(bucket_name=self.bucket_name, key_name=key_name)
        headers = self.headers
        asked = any(headers.get(h) for h in ("x-amz-object-lock-mode", "x-amz-object-lock-retain-until-date"))
        locking = asked or headers.get("x-amz-object-lock-legal-hold") == "ON"
        if locking and not self.backend.get_bucket(self.bucket_name).object_lock_enabled:
            raise errors.LockNotEnabled()
        return self.copy_object()

    replace(S3Response, "_key_response_put", key_response_put_copy)

    # moto drops the lock settings of a multipart upload (headers and bucket default alike).
    key_response_post = original(S3Response, "_key_response_post")

    @functools.wraps(key_response_post)
    def key_response_post_locked(
        self: Any, request: Any, body: bytes, bucket_name: str, query: Any, key_name: str
    ) -> Any:
        if body != b"" or "uploads" not in query:
            return key_response_post(self, request, body, bucket_name, query, key_name)
        bucket = self.backend.get_bucket(bucket_name)
        headers = request.headers
        asked = any(headers.get(h) for h in ("x-amz-object-lock-mode", "x-amz-object-lock-retain-until-date"))
        if (asked or headers.get("x-amz-object-lock-legal-hold") == "ON") and not bucket.object_lock_enabled:
            raise errors.LockNotEnabled()
        _pending.lock = self._get_lock_details(bucket, bucket.object_lock_enabled)
        try:
            return key_response_post(self, request, body, bucket_name, query, key_name)
        finally:
            _pending.lock = None

    replace(S3Response, "_key_response_post", key_response_post_locked)

    create_multipart_upload = original(S3Backend, "create_multipart_upload")

    @functools.wraps(create_multipart_upload)
    def create_multipart_upload_locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        multipart = create_multipart_upload(self, *args, **kwargs)
        setattr(multipart, LOCK_ATTRIBUTE, getattr(_pending, "lock", None))
        return multipart

    replace(S3Backend, "create_multipart_upload", create_multipart_upload_locked)

    complete_multipart_upload = original(S3Backend, "complete_multipart_upload")

    @functools.wraps(complete_multipart_upload)
    def complete_multipart_upload_locked(self: Any, bucket_name: str, multipart_id: str, body: Any) -> Any:
        multipart = self.get_bucket(bucket_name).multiparts.get(multipart_id)
        key = complete_multipart_upload(self, bucket_name, multipart_id, body)
        lock: Lock | None = getattr(multipart, LOCK_ATTRIBUTE, None)
        if key is not None and lock is not None:
            legal_hold, mode, until = lock
            if legal_hold is not None:
                key.lock_legal_status = legal_hold
            if mode and until:  # else the default retention put_object applied stays
                key.lock_mode, key.lock_until = mode, until
        return key

    replace(S3Backend, "complete_multipart_upload", complete_multipart_upload_locked)

    # moto refuses PutObjectLockConfiguration once a bucket holds objects (BucketNeedsToBeNew).
    def put_object_lock_configuration(
        self: Any,
        bucket_name: str,
        lock_enabled: bool,
        mode: str | None = None,
        days: int | None = None,
        years: int | None = None,
    ) -> None:
        bucket = self.get_bucket(bucket_name)
        if not bucket.is_versioned:
            raise errors.InvalidBucketState(
                "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration"
            )
        if lock_enabled:
            bucket.object_lock_enabled = True
        bucket.default_lock_mode = mode
        bucket.default_lock_days = days
        bucket.default_lock_years = years

    replace(S3Backend, "put_object_lock_configuration", put_object_lock_configuration)
