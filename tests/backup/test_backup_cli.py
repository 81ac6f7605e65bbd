"""`qldb-dr backup list`, as an operator reads the catalog."""

from __future__ import annotations

import io
import json

from pyqldb.driver.qldb_driver import QldbDriver

from qldb_dr.backup import Settings
from qldb_dr.cli.main import Environment, main
from tests.backup.conftest import write
from tests.backup.test_backup_steps import _backup
from tests.local.conftest import Running


def run(*argv: str) -> tuple[int, str, str]:
    env = Environment(stdout=io.StringIO(), stderr=io.StringIO())
    code = main(list(argv), env)
    return code, env.stdout.getvalue(), env.stderr.getvalue()  # type: ignore[attr-defined]


def test_backup_list_shows_recovery_points_in_window_order(
    busy: tuple[Running, QldbDriver], settings: Settings
) -> None:
    running, driver = busy
    first = _backup(running, settings)
    write(driver, 4, start=3000)
    second = _backup(running, settings)
    code, out, err = run("backup", "list", "--ledger", "orders", "--vault", "s3://vault-primary")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == [
        "RECOVERY",
        "POINT",
        "WINDOW",
        "(UTC)",
        "BLOCKS",
        "REVISIONS",
        "SIZE",
        "VERIFIED",
        "AGE",
    ]
    assert first.recovery_point_id in lines[1] and second.recovery_point_id in lines[2]
    assert f"0-{first.last_block.sequence_no:,}" in lines[1] and " OK " in lines[1]  # type: ignore[union-attr]
    code, out, _ = run("backup", "list", "--ledger", "orders", "--vault", "s3://vault-primary", "--json")
    listed = json.loads(out)
    assert [p["recoveryPointId"] for p in listed] == [first.recovery_point_id, second.recovery_point_id]
    assert listed[1]["counts"]["blocks"] == second.blocks and listed[1]["ageSeconds"] >= 0


def test_backup_list_no_recovery_points_says_so(busy: tuple[Running, QldbDriver]) -> None:
    code, out, _ = run("backup", "list", "--ledger", "orders", "--vault", "s3://vault-primary")
    assert code == 0 and "no recovery points of orders" in out


def test_backup_without_deployed_workflow_clear_error(busy: tuple[Running, QldbDriver]) -> None:
    code, _, err = run("backup", "run", "--ledger", "orders")
    assert code == 2 and "no qldb-dr-backup state machine in us-east-1" in err and "Traceback" not in err


def test_backup_list_of_a_vault_under_a_prefix_lists_its_recovery_points(busy: tuple[Running, QldbDriver]) -> None:
    """A vault under a key prefix (`s3://bucket/prefix/`): backed up there, listed from there
    (the prefix was applied twice: `prefix/prefix/<ledger>/catalog/`, and nothing was listed)."""
    running, _ = busy
    settings = Settings.resolve(
        {
            "ledgerName": "orders",
            "vaultBucket": "vault-primary",
            "vaultPrefix": "team-a/",
            "exportRoleArn": "arn:aws:iam::123456789012:role/qldb-dr-export",
            "settleSeconds": 0,
        },
        {},
        "us-east-1",
    )
    point = _backup(running, settings)
    for url in ("s3://vault-primary/team-a/", "s3://vault-primary/team-a"):
        code, out, err = run("backup", "list", "--ledger", "orders", "--vault", url, "--json")
        assert code == 0, err
        assert [p["recoveryPointId"] for p in json.loads(out)] == [point.recovery_point_id], url
