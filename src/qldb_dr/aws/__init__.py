"""Adapters over boto3: each translates SDK errors into qldb-dr's errors."""

from __future__ import annotations

from typing import Any

import boto3

# boto3's type stubs no longer know QLDB (its models were dropped with end of support).
_client: Any = boto3.client


def client(service: str, region: str | None = None, **options: Any) -> Any:
    """A boto3 client; endpoint and credentials come from the standard AWS_* settings."""
    return _client(service, region_name=region, **options)
