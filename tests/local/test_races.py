"""Concurrent transactions, the engine directly so the interleaving is exact: DDL loses no
table and never makes one name active twice; a document deleted under a transaction that
found it is a conflict (retried), not a bad request."""

from __future__ import annotations

from pathlib import Path

import pytest

from qldb_dr.journal.hashing import commit_digest
from qldb_dr.local.ledger.engine import Ledger
from qldb_dr.local.ledger.errors import OccConflict
from qldb_dr.local.ledger.transaction import Transaction


def _commit(ledger: Ledger, txn: Transaction) -> None:
    ledger.commit(txn, commit_digest(txn.id, [s.digest for s in txn.statements]))


def _active(ledger: Ledger) -> list[str]:
    return sorted(t.name for t in ledger.catalog.tables if t.status == "ACTIVE")


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    created = Ledger.create(tmp_path / "ledger.db", "races")
    yield created
    created.close()


def test_ddl_on_different_tables_in_overlapping_transactions_keeps_both(ledger: Ledger, tmp_path: Path) -> None:
    setup = ledger.begin()
    setup.execute("CREATE TABLE Old", [])
    _commit(ledger, setup)
    first, second = ledger.begin(), ledger.begin()
    first.execute("CREATE TABLE New", [])
    second.execute("DROP TABLE Old", [])
    _commit(ledger, first)
    _commit(ledger, second)  # it never saw New, and must not take it away
    assert _active(ledger) == ["New"]
    reader = ledger.begin()
    assert reader.execute("SELECT VALUE name FROM information_schema.user_tables WHERE status = 'ACTIVE'", []) == [
        "New"
    ]
    ledger.close()
    assert _active(Ledger(tmp_path / "ledger.db")) == ["New"]  # the file agrees with what was served


@pytest.mark.parametrize("how", ["create", "undrop"])
def test_one_name_is_never_active_twice(ledger: Ledger, how: str) -> None:
    setup = ledger.begin()
    dropped = setup.execute("CREATE TABLE Person", [])[0]["tableId"]
    _commit(ledger, setup)
    setup = ledger.begin()
    setup.execute("DROP TABLE Person", [])
    _commit(ledger, setup)
    first, second = ledger.begin(), ledger.begin()
    first.execute("CREATE TABLE Person", [])
    second.execute("CREATE TABLE Person" if how == "create" else f'UNDROP TABLE "{dropped}"', [])
    _commit(ledger, first)
    with pytest.raises(OccConflict):
        _commit(ledger, second)
    assert _active(ledger) == ["Person"]


@pytest.mark.parametrize("verb", ["update", "delete"])
def test_a_document_deleted_after_the_transaction_found_it_is_a_conflict(ledger: Ledger, verb: str) -> None:
    """Two replay workers racing on one partition: one deletes a document the other has just
    found to update. QLDB fails the second on OCC (pyqldb retries it); it was a BadRequest,
    which pyqldb does not retry, and the worker died."""
    setup = ledger.begin()
    table_id = setup.execute("CREATE TABLE Car", [])[0]["tableId"]
    _commit(ledger, setup)
    setup = ledger.begin()
    (inserted,) = setup.execute("INSERT INTO Car ?", [{"vin": "V1"}])
    _commit(ledger, setup)
    late, deleting = ledger.begin(), ledger.begin()
    deleting.execute("DELETE FROM Car BY id WHERE id = ?", [inserted["documentId"]])
    _commit(ledger, deleting)
    with pytest.raises(OccConflict):
        if verb == "update":
            late.update(table_id, inserted["documentId"], {"vin": "V2"})
        else:
            late.delete(table_id, inserted["documentId"])
