"""`qldb-dr verify s3://vault/<ledger>/`: the whole vault across recovery points, catalog included."""

from __future__ import annotations

import io
import json

from pyqldb.driver.qldb_driver import QldbDriver

from qldb_dr.backup import Plan, Settings, start_export
from qldb_dr.catalog import Catalog
from qldb_dr.cli.main import Environment, main
from tests.backup.conftest import write
from tests.backup.test_backup_steps import _backup
from tests.local.conftest import Running


def verify(*argv: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    env = Environment(stdout=io.StringIO(), stderr=io.StringIO())
    code = main(["verify", *argv, "--json"], env)
    return code, json.loads(env.stdout.getvalue())  # type: ignore[attr-defined]


def _three(running: Running, driver: QldbDriver, settings: Settings) -> None:
    _backup(running, settings)
    write(driver, 10, start=2000)
    _backup(running, settings)
    _backup(running, settings)  # quiet: an empty recovery point


def test_verify_vault_every_check_ok_catalog_included(busy: tuple[Running, QldbDriver], settings: Settings) -> None:
    running, driver = busy
    _three(running, driver, settings)
    code, report = verify("s3://vault-primary/orders/")
    assert code == 0, report
    checks = {c["name"]: c for c in report["checks"]}
    assert all(c["status"] == "OK" for c in checks.values()), checks
    assert checks["catalog"]["checked"] == 3 and checks["continuity"]["checked"] >= 1


def test_verify_vault_orphan_export_is_reported_not_trusted(
    busy: tuple[Running, QldbDriver], settings: Settings
) -> None:
    running, driver = busy
    _three(running, driver, settings)
    first = Catalog(settings.open_vault()).recovery_points("orders")[0]
    start_export(settings, Plan(first.window_start, first.window_end, None, None, None))
    assert running.endpoint is not None
    running.endpoint.exports.wait(timeout=60)
    code, report = verify("s3://vault-primary/orders/")
    catalog = next(c for c in report["checks"] if c["name"] == "catalog")
    assert code == 0 and catalog["status"] == "WARNING"  # the overlapping export is not a recovery point
    assert "not a recovery point" in catalog["findings"][0]["message"]


def test_verify_vault_catalog_disagreeing_with_export_fails(
    busy: tuple[Running, QldbDriver], settings: Settings
) -> None:
    running, driver = busy
    _three(running, driver, settings)
    s3 = running.client("s3")
    key = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="vault-primary", Prefix="orders/catalog/")["Contents"])[1]
    entry = json.loads(s3.get_object(Bucket="vault-primary", Key=key)["Body"].read())
    entry["counts"]["blocks"] += 1
    s3.put_object(Bucket="vault-primary", Key=key, Body=json.dumps(entry).encode())
    code, report = verify("s3://vault-primary/orders/")
    catalog = next(c for c in report["checks"] if c["name"] == "catalog")
    assert code == 1 and catalog["status"] == "FAILURE"
    assert "disagree" in catalog["findings"][0]["message"]


def test_verify_vault_missing_recovery_point_breaks_chain(busy: tuple[Running, QldbDriver], settings: Settings) -> None:
    running, driver = busy
    _three(running, driver, settings)
    s3 = running.client("s3")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="vault-primary", Prefix="orders/catalog/")["Contents"])
    s3.delete_object(Bucket="vault-primary", Key=keys[1])
    code, report = verify("s3://vault-primary/orders/")
    catalog = next(c for c in report["checks"] if c["name"] == "catalog")
    assert code == 1 and any("do not chain" in f["message"] for f in catalog["findings"])
