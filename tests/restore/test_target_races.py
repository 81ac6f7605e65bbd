"""Two restores preparing one target at once (a warm standby's recovery points arriving
together): whatever the interleaving, the target ends with the tables both wanted, and
neither undoes what the other made."""

from __future__ import annotations

from typing import Any

import pytest

from qldb_dr.restore import target
from qldb_dr.restore.model import RESTORE_TABLE, Mode, Target
from tests.local.conftest import Running, aws  # noqa: F401

EVERY_TABLE = "SELECT * FROM information_schema.user_tables"


def _tables(running: Running, ledger: str, name: str) -> list[Any]:
    rows = running.driver(ledger).execute_lambda(
        lambda t: list(t.execute_statement(f"{EVERY_TABLE} WHERE name = ?", name))
    )
    return sorted(rows, key=lambda r: str(r["status"]))


def test_a_preparer_with_a_stale_view_never_drops_the_table_the_other_created(
    aws: Running,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The source dropped its Registration table and created another under the same name.
    Restore A drops the target's old one and creates the new one while restore B, which read
    the target's tables just before, is about to do the same: B must not drop A's new table
    (DROP TABLE takes a name, and the name is A's table's by then)."""
    where = Target("standby", "us-east-1")
    target.prepare(
        where, "orders", Mode.HISTORY, 2, [{"name": "Registration", "active": True, "ids": ["s2"], "indexes": []}]
    )
    (old,) = _tables(aws, "standby", "Registration")
    replaced = [
        {"name": "Registration", "active": False, "ids": ["s2"], "indexes": []},
        {"name": "Registration", "active": True, "ids": ["s3"], "indexes": []},
    ]
    rows, raced = target._rows, []

    def stale(drv: Any, statement: str, *params: Any) -> list[Any]:
        found = rows(drv, statement, *params)
        if statement == EVERY_TABLE and not raced:  # B has read the target's tables: A runs now, to the end
            raced.append(True)
            target.prepare(where, "orders", Mode.HISTORY, 2, replaced)
        return found

    monkeypatch.setattr(target, "_rows", stale)
    target.prepare(where, "orders", Mode.HISTORY, 2, replaced)
    assert raced
    tables = _tables(aws, "standby", "Registration")
    assert [(str(t["tableId"]), t["status"]) for t in tables if t["status"] == "INACTIVE"] == [
        (str(old["tableId"]), "INACTIVE")
    ], "a table was dropped that no source drop asked for"
    (active,) = [t for t in tables if t["status"] == "ACTIVE"]
    (record,) = aws.driver("standby").execute_lambda(
        lambda t: list(t.execute_statement(f"SELECT * FROM {RESTORE_TABLE}"))
    )
    owners = {str(e["targetTableId"]): list(e["sourceTableIds"]) for e in record["tables"]}
    assert owners == {str(old["tableId"]): ["s2"], str(active["tableId"]): ["s3"]}
