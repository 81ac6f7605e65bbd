"""A store in an S3 bucket under a prefix, through boto3 (endpoint from AWS_ENDPOINT_URL*)."""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from qldb_dr.errors import ObjectExistsError, ObjectNotFoundError, QldbDrError, SourceNotFoundError, StoreAccessError

_NOT_FOUND = {"NoSuchKey", "404", "NotFound"}


def parse_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket[/prefix]` -> (bucket, prefix); a prefix ends with "/" (`a` and `a/` are one)."""
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    if not url.startswith("s3://") or not bucket:
        raise SourceNotFoundError(f"{url}: not an s3://bucket[/prefix] URL", hint="use s3://bucket/prefix")
    return bucket, (prefix.rstrip("/") + "/") if prefix.strip("/") else ""


class S3Store:
    def __init__(
        self, bucket: str, prefix: str = "", client: Any = None, put_args: dict[str, str] | None = None
    ) -> None:
        self._bucket = bucket
        self._prefix = prefix
        self._client = client if client is not None else boto3.client("s3")
        self._put_args: dict[str, Any] = dict(put_args or {})  # e.g. ServerSideEncryption, SSEKMSKeyId

    @classmethod
    def from_url(cls, url: str, client: Any = None) -> S3Store:
        bucket, prefix = parse_s3_url(url)
        return cls(bucket, prefix, client)

    @property
    def url(self) -> str:
        return f"s3://{self._bucket}/{self._prefix}"

    @property
    def prefix(self) -> str:
        return self._prefix

    @property
    def bucket(self) -> str:
        return self._bucket

    def describe(self, key: str) -> str:
        return f"s3://{self._bucket}/{key}"

    def _failed(self, what: str, exc: Exception) -> QldbDrError:
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = error.get("Code", "")
            if code == "NoSuchBucket":
                return SourceNotFoundError(f"s3://{self._bucket}: no such bucket")
            return StoreAccessError(f"{what}: {code} {error.get('Message', '')}".rstrip())
        return StoreAccessError(f"{what}: {exc}")

    def list(self, prefix: str = "") -> Iterator[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self._bucket, Prefix=self._prefix + prefix):
                for item in page.get("Contents", []):
                    yield item["Key"]
        except (ClientError, BotoCoreError) as exc:
            raise self._failed(f"s3://{self._bucket}/{self._prefix}{prefix}: cannot list", exc) from exc

    def read(self, key: str) -> bytes:
        return self.fetch(key)[0]

    def fetch(self, key: str, version: str | None = None) -> tuple[bytes, str | None]:
        extra: dict[str, Any] = {} if version is None else {"VersionId": version}
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=key, **extra)
            body: bytes = response["Body"].read()
            read = response.get("VersionId")
            return body, None if read in (None, "null") else str(read)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in (*_NOT_FOUND, "NoSuchVersion", "InvalidArgument"):
                raise ObjectNotFoundError(self.describe(key) + (f" version {version}" if version else "")) from exc
            raise self._failed(f"{self.describe(key)}: cannot read", exc) from exc
        except BotoCoreError as exc:
            raise self._failed(f"{self.describe(key)}: cannot read", exc) from exc

    def versions(self, prefix: str = "") -> dict[str, builtins.list[str]]:
        found: dict[str, builtins.list[tuple[Any, str]]] = {}
        paginator = self._client.get_paginator("list_object_versions")
        try:
            for page in paginator.paginate(Bucket=self._bucket, Prefix=self._prefix + prefix):
                for item in page.get("Versions", []):
                    if item.get("VersionId") not in (None, "null"):
                        found.setdefault(item["Key"], []).append((item["LastModified"], item["VersionId"]))
                    else:
                        found.setdefault(item["Key"], [])
        except (ClientError, BotoCoreError) as exc:
            raise self._failed(f"s3://{self._bucket}/{self._prefix}{prefix}: cannot list versions", exc) from exc
        # Oldest first. Versions of one key written in the same millisecond keep S3's listing
        # order (newest first), reversed.
        return {key: [v for _, v in sorted(reversed(items), key=lambda item: item[0])] for key, items in found.items()}

    def write(self, key: str, data: bytes) -> None:
        try:
            self._client.put_object(Bucket=self._bucket, Key=key, Body=data, **self._put_args)
        except (ClientError, BotoCoreError) as exc:
            raise self._failed(f"{self.describe(key)}: cannot write", exc) from exc

    def create(self, key: str, data: bytes) -> None:
        try:
            self._client.put_object(Bucket=self._bucket, Key=key, Body=data, IfNoneMatch="*", **self._put_args)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412"):
                raise ObjectExistsError(self.describe(key)) from exc
            raise self._failed(f"{self.describe(key)}: cannot write", exc) from exc
        except BotoCoreError as exc:
            raise self._failed(f"{self.describe(key)}: cannot write", exc) from exc

    def tag(self, key: str, tags: dict[str, str]) -> None:
        """Replace the object's tags (S3 object tagging; allowed under Object Lock)."""
        try:
            self._client.put_object_tagging(
                Bucket=self._bucket, Key=key, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._failed(f"{self.describe(key)}: cannot tag", exc) from exc

    def scoped(self, prefix: str) -> S3Store:
        return S3Store(self._bucket, prefix, self._client, self._put_args)

    def size(self, key: str) -> int:
        try:
            size: int = self._client.head_object(Bucket=self._bucket, Key=key)["ContentLength"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _NOT_FOUND:
                raise ObjectNotFoundError(self.describe(key)) from exc
            raise self._failed(f"{self.describe(key)}: cannot read", exc) from exc
        except BotoCoreError as exc:
            raise self._failed(f"{self.describe(key)}: cannot read", exc) from exc
        return size

    def exists(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _NOT_FOUND:
                return False
            raise self._failed(f"{self.describe(key)}: cannot read", exc) from exc
        except BotoCoreError as exc:
            raise self._failed(f"{self.describe(key)}: cannot read", exc) from exc
        return True
