"""Equality on an indexed field or on the BY id variable reads through the index or by id,
never by a full scan; the results are the ones a scan would give."""

from __future__ import annotations

from decimal import Decimal

import pytest
from amazon.ion import simpleion

from tests.partiql.memory import MemoryAccess


@pytest.fixture
def indexed(access: MemoryAccess) -> MemoryAccess:
    access.run("CREATE TABLE Vehicle")
    access.run("CREATE INDEX ON Vehicle (VIN)")
    access.run(
        "INSERT INTO Vehicle ?",
        [{"VIN": "A", "Year": 2001}, {"VIN": "B", "Year": 2002}, {"VIN": 7, "Year": 2003}],
    )
    access.scans.clear()
    access.lookups.clear()
    access.gets.clear()
    return access


def table_id(access: MemoryAccess, name: str = "Vehicle") -> str:
    info = access.table(name)
    assert info is not None
    return info.table_id


def reads(access: MemoryAccess, name: str = "Vehicle") -> tuple[int, int, int]:
    """(scans, lookups, gets) of a table."""
    tid = table_id(access, name)
    return access.scans[tid], access.lookups[tid], access.gets[tid]


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM Vehicle AS v WHERE v.VIN = ?",
        "SELECT * FROM Vehicle AS v WHERE ? = v.VIN",
        "SELECT * FROM Vehicle v WHERE v.Year > 2000 AND v.VIN = ?",
        "SELECT * FROM Vehicle WHERE VIN = ?",
        "SELECT * FROM Vehicle AS v WHERE v['VIN'] = ?",
        "SELECT * FROM Vehicle AS v WHERE v.VIN = CAST(? AS STRING)",
    ],
)
def test_select_indexed_equality_uses_lookup_no_scan(indexed: MemoryAccess, statement: str) -> None:
    rows = indexed.run(statement, "B")
    assert rows == [{"VIN": "B", "Year": 2002}]
    assert reads(indexed) == (0, 1, 0)


def test_select_indexed_equality_literal_uses_lookup(indexed: MemoryAccess) -> None:
    assert indexed.run("SELECT VALUE v.Year FROM Vehicle AS v WHERE v.VIN = 'A'") == [2001]
    assert reads(indexed) == (0, 1, 0)


def test_select_indexed_equality_numbers_by_value(indexed: MemoryAccess) -> None:
    for literal in ("7", "7.00", "7e0", "`7.0`"):
        assert indexed.run(f"SELECT VALUE v.Year FROM Vehicle AS v WHERE v.VIN = {literal}") == [2003]
    assert reads(indexed) == (0, 4, 0)


def test_select_indexed_equality_symbol_matches_string(indexed: MemoryAccess) -> None:
    assert indexed.run("SELECT VALUE v.Year FROM Vehicle AS v WHERE v.VIN = `A`") == [2001]
    assert reads(indexed) == (0, 1, 0)


def test_select_indexed_equality_null_reads_nothing(indexed: MemoryAccess) -> None:
    assert indexed.run("SELECT * FROM Vehicle AS v WHERE v.VIN = ?", None) == []
    assert reads(indexed) == (0, 0, 0)


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM Vehicle AS v WHERE v.Year = 2002",
        "SELECT * FROM Vehicle AS v WHERE v.VIN = 'B' OR v.Year = 0",
        "SELECT * FROM Vehicle AS v WHERE v.VIN = v.VIN AND v.Year = 2002",
        "SELECT * FROM Vehicle AS v WHERE v.Year > 2001 AND v.Year < 2003",
    ],
)
def test_select_not_indexable_condition_scans(indexed: MemoryAccess, statement: str) -> None:
    assert indexed.run(statement) == [{"VIN": "B", "Year": 2002}]
    assert reads(indexed) == (1, 0, 0)


def test_select_index_not_online_scans(indexed: MemoryAccess) -> None:
    indexed.set_index_status("Vehicle", "VIN", "BUILDING")
    assert indexed.run("SELECT * FROM Vehicle AS v WHERE v.VIN = 'B'") == [{"VIN": "B", "Year": 2002}]
    assert reads(indexed) == (1, 0, 0)


def test_select_by_id_uses_get_no_scan(indexed: MemoryAccess) -> None:
    (doc_id,) = indexed.run("SELECT VALUE i FROM Vehicle BY i WHERE VIN = 'A'")
    indexed.scans.clear()
    indexed.lookups.clear()
    assert indexed.run("SELECT v.Year FROM Vehicle AS v BY vid WHERE vid = ? AND v.Year > 0", doc_id) == [
        {"Year": 2001}
    ]
    assert reads(indexed) == (0, 0, 1)


def test_select_by_id_non_string_value_reads_nothing(indexed: MemoryAccess) -> None:
    assert indexed.run("SELECT * FROM Vehicle AS v BY vid WHERE vid = 5") == []
    assert reads(indexed) == (0, 0, 0)


def test_update_by_id_uses_get_no_scan(indexed: MemoryAccess) -> None:
    (doc_id,) = indexed.run("SELECT VALUE i FROM Vehicle BY i WHERE VIN = 'B'")
    indexed.lookups.clear()
    assert indexed.run("UPDATE Vehicle AS d BY pid SET d.a = ?, d.b = ? WHERE pid = ?", 1, 2, doc_id) == [
        {"documentId": doc_id}
    ]
    assert reads(indexed) == (0, 0, 1)
    assert indexed.run("SELECT VALUE v.a + v.b FROM Vehicle AS v WHERE v.VIN = 'B'") == [3]


def test_delete_indexed_equality_uses_lookup_no_scan(indexed: MemoryAccess) -> None:
    assert len(indexed.run("DELETE FROM Vehicle AS v WHERE v.VIN = ?", "A")) == 1
    assert reads(indexed) == (0, 1, 0)


def test_from_dml_indexed_equality_uses_lookup(indexed: MemoryAccess) -> None:
    assert len(indexed.run("FROM Vehicle AS v WHERE v.VIN = 'A' SET v.Year = 1999")) == 1
    assert reads(indexed) == (0, 1, 0)


def test_join_indexed_field_of_second_table_looked_up_per_row(indexed: MemoryAccess) -> None:
    indexed.run("CREATE TABLE Registration")
    indexed.run("INSERT INTO Registration ?", [{"vin": "A", "owner": "ann"}, {"vin": "B", "owner": "bob"}])
    rows = indexed.run("SELECT r.owner, v.Year FROM Registration AS r, Vehicle AS v WHERE v.VIN = r.vin")
    assert sorted(rows, key=lambda r: r["owner"]) == [
        {"owner": "ann", "Year": 2001},
        {"owner": "bob", "Year": 2002},
    ]
    assert reads(indexed) == (0, 2, 0)
    assert reads(indexed, "Registration") == (1, 0, 0)


def test_committed_view_field_equality_scans_not_lookup(indexed: MemoryAccess) -> None:
    indexed.commit()
    assert len(indexed.run("SELECT * FROM _ql_committed_Vehicle AS c WHERE c.data.VIN = 'A'")) == 1
    assert reads(indexed) == (1, 0, 0)


def test_committed_view_by_id_uses_get(indexed: MemoryAccess) -> None:
    indexed.commit()
    (doc_id,) = indexed.run("SELECT VALUE i FROM Vehicle BY i WHERE VIN = 'A'")
    indexed.lookups.clear()
    rows = indexed.run("SELECT VALUE c.data.Year FROM _ql_committed_Vehicle AS c BY cid WHERE cid = ?", doc_id)
    assert rows == [2001]
    assert reads(indexed) == (0, 0, 1)


def test_lookup_and_scan_same_rows_for_mixed_types(access: MemoryAccess) -> None:
    access.run("CREATE TABLE T")
    values = [1, Decimal("1.0"), 1.0, "1", simpleion.loads("'1'"), True, None, [1], {"a": 1}, Decimal("1.5")]
    access.run("INSERT INTO T ?", [{"k": v, "i": i} for i, v in enumerate(values)])
    query = "SELECT VALUE t.i FROM T AS t WHERE t.k = ?"
    scanned = [sorted(access.run(query, probe)) for probe in values]
    access.run("CREATE INDEX ON T (k)")
    looked_up = [sorted(access.run(query, probe)) for probe in values]
    assert looked_up == scanned
    assert scanned[:5] == [[0, 1, 2]] * 3 + [[3, 4]] * 2
    assert reads(access, "T") == (len(values), len(values) - 1, 0)  # no lookup for NULL


def test_select_indexed_in_list_looks_up_each_value_no_scan(indexed: MemoryAccess) -> None:
    rows = indexed.run("SELECT VALUE v.Year FROM Vehicle AS v WHERE v.VIN IN (?, ?, 'missing', ?)", "A", 7, "A")
    assert sorted(rows) == [2001, 2003]
    assert reads(indexed) == (0, 3, 0)  # A, 7 and 'missing' once each


def test_select_by_id_in_list_gets_them_at_once_no_scan(indexed: MemoryAccess) -> None:
    ids = indexed.run("SELECT VALUE id FROM Vehicle AS v BY id")
    indexed.scans.clear()
    rows = indexed.run("SELECT VALUE v.VIN FROM Vehicle AS v BY id WHERE id IN ?", [ids[2], ids[0], "nope", ids[2], 5])
    want = indexed.run("SELECT VALUE v.VIN FROM Vehicle AS v BY id WHERE id = ?", ids[2])
    want += indexed.run("SELECT VALUE v.VIN FROM Vehicle AS v BY id WHERE id = ?", ids[0])
    assert rows == want  # each once, in the list's order
    assert reads(indexed) == (0, 0, 3)  # one get for the whole list, then one for each id alone


def test_select_not_in_still_scans(indexed: MemoryAccess) -> None:
    assert sorted(indexed.run("SELECT VALUE v.Year FROM Vehicle AS v WHERE v.VIN NOT IN ('A')")) == [2002, 2003]
    assert reads(indexed)[0] == 1
