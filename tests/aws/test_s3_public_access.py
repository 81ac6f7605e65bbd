"""S3 Block Public Access on the local endpoint, as AWS enforces it: with it on, a public ACL
or a public bucket policy is AccessDenied; narrower ones, and the vault's own deny-only
policy, go through."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.local.conftest import Running

BLOCK_ALL = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


def _policy(effect: str, principal: Any, **extra: Any) -> str:
    statement = {"Effect": effect, "Principal": principal, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::vault/*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [{**statement, **extra}]})


@pytest.fixture
def s3(aws: Running) -> Any:
    client = aws.client("s3")
    client.create_bucket(Bucket="vault")
    client.put_public_access_block(Bucket="vault", PublicAccessBlockConfiguration=BLOCK_ALL)
    return client


def _denied(call: Any) -> None:
    with pytest.raises(ClientError) as exc:
        call()
    assert exc.value.response["Error"]["Code"] == "AccessDenied", exc.value.response
    assert "Block Public Access" in exc.value.response["Error"]["Message"]


def test_public_access_block_refuses_public_acls(s3: Any) -> None:
    _denied(lambda: s3.put_bucket_acl(Bucket="vault", ACL="public-read"))
    _denied(lambda: s3.put_object(Bucket="vault", Key="k", Body=b"x", ACL="public-read"))
    s3.put_object(Bucket="vault", Key="k", Body=b"x")
    _denied(lambda: s3.put_object_acl(Bucket="vault", Key="k", ACL="authenticated-read"))
    s3.put_object_acl(Bucket="vault", Key="k", ACL="private")
    grants = s3.get_object_acl(Bucket="vault", Key="k")["Grants"]
    assert all("URI" not in g["Grantee"] for g in grants), grants


def test_public_access_block_refuses_public_policies_not_narrow_ones(s3: Any) -> None:
    _denied(lambda: s3.put_bucket_policy(Bucket="vault", Policy=_policy("Allow", "*")))
    _denied(lambda: s3.put_bucket_policy(Bucket="vault", Policy=_policy("Allow", {"AWS": "*"})))
    s3.put_bucket_policy(
        Bucket="vault", Policy=_policy("Deny", "*", Condition={"Bool": {"aws:SecureTransport": "false"}})
    )
    s3.put_bucket_policy(Bucket="vault", Policy=_policy("Allow", {"AWS": "arn:aws:iam::123456789012:root"}))
    assert "123456789012" in s3.get_bucket_policy(Bucket="vault")["Policy"]


def test_without_public_access_block_public_acls_go_through(aws: Running) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="open")
    s3.put_object(Bucket="open", Key="k", Body=b"x", ACL="public-read")
    grants = s3.get_object_acl(Bucket="open", Key="k")["Grants"]
    assert any("AllUsers" in g["Grantee"].get("URI", "") for g in grants), grants
