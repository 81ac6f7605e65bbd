"""The Ion hash (qldb_dr.ion.hash): equal to ionhash, and to the ion-hash-test vectors."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import ionhash  # noqa: F401  (patches .ion_hash() onto amazon.ion's IonPy values)
import pytest
from amazon.ion import simpleion
from amazon.ion.core import IonType, Timestamp, TimestampPrecision
from amazon.ion.simple_types import IonPyDict, IonPyInt, IonPySymbol
from amazon.ion.symbols import SymbolToken
from hypothesis import given
from hypothesis import strategies as st

import qldb_dr.ion.hash as hash_module
from qldb_dr.ion import ion_hash, load_binary, serialize
from qldb_dr.ion.hash import IonHashError
from tests.strategies import annotate, ion_structs, ion_values

GOLDEN = Path(__file__).resolve().parents[2] / ".." / "shared" / "qldb" / "golden"
HASH_VECTORS = GOLDEN / "ion_hash_tests.ion"
IVM = b"\xe0\x01\x00\xea"
# The pinned ion_hash_tests.ion has 167 cases with 171 final digests (166 identity, 5 md5).
MIN_VECTORS_CHECKED = 171


def ionhash_sha256(value: Any) -> bytes:
    """ionhash's SHA-256 Ion hash of the value, after a simpleion round trip."""
    digest: bytes = simpleion.loads(simpleion.dumps(value, binary=True)).ion_hash("SHA256")
    return digest


# -- agreement with ionhash ----------------------------------------------------------------


@given(ion_values())
def test_ion_hash_any_value_equals_ionhash(value: Any) -> None:
    assert ion_hash(value) == ionhash_sha256(value)


@given(ion_values())
def test_ion_hash_simpleion_read_value_equals_ionhash(value: Any) -> None:
    loaded = simpleion.loads(simpleion.dumps(value, binary=True))
    assert ion_hash(loaded) == loaded.ion_hash("SHA256")


def test_ion_hash_year_precision_timestamp_equals_ionhash() -> None:
    # Regression: TimestampPrecision.YEAR is the int 0, so `precision or SECOND` hashed
    # year-precision timestamps as second precision.
    for text in ("2017T", "2017-02T", "2017-02-03T"):
        value = simpleion.loads(text)
        assert ion_hash(value) == value.ion_hash("SHA256"), text
    assert serialize(simpleion.loads("2017T")) == bytes.fromhex("0b60c00fe10e")


def test_serialize_plain_symbol_token_is_a_symbol() -> None:
    # Regression: SymbolToken is a tuple, and was serialized as a list of its fields.
    assert serialize(SymbolToken("abc", None)) == b"\x0b\x70abc\x0e"
    assert serialize(SymbolToken(None, 0)) == b"\x0b\x71\x0e"
    assert ion_hash(SymbolToken("abc", 12)) == ionhash_sha256(SymbolToken("abc", None))


def test_ion_hash_journal_values_match_ionhash() -> None:
    value = simpleion.loads(
        '{blockAddress: {strandId: "JdxjkR9bSYB5jMHWcI464T", sequenceNo: 100},'
        " blockTimestamp: 2019-04-15T22:40:53.456Z, price: 90.25, owners: [], gone: null,"
        " hash: {{ eFBPOl7Pe6xzKJc7Bd3r/LI/5y3pJcBmV1F+QS9bNiU= }}}"
    )
    assert ion_hash(value) == value.ion_hash("SHA256")
    assert ion_hash(load_binary(simpleion.dumps(value))) == value.ion_hash("SHA256")


# -- properties of the hash ----------------------------------------------------------------


def _reversed_struct(value: Any) -> Any:
    if isinstance(value, IonPyDict):
        reordered = IonPyDict.from_value(IonType.STRUCT, {})
        for name, field in reversed(value.items()):
            reordered.add_item(name, field)
        return reordered
    return dict(reversed(list(value.items())))


@given(ion_structs())
def test_ion_hash_struct_field_order_does_not_change_the_hash(value: Any) -> None:
    reordered = _reversed_struct(value)
    assert sorted(map(repr, reordered.items())) == sorted(map(repr, value.items()))
    assert ion_hash(reordered) == ion_hash(value)


@given(st.integers(-(10**6), 10**6))
def test_ion_hash_same_number_as_int_decimal_float_hashes_differently(n: int) -> None:
    hashes = {ion_hash(n), ion_hash(Decimal(n)), ion_hash(float(n)), ion_hash(Decimal(n).scaleb(-1))}
    assert len(hashes) == 4


def test_ion_hash_one_as_int_decimal_float_hashes_differently() -> None:
    values = [1, Decimal("1"), Decimal("1.0"), 1.0, True, "1", IonPySymbol.from_value(IonType.SYMBOL, "1")]
    assert len({ion_hash(v) for v in values}) == len(values)


@given(st.text(max_size=10))
def test_ion_hash_string_and_symbol_of_same_text_hash_differently(text: str) -> None:
    assert ion_hash(text) != ion_hash(IonPySymbol.from_value(IonType.SYMBOL, text))


@given(ion_values(max_leaves=4), st.text(min_size=1, max_size=4))
def test_ion_hash_annotation_changes_the_hash(value: Any, annotation: str) -> None:
    if not getattr(value, "ion_annotations", ()):
        assert ion_hash(annotate(value, [annotation])) != ion_hash(value)


def test_ion_hash_timestamp_precision_changes_the_hash() -> None:
    two = simpleion.loads("2019-09-16T19:37:05.36Z")
    three = simpleion.loads("2019-09-16T19:37:05.360Z")
    assert two == three  # the same instant, to datetime
    assert ion_hash(two) != ion_hash(three)
    assert ion_hash(three) == three.ion_hash("SHA256")
    dates = [simpleion.loads(t) for t in ("2019T", "2019-01T", "2019-01-01T", "2019-01-01T00:00-00:00")]
    assert len({ion_hash(d) for d in dates}) == len(dates)


def test_ion_hash_unknown_offset_differs_from_utc() -> None:
    assert ion_hash(simpleion.loads("2019-09-16T19:37:05Z")) != ion_hash(simpleion.loads("2019-09-16T19:37:05-00:00"))


def test_ion_hash_typed_null_differs_from_null() -> None:
    assert ion_hash(None) != ion_hash(simpleion.loads("null.string"))
    assert serialize(simpleion.loads("null.string")) == b"\x0b\x8f\x0e"


def test_ion_hash_repeated_field_names_all_count() -> None:
    both = simpleion.loads("{a: 1, a: 2}")
    assert ion_hash(both) == both.ion_hash("SHA256")
    assert ion_hash(both) not in {ion_hash({"a": 1}), ion_hash({"a": 2})}


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("-Infinity"), object(), {1, 2}])
def test_ion_hash_non_ion_value_raises_ion_hash_error(value: Any) -> None:
    with pytest.raises(IonHashError):
        ion_hash(value)


def test_ion_hash_annotated_int_matches_ionhash() -> None:
    value = IonPyInt.from_value(IonType.INT, 7, ("hello",))
    assert serialize(value) == bytes.fromhex("0be00b7068656c6c6f0e0b20070e0e")
    assert ion_hash(value) == ionhash_sha256(value)


def test_ion_hash_timestamp_fraction_digits_match_ionhash() -> None:
    fraction = Decimal("0.123456789")
    value = Timestamp(2001, 2, 3, 4, 5, 6, precision=TimestampPrecision.SECOND, fractional_seconds=fraction)
    assert ion_hash(value) == ionhash_sha256(value)


# -- the ion-hash-test conformance vectors -------------------------------------------------


class _IdentityHash:
    """The vectors' "identity" hash function: the digest is the bytes given."""

    def __init__(self, data: bytes = b"") -> None:
        self._data = bytes(data)

    def digest(self) -> bytes:
        return self._data


def _final_digest(expectations: Any) -> bytes | None:
    """The bytes of the last ``digest::`` or ``final_digest::`` of an expectation."""
    for step in reversed(expectations):
        names = [getattr(a, "text", a) for a in step.ion_annotations]
        if "digest" in names or "final_digest" in names:
            return bytes(step)
    return None


def _vector_value(case: Any) -> Any:
    if "ion" in case:
        return case["ion"]
    return load_binary(IVM + bytes(case["10n"]))  # also exercises our reader


@pytest.mark.golden
def test_serialize_ion_hash_test_vectors_give_the_expected_digests(monkeypatch: pytest.MonkeyPatch) -> None:
    if not GOLDEN.is_dir():
        pytest.skip(f"the golden folder (../shared/qldb/golden) is not present: {GOLDEN}")
    cases = simpleion.loads(HASH_VECTORS.read_text(encoding="utf-8"), single_value=False)
    # Struct fields are hashed with SHA-256 inside `serialize`; the vectors use the identity
    # and MD5 functions, so the test swaps the module's hash function for each.
    functions: dict[str, tuple[Callable[..., Any], Callable[[bytes], bytes]]] = {
        "identity": (_IdentityHash, lambda data: data),
        "md5": (hashlib.md5, lambda data: hashlib.md5(data).digest()),
    }
    checked = 0
    skipped: Counter[str] = Counter()
    failures = []
    for case in cases:
        name = case.ion_annotations[0].text if case.ion_annotations else None
        value = _vector_value(case)
        for function, expectations in case["expect"].items():
            if function not in functions:
                skipped[f"hash function {function!r} is not supported"] += 1
                continue
            expected = _final_digest(expectations)
            if expected is None:
                skipped["only intermediate update() calls are expected"] += 1
                continue
            field_hash, top_level = functions[function]
            monkeypatch.setattr(hash_module, "sha256", field_hash)
            actual = top_level(serialize(value))
            if actual != expected:
                failures.append((name or simpleion.dumps(value, binary=False), function))
            checked += 1
    assert failures == []
    assert checked >= MIN_VECTORS_CHECKED, f"only {checked} vectors checked; skipped: {dict(skipped)}"


@given(ion_values())
def test_typed_any_value_same_hash_and_all_typed(value: Any) -> None:
    from qldb_dr.ion.typed import typed

    converted = typed(value)
    assert ion_hash(converted) == ion_hash(value)

    def all_typed(v: Any) -> bool:
        if not hasattr(v, "ion_type"):
            return False
        if type(v).__name__ == "IonPyNull":
            return True
        if v.ion_type is IonType.STRUCT:
            return all(all_typed(f) for _, f in v.iteritems())
        if v.ion_type in (IonType.LIST, IonType.SEXP):
            return all(all_typed(x) for x in v)
        return True

    assert all_typed(converted)
