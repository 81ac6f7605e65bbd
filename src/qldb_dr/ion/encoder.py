"""The Ion 1.0 binary writer's value encoder.

It accepts the values the reader returns, plain or ``IonPy*`` (see :mod:`qldb_dr.ion.binary`),
and gives every field its minimal encoding. :class:`Encoder` interns field names,
annotations and symbols as it goes and then declares them in one local symbol table;
:func:`qldb_dr.ion.binary.dump_binary` puts the stream together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from math import copysign
from typing import Any

from amazon.ion.core import IonType, Timestamp
from amazon.ion.simple_types import IonPyNull
from amazon.ion.symbols import SymbolToken

from qldb_dr.ion.constants import CACHE_LIMIT, DOUBLE, SYSTEM_SYMBOLS, TYPE_CODE

_VARUINT_1 = tuple(bytes((0x80 | n,)) for n in range(0x80))
_VARINT_1 = {n: bytes((0x80 | n,)) if n >= 0 else bytes((0xC0 | -n,)) for n in range(-63, 64)}
_SMALL_INTS = (b"\x20", *(bytes((0x21, n)) for n in range(1, 256)))
_LENGTHS: dict[int, tuple[bytes, ...]] = {
    tq: tuple(bytes((tq | n,)) for n in range(14)) for tq in range(0x00, 0x100, 0x10)
}
_FRACTION_BYTES: dict[Any, bytes] = {}


def varuint(n: int) -> bytes:
    """Ion VarUInt: 7 bits a byte, the last byte flagged with 0x80."""
    if n < 0x80:
        return _VARUINT_1[n]
    out = [0x80 | (n & 0x7F)]
    n >>= 7
    while n:
        out.append(n & 0x7F)
        n >>= 7
    out.reverse()
    return bytes(out)


def _varint(n: int) -> bytes:
    small = _VARINT_1.get(n)
    if small is not None:
        return small
    magnitude = -n if n < 0 else n
    out = [0x80 | (magnitude & 0x7F)]
    magnitude >>= 7
    while magnitude:
        out.append(magnitude & 0x7F)
        magnitude >>= 7
    if out[-1] & 0x40:
        out.append(0)
    if n < 0:
        out[-1] |= 0x40
    out.reverse()
    return bytes(out)


def _header(tq: int, length: int) -> bytes:
    if length < 14:
        return _LENGTHS[tq][length]
    return bytes((tq | 0x0E,)) + varuint(length)


def _signed_magnitude(coefficient: int, negative: bool) -> bytes:
    """Ion Int field (sign bit and magnitude); empty for a positive zero."""
    if not coefficient:
        return b"\x80" if negative else b""
    n = (coefficient.bit_length() + 8) >> 3  # room for the sign bit
    if negative:
        coefficient |= 1 << (8 * n - 1)
    return coefficient.to_bytes(n, "big")


def _decimal_body(value: Decimal) -> bytes:
    sign, digits, exponent = value.as_tuple()
    if type(exponent) is not int:
        raise ValueError(f"Ion decimals are finite; cannot write {value}")
    coefficient = int("".join(map(str, digits)))
    if not (sign or exponent or coefficient):
        return b""  # 0d0
    return _varint(exponent) + _signed_magnitude(coefficient, bool(sign))


def _encode_int(value: int) -> bytes:
    if value >= 0:
        if value < 0x100:
            return _SMALL_INTS[value]
        tq = 0x20
    else:
        value = -value
        tq = 0x30
    n = (value.bit_length() + 7) >> 3
    return _header(tq, n) + value.to_bytes(n, "big")


def _encode_bool(value: Any) -> bytes:
    return b"\x11" if value else b"\x10"


def _encode_float(value: float) -> bytes:
    if value == 0.0 and copysign(1.0, value) > 0:
        return b"\x40"
    return b"\x48" + DOUBLE.pack(value)


def _encode_decimal(value: Decimal) -> bytes:
    body = _decimal_body(value)
    return _header(0x50, len(body)) + body


def _encode_string(value: str) -> bytes:
    raw = value.encode("utf-8")
    n = len(raw)
    if n < 14:
        return _LENGTHS[0x80][n] + raw
    return b"\x8e" + varuint(n) + raw


def _encode_blob(value: Any) -> bytes:
    raw = bytes(value)
    return _header(0xA0, len(raw)) + raw


def _encode_null(_: Any) -> bytes:
    return b"\x0f"


def _fraction_bytes(fraction: Decimal) -> bytes:
    key = fraction.as_tuple()
    cached = _FRACTION_BYTES.get(key)
    if cached is None:
        sign, digits, exponent = key
        if type(exponent) is not int:
            raise ValueError(f"invalid timestamp fraction {fraction}")
        coefficient = int("".join(map(str, digits)))
        if coefficient == 0 and exponent >= 0:
            cached = b""
        else:
            cached = _varint(exponent) + _signed_magnitude(coefficient, bool(sign))
        if len(_FRACTION_BYTES) >= CACHE_LIMIT:
            _FRACTION_BYTES.clear()
        _FRACTION_BYTES[key] = cached
    return cached


def _encode_timestamp(value: datetime) -> bytes:
    if isinstance(value, Timestamp):
        precision = getattr(value, "precision", None)
        precision = 4 if precision is None else int(precision)  # YEAR is 0: no `or` here
        fraction = getattr(value, "fractional_seconds", None)
        tail = b"" if fraction is None else _fraction_bytes(fraction)
    else:
        precision = 4
        tail = b"\xc6" + _signed_magnitude(value.microsecond, False)  # microseconds, d-6
    offset = value.utcoffset()
    if offset is None:
        parts = [b"\xc0"]
        utc = value
    else:
        seconds = int(offset.total_seconds())
        if seconds % 60:
            raise ValueError(f"Ion timestamp offsets are whole minutes; got {offset}")
        if seconds:
            fields = datetime(value.year, value.month, value.day, value.hour, value.minute, value.second)
            utc = fields - offset
            parts = [_varint(seconds // 60)]
        else:
            utc = value
            parts = [b"\x80"]
    parts.append(varuint(utc.year))
    if precision:
        parts.append(_VARUINT_1[utc.month])
        if precision > 1:
            parts.append(_VARUINT_1[utc.day])
            if precision > 2:
                parts.append(_VARUINT_1[utc.hour])
                parts.append(_VARUINT_1[utc.minute])
                if precision > 3:
                    parts.append(_VARUINT_1[utc.second])
                    parts.append(tail)
    body = b"".join(parts)
    return _header(0x60, len(body)) + body


_SCALARS: dict[type, Callable[[Any], bytes]] = {
    str: _encode_string,
    int: _encode_int,
    bool: _encode_bool,
    float: _encode_float,
    Decimal: _encode_decimal,
    bytes: _encode_blob,
    bytearray: _encode_blob,
    type(None): _encode_null,
    datetime: _encode_timestamp,
    Timestamp: _encode_timestamp,
}


class Encoder:
    """Encodes values, interning field names, annotations and symbols as it goes.

    SIDs are given in order of first use; ``symbol_table()`` then declares them all.
    """

    def __init__(self) -> None:
        self.sids: dict[str, int] = {text: sid for sid, text in enumerate(SYSTEM_SYMBOLS) if text}
        self.local: list[str | None] = []
        self.unknown_sid = 0  # one local slot with unknown text, for text-less symbols whose SID is not 0
        self.fields: dict[Any, bytes] = {}
        self.symbol_values: dict[str, bytes] = {}
        table: dict[type, Callable[[Any], bytes]] = dict(_SCALARS)
        table.update({dict: self._struct, list: self._list, tuple: self._list})
        self.table = table

    def symbol_table(self) -> bytes:
        if not self.local:
            return b""
        entries = b"".join(b"\x0f" if text is None else _encode_string(text) for text in self.local)
        declaration = b"\x87" + _header(0xB0, len(entries)) + entries  # symbols: [...]
        struct = _header(0xD0, len(declaration)) + declaration
        body = b"\x81\x83" + struct  # $ion_symbol_table::
        return _header(0xE0, len(body)) + body

    def sid(self, symbol: Any) -> int:
        """The SID of a field name, annotation or symbol value (str, SymbolToken or None)."""
        text = getattr(symbol, "text", symbol)
        if text is None:
            if not getattr(symbol, "sid", None):
                return 0
            if not self.unknown_sid:
                self.local.append(None)
                self.unknown_sid = len(SYSTEM_SYMBOLS) + len(self.local) - 1
            return self.unknown_sid
        if type(text) is not str:
            raise TypeError(f"an Ion symbol must be text; got {type(text).__name__}")
        sid = self.sids.get(text)
        if sid is None:
            self.local.append(text)
            sid = self.sids[text] = len(SYSTEM_SYMBOLS) + len(self.local) - 1
        return sid

    def encode(self, value: Any) -> bytes:
        writer = self.table.get(type(value))
        if writer is not None:
            return writer(value)
        return self._other(value)

    def _struct(self, fields: Any) -> bytes:
        items = fields.iteritems() if hasattr(fields, "iteritems") else fields.items()
        names = self.fields
        get = self.table.get
        parts: list[bytes] = []
        append = parts.append
        for name, value in items:
            field = names.get(name)
            if field is None:
                field = names[name] = varuint(self.sid(name))
            append(field)
            writer = get(type(value))
            append(writer(value) if writer is not None else self._other(value))
        body = b"".join(parts)
        return _header(0xD0, len(body)) + body

    def _sequence(self, tq: int, values: Iterable[Any]) -> bytes:
        get = self.table.get
        parts: list[bytes] = []
        append = parts.append
        for value in values:
            writer = get(type(value))
            append(writer(value) if writer is not None else self._other(value))
        body = b"".join(parts)
        return _header(tq, len(body)) + body

    def _list(self, values: Iterable[Any]) -> bytes:
        return self._sequence(0xB0, values)

    def _symbol(self, value: Any) -> bytes:
        text = getattr(value, "text", value)
        if text is not None:
            cached = self.symbol_values.get(text)
            if cached is not None:
                return cached
        sid = self.sid(value)
        n = (sid.bit_length() + 7) >> 3
        encoded = _header(0x70, n) + sid.to_bytes(n, "big")
        if text is not None:
            self.symbol_values[text] = encoded
        return encoded

    def _other(self, value: Any) -> bytes:
        """IonPy values (typed, maybe annotated) and subclasses of the plain types."""
        ion_type = getattr(value, "ion_type", None)
        annotations = getattr(value, "ion_annotations", None)
        if not annotations:
            return self._untyped(value) if ion_type is None else self._typed(value, ion_type)
        sids = b"".join([varuint(self.sid(annotation)) for annotation in annotations])
        body = self._untyped(value) if ion_type is None else self._typed(value, ion_type)
        wrapped = varuint(len(sids)) + sids + body
        return _header(0xE0, len(wrapped)) + wrapped

    def _typed(self, value: Any, ion_type: IonType) -> bytes:
        if isinstance(value, IonPyNull) or value is None:
            return b"\x0f" if ion_type is IonType.NULL else bytes((TYPE_CODE[ion_type] | 0x0F,))
        if ion_type is IonType.STRUCT:
            return self._struct(value)
        if ion_type is IonType.LIST:
            return self._sequence(0xB0, value)
        if ion_type is IonType.SEXP:
            return self._sequence(0xC0, value)
        if ion_type is IonType.SYMBOL:
            return self._symbol(value)
        if ion_type is IonType.STRING:
            return _encode_string(value)
        if ion_type is IonType.INT:
            return _encode_int(int(value))
        if ion_type is IonType.BOOL:
            return _encode_bool(value)
        if ion_type is IonType.FLOAT:
            return _encode_float(float(value))
        if ion_type is IonType.DECIMAL:
            return _encode_decimal(value)
        if ion_type is IonType.TIMESTAMP:
            return _encode_timestamp(value)
        if ion_type is IonType.BLOB:
            return _encode_blob(value)
        if ion_type is IonType.CLOB:
            raw = bytes(value)
            return _header(0x90, len(raw)) + raw
        if ion_type is IonType.NULL:
            return b"\x0f"
        raise TypeError(f"cannot write Ion type {ion_type}")

    def _untyped(self, value: Any) -> bytes:
        if isinstance(value, SymbolToken):  # a tuple: test before the sequences
            return self._symbol(value)
        for cls, writer in _SCALARS.items():
            if cls is not type(None) and isinstance(value, cls):
                return writer(value)
        if isinstance(value, Mapping):
            return self._struct(value)
        if isinstance(value, list | tuple):
            return self._sequence(0xB0, value)
        if isinstance(value, memoryview):
            return _encode_blob(value)
        raise TypeError(f"cannot write a {type(value).__name__} as Ion")
