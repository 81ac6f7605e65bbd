"""INSERT, UPDATE, DELETE and the FROM-first forms: what they write and what they return."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from amazon.ion import simpleion
from amazon.ion.core import IonType
from amazon.ion.equivalence import ion_equals

from qldb_dr.partiql import PartiqlError
from tests.partiql.memory import MemoryAccess


def ion(text: str) -> Any:
    return simpleion.loads(text)


@pytest.fixture
def people(access: MemoryAccess) -> MemoryAccess:
    access.run("CREATE TABLE Person")
    return access


def only(access: MemoryAccess, table: str = "Person") -> Any:
    (document,) = access.run(f"SELECT * FROM {table}")
    return document


def ids(rows: list[Any]) -> list[str]:
    return [row["documentId"] for row in rows]


def test_insert_parameter_struct_one_document(people: MemoryAccess) -> None:
    result = people.run("INSERT INTO Person ?", {"name": "ann"})
    assert len(result) == 1 and set(result[0]) == {"documentId"} and len(result[0]["documentId"]) == 22
    assert only(people) == {"name": "ann"}


def test_insert_parameter_list_several_documents(people: MemoryAccess) -> None:
    result = people.run("INSERT INTO Person ?", [{"n": 1}, {"n": 2}, {"n": 3}])
    assert len(set(ids(result))) == 3
    assert sorted(people.run("SELECT VALUE p.n FROM Person p")) == [1, 2, 3]


def test_insert_value_struct_literal(people: MemoryAccess) -> None:
    people.run("INSERT INTO Person VALUE {'name': 'bo', 'age': 7, 'score': 1.50, 'born': `1999-01-01T`}")
    document = only(people)
    assert document["name"] == "bo" and document["age"] == 7
    assert str(document["score"]) == "1.50"
    assert document["born"].precision.name == "DAY"


def test_insert_bag_literal_several_documents(people: MemoryAccess) -> None:
    assert len(people.run("INSERT INTO Person << {'n': 1}, {'n': ?} >>", 2)) == 2
    assert sorted(people.run("SELECT VALUE n FROM Person")) == [1, 2]


def test_insert_value_of_list_parameter_not_a_document(people: MemoryAccess) -> None:
    with pytest.raises(PartiqlError, match="a document must be a struct, not list"):
        people.run("INSERT INTO Person VALUE ?", [{"n": 1}])


@pytest.mark.parametrize("value", [5, "x", None, ion("null.struct"), ion("(a b)"), [{"n": 1}, 2]])
def test_insert_non_struct_document_error_nothing_written(people: MemoryAccess, value: Any) -> None:
    with pytest.raises(PartiqlError):
        people.run("INSERT INTO Person ?", value)
    assert people.run("SELECT * FROM Person") == []


def test_insert_unknown_table_error(access: MemoryAccess) -> None:
    with pytest.raises(PartiqlError, match="unknown table Nope"):
        access.run("INSERT INTO Nope ?", {"a": 1})


def test_insert_subquery_copies_documents(people: MemoryAccess) -> None:
    people.run("INSERT INTO Person ?", [{"n": 1}, {"n": 2}])
    people.run("CREATE TABLE Copy")
    assert len(people.run("INSERT INTO Copy (SELECT p.n FROM Person p WHERE p.n > 1)")) == 1
    assert people.run("SELECT * FROM Copy") == [{"n": 2}]


def test_update_set_fields_returns_document_ids(people: MemoryAccess) -> None:
    (inserted,) = people.run("INSERT INTO Person ?", {"name": "ann", "age": 1})
    result = people.run("UPDATE Person AS p SET p.age = p.age + 1, p.city = ? WHERE p.name = 'ann'", "Oslo")
    assert result == [inserted]
    assert only(people) == {"name": "ann", "age": 2, "city": "Oslo"}


def test_update_by_id_sets_parameters(people: MemoryAccess) -> None:
    (inserted,) = people.run("INSERT INTO Person ?", {"a": 0})
    people.run("INSERT INTO Person ?", {"a": 0})
    result = people.run("UPDATE Person AS d BY pid SET d.a = ?, d.b = ? WHERE pid = ?", 1, 2, inserted["documentId"])
    assert result == [inserted]
    assert sorted(people.run("SELECT VALUE p.a FROM Person p")) == [0, 1]


def test_update_set_missing_nested_path_creates_structs(people: MemoryAccess) -> None:
    people.run("INSERT INTO Person ?", {"name": "ann"})
    people.run("UPDATE Person AS p SET p.address.city.name = 'Oslo'")
    assert only(people) == {"name": "ann", "address": {"city": {"name": "Oslo"}}}


def test_update_set_unqualified_top_level_field(people: MemoryAccess) -> None:
    people.run("INSERT INTO Person ?", {"name": "ann"})
    people.run("UPDATE Person SET name = 'bob', extra = true WHERE name = 'ann'")
    assert only(people) == {"name": "bob", "extra": True}


def test_update_set_list_element_and_bracket_field(people: MemoryAccess) -> None:
    people.run("INSERT INTO Person ?", {"l": [1, 2, 3], "s": {"k": 1}})
    people.run("UPDATE Person AS p SET p.l[1] = 20, p['s']['k'] = 2")
    assert only(people) == {"l": [1, 20, 3], "s": {"k": 2}}


def test_update_set_list_index_out_of_range_error(people: MemoryAccess) -> None:
    people.run("INSERT INTO Person ?", {"l": [1]})
    with pytest.raises(PartiqlError, match="index 3 is out of range"):
        people.run("UPDATE Person AS p SET p.l[3] = 1")


def test_update_set_inside_scalar_error(people: MemoryAccess) -> None:
    people.run("INSERT INTO Person ?", {"name": "ann"})
    with pytest.raises(PartiqlError, match="cannot reach field 'first' inside a string") as caught:
        people.run("UPDATE Person AS p SET p.name.first = 'a'")
    assert (caught.value.line, caught.value.column) == (1, 24)


def test_update_set_whole_document_rejected(people: MemoryAccess) -> None:
    people.run("INSERT INTO Person ?", {"name": "ann"})
    with pytest.raises(PartiqlError, match="SET cannot replace a whole document"):
        people.run("UPDATE Person AS p SET p = {'name': 'x'}")


def test_update_set_missing_value_rejected(people: MemoryAccess) -> None:
    people.run("INSERT INTO Person ?", {"name": "ann"})
    with pytest.raises(PartiqlError, match="SET to MISSING"):
        people.run("UPDATE Person AS p SET p.name = p.nope")


def test_update_set_and_remove_clauses_together(people: MemoryAccess) -> None:
    people.run("INSERT INTO Person ?", {"a": 1, "b": 2, "c": {"d": 3, "e": 4}})
    people.run("UPDATE Person AS p SET p.a = 10 REMOVE p.b REMOVE p.c.d SET p.f = 5 WHERE p.a = 1")
    assert only(people) == {"a": 10, "c": {"e": 4}, "f": 5}


def test_update_remove_missing_path_no_change(people: MemoryAccess) -> None:
    people.run("INSERT INTO Person ?", {"a": 1})
    assert len(people.run("UPDATE Person AS p REMOVE p.x.y")) == 1
    assert only(people) == {"a": 1}


def test_update_right_sides_read_the_old_document(people: MemoryAccess) -> None:
    people.run("INSERT INTO Person ?", {"a": 1, "b": 2})
    people.run("UPDATE Person AS p SET p.a = p.b, p.b = p.a")
    assert only(people) == {"a": 2, "b": 1}


def test_update_no_match_returns_nothing(people: MemoryAccess) -> None:
    people.run("INSERT INTO Person ?", {"a": 1})
    assert people.run("UPDATE Person AS p SET p.a = 2 WHERE p.a = 5") == []


def test_update_keeps_untouched_values_exact(people: MemoryAccess) -> None:
    original = ion("{a: 1.50, s: sym, t: 2020-01-01T10:00:00.1230Z, x: ann::{y: (1 2)}, z: null.list}")
    people.run("INSERT INTO Person ?", original)
    people.run("UPDATE Person AS p SET p.x.new = 1")
    updated = only(people)
    for name in ("a", "s", "t", "z"):
        assert ion_equals(updated[name], original[name])
        assert simpleion.dumps(updated[name]) == simpleion.dumps(original[name])
    assert [a.text for a in updated["x"].ion_annotations] == ["ann"]
    assert updated["x"]["y"].ion_type is IonType.SEXP


def test_update_does_not_mutate_given_values(people: MemoryAccess) -> None:
    original = {"a": {"b": [1, {"c": 2}]}, "d": 1}
    snapshot = copy.deepcopy(original)
    people.run("INSERT INTO Person ?", original)
    people.run("UPDATE Person AS p SET p.a.b[1].c = 3, p.d = 2 REMOVE p.a.b[0]")
    assert original == snapshot
    assert only(people) == {"a": {"b": [{"c": 3}]}, "d": 2}


def test_update_repeated_field_names_replaced_once(people: MemoryAccess) -> None:
    people.run("INSERT INTO Person ?", ion("{k: 1, j: 0, k: 2}"))
    people.run("UPDATE Person AS p SET p.k = 3")
    document = only(people)
    assert sorted(document.items()) == [("j", 0), ("k", 3)]


def test_delete_where_returns_deleted_ids(people: MemoryAccess) -> None:
    inserted = people.run("INSERT INTO Person ?", [{"n": 1}, {"n": 2}, {"n": 3}])
    assert people.run("DELETE FROM Person AS p WHERE p.n >= 2") == inserted[1:]
    assert people.run("SELECT VALUE n FROM Person") == [1]


def test_delete_by_id(people: MemoryAccess) -> None:
    first, _ = people.run("INSERT INTO Person ?", [{"n": 1}, {"n": 2}])
    assert people.run("DELETE FROM Person BY pid WHERE pid = ?", first["documentId"]) == [first]
    assert people.run("SELECT VALUE n FROM Person") == [2]


def test_delete_without_where_deletes_all(people: MemoryAccess) -> None:
    people.run("INSERT INTO Person ?", [{"n": 1}, {"n": 2}])
    assert len(people.run("DELETE FROM Person")) == 2
    assert people.run("SELECT * FROM Person") == []


def test_from_set_updates_like_update(people: MemoryAccess) -> None:
    people.run("INSERT INTO Person ?", {"n": 1})
    assert len(people.run("FROM Person AS p WHERE p.n = 1 SET p.n = 2, p.m = 3")) == 1
    assert only(people) == {"n": 2, "m": 3}


def test_from_remove_alias_deletes_document(people: MemoryAccess) -> None:
    people.run("INSERT INTO Person ?", [{"n": 1}, {"n": 2}])
    assert len(people.run("FROM Person AS p WHERE p.n = 1 REMOVE p")) == 1
    assert people.run("SELECT VALUE n FROM Person") == [2]


def test_from_insert_into_list_appends(people: MemoryAccess) -> None:
    people.run("INSERT INTO Person ?", {"owners": [{"id": "a"}]})
    people.run("FROM Person AS p INSERT INTO p.owners VALUE {'id': ?}", "b")
    assert only(people) == {"owners": [{"id": "a"}, {"id": "b"}]}


def test_from_insert_into_list_at_position(people: MemoryAccess) -> None:
    people.run("INSERT INTO Person ?", {"l": [1, 3]})
    people.run("FROM Person AS p INSERT INTO p.l VALUE 2 AT 1")
    people.run("FROM Person AS p INSERT INTO p.l VALUE 0 AT 0")
    assert only(people) == {"l": [0, 1, 2, 3]}


def test_from_insert_into_struct_at_field_name(people: MemoryAccess) -> None:
    people.run("INSERT INTO Person ?", {"a": {"x": 1}})
    people.run("FROM Person AS p INSERT INTO p VALUE 'v' AT 'top'")
    people.run("FROM Person AS p INSERT INTO p.a VALUE 2 AT 'y'")
    assert only(people) == {"a": {"x": 1, "y": 2}, "top": "v"}


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("FROM Person AS p INSERT INTO p VALUE 1 AT 'a'", "field 'a' already exists"),
        ("FROM Person AS p INSERT INTO p VALUE 1", "needs AT 'field name'"),
        ("FROM Person AS p INSERT INTO p.l VALUE 1 AT 5", "AT a position from 0 to 2"),
        ("FROM Person AS p INSERT INTO p.a VALUE 1", "needs a list or a struct, not int"),
        ("FROM Person AS p INSERT INTO p.nope VALUE 1", "the target does not exist"),
        ("FROM Person AS p INSERT INTO p.nope.deeper VALUE 1", "field 'nope' does not exist"),
    ],
)
def test_from_insert_into_bad_target_error(people: MemoryAccess, statement: str, message: str) -> None:
    people.run("INSERT INTO Person ?", {"a": 1, "l": [1, 2]})
    with pytest.raises(PartiqlError, match=message):
        people.run(statement)


def test_from_nested_alias_remove_list_elements(people: MemoryAccess) -> None:
    people.run("INSERT INTO Person ?", {"owners": [{"id": "a"}, {"id": "b"}, {"id": "a"}, {"id": "c"}]})
    assert len(people.run("FROM Person AS p, @p.owners AS o WHERE o.id = 'a' REMOVE o")) == 1
    assert only(people) == {"owners": [{"id": "b"}, {"id": "c"}]}


def test_from_nested_alias_set_field_of_element(people: MemoryAccess) -> None:
    people.run("INSERT INTO Person ?", {"owners": [{"id": "a"}, {"id": "b"}]})
    people.run("FROM Person AS p, p.owners AS o WHERE o.id = 'b' SET o.primary = true")
    assert only(people) == {"owners": [{"id": "a"}, {"id": "b", "primary": True}]}


def test_from_second_table_rejected(people: MemoryAccess) -> None:
    people.run("CREATE TABLE Other")
    with pytest.raises(PartiqlError, match="single table"):
        people.run("FROM Person AS p, Other AS o SET p.x = 1")


def test_update_committed_view_rejected(people: MemoryAccess) -> None:
    with pytest.raises(PartiqlError, match="user view"):
        people.run("UPDATE _ql_committed_Person AS p SET p.x = 1")


def test_update_by_variable_not_modifiable(people: MemoryAccess) -> None:
    people.run("INSERT INTO Person ?", {"a": 1})
    with pytest.raises(PartiqlError, match="cannot modify pid"):
        people.run("UPDATE Person AS p BY pid SET pid.x = 1")


def test_update_decimal_arithmetic_exact(people: MemoryAccess) -> None:
    people.run("INSERT INTO Person ?", {"balance": Decimal("0.10")})
    people.run("UPDATE Person AS p SET p.balance = p.balance + 0.20, p.ratio = p.balance / 3")
    document = only(people)
    assert str(document["balance"]) == "0.30"
    assert document["ratio"] == Decimal("0.03333333333333333333333333333333333")


def test_update_arithmetic_int_division_truncates(people: MemoryAccess) -> None:
    people.run("INSERT INTO Person ?", {"a": -7})
    people.run("UPDATE Person AS p SET p.q = p.a / 2, p.r = p.a % 2, p.f = p.a / 2e0")
    assert only(people) == {"a": -7, "q": -3, "r": -1, "f": -3.5}
