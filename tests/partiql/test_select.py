"""SELECT: projections, paths, FROM forms, WHERE predicates, aggregates and system views."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from amazon.ion import simpleion
from amazon.ion.core import IonType

from qldb_dr.partiql import PartiqlError
from tests.partiql.memory import MemoryAccess


def ion(text: str) -> Any:
    return simpleion.loads(text)


VEHICLES = [
    ion('{VIN: "V1", Body: sedan, Make: "Tesla", Year: 2019, Price: 120.50, Owners: [{Name: "ann"}, {Name: "bob"}]}'),
    ion('{VIN: "V2", Make: "Ford", Year: 2011, Price: 10.25e0, Owners: [], Color: null}'),
    ion('{VIN: "V3", Make: "Ford", Year: 2020, Price: 30, Tags: ["a%b", "c_d"]}'),
]


@pytest.fixture
def vehicles(access: MemoryAccess) -> MemoryAccess:
    access.run("CREATE TABLE Vehicle")
    for vehicle in VEHICLES:
        access.run("INSERT INTO Vehicle ?", vehicle)
    return access


def vins(rows: list[Any]) -> list[str]:
    return sorted(str(row["VIN"]) for row in rows)


def test_select_star_documents_as_stored(vehicles: MemoryAccess) -> None:
    rows = vehicles.run("SELECT * FROM Vehicle")
    assert [r is v for r, v in zip(rows, VEHICLES, strict=True)] == [True, True, True]


def test_select_star_with_by_id_gives_data_only(vehicles: MemoryAccess) -> None:
    rows = vehicles.run("SELECT * FROM Vehicle AS v BY vid WHERE v.VIN = 'V1'")
    assert rows == [VEHICLES[0]]


def test_select_projection_aliases_and_derived_names(vehicles: MemoryAccess) -> None:
    rows = vehicles.run("SELECT v.VIN, v.Year AS y, v.Price * 2, vid FROM Vehicle AS v BY vid WHERE v.VIN = 'V1'")
    (document_id,) = [
        r["documentId"] for r in vehicles.run("SELECT VALUE {'documentId': i} FROM Vehicle BY i WHERE VIN = 'V1'")
    ]
    assert rows == [{"VIN": "V1", "y": 2019, "_3": Decimal("241.00"), "vid": document_id}]


def test_select_projection_missing_field_omitted_null_kept(vehicles: MemoryAccess) -> None:
    rows = vehicles.run("SELECT v.VIN, v.Color FROM Vehicle AS v")
    by_vin = {str(r["VIN"]): r for r in rows}
    assert "Color" not in by_vin["V1"]
    assert "Color" in by_vin["V2"] and by_vin["V2"]["Color"] is not None  # null as stored (an IonPyNull)
    assert by_vin["V2"]["Color"].ion_type is IonType.NULL


def test_select_value_returns_bare_values(vehicles: MemoryAccess) -> None:
    assert sorted(vehicles.run("SELECT VALUE v.Year FROM Vehicle AS v")) == [2011, 2019, 2020]


def test_select_value_missing_values_dropped(vehicles: MemoryAccess) -> None:
    assert vehicles.run("SELECT VALUE v.Tags FROM Vehicle AS v") == [["a%b", "c_d"]]


def test_select_all_fields_of_alias_merged(vehicles: MemoryAccess) -> None:
    rows = vehicles.run("SELECT v.*, 1 AS one FROM Vehicle AS v WHERE v.VIN = 'V3'")
    assert rows == [{**VEHICLES[2], "one": 1}]


def test_select_paths_nested_index_and_bracket(vehicles: MemoryAccess) -> None:
    rows = vehicles.run("SELECT v.Owners[1].Name AS second, v['Make'] AS make FROM Vehicle v WHERE v.VIN = 'V1'")
    assert rows == [{"second": "bob", "make": "Tesla"}]


def test_select_path_index_out_of_range_is_missing(vehicles: MemoryAccess) -> None:
    assert vehicles.run("SELECT v.Owners[5] AS o, v.VIN.x AS x FROM Vehicle v WHERE v.VIN = 'V1'") == [{}]


def test_select_wildcard_path_collects_list_fields(vehicles: MemoryAccess) -> None:
    rows = vehicles.run("SELECT v.VIN, v.Owners[*].Name AS names FROM Vehicle v")
    assert sorted(rows, key=lambda r: str(r["VIN"])) == [
        {"VIN": "V1", "names": ["ann", "bob"]},
        {"VIN": "V2", "names": []},
        {"VIN": "V3"},
    ]


def test_select_unnest_with_at_alias_binds_each_element(vehicles: MemoryAccess) -> None:
    rows = vehicles.run("SELECT v.VIN, o.Name, i FROM Vehicle AS v, @v.Owners AS o AT i")
    assert rows == [{"VIN": "V1", "Name": "ann", "i": 0}, {"VIN": "V1", "Name": "bob", "i": 1}]


def test_select_unnest_without_at_sign_same_rows(vehicles: MemoryAccess) -> None:
    rows = vehicles.run("SELECT VALUE o.Name FROM Vehicle AS v, v.Owners AS o WHERE o.Name LIKE 'b%'")
    assert rows == ["bob"]


def test_select_inner_join_on_condition(vehicles: MemoryAccess) -> None:
    vehicles.run("CREATE TABLE Make")
    vehicles.run("INSERT INTO Make << {'name': 'Ford', 'country': 'US'}, {'name': 'Tesla', 'country': 'US2'} >>")
    rows = vehicles.run(
        "SELECT v.VIN, m.country FROM Vehicle AS v INNER JOIN Make AS m ON v.Make = m.name WHERE v.Year > 2015"
    )
    assert sorted(rows, key=lambda r: str(r["VIN"])) == [
        {"VIN": "V1", "country": "US2"},
        {"VIN": "V3", "country": "US"},
    ]


def test_select_cross_join_every_pair(vehicles: MemoryAccess) -> None:
    rows = vehicles.run("SELECT a.VIN AS x, b.VIN AS y FROM Vehicle AS a CROSS JOIN Vehicle AS b WHERE a.Year < b.Year")
    assert sorted((r["x"], r["y"]) for r in rows) == [("V1", "V3"), ("V2", "V1"), ("V2", "V3")]


def test_select_star_over_join_merges_fields(vehicles: MemoryAccess) -> None:
    vehicles.run("CREATE TABLE Make")
    vehicles.run("INSERT INTO Make VALUE {'name': 'Tesla', 'country': 'US'}")
    rows = vehicles.run("SELECT * FROM Vehicle AS v, Make AS m WHERE v.Make = m.name")
    assert rows == [{**VEHICLES[0], "name": "Tesla", "country": "US"}]


def test_select_unqualified_names_resolve_to_the_single_table(vehicles: MemoryAccess) -> None:
    assert vehicles.run("SELECT VIN FROM Vehicle WHERE Year = 2011") == [{"VIN": "V2"}]


def test_select_default_alias_is_table_name(vehicles: MemoryAccess) -> None:
    assert vehicles.run("SELECT VALUE Vehicle.VIN FROM Vehicle WHERE Vehicle.Year = 2011") == ["V2"]


def test_select_unqualified_name_in_join_found_in_two_items_ambiguous(vehicles: MemoryAccess) -> None:
    with pytest.raises(PartiqlError, match="VIN is ambiguous"):
        vehicles.run("SELECT VIN FROM Vehicle AS a, Vehicle AS b")


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("v.Year = 2019", ["V1"]),
        ("v.Year <> 2019", ["V2", "V3"]),
        ("v.Year != 2019", ["V2", "V3"]),
        ("v.Year < 2019", ["V2"]),
        ("v.Year <= 2019", ["V1", "V2"]),
        ("v.Year > 2019", ["V3"]),
        ("v.Year >= 2019", ["V1", "V3"]),
        ("v.Price = 30.00", ["V3"]),
        ("v.Price = 10.25", ["V2"]),
        ("v.Price > 20 AND v.Price < 121", ["V1", "V3"]),
        ("v.Make = 'Ford' OR v.Year = 2019", ["V1", "V2", "V3"]),
        ("v.Body = 'sedan'", ["V1"]),
        ("v.Body = `sedan`", ["V1"]),
        ("v.Body LIKE 'sed%'", ["V1"]),
        ("v.Body > 'a'", ["V1"]),
        ("NOT v.Make = 'Ford'", ["V1"]),
        ("v.VIN IN ('V1', 'V3')", ["V1", "V3"]),
        ("v.VIN NOT IN ['V1', 'V3']", ["V2"]),
        ("v.VIN IN (SELECT VALUE x.VIN FROM Vehicle x WHERE x.Year > 2015)", ["V1", "V3"]),
        ("v.VIN IN (SELECT x.VIN FROM Vehicle x WHERE x.Year > 2015)", ["V1", "V3"]),
        ("v.Year BETWEEN 2011 AND 2019", ["V1", "V2"]),
        ("v.Year NOT BETWEEN 2011 AND 2019", ["V3"]),
        ("v.Make LIKE 'F%'", ["V2", "V3"]),
        ("v.Make LIKE '_esl_'", ["V1"]),
        ("v.Make NOT LIKE '%o%'", ["V1"]),
        ("v.Tags[0] LIKE 'a!%b' ESCAPE '!'", ["V3"]),
        ("v.Tags[1] LIKE 'c!_d' ESCAPE '!'", ["V3"]),
        ("v.Color IS NULL", ["V1", "V2", "V3"]),
        ("v.Color IS NOT NULL", []),
        ("v.Color IS MISSING", ["V1", "V3"]),
        ("v.Color IS NOT MISSING", ["V2"]),
        ("v.Color = NULL", []),
        ("v.Nope = 1", []),
        ("NOT (v.Nope = 1)", []),
        ("v.Nope = 1 OR v.Year = 2020", ["V3"]),
        ("EXISTS(SELECT * FROM v.Owners AS o WHERE o.Name = 'bob')", ["V1"]),
        ("EXISTS(v.Owners)", ["V1"]),
        ("v.Year + 1 = 2012", ["V2"]),
        ("v.Year - 1 = 2018 AND v.Year * 2 = 4038 AND v.Year / 2 = 1009 AND v.Year % 10 = 9", ["V1"]),
        ("v.Make || '-' || v.VIN = 'Ford-V2'", ["V2"]),
        ("UPPER(v.Make) = 'TESLA'", ["V1"]),
        ("SIZE(v.Owners) = 0", ["V2"]),
        ("CASE WHEN v.Year > 2015 THEN 'new' ELSE 'old' END = 'old'", ["V2"]),
        ("CASE v.Make WHEN 'Ford' THEN 1 END = 1", ["V2", "V3"]),
    ],
)
def test_select_where_predicate_filters(vehicles: MemoryAccess, condition: str, expected: list[str]) -> None:
    assert vins(vehicles.run(f"SELECT v.VIN FROM Vehicle AS v WHERE {condition}")) == expected


def test_select_in_parameter_list(vehicles: MemoryAccess) -> None:
    assert vins(vehicles.run("SELECT v.VIN FROM Vehicle v WHERE v.VIN IN ?", ["V2", "V3", "V9"])) == [
        "V2",
        "V3",
    ]


def test_select_count_star_and_aggregates(vehicles: MemoryAccess) -> None:
    rows = vehicles.run(
        "SELECT COUNT(*) AS n, COUNT(v.Color) AS colors, COUNT(v.Tags) AS tags, MIN(v.Year) AS first, "
        "MAX(v.Make) AS make, SUM(v.Year) AS years FROM Vehicle AS v"
    )
    assert rows == [{"n": 3, "colors": 0, "tags": 1, "first": 2011, "make": "Tesla", "years": 6050}]


def test_select_count_star_unnamed_is_underscore_1(vehicles: MemoryAccess) -> None:
    assert vehicles.run("SELECT COUNT(*) FROM Vehicle WHERE Make = 'Ford'") == [{"_1": 2}]


def test_select_sum_mixed_int_decimal_exact_decimal(vehicles: MemoryAccess) -> None:
    rows = vehicles.run("SELECT VALUE SUM(v.Price) FROM Vehicle AS v WHERE v.VIN IN ('V1', 'V3')")
    assert rows == [Decimal("150.50")] and str(rows[0]) == "150.50"


def test_select_avg_with_float_gives_float(vehicles: MemoryAccess) -> None:
    (avg,) = vehicles.run("SELECT VALUE AVG(v.Price) FROM Vehicle AS v")
    assert isinstance(avg, float) and avg == pytest.approx((120.5 + 10.25 + 30) / 3)


def test_select_aggregates_over_no_rows_null_and_zero(vehicles: MemoryAccess) -> None:
    rows = vehicles.run(
        "SELECT COUNT(*) AS n, SUM(v.Year) AS s, AVG(v.Year) AS a, MAX(v.Year) AS m FROM Vehicle v WHERE false"
    )
    assert rows == [{"n": 0, "s": None, "a": None, "m": None}]


def test_select_avg_of_ints_exact_decimal(vehicles: MemoryAccess) -> None:
    assert vehicles.run("SELECT VALUE AVG(v.Year) FROM Vehicle AS v WHERE v.Year < 2020") == [Decimal("2015")]


def test_select_sum_over_strings_type_error(vehicles: MemoryAccess) -> None:
    with pytest.raises(PartiqlError, match="SUM needs numbers, not string"):
        vehicles.run("SELECT SUM(v.Make) FROM Vehicle AS v")


def test_select_information_schema_lists_tables_and_indexes(access: MemoryAccess) -> None:
    (table_id,) = [r["tableId"] for r in access.run("CREATE TABLE Person")]
    access.run("CREATE INDEX ON Person (GovId)")
    access.run("CREATE TABLE Gone")
    access.run("DROP TABLE Gone")
    (index,) = access.table("Person").indexes  # type: ignore[union-attr]
    rows = access.run("SELECT * FROM information_schema.user_tables")
    assert rows[0] == {
        "name": "Person",
        "tableId": table_id,
        "indexes": [{"indexId": index.index_id, "expr": "[GovId]", "status": "ONLINE"}],
        "status": "ACTIVE",
    }
    assert access.run("SELECT VALUE t.status FROM information_schema.user_tables AS t WHERE t.name = 'Gone'") == [
        "INACTIVE"
    ]


def test_select_information_schema_other_view_rejected(access: MemoryAccess) -> None:
    with pytest.raises(PartiqlError, match="only has user_tables"):
        access.run("SELECT * FROM information_schema.user_views")


def test_select_committed_view_shows_revision_fields(vehicles: MemoryAccess) -> None:
    vehicles.commit()
    rows = vehicles.run("SELECT * FROM _ql_committed_Vehicle AS c WHERE c.data.VIN = 'V1'")
    (row,) = rows
    assert set(row) == {"blockAddress", "hash", "data", "metadata"}
    assert row["data"] is VEHICLES[0]
    assert row["blockAddress"] == {"strandId": "strand0000000000000000", "sequenceNo": 1}
    assert isinstance(row["hash"], bytes) and len(row["hash"]) == 32
    assert row["metadata"]["version"] == 0 and row["metadata"]["txTime"] == vehicles.now


def test_select_committed_view_by_id_binds_document_id(vehicles: MemoryAccess) -> None:
    vehicles.commit()
    (doc_id,) = vehicles.run("SELECT VALUE i FROM Vehicle BY i WHERE VIN = 'V2'")
    rows = vehicles.run("SELECT c.data.VIN, c.metadata.id FROM _ql_committed_Vehicle AS c BY cid WHERE cid = ?", doc_id)
    assert rows == [{"VIN": "V2", "id": doc_id}]


def test_select_committed_view_omits_uncommitted_documents(vehicles: MemoryAccess) -> None:
    assert vehicles.run("SELECT * FROM _ql_committed_Vehicle") == []


def test_select_history_every_revision_in_range(vehicles: MemoryAccess) -> None:
    early, late = ion("2020-01-01T00:00Z"), ion("2021-06-01T00:00Z")
    vehicles.commit(tx_time=early)
    vehicles.run("UPDATE Vehicle AS v SET v.Year = 2021 WHERE v.VIN = 'V1'")
    vehicles.commit(tx_time=late)
    (doc_id,) = vehicles.run("SELECT VALUE i FROM Vehicle BY i WHERE VIN = 'V1'")
    rows = vehicles.run(
        "SELECT h.metadata.version AS v, h.data.Year AS y FROM history(Vehicle) AS h WHERE h.metadata.id = ?",
        doc_id,
    )
    assert rows == [{"v": 0, "y": 2019}, {"v": 1, "y": 2021}]
    later = vehicles.run(
        "SELECT VALUE h.metadata.version FROM history(Vehicle, `2021T`) AS h BY hid WHERE hid = ?", doc_id
    )
    assert later == [1]
    bounded = vehicles.run("SELECT VALUE h.data.VIN FROM history(Vehicle, `2019T`, `2020-12-31T`) AS h")
    assert sorted(bounded) == ["V1", "V2", "V3"]


def test_select_history_by_document_id_reads_only_those_documents(
    vehicles: MemoryAccess, monkeypatch: pytest.MonkeyPatch
) -> None:
    vehicles.commit()
    wanted = vehicles.run("SELECT VALUE i FROM Vehicle BY i WHERE VIN IN ('V1', 'V3')")
    asked: list[Any] = []
    read = vehicles.history

    def spy(table_id: str, start: Any, end: Any, document_ids: Any = None) -> Any:
        asked.append(None if document_ids is None else sorted(document_ids))
        return read(table_id, start, end, document_ids)

    monkeypatch.setattr(vehicles, "history", spy)
    rows = vehicles.run("SELECT VALUE h.data.VIN FROM history(Vehicle) AS h WHERE h.metadata.id IN ?", list(wanted))
    assert sorted(rows) == ["V1", "V3"]
    assert asked[-1] == sorted(wanted)
    assert vehicles.run("SELECT VALUE h.data.VIN FROM history(Vehicle) AS h BY hid WHERE hid = ?", wanted[0]) == ["V1"]
    assert asked[-1] == [wanted[0]]
    assert len(vehicles.run("SELECT * FROM history(Vehicle) AS h WHERE h.metadata.version = 0")) == 3
    assert asked[-1] is None  # no key: every revision is read


def test_select_history_of_dropped_table_by_id(vehicles: MemoryAccess) -> None:
    vehicles.commit()
    (table_id,) = vehicles.run("DROP TABLE Vehicle")
    assert len(vehicles.run("SELECT * FROM history(?) AS h", table_id["tableId"])) == 3
    with pytest.raises(PartiqlError, match="table Vehicle is dropped"):
        vehicles.run("SELECT * FROM history(Vehicle)")


def test_select_history_deleted_revision_has_no_data(vehicles: MemoryAccess) -> None:
    vehicles.commit()
    vehicles.run("DELETE FROM Vehicle AS v WHERE v.VIN = 'V2'")
    vehicles.commit()
    rows = vehicles.run("SELECT * FROM history(Vehicle) AS h WHERE h.metadata.version = 1")
    assert [set(r) for r in rows] == [{"blockAddress", "hash", "metadata"}]


def test_select_history_bad_bounds_type_error(vehicles: MemoryAccess) -> None:
    with pytest.raises(PartiqlError, match="must be timestamps, not string"):
        vehicles.run("SELECT * FROM history(Vehicle, '2020')")


def test_select_subquery_in_projection_returns_list(vehicles: MemoryAccess) -> None:
    rows = vehicles.run(
        "SELECT v.VIN, (SELECT VALUE o.Name FROM v.Owners AS o) AS names FROM Vehicle AS v WHERE v.VIN = 'V1'"
    )
    assert rows == [{"VIN": "V1", "names": ["ann", "bob"]}]
    assert type(rows[0]["names"]) is list


def test_select_constructors_build_values(vehicles: MemoryAccess) -> None:
    rows = vehicles.run(
        "SELECT VALUE {'vin': v.VIN, 'l': [v.Year, v.Nope], 'gone': v.Nope} FROM Vehicle v WHERE v.VIN = 'V2'"
    )
    assert rows == [{"vin": "V2", "l": [2011, None]}]


def test_select_missing_in_constructed_collections_becomes_null(access: MemoryAccess) -> None:
    assert access.run("SELECT VALUE [<<1, MISSING>>, MISSING] FROM [0] AS x") == [[[1, None], None]]


def test_select_from_parameter_collection_iterates_it(access: MemoryAccess) -> None:
    assert access.run("SELECT VALUE x * 2 FROM ? AS x", [1, 2, 3]) == [2, 4, 6]


def test_select_unknown_table_error_at_from_item(access: MemoryAccess) -> None:
    with pytest.raises(PartiqlError) as caught:
        access.run("SELECT * FROM Nope AS n")
    assert caught.value.message == "unknown table Nope"
    assert (caught.value.line, caught.value.column) == (1, 15)


def test_select_dropped_table_error_says_inactive(vehicles: MemoryAccess) -> None:
    vehicles.run("DROP TABLE Vehicle")
    with pytest.raises(PartiqlError, match="dropped"):
        vehicles.run("SELECT * FROM Vehicle")


def test_select_table_name_case_sensitive(vehicles: MemoryAccess) -> None:
    with pytest.raises(PartiqlError, match="unknown table vehicle"):
        vehicles.run("SELECT * FROM vehicle")


def test_select_field_names_case_sensitive(vehicles: MemoryAccess) -> None:
    assert vehicles.run("SELECT VALUE v.vin FROM Vehicle AS v") == []


def test_select_alias_reference_case_insensitive_unless_quoted(vehicles: MemoryAccess) -> None:
    assert len(vehicles.run("SELECT VALUE V.VIN FROM Vehicle AS v")) == 3
    assert vehicles.run('SELECT VALUE "V".VIN FROM Vehicle AS v') == []  # "V" is then a (missing) field


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("SELECT * FROM Vehicle v WHERE v.Make < 1", "cannot compare string with int using <"),
        ("SELECT * FROM Vehicle v WHERE v.Make + 1 = 2", "+ needs numbers, not string and int"),
        ("SELECT * FROM Vehicle v WHERE v.Make", "a condition must be a bool, not string"),
        ("SELECT * FROM Vehicle v WHERE v.Year / 0 = 1", "division by zero"),
        ("SELECT * FROM Vehicle v WHERE v.Make IN v.Make", "IN needs a list, bag or subquery"),
        ("SELECT * FROM Vehicle v WHERE v.Make LIKE 1", "LIKE needs strings, not int"),
        ("SELECT * FROM Vehicle v WHERE v.Make LIKE 'x' ESCAPE 'ab'", "one character"),
        ("SELECT * FROM Vehicle v WHERE v.Year || 'x' = 'y'", "|| needs strings"),
        ("SELECT * FROM Vehicle v WHERE -v.Make = 1", "unary - needs a number"),
        ("SELECT VALUE {v.Year: 1} FROM Vehicle v", "field name must be a string"),
        ("SELECT VALUE @nope FROM Vehicle v", "unknown name @nope"),
        ("SELECT VALUE history(Vehicle) FROM Vehicle v", "only allowed as a FROM source"),
    ],
)
def test_select_type_error_raises_partiql_error(vehicles: MemoryAccess, statement: str, message: str) -> None:
    with pytest.raises(
        PartiqlError, match=message.replace("(", r"\(").replace("|", r"\|").replace("+", r"\+")
    ) as caught:
        vehicles.run(statement)
    assert caught.value.line == 1 and caught.value.column


def test_select_wrong_parameter_count_error(vehicles: MemoryAccess) -> None:
    with pytest.raises(PartiqlError, match=r"takes 1 parameter\(s\) \(\?\) but 2 were given"):
        vehicles.run("SELECT * FROM Vehicle v WHERE v.VIN = ?", "V1", "V2")
    with pytest.raises(PartiqlError, match="takes 1 parameter"):
        vehicles.run("SELECT * FROM Vehicle v WHERE v.VIN = ?")


def test_select_non_ion_parameter_error(vehicles: MemoryAccess) -> None:
    with pytest.raises(PartiqlError, match="set is not an Ion value"):
        vehicles.run("SELECT * FROM Vehicle v WHERE v.VIN = ?", {"V1"})
