"""Shared fixtures: the golden QLDB data (read in place), synthetic journals, stores."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qldb_dr.journal.models import Block
from qldb_dr.journal.synthetic import Workload, generate_journal

REPO = Path(__file__).resolve().parents[1]
GOLDEN = (REPO / ".." / "shared" / "qldb" / "golden").resolve()


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never reach AWS: dummy credentials, a fixed region, no profile."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(scope="session")
def golden() -> Path:
    """../shared/qldb/golden, read in place and never copied into the repository."""
    if not GOLDEN.is_dir():
        pytest.skip(f"golden QLDB data not present at {GOLDEN} (it comes from ../shared/qldb/golden)")
    return GOLDEN


@pytest.fixture(scope="session")
def journal() -> list[Block]:
    """A small synthetic journal: 120 blocks, inserts, updates, deletes, a redaction."""
    return generate_journal(Workload())


@pytest.fixture
def s3_client() -> Iterator[Any]:
    """A boto3 S3 client against moto's in-memory S3, with a bucket named `vault`."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="vault")
        yield client


def pytest_report_header() -> str:
    return f"golden QLDB data: {GOLDEN if GOLDEN.is_dir() else 'absent (golden tests skip)'}; cpus {os.cpu_count()}"
