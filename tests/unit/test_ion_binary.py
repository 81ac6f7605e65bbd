"""The Ion binary codec: round trips, agreement with amazon.ion simpleion, hash fidelity, errors."""

from __future__ import annotations

import struct
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from amazon.ion import simpleion
from amazon.ion.core import IonType, OffsetTZInfo, Timestamp, TimestampPrecision
from amazon.ion.equivalence import ion_equals
from amazon.ion.simple_types import IonPyDict, IonPyInt, IonPyList, IonPyNull, IonPySymbol
from amazon.ion.symbols import SymbolToken
from hypothesis import given, settings
from hypothesis import strategies as st

from qldb_dr.ion import dump_binary, ion_hash, iter_binary, load_binary, serialize
from qldb_dr.ion.decoder import IonDecodeError
from tests.strategies import ion_values

IVM = b"\xe0\x01\x00\xea"


def model(value: Any) -> Any:
    """All that the Ion data model distinguishes about a value, plus its Python class.

    Scalars are compared by their Ion hash serialization, which keeps the Ion type,
    decimal exponent, timestamp precision and offset, and float bits.
    """
    annotations = tuple(getattr(a, "text", a) for a in getattr(value, "ion_annotations", ()))
    head = (type(value).__name__, getattr(value, "ion_type", None), annotations)
    if value is None or isinstance(value, IonPyNull):
        return (*head, None)
    if isinstance(value, Mapping):
        items = value.iteritems() if hasattr(value, "iteritems") else value.items()
        fields = [(repr(getattr(name, "text", name)), model(field)) for name, field in items]
        return (*head, sorted(fields, key=repr))
    if isinstance(value, list):
        return (*head, [model(item) for item in value])
    return (*head, serialize(value))


def assert_same_ion(actual: Any, expected: Any) -> None:
    """Equal under amazon.ion's equivalence, and byte-equal in the Ion hash serialization."""
    assert ion_equals(actual, expected), (actual, expected)
    assert serialize(actual) == serialize(expected)


def ts(*fields: int, fraction: str | None = None, offset: int | None = None, precision: Any = None) -> Any:
    """A Timestamp at SECOND precision (unless given); offset in minutes, None = unknown."""
    tz = None if offset is None else OffsetTZInfo(timedelta(minutes=offset))
    padded = (*fields, 0, 0, 0)[:6]  # hour, minute, second default to 0
    return Timestamp(
        *padded,
        None,
        tz,
        precision=TimestampPrecision.SECOND if precision is None else precision,
        fractional_seconds=None if fraction is None else Decimal(fraction),
    )


def tlv(type_code: int, body: bytes) -> bytes:
    """A hand-made Ion binary value: type descriptor, length, body."""
    n = len(body)
    if n < 14:
        return bytes((type_code | n,)) + body
    return bytes((type_code | 0x0E,)) + varuint(n) + body


def varuint(n: int) -> bytes:
    out = [0x80 | (n & 0x7F)]
    n >>= 7
    while n:
        out.append(n & 0x7F)
        n >>= 7
    return bytes(reversed(out))


def symbol_table(*texts: str, append: bool = False) -> bytes:
    """$ion_symbol_table::{imports: $ion_symbol_table (if append), symbols: [texts]}."""
    symbols = b"".join(tlv(0x80, t.encode()) for t in texts)
    fields = (b"\x86\x71\x03" if append else b"") + b"\x87" + tlv(0xB0, symbols)
    return tlv(0xE0, b"\x81\x83" + tlv(0xD0, fields))


# -- round trips ---------------------------------------------------------------------------


@given(ion_values())
def test_load_binary_any_value_round_trips_exactly(value: Any) -> None:
    assert model(load_binary(dump_binary([value]))) == model(value)


@given(st.lists(ion_values(max_leaves=6), max_size=4))
def test_iter_binary_stream_of_values_round_trips_in_order(values: list[Any]) -> None:
    assert [model(v) for v in iter_binary(dump_binary(values))] == [model(v) for v in values]


@given(ion_values())
def test_iter_binary_simpleion_output_reads_as_simpleion_reads_it(value: Any) -> None:
    data = simpleion.dumps(value, binary=True)
    (theirs,) = simpleion.loads(data, single_value=False)
    (ours,) = iter_binary(data)
    assert_same_ion(ours, theirs)


@given(ion_values())
def test_dump_binary_output_reads_back_in_simpleion_as_the_value(value: Any) -> None:
    (theirs,) = simpleion.loads(dump_binary([value]), single_value=False)
    assert_same_ion(theirs, value)


@given(ion_values())
def test_ion_hash_binary_round_trip_keeps_the_hash(value: Any) -> None:
    expected = ion_hash(value)
    assert ion_hash(load_binary(dump_binary([value]))) == expected
    assert ion_hash(load_binary(simpleion.dumps(value, binary=True))) == expected


@given(ion_values())
def test_dump_binary_any_value_is_no_longer_than_simpleion_output(value: Any) -> None:
    # amazon.ion's writer is minimal but for struct headers, which always carry a length
    # field (DE 82 for a 2-byte struct): equal symbol order, so never shorter than ours.
    assert len(dump_binary([value])) <= len(simpleion.dumps(value, binary=True))


def test_load_binary_journal_block_shape_returns_plain_values() -> None:
    block = {
        "blockAddress": {"strandId": "JdxjkR9bSYB5jMHWcI464T", "sequenceNo": 100},
        "blockTimestamp": ts(2019, 4, 15, 22, 40, 53, fraction="0.360", offset=0),
        "blockHash": bytes(range(32)),
        "entriesHashList": [bytes(32), b"\xff" * 32],
        "revisions": [{"data": {"price": Decimal("90.25"), "owner": None, "active": True}}],
    }
    value = load_binary(dump_binary([block]))
    assert value == block
    assert type(value) is dict
    assert type(value["revisions"][0]["data"]["price"]) is Decimal
    stamp = value["blockTimestamp"]
    assert type(stamp) is Timestamp
    assert stamp.precision is TimestampPrecision.SECOND
    assert (stamp.fractional_seconds, stamp.fractional_precision) == (Decimal("0.360"), 3)
    assert isinstance(stamp.tzinfo, OffsetTZInfo)
    assert stamp.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("value", "encoding"),
    [
        (0, "20"),
        (255, "21ff"),
        (-1, "3101"),
        (2**64, "29010000000000000000"),
        (0.0, "40"),
        (-0.0, "488000000000000000"),
        (1.5, "483ff8000000000000"),
        (Decimal("0"), "50"),
        (Decimal("-0"), "528080"),
        (Decimal("0E+1"), "5181"),
        (Decimal("1.20"), "52c278"),
        (Decimal("-1.5"), "52c18f"),
        (Decimal("128"), "53800080"),
        ("", "80"),
        ("a" * 13, "8d" + "61" * 13),
        ("a" * 14, "8e8e" + "61" * 14),
        (b"", "a0"),
        ([], "b0"),
        ({}, "d0"),
        (None, "0f"),
        (True, "11"),
        (IonPyNull.from_value(IonType.STRUCT, None), "df"),
        (IonPySymbol.from_value(IonType.SYMBOL, SymbolToken(None, 0)), "70"),
        (ts(2017, 1, 1, precision=TimestampPrecision.YEAR), "63c00fe1"),
        (ts(2019, 9, 16, 19, 37, 5, fraction="0.360", offset=0), "6b800fe3899093a585c30168"),
        (ts(2001, 2, 3, 4, 5, 6, offset=-(12 * 60 + 34)), "6945f20fd1828390a786"),
        (ts(2001, 2, 3, 4, 5, 6, fraction="0.000"), "69c00fd18283848586c3"),
    ],
)
def test_dump_binary_scalar_writes_minimal_encoding(value: Any, encoding: str) -> None:
    assert dump_binary([value]) == IVM + bytes.fromhex(encoding)


def test_dump_binary_symbols_declared_once_in_order_of_first_use() -> None:
    data = dump_binary([{"b": 1, "a": IonPySymbol.from_value(IonType.SYMBOL, "b")}, {"a": 2}])
    assert data.startswith(IVM + symbol_table("b", "a"))
    assert data.endswith(bytes.fromhex("d68a21018b710ad38b2102"))


def test_dump_binary_field_name_with_system_text_reuses_the_system_sid() -> None:
    assert dump_binary([{"name": 1}]) == IVM + bytes.fromhex("d3842101")


def test_dump_binary_no_values_writes_only_the_version_marker() -> None:
    assert dump_binary([]) == IVM
    assert list(iter_binary(IVM)) == []


def test_dump_binary_naive_datetime_reads_back_as_microsecond_timestamp_with_same_hash() -> None:
    moment = datetime(2020, 1, 2, 3, 4, 5, 120)
    value = load_binary(dump_binary([moment]))
    assert value == moment
    assert value.tzinfo is None
    assert (value.precision, value.fractional_seconds) == (TimestampPrecision.SECOND, Decimal("0.000120"))
    assert ion_hash(value) == ion_hash(moment)


def test_dump_binary_aware_datetime_keeps_the_offset() -> None:
    moment = datetime(2020, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5)))
    value = load_binary(dump_binary([moment]))
    assert value == moment
    assert value.utcoffset() == timedelta(hours=-5)
    assert ion_hash(value) == ion_hash(moment)


def test_dump_binary_offset_with_seconds_raises_value_error() -> None:
    with pytest.raises(ValueError, match="whole minutes"):
        dump_binary([datetime(2020, 1, 1, tzinfo=timezone(timedelta(seconds=30)))])


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity")])
def test_dump_binary_non_finite_decimal_raises_value_error(value: Decimal) -> None:
    with pytest.raises(ValueError, match="finite"):
        dump_binary([value])


def test_dump_binary_unsupported_type_raises_type_error() -> None:
    with pytest.raises(TypeError, match="set"):
        dump_binary([{1, 2}])


def test_dump_binary_symbol_token_and_tuple_write_symbol_and_list() -> None:
    value = load_binary(dump_binary([[SymbolToken("s", None), (1, 2)]]))
    assert model(value) == model([IonPySymbol.from_value(IonType.SYMBOL, "s"), [1, 2]])


def test_dump_binary_unknown_text_symbol_with_sid_reads_back_with_unknown_text() -> None:
    value = load_binary(dump_binary([IonPySymbol.from_value(IonType.SYMBOL, SymbolToken(None, 42))]))
    assert value.text is None
    assert value.sid != 0
    assert serialize(value) == b"\x0b\x71\x0e"


# -- reading system values -----------------------------------------------------------------


def test_iter_binary_version_marker_mid_stream_resets_the_symbol_table() -> None:
    data = dump_binary([{"a": 1}]) + dump_binary([{"b": 2}])
    assert list(iter_binary(data)) == [{"a": 1}, {"b": 2}]


def test_iter_binary_local_symbol_after_version_marker_is_unknown() -> None:
    data = IVM + symbol_table("a") + IVM + b"\xd3\x8a\x21\x01"
    with pytest.raises(IonDecodeError, match="unknown symbol ID 10") as caught:
        list(iter_binary(data))
    assert caught.value.offset == len(IVM + symbol_table("a") + IVM) + 1


def test_iter_binary_appended_symbol_table_extends_the_current_one() -> None:
    data = IVM + symbol_table("a") + symbol_table("b", append=True) + b"\xd3\x8a\x71\x0b"
    (value,) = iter_binary(data)
    assert model(value) == model({"a": IonPySymbol.from_value(IonType.SYMBOL, "b")})


def test_iter_binary_new_symbol_table_replaces_the_current_one() -> None:
    data = IVM + symbol_table("a") + symbol_table("b") + b"\xd3\x8a\x21\x01"
    assert list(iter_binary(data)) == [{"b": 1}]


def test_iter_binary_system_symbols_resolve_without_a_table() -> None:
    (value,) = iter_binary(IVM + b"\xd3\x84\x71\x05")  # {name: version}
    assert model(value) == model({"name": IonPySymbol.from_value(IonType.SYMBOL, "version")})


def test_iter_binary_symbol_zero_field_name_reads_as_none() -> None:
    (value,) = iter_binary(IVM + b"\xd2\x80\x20")
    assert value == {None: 0}
    assert serialize(value) == serialize(simpleion.loads("{$0: 0}"))


def test_iter_binary_nop_padding_is_skipped_everywhere() -> None:
    # top level: 1-byte and 3-byte pads; list: a pad; struct: a pad with a field name
    data = IVM + b"\x00\x02\xff\xff" + b"\xb4\x21\x01\x01\x00" + b"\xd5\x84\x00\x84\x21\x07"
    assert list(iter_binary(data)) == [[1], {"name": 7}]


def test_iter_binary_ordered_struct_is_read() -> None:
    assert list(iter_binary(IVM + b"\xd1\x83\x84\x21\x07")) == [{"name": 7}]


def test_iter_binary_single_precision_float_is_read() -> None:
    assert load_binary(IVM + b"\x44" + struct.pack(">f", 1.5)) == 1.5


def test_iter_binary_annotated_and_typed_values_are_ion_py() -> None:
    data = simpleion.dumps(simpleion.loads('[a::1, b::c::true, null.int, d::null, (1 2), {{"c"}}, e::{f: 1}]'))
    value = load_binary(data)
    assert isinstance(value[0], IonPyInt)
    assert (value[0].ion_type, value[0].ion_annotations) == (IonType.INT, ("a",))
    assert (value[1].ion_type, value[1].ion_annotations, bool(value[1])) == (IonType.BOOL, ("b", "c"), True)
    assert (type(value[2]), value[2].ion_type) == (IonPyNull, IonType.INT)
    assert (type(value[3]), value[3].ion_type, value[3].ion_annotations) == (IonPyNull, IonType.NULL, ("d",))
    assert (type(value[4]), value[4].ion_type, value[4]) == (IonPyList, IonType.SEXP, [1, 2])
    assert (value[5].ion_type, value[5]) == (IonType.CLOB, b"c")
    assert (type(value[6]), value[6].ion_annotations, dict(value[6])) == (IonPyDict, ("e",), {"f": 1})


def test_iter_binary_repeated_field_names_keep_every_field() -> None:
    value = load_binary(simpleion.dumps(simpleion.loads("{a: 1, b: 2, a: 3}")))
    assert isinstance(value, IonPyDict)
    assert sorted(value.iteritems()) == [("a", 1), ("a", 3), ("b", 2)]


def test_iter_binary_year_precision_timestamp_with_offset_matches_simpleion() -> None:
    data = IVM + bytes.fromhex("63800fe16442ac0fe1")  # 2017T at offsets +00:00 and -05:00
    ours = list(iter_binary(data))
    theirs = simpleion.loads(data, single_value=False)
    assert [model(v)[3] for v in ours] == [serialize(v) for v in theirs]
    assert all(ion_equals(a, b) for a, b in zip(ours, theirs, strict=True))


def test_iter_binary_empty_input_yields_nothing() -> None:
    assert list(iter_binary(b"")) == []


# -- errors --------------------------------------------------------------------------------


def _decode_error(data: bytes) -> IonDecodeError:
    with pytest.raises(IonDecodeError) as caught:
        list(iter_binary(data))
    assert caught.value.offset is not None
    assert f"at byte {caught.value.offset}" in str(caught.value)
    return caught.value


def test_iter_binary_every_truncation_raises_decode_error_with_offset() -> None:
    day = ts(2020, 1, 1, precision=TimestampPrecision.DAY)
    data = dump_binary([{"a": [1, "two", Decimal("3.0")], "t": day}])
    clean_cuts = 0
    for cut in range(len(IVM) + 1, len(data)):
        try:
            assert list(iter_binary(data[:cut])) == []
            clean_cuts += 1  # cut right after the symbol table
        except IonDecodeError:
            _decode_error(data[:cut])
    assert clean_cuts == 1


def test_iter_binary_length_past_the_end_raises_decode_error_naming_the_value() -> None:
    error = _decode_error(IVM + b"\x21\x01" + b"\x85ab")  # a 5-byte string with 2 bytes
    assert error.offset == 6
    assert "runs past the end" in str(error)


def test_iter_binary_length_past_the_container_raises_decode_error() -> None:
    error = _decode_error(IVM + b"\xb2\x82ab")  # list of 2 bytes holding a 2-byte string
    assert error.offset == 5


def test_iter_binary_unknown_symbol_id_raises_decode_error() -> None:
    error = _decode_error(IVM + b"\xb2\x71\x0a")
    assert error.offset == 5
    assert "unknown symbol ID 10" in str(error)


def test_iter_binary_unknown_annotation_symbol_raises_decode_error() -> None:
    error = _decode_error(IVM + b"\xe3\x81\x8a\x20")
    assert "unknown symbol ID 10" in str(error)


def test_iter_binary_invalid_utf8_raises_decode_error() -> None:
    error = _decode_error(IVM + b"\x20" + b"\x82\xc3\x28")
    assert error.offset == 5
    assert "UTF-8" in str(error)


BAD_DESCRIPTORS = [b"\xf0", b"\x12", b"\x30", b"\x43\x00\x00\x00", b"\xef", b"\xe2\x81\x84"]


@pytest.mark.parametrize("descriptor", BAD_DESCRIPTORS)
def test_iter_binary_bad_type_descriptor_raises_decode_error(descriptor: bytes) -> None:
    assert _decode_error(IVM + descriptor).offset == 4


def test_iter_binary_annotation_wrapper_around_a_nop_raises_decode_error() -> None:
    assert "exactly one value" in str(_decode_error(IVM + b"\xe3\x81\x84\x00"))


def test_iter_binary_annotation_wrapper_longer_than_its_value_raises_decode_error() -> None:
    assert "fill the wrapper" in str(_decode_error(IVM + b"\xe4\x81\x84\x20\x20"))


def test_iter_binary_shared_symbol_table_import_raises_decode_error_naming_it() -> None:
    shared = tlv(0xD0, b"\x84" + tlv(0x80, b"com.example.dmv") + b"\x85\x21\x01\x88\x21\x05")
    table = tlv(0xE0, b"\x81\x83" + tlv(0xD0, b"\x86" + tlv(0xB0, shared)))
    error = _decode_error(IVM + table + b"\x71\x0a")
    assert error.offset == 4
    assert "'com.example.dmv'" in str(error)
    assert "shared symbol table" in str(error)


def test_iter_binary_import_of_the_system_table_is_not_an_error() -> None:
    system = tlv(0xD0, b"\x84" + tlv(0x80, b"$ion") + b"\x85\x21\x01")
    table = tlv(0xE0, b"\x81\x83" + tlv(0xD0, b"\x86" + tlv(0xB0, system) + b"\x87" + tlv(0xB0, b"\x81a")))
    assert load_binary(IVM + table + b"\xd3\x8a\x21\x01") == {"a": 1}


def test_iter_binary_missing_version_marker_raises_decode_error() -> None:
    assert _decode_error(b"\x21\x01").offset == 0


def test_iter_binary_other_ion_version_raises_decode_error() -> None:
    error = _decode_error(IVM + b"\x20" + b"\xe0\x02\x00\xea")
    assert (error.offset, "unsupported Ion version" in str(error)) == (5, True)


def test_iter_binary_invalid_timestamp_raises_decode_error() -> None:
    assert _decode_error(IVM + b"\x64\x80\x0f\xe1\x8d").offset == 4  # month 13


def test_iter_binary_deep_nesting_raises_decode_error() -> None:
    value = b"\x20"
    for _ in range(5000):
        value = tlv(0xB0, value)
    assert "nested too deeply" in str(_decode_error(IVM + value))


def test_iter_binary_nesting_limit_is_exact() -> None:
    # The same limit whether the decoder runs as Python or compiled (where nothing else stops
    # a crafted stream from exhausting the C stack).
    from qldb_dr.ion.decoder import MAX_DEPTH

    def nested(levels: int) -> bytes:
        value = b"\x20"
        for _ in range(levels):
            value = tlv(0xB0, value)
        return IVM + value

    assert load_binary(nested(MAX_DEPTH)) is not None
    assert "nested too deeply" in str(_decode_error(nested(MAX_DEPTH + 1)))


def test_load_binary_two_values_raises_decode_error() -> None:
    with pytest.raises(IonDecodeError, match="exactly one top-level value, found 2"):
        load_binary(IVM + b"\x20\x20")


@settings(max_examples=300)
@given(st.data())
def test_iter_binary_corrupted_stream_raises_only_decode_error(data: st.DataObject) -> None:
    stream = bytearray(dump_binary([data.draw(ion_values(max_leaves=8))]))
    for _ in range(data.draw(st.integers(1, 3))):
        position = data.draw(st.integers(len(IVM), len(stream) - 1))
        stream[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(len(IVM), len(stream)))
    try:
        list(iter_binary(bytes(stream[:cut])))
    except IonDecodeError as error:
        assert error.offset is not None
