"""Type fidelity: what goes in as a parameter comes back out unchanged — decimal exponents,
timestamp precision and offsets, symbols, clobs, sexps, typed nulls, annotations, repeats."""

from __future__ import annotations

from typing import Any

from amazon.ion import simpleion
from amazon.ion.equivalence import ion_equals
from hypothesis import given, settings
from hypothesis import strategies as st

from qldb_dr.partiql.values import make_struct, struct_items
from tests.partiql.memory import MemoryAccess
from tests.partiql.strategies import ion_structs, ion_values, local_ion_structs


def identical(actual: Any, expected: Any) -> bool:
    """Equal under the Ion data model and serialised to the same bytes (so a symbol that came
    back as a string, or a clob as a blob, fails even where ion_equals is lenient)."""
    return bool(ion_equals(actual, expected)) and simpleion.dumps(actual) == simpleion.dumps(expected)


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def annotation_texts(value: Any) -> list[str]:
    return [getattr(a, "text", a) for a in getattr(value, "ion_annotations", ())]


def string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def table() -> MemoryAccess:
    access = MemoryAccess()
    access.run("CREATE TABLE T")
    return access


@settings(max_examples=150, deadline=None)
@given(ion_structs())
def test_fidelity_insert_then_select_star_identical(document: Any) -> None:
    access = table()
    access.run("INSERT INTO T ?", document)
    (stored,) = access.run("SELECT * FROM T")
    assert identical(stored, document)


@settings(max_examples=150, deadline=None)
@given(ion_structs())
def test_fidelity_projected_fields_identical(document: Any) -> None:
    access = table()
    access.run("INSERT INTO T ?", document)
    for name in {n for n, _ in struct_items(document)}:
        (row,) = access.run(f"SELECT d.{quoted(name)} FROM T AS d")
        (value,) = access.run(f"SELECT VALUE d[{string(name)}] FROM T AS d")
        assert identical(row[name], document[name])
        assert identical(value, document[name])


@settings(max_examples=150, deadline=None)
@given(ion_structs(), ion_values)
def test_fidelity_update_keeps_other_fields_and_new_value_identical(document: Any, value: Any) -> None:
    access = table()
    access.run("INSERT INTO T ?", document)
    access.run('UPDATE T AS d SET d."new field" = ?', value)
    (stored,) = access.run("SELECT * FROM T")
    assert identical(stored["new field"], value)
    assert annotation_texts(stored) == annotation_texts(document)
    others = [(n, v) for n, v in struct_items(stored) if n != "new field"]
    expected = [(n, v) for n, v in struct_items(document) if n != "new field"]
    assert len(others) == len(expected)
    for (name, got), (want_name, want) in zip(others, expected, strict=True):
        assert name == want_name and identical(got, want)


@settings(max_examples=150, deadline=None)
@given(ion_structs(), local_ion_structs(), ion_values)
def test_fidelity_nested_update_keeps_enclosing_struct_identical(outer: Any, inner: Any, value: Any) -> None:
    access = table()
    document = make_struct([*((n, v) for n, v in struct_items(outer) if n != "nested"), ("nested", inner)])
    access.run("INSERT INTO T ?", document)
    access.run('UPDATE T AS d SET d.nested."new field" = ?', value)
    (stored,) = access.run("SELECT * FROM T")
    nested = stored["nested"]
    assert identical(nested["new field"], value)
    assert annotation_texts(nested) == annotation_texts(inner)
    kept = [(n, v) for n, v in struct_items(nested) if n != "new field"]
    expected = [(n, v) for n, v in struct_items(inner) if n != "new field"]
    assert [n for n, _ in kept] == [n for n, _ in expected]
    assert all(identical(a, b) for (_, a), (_, b) in zip(kept, expected, strict=True))


@settings(max_examples=150, deadline=None)
@given(ion_values)
def test_fidelity_parameter_through_select_value_identical(value: Any) -> None:
    access = table()
    access.run("INSERT INTO T ?", {"a": 1})
    (result,) = access.run("SELECT VALUE ? FROM T", value)
    assert identical(result, value)


@settings(max_examples=150, deadline=None)
@given(ion_values)
def test_fidelity_ion_literal_identical_to_its_text(value: Any) -> None:
    text = simpleion.dumps(value, binary=False, omit_version_marker=True)
    (result,) = MemoryAccess().run(f"SELECT VALUE `{text}` FROM [0] AS x")
    assert identical(result, simpleion.loads(text))


@settings(max_examples=100, deadline=None)
@given(st.lists(ion_structs(), min_size=1, max_size=4))
def test_fidelity_insert_list_parameter_each_document_identical(documents: list[Any]) -> None:
    access = table()
    inserted = access.run("INSERT INTO T ?", documents)
    for row, document in zip(inserted, documents, strict=True):
        (stored,) = access.run("SELECT * FROM T BY i WHERE i = ?", row["documentId"])
        assert identical(stored, document)
