"""The Amazon Ion Hash (spec 1.0) over SHA-256, exactly as QLDB computes it.

Written by hand rather than calling ``ionhash``: ionhash serialises every scalar through
amazon.ion's writer and event objects, which makes hashing a journal several times
slower than reading it. The rules below mirror ionhash (and amazon.ion's binary writer,
whose byte layout the spec borrows) line for line; ``tests/unit/test_ion_hash.py`` holds
this module equal to ionhash on generated values and to the ion-hash-test vectors.

``serialize(v)`` is the spec's ``s(v)``; ``ion_hash(v)`` is ``H(v) = SHA256(s(v))``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from hashlib import sha256
from struct import pack
from typing import Any

from amazon.ion.core import IonType, Timestamp, TimestampPrecision
from amazon.ion.symbols import SymbolToken

from qldb_dr.ion.constants import TYPE_CODE
from qldb_dr.ion.encoder import varuint

_END = b"\x0e"


class IonHashError(ValueError):
    """A value cannot be Ion-hashed (not an Ion value, or a decimal NaN/Infinity)."""


def ion_hash(value: Any) -> bytes:
    """``H(value)``: the 32-byte SHA-256 Ion hash."""
    return sha256(serialize(value)).digest()


def serialize(value: Any) -> bytes:
    """``s(value)``: the byte string that ``H`` hashes."""
    writer = _BY_CLASS.get(type(value))
    if writer is not None:
        return writer(value)
    return _ion_py(value)


def _escape(representation: bytes) -> bytes:
    if b"\x0b" in representation or b"\x0c" in representation or b"\x0e" in representation:
        return representation.replace(b"\x0c", b"\x0c\x0c").replace(b"\x0b", b"\x0c\x0b").replace(b"\x0e", b"\x0c\x0e")
    return representation


def _scalar(tq: int, representation: bytes) -> bytes:
    return bytes((0x0B, tq)) + _escape(representation) + _END


# -- primitive fields of the Ion binary encoding ----------------------------------------


def uint_bytes(n: int) -> bytes:
    """Unsigned big-endian magnitude, minimal length (empty for 0)."""
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def varint(n: int, negative_zero: bool = False) -> bytes:
    """Ion VarInt: sign in bit 0x40 of the first byte, 7 bits a byte, end flag 0x80."""
    negative = n < 0 or negative_zero
    magnitude = -n if n < 0 else n
    groups = [magnitude & 0x7F]
    magnitude >>= 7
    while magnitude:
        groups.append(magnitude & 0x7F)
        magnitude >>= 7
    groups.reverse()
    if groups[0] & 0x40:
        groups.insert(0, 0)
    if negative:
        groups[0] |= 0x40
    groups[-1] |= 0x80
    return bytes(groups)


def int_field(n: int, negative_zero: bool = False) -> bytes:
    """Ion Int (sign-and-magnitude, sign in the top bit); empty for positive zero."""
    if n == 0:
        return b"\x80" if negative_zero else b""
    magnitude = uint_bytes(-n if n < 0 else n)
    if magnitude[0] & 0x80:
        magnitude = b"\x00" + magnitude
    if n < 0:
        magnitude = bytes((magnitude[0] | 0x80,)) + magnitude[1:]
    return magnitude


def decimal_parts(value: Decimal) -> tuple[int, int, bool]:
    """(exponent, signed coefficient, is negative zero) of a finite decimal."""
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):
        raise IonHashError(f"Ion decimals are finite; got {value}")
    coefficient = int("".join(map(str, digits))) if digits else 0
    if sign:
        coefficient = -coefficient
    return exponent, coefficient, bool(sign) and coefficient == 0


def decimal_representation(value: Decimal) -> bytes:
    exponent, coefficient, negative_zero = decimal_parts(value)
    if exponent == 0 and coefficient == 0 and not negative_zero:
        return b""  # 0d0
    return varint(exponent) + int_field(coefficient, negative_zero)


def timestamp_representation(value: datetime) -> bytes:
    """The binary timestamp body: offset, then UTC fields down to the precision."""
    precision = getattr(value, "precision", None)
    if precision is None:  # not `or`: amazon.ion's enums are ints, and YEAR is 0
        precision = TimestampPrecision.SECOND
    offset = value.utcoffset()
    utc = value
    if value.tzinfo is None or offset is None:
        out = [b"\xc0"]  # -0: unknown local offset
    elif not offset:
        out = [b"\x80"]  # UTC, as QLDB writes every timestamp of its own: no arithmetic
    else:
        # Datetime arithmetic re-creates the subclass and resets its fraction precision:
        # take the UTC fields from `utc`, the fraction from the original `value`.
        utc = value - offset
        out = [varint(int(offset.total_seconds()) // 60)]
    out.append(varuint(utc.year))
    if precision.includes_month:
        out.append(varuint(utc.month))
    if precision.includes_day:
        out.append(varuint(utc.day))
    if precision.includes_minute:
        out.append(varuint(utc.hour))
        out.append(varuint(utc.minute))
    if precision.includes_second:
        out.append(varuint(utc.second))
        if isinstance(value, Timestamp):
            fraction = getattr(value, "fractional_seconds", None)
            if fraction is not None:
                out.append(_fraction(str(fraction)))
        else:
            out.append(varint(-6) + int_field(value.microsecond))
    return b"".join(out)


@lru_cache(maxsize=4096)
def _fraction(text: str) -> bytes:
    """The fraction field of a timestamp, keyed by the decimal's text: 0.340 and 0.34
    are equal Decimals but different fractions."""
    exponent, coefficient, negative_zero = decimal_parts(Decimal(text))
    if coefficient == 0 and exponent >= 0:
        return b""
    return varint(exponent) + int_field(coefficient, negative_zero)


# -- serialisers by Python class ----------------------------------------------------------


def _null(_: Any) -> bytes:
    return b"\x0b\x0f\x0e"


def _bool(value: Any) -> bytes:
    return b"\x0b\x11\x0e" if value else b"\x0b\x10\x0e"


def _int(value: int) -> bytes:
    if value >= 0:
        return _scalar(0x20, uint_bytes(value))
    return _scalar(0x30, uint_bytes(-value))


def _float(value: float) -> bytes:
    if value == 0.0 and pack(">d", value) == b"\x00" * 8:
        return b"\x0b\x40\x0e"  # 0e0; -0e0 keeps its 8 bytes
    return _scalar(0x40, pack(">d", value))


def _decimal(value: Decimal) -> bytes:
    return _scalar(0x50, decimal_representation(value))


def _timestamp(value: datetime) -> bytes:
    return _scalar(0x60, timestamp_representation(value))


def _string(value: str) -> bytes:
    return b"\x0b\x80" + _escape(value.encode("utf-8")) + _END


@lru_cache(maxsize=8192)
def symbol(text: str | None) -> bytes:
    """``s(symbol)``, used for symbol values, field names and annotations."""
    if text is None:
        return b"\x0b\x71\x0e"  # symbol with unknown text ($0)
    return b"\x0b\x70" + _escape(text.encode("utf-8")) + _END


def _blob(value: bytes) -> bytes:
    return _scalar(0xA0, bytes(value))


def _sequence(tq: int, values: Iterable[Any]) -> bytes:
    return bytes((0x0B, tq)) + b"".join(map(serialize, values)) + _END


def _list(value: list[Any]) -> bytes:
    return _sequence(0xB0, value)


def _struct_fields(fields: Iterable[tuple[Any, Any]]) -> bytes:
    hashes = sorted(sha256(symbol(getattr(name, "text", name)) + serialize(field)).digest() for name, field in fields)
    return b"\x0b\xd0" + _escape(b"".join(hashes)) + _END


def _dict(value: dict[Any, Any]) -> bytes:
    # The hot path of journal hashing: plain dicts with text keys, dispatch inlined.
    by_class = _BY_CLASS
    hashes = []
    for name, field in value.items():
        writer = by_class.get(type(field))
        body = writer(field) if writer is not None else _ion_py(field)
        hashes.append(sha256(symbol(name if type(name) is str else getattr(name, "text", name)) + body).digest())
    hashes.sort()
    return b"\x0b\xd0" + _escape(b"".join(hashes)) + _END


_BY_CLASS: dict[type, Callable[[Any], bytes]] = {
    type(None): _null,
    bool: _bool,
    int: _int,
    float: _float,
    Decimal: _decimal,
    str: _string,
    bytes: _blob,
    bytearray: _blob,
    list: _list,
    tuple: _list,
    dict: _dict,
    datetime: _timestamp,
    Timestamp: _timestamp,
}


def _ion_py(value: Any) -> bytes:
    """Values that carry an Ion type (amazon.ion IonPy*), or subclasses of plain types."""
    ion_type = getattr(value, "ion_type", None)
    annotations = getattr(value, "ion_annotations", ())
    body = _typed(value, ion_type)
    if annotations:
        wrapped = b"".join(symbol(getattr(a, "text", a)) for a in annotations)
        return b"\x0b\xe0" + wrapped + body + _END
    return body


def _typed(value: Any, ion_type: IonType | None) -> bytes:
    if ion_type is None:
        return _untyped(value)
    if type(value).__name__ == "IonPyNull" or value is None:
        return bytes((0x0B, TYPE_CODE[ion_type] | 0x0F, 0x0E))
    if ion_type is IonType.BOOL:
        return _bool(value)
    if ion_type is IonType.INT:
        return _int(int(value))
    if ion_type is IonType.FLOAT:
        return _float(float(value))
    if ion_type is IonType.DECIMAL:
        return _decimal(value)
    if ion_type is IonType.TIMESTAMP:
        return _timestamp(value)
    if ion_type is IonType.SYMBOL:
        return symbol(getattr(value, "text", value))
    if ion_type is IonType.STRING:
        return _string(str(value))
    if ion_type is IonType.CLOB:
        return _scalar(0x90, bytes(value))
    if ion_type is IonType.BLOB:
        return _blob(value)
    if ion_type is IonType.LIST:
        return _sequence(0xB0, value)
    if ion_type is IonType.SEXP:
        return _sequence(0xC0, value)
    if ion_type is IonType.STRUCT:
        items = value.iteritems() if hasattr(value, "iteritems") else value.items()
        return _struct_fields(items)
    if ion_type is IonType.NULL:
        return _null(value)
    raise IonHashError(f"cannot Ion-hash a value of Ion type {ion_type}")


def _untyped(value: Any) -> bytes:
    if isinstance(value, SymbolToken):  # a tuple subclass: test it before the sequences
        return symbol(value.text)
    for cls, writer in _BY_CLASS.items():
        if isinstance(value, cls) and cls is not type(None):
            return writer(value)
    raise IonHashError(f"not an Ion value: {type(value).__name__}")
