"""Block Public Access for the local endpoint's S3: what moto stores but does not enforce.

With a bucket's PublicAccessBlock on, AWS refuses what would make it public: with
BlockPublicAcls, a public ACL (a canned `public-read`, `public-read-write` or
`authenticated-read`, or a grant to the AllUsers or AuthenticatedUsers group) on the bucket
or on an object put into it; with BlockPublicPolicy, a bucket policy with a public statement
(Allow to every principal, with no condition to narrow it). Each is AccessDenied. moto lets
both through, so the local vault could be made public while it says it cannot.
"""

from __future__ import annotations

import functools
import json
from typing import Any

_PUBLIC_GROUPS = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)


def _public_acl(acl: Any) -> bool:
    return any(
        getattr(grantee, "uri", None) in _PUBLIC_GROUPS
        for grant in getattr(acl, "grants", [])
        for grantee in grant.grantees
    )


def public_policy(policy: Any) -> bool:
    """AWS's rule, as far as qldb-dr needs it: a statement allowing any principal, unconditioned."""
    document = json.loads(policy) if isinstance(policy, str | bytes) else policy
    statements = document.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        principal = statement.get("Principal")
        everyone = principal == "*" or (isinstance(principal, dict) and "*" in _values(principal.get("AWS")))
        if statement.get("Effect") == "Allow" and everyone and not statement.get("Condition"):
            return True
    return False


def _values(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _blocks(backend: Any, bucket_name: str, setting: str) -> bool:
    try:
        bucket = backend.get_bucket(bucket_name)
    except Exception:  # no such bucket yet (CreateBucket): nothing to block
        return False
    block = getattr(bucket, "public_access_block", None)
    return bool(block is not None and getattr(block, setting, False))


def _denied(what: str) -> Exception:
    from moto.s3.exceptions import S3ClientError

    return S3ClientError(
        "AccessDenied", f"Access Denied: {what} is blocked by the bucket's Block Public Access settings"
    )


def install() -> None:
    """Patch moto's S3 (idempotent)."""
    from moto.s3.models import S3Backend
    from moto.s3.responses import S3Response

    from qldb_dr.local.aws.patching import first_time, original, replace

    if not first_time("public_access"):
        return

    for reader in ("_acl_from_headers", "_acl_from_body"):
        read_acl = original(S3Response, reader)

        @functools.wraps(read_acl)
        def acl_checked(self: Any, *args: Any, _read: Any = read_acl, **kwargs: Any) -> Any:
            acl = _read(self, *args, **kwargs)
            if acl is not None and _public_acl(acl) and _blocks(self.backend, self.bucket_name, "block_public_acls"):
                raise _denied("a public ACL")
            return acl

        replace(S3Response, reader, acl_checked)

    put_bucket_policy = original(S3Backend, "put_bucket_policy")

    @functools.wraps(put_bucket_policy)
    def policy_checked(self: Any, bucket_name: str, policy: bytes) -> None:
        if _blocks(self, bucket_name, "block_public_policy") and public_policy(policy):
            raise _denied("a public bucket policy")
        put_bucket_policy(self, bucket_name, policy)

    replace(S3Backend, "put_bucket_policy", policy_checked)
