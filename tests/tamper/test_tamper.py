"""The tamper suite: every forgery in the catalogue (`mutations.py`), over random seeds, applied
to a real vault — a ledger written through pyqldb with every kind of change and backed up
recovery point by recovery point on the local endpoint — then `qldb-dr verify` of the
ledger's folder (with its catalog) and of its journal alone. Each is detected (exit 1) and
named, or gets exactly the verdict its documented limit says."""

from __future__ import annotations

import io
import os
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from qldb_dr.cli.main import Environment, main
from tests.differential.harness import Source
from tests.differential.workload import Runner, every_change
from tests.local.conftest import Running, serve_with_aws
from tests.tamper.mutations import FAILURE, MUTATIONS, NONE, WARNING

LEDGER = "fleet"
SEEDS = range(int(os.environ.get("QLDB_DR_FUZZ_EXAMPLES", "0")) or 2)


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    running = serve_with_aws(tmp_path_factory.mktemp("tamper") / "data")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def vault(endpoint: Running, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ledger's folder of a versioned vault, synced to a directory (`aws s3 sync`)."""
    saved = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = endpoint.url
    try:
        endpoint.create_ledger(LEDGER)
        s3 = endpoint.client("s3")
        s3.create_bucket(Bucket="tamper-vault")
        s3.put_bucket_versioning(Bucket="tamper-vault", VersioningConfiguration={"Status": "Enabled"})
        driver = endpoint.driver(LEDGER, retries=8)
        source = Source(endpoint, LEDGER, "tamper-vault", driver, Runner(driver))
        workload = every_change()
        source.runner.setup(workload)
        for window in workload.windows:
            source.runner.window(window)
            source.backup()
        root = tmp_path_factory.mktemp("vault")
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket="tamper-vault"):
            for item in page["Contents"]:
                path = root / item["Key"]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(s3.get_object(Bucket="tamper-vault", Key=item["Key"])["Body"].read())
        return root / LEDGER
    finally:
        if saved is None:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        else:
            os.environ["AWS_ENDPOINT_URL"] = saved


def verdict(path: Path | str) -> tuple[str, str]:
    env = Environment(stdout=io.StringIO(), stderr=io.StringIO())
    code = main(["verify", str(path)], env)
    out = env.stdout.getvalue() + env.stderr.getvalue()  # type: ignore[attr-defined]
    if code == 1:
        return FAILURE, out
    assert code == 0, out
    return (WARNING if "VERIFIED WITH WARNINGS" in out else NONE), out


def test_intact_vault_verifies_ok_with_and_without_its_catalog(vault: Path) -> None:
    for path in (vault, vault / "journal"):
        status, out = verdict(path)
        assert status == NONE and "VERIFIED: all" in out, out
    assert "catalog" in verdict(vault)[1] and "pins" in verdict(vault)[1]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", sorted(MUTATIONS))
def test_forgery_detected_and_named(vault: Path, tmp_path: Path, kind: str, seed: int) -> None:
    copy = tmp_path / LEDGER
    shutil.copytree(vault, copy)
    forgery = MUTATIONS[kind](copy, random.Random(seed))
    status, out = verdict(copy)
    assert status == forgery.vault, f"{forgery.what}: verify of the vault said {status}, not {forgery.vault}\n{out}"
    assert forgery.names(out), f"{forgery.what}: the report names none of {forgery.named}\n{out}"
    if forgery.journal is not None:
        status, out = verdict(copy / "journal")
        assert status == forgery.journal, (
            f"{forgery.what}: verify of the journal alone said {status}, not {forgery.journal}\n{out}"
        )
        if status != NONE:
            assert forgery.names(out), f"{forgery.what}: the journal's report names none of {forgery.named}\n{out}"


def test_catalogue_has_at_least_25_kinds() -> None:
    assert len(MUTATIONS) >= 25


def test_newer_version_over_locked_objects_is_a_failure_and_never_read(
    endpoint: Running, vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 lets anyone with PutObject write a newer version over a locked key; every plain read
    reads the newest. Verify names each such key; a restore plans from the pinned originals."""
    from datetime import UTC, datetime

    from qldb_dr.catalog import Vault
    from qldb_dr.restore import plan as planning
    from qldb_dr.restore import runs
    from qldb_dr.restore.settings import Settings

    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint.url)
    s3 = endpoint.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="tamper-vault")["Contents"]]
    data_key = next(k for k in keys if k.endswith(".ion"))
    catalog_key = next(k for k in keys if "/catalog/" in k)
    s3.put_object(Bucket="tamper-vault", Key=data_key, Body=b"\xe0\x01\x00\xea")
    s3.put_object(Bucket="tamper-vault", Key=catalog_key, Body=b'{"forged": true}')
    try:
        status, out = verdict(f"s3://tamper-vault/{LEDGER}/")
        assert status == FAILURE and "a newer version was written over a locked object" in out, out
        assert data_key.rsplit("/", 1)[-1] in out and catalog_key.rsplit("/", 1)[-1] in out, out
        settings = Settings.resolve(
            {"sourceLedger": LEDGER, "targetLedger": "t", "vault": "s3://tamper-vault/"}, {}, "us-east-1"
        )
        vault = Vault.open(settings.vault, client=s3)
        planned = planning.plan("r", settings, vault, -1, datetime.now(UTC))
        assert any(data_key in note for note in planned.notes), planned.notes
        assert runs.dry_run(settings, vault)["revisions"] > 0  # every object read at its pinned original
    finally:
        for key in (data_key, catalog_key):  # the newest version goes; the locked original stays
            newest = s3.list_object_versions(Bucket="tamper-vault", Prefix=key)["Versions"][0]
            s3.delete_object(Bucket="tamper-vault", Key=key, VersionId=newest["VersionId"])
