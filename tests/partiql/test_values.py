"""PartiQL value semantics: kinds, equality, ordering and index keys over Ion values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from amazon.ion import simpleion
from amazon.ion.core import IonType
from amazon.ion.simple_types import IonPyInt, IonPyNull, IonPySymbol, IonPyText
from amazon.ion.symbols import SymbolToken
from hypothesis import given, settings
from hypothesis import strategies as st

from qldb_dr.partiql import PartiqlError
from qldb_dr.partiql.values import (
    MISSING,
    Bag,
    Kind,
    deep_copy,
    equals,
    index_key,
    kind,
    make_struct,
    order,
)
from tests.partiql.memory import MemoryAccess
from tests.partiql.strategies import ion_values, timestamps


def ion(text: str) -> Any:
    return simpleion.loads(text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, Kind.BOOL),
        (ion("true"), Kind.BOOL),
        (IonPyInt.from_value(IonType.BOOL, 0), Kind.BOOL),
        (1, Kind.INT),
        (ion("1"), Kind.INT),
        (IonPyInt(5), Kind.INT),
        (ion("sym"), Kind.SYMBOL),
        (IonPyText.from_value(IonType.SYMBOL, "s"), Kind.SYMBOL),
        (ion('{{"c"}}'), Kind.CLOB),
        (ion("{{aGk=}}"), Kind.BLOB),
        (ion("(a b)"), Kind.SEXP),
        (ion("null.struct"), Kind.NULL),
        (ion("{a: 1}"), Kind.STRUCT),
        (Bag([1]), Kind.BAG),
        (MISSING, Kind.MISSING),
    ],
)
def test_kind_ion_representation_classified(value: Any, expected: Kind) -> None:
    assert kind(value) is expected


def test_kind_non_ion_value_error() -> None:
    with pytest.raises(PartiqlError, match="object is not an Ion value"):
        kind(object())


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (1, Decimal("1.000")),
        (1, 1.0),
        (Decimal("0.5"), 0.5),
        ("abc", ion("abc")),
        (ion("2020T"), ion("2020-01-01T00:00:00.000Z")),
        (ion("2020-01-01T01:00+01:00"), ion("2020-01-01T00:00Z")),
        ([1, None], ion("[1.0, null.int]")),
        (ion("{a: 1, b: [x]}"), {"b": ["x"], "a": 1}),
        (ion("{k: 1, k: 2}"), ion("{k: 2, k: 1}")),
        (ion("(1 2)"), ion("(1 2)")),
        (Bag([1, 2]), Bag([2, 1])),
        (ion("true"), True),
    ],
)
def test_equals_same_value_different_representation_true(a: Any, b: Any) -> None:
    assert equals(a, b) is True
    assert equals(b, a) is True
    assert index_key(a) == index_key(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (Decimal("0.1"), 0.1),
        (1, "1"),
        (1, True),
        (ion("{{aGk=}}"), ion('{{"hi"}}')),
        ([1, 2], ion("(1 2)")),
        ([1, 2], [2, 1]),
        (ion("{k: 1, k: 2}"), ion("{k: 1}")),
        ({"a": 1}, {"A": 1}),
        (float("nan"), float("nan")),
    ],
)
def test_equals_different_values_false(a: Any, b: Any) -> None:
    assert equals(a, b) is False
    assert index_key(a) != index_key(b) or index_key(a) is None


def test_equals_null_unknown_missing_missing() -> None:
    assert equals(None, None) is None
    assert equals(ion("null.int"), 1) is None
    assert equals(MISSING, None) is MISSING
    assert equals(1, MISSING) is MISSING


@pytest.mark.parametrize(
    ("op", "a", "b", "expected"),
    [
        ("<", 1, Decimal("1.5"), True),
        ("<=", 2.0, 2, True),
        (">", "b", ion("a"), True),
        ("<", ion("2020-01-01T00:00+01:00"), ion("2019-12-31T23:30Z"), True),
        ("<", False, True, True),
        ("<", float("nan"), 1, False),
        (">", Decimal(1), float("nan"), False),
        ("<", None, 1, None),
        ("<", MISSING, 1, MISSING),
    ],
)
def test_order_comparable_values(op: str, a: Any, b: Any, expected: Any) -> None:
    assert order(op, a, b) is expected


@pytest.mark.parametrize(("a", "b"), [(1, "1"), ([1], [1]), ({"a": 1}, {"a": 1}), (b"a", b"b"), (True, 1)])
def test_order_incomparable_values_error(a: Any, b: Any) -> None:
    with pytest.raises(PartiqlError, match="cannot compare"):
        order("<", a, b)


def test_index_key_null_missing_nan_none() -> None:
    assert index_key(None) is None
    assert index_key(IonPyNull.from_value(IonType.STRING, None)) is None
    assert index_key(MISSING) is None
    assert index_key(float("nan")) is None


def test_make_struct_repeated_names_kept() -> None:
    struct = make_struct([("k", 1), ("j", 2), ("k", 3)])
    assert sorted(struct.items()) == [("j", 2), ("k", 1), ("k", 3)]
    assert make_struct([("a", 1)]) == {"a": 1} and type(make_struct([("a", 1)])) is dict


numbers = st.sampled_from([0, 1, -1, 2, Decimal("1.0"), Decimal("-0.00"), Decimal("2.00"), 1.0, 0.0, -0.0, 2.0, 0.5])
texts = st.sampled_from(["a", "b", ""]).flatmap(
    lambda t: st.sampled_from([t, IonPyText.from_value(IonType.SYMBOL, t), ion(f"'{t}'") if t else ion("''")])
)
comparable = st.one_of(numbers, texts, st.booleans(), timestamps(), st.binary(max_size=2))
pool = st.one_of(
    comparable,
    st.lists(comparable, max_size=2),
    st.dictionaries(st.sampled_from("ab"), comparable, max_size=2),
)


@settings(max_examples=400)
@given(pool, pool)
def test_index_key_equal_exactly_when_equals_true(a: Any, b: Any) -> None:
    assert (equals(a, b) is True) == (index_key(a) == index_key(b))


@settings(max_examples=200)
@given(ion_values)
def test_deep_copy_equal_and_unshared(value: Any) -> None:
    copy = deep_copy(value)
    assert simpleion.dumps(copy) == simpleion.dumps(value)
    if isinstance(value, list | dict) or kind(value) in (Kind.LIST, Kind.SEXP, Kind.STRUCT):
        assert copy is not value or isinstance(value, IonPyNull)


def test_equals_symbol_unknown_text_equals_only_itself() -> None:
    unknown = IonPySymbol.from_value(IonType.SYMBOL, SymbolToken(None, 0))
    assert equals(unknown, IonPySymbol.from_value(IonType.SYMBOL, SymbolToken(None, 0))) is True
    assert equals(unknown, "") is False
    assert index_key(unknown) != index_key("")
    with pytest.raises(PartiqlError, match="no known text"):
        order("<", unknown, "a")


def _linear_in(needle: Any, haystack: list[Any]) -> Any:
    """`needle IN haystack` as SQL defines it: true if an element equals it, unknown (NULL) if
    none does but one comparison is unknown, else false."""
    results = [equals(needle, element) for element in haystack]
    return True if True in results else (None if any(r is not False for r in results) else False)


@settings(max_examples=300, deadline=None)
@given(pool, st.lists(st.one_of(pool, st.just(None)), min_size=0, max_size=40), st.booleans())
def test_in_list_hashed_or_scanned_agrees_with_equals(needle: Any, haystack: list[Any], negated: bool) -> None:
    # From 16 elements on, IN looks the needle up among the elements' index keys; below, it
    # compares one by one. Either way the answer is equals()'s.
    access = MemoryAccess()
    expected = _linear_in(needle, haystack)
    if negated and expected is not None:
        expected = not expected
    operator = "NOT IN" if negated else "IN"
    # Two rows: the second test reuses the collection's keys kept from the first.
    rows = access.run(f"SELECT VALUE (? {operator} ?) FROM <<1, 2>> AS z", needle, haystack)
    assert [None if kind(r) is Kind.NULL else r for r in rows] == [expected, expected]
