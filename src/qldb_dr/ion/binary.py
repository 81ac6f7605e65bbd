"""Ion 1.0 binary: a fast reader and writer for the value model of :mod:`qldb_dr.ion`.

Why hand-written: pyqldb and ionhash pin amazon.ion 0.9.3, which has no C extension here
(``simpleion.c_ext`` is False). Its pure-Python reader resumes a coroutine and builds an
``IonEvent`` for every value, which makes reading a journal export far slower than
downloading it, and journal verification reads every block of every export. This module
decodes straight from ``bytes``: one loop per container, a branch per type nibble, ``bytes``
slices and ``int.from_bytes`` for the payloads, and caches for the decimals and timestamp
fractions that journals repeat. ``tests/unit/test_ion_binary.py`` holds it equal to simpleion
on generated values, and holds the Ion hash of every value unchanged by a round trip.

The reader returns plain Python values wherever the Ion type is unambiguous and there are
no annotations, and amazon.ion ``IonPy*`` values otherwise (see :mod:`qldb_dr.ion`). Field
names and annotations come back as ``str``; a symbol whose text is unknown comes back as
``SymbolToken(None, sid)``, except the field name ``$0``, which is ``None`` as in simpleion.
The writer accepts the same values, plain or ``IonPy*``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from math import copysign
from struct import Struct
from struct import error as StructError
from typing import Any

from amazon.ion.core import IonType, OffsetTZInfo, Timestamp, TimestampPrecision
from amazon.ion.simple_types import (
    IonPyBool,
    IonPyBytes,
    IonPyDecimal,
    IonPyDict,
    IonPyFloat,
    IonPyInt,
    IonPyList,
    IonPyNull,
    IonPySymbol,
    IonPyText,
    IonPyTimestamp,
    _IonNature,
)
from amazon.ion.symbols import SymbolToken

__all__ = ["IonDecodeError", "dump_binary", "iter_binary", "load_binary"]


class IonDecodeError(ValueError):
    """The bytes are not well-formed Ion 1.0 binary, or they import a shared symbol table.

    Retrying cannot help: the same bytes fail the same way. ``offset`` is the byte offset
    (from the start of the stream) of the value or field where decoding failed.
    """

    def __init__(self, reason: str, offset: int | None = None) -> None:
        self.reason = reason
        self.offset = offset
        super().__init__(reason if offset is None else f"{reason} (at byte {offset})")


_IVM = b"\xe0\x01\x00\xea"

# SIDs 1-9; the text of SID 0 is unknown by definition.
_SYSTEM_SYMBOLS: tuple[str | None, ...] = (
    None,
    "$ion",
    "$ion_1_0",
    "$ion_symbol_table",
    "name",
    "version",
    "imports",
    "symbols",
    "max_id",
    "$ion_shared_symbol_table",
)
_SID_SYMBOL_TABLE = 3

_NULL_TYPES: dict[int, IonType] = {
    0x1: IonType.BOOL,
    0x2: IonType.INT,
    0x3: IonType.INT,
    0x4: IonType.FLOAT,
    0x5: IonType.DECIMAL,
    0x6: IonType.TIMESTAMP,
    0x7: IonType.SYMBOL,
    0x8: IonType.STRING,
    0x9: IonType.CLOB,
    0xA: IonType.BLOB,
    0xB: IonType.LIST,
    0xC: IonType.SEXP,
    0xD: IonType.STRUCT,
}

# IonPy class and Ion type that carry annotations for each plain type the reader returns.
_ANNOTATED: dict[type, tuple[Any, IonType]] = {
    bool: (IonPyBool, IonType.BOOL),
    int: (IonPyInt, IonType.INT),
    float: (IonPyFloat, IonType.FLOAT),
    Decimal: (IonPyDecimal, IonType.DECIMAL),
    Timestamp: (IonPyTimestamp, IonType.TIMESTAMP),
    str: (IonPyText, IonType.STRING),
    bytes: (IonPyBytes, IonType.BLOB),
    list: (IonPyList, IonType.LIST),
    dict: (IonPyDict, IonType.STRUCT),
}

_PRECISIONS = (
    TimestampPrecision.YEAR,
    TimestampPrecision.MONTH,
    TimestampPrecision.DAY,
    TimestampPrecision.MINUTE,
    TimestampPrecision.SECOND,
)

_DOUBLE = Struct(">d")
_SINGLE = Struct(">f")
_ZERO = Decimal(0)
_new_datetime = datetime.__new__

# Journals repeat the same decimals and millisecond fractions; parsing them is the costly part.
_CACHE_LIMIT = 4096
_DECIMALS: dict[bytes, Decimal] = {}
_FRACTIONS: dict[bytes, tuple[Decimal, int, int]] = {}
_TZ: dict[int, Any] = {}

# Modes of _read: what the container body becomes.
_LIST = 0
_DICT = 1
_PAIRS = 2


# -- reading ------------------------------------------------------------------------------


def iter_binary(data: bytes) -> Iterator[Any]:
    """Every top-level value of an Ion 1.0 binary stream, in order.

    System values are consumed, not returned: version markers (which reset the symbol
    table), local symbol tables and NOP padding. Malformed or truncated input, unknown
    symbol IDs and imports of shared symbol tables raise :class:`IonDecodeError`, which
    names the byte offset.
    """
    data = bytes(data)  # no copy for bytes; bytearray and memoryview slices lack .decode
    end = len(data)
    if not end:
        return
    if not data.startswith(_IVM):
        raise IonDecodeError("not Ion 1.0 binary: the stream does not start with E0 01 00 EA", 0)
    symbols = list(_SYSTEM_SYMBOLS)
    pos = 0
    while pos < end:
        if data[pos] == 0xE0:
            if not data.startswith(_IVM, pos):
                raise IonDecodeError(f"unsupported Ion version marker {data[pos : pos + 4].hex(' ')}", pos)
            symbols = list(_SYSTEM_SYMBOLS)
            pos += 4
            continue
        try:
            vend = _value_end(data, pos, end)
            table = _symbol_table_body(data, pos, vend)
        except IonDecodeError:
            raise
        except (IndexError, ValueError) as exc:
            raise _decode_error(exc, pos) from exc
        if table is not None:
            symbols = _local_symbol_table(data, table, symbols, pos)
        else:
            yield from _read(data, pos, vend, symbols, _LIST)
        pos = vend


def load_binary(data: bytes) -> Any:
    """The single top-level value of an Ion binary document."""
    values = list(iter_binary(data))
    if len(values) != 1:
        raise IonDecodeError(f"expected exactly one top-level value, found {len(values)}")
    return values[0]


def _decode_error(exc: Exception, offset: int) -> IonDecodeError:
    if isinstance(exc, IndexError):
        return IonDecodeError("truncated Ion binary: the data ends inside a value", offset)
    if isinstance(exc, RecursionError):
        return IonDecodeError("containers are nested too deeply", offset)
    if isinstance(exc, ArithmeticError) and not isinstance(exc, OverflowError):
        return IonDecodeError("a decimal is out of range (exponent too large)", offset)
    if isinstance(exc, UnicodeDecodeError):
        return IonDecodeError(f"invalid UTF-8 in a string or symbol: {exc.reason}", offset)
    return IonDecodeError(f"malformed Ion binary value: {exc}", offset)


def _read(data: bytes, pos: int, end: int, symbols: list[str | None], mode: int) -> Any:
    """The values in ``data[pos:end]``: a list (_LIST), a struct (_DICT) or field pairs (_PAIRS).

    The hot loop of the module: every value of a container is decoded inline here, except
    the rarer or costlier types, which get a function each.
    """
    out: Any = {} if mode == _DICT else []
    first = pos
    nsym = len(symbols)
    count = 0
    key: Any = None
    value: Any
    while pos < end:
        start = pos
        try:
            if mode:
                b = data[pos]
                pos += 1
                sid = b & 0x7F
                while not b & 0x80:
                    b = data[pos]
                    pos += 1
                    sid = (sid << 7) | (b & 0x7F)
                if sid >= nsym:
                    raise IonDecodeError(f"unknown symbol ID {sid} (as a field name)", start)
                key = symbols[sid]
                if key is None and sid:
                    key = SymbolToken(None, sid)
            tb = data[pos]
            pos += 1
            tid = tb >> 4
            ln = tb & 0x0F
            if ln == 0x0F:
                if tid == 0:
                    value = None
                elif tid < 0xE:
                    value = IonPyNull.from_value(_NULL_TYPES[tid], None)
                else:
                    raise IonDecodeError(f"invalid type descriptor 0x{tb:02X}", start)
            elif tid == 0x1:
                if ln > 1:
                    raise IonDecodeError(f"invalid type descriptor 0x{tb:02X}", start)
                value = ln == 1
            else:
                if ln == 0x0E or tb == 0xD1:
                    b = data[pos]
                    pos += 1
                    ln = b & 0x7F
                    while not b & 0x80:
                        b = data[pos]
                        pos += 1
                        ln = (ln << 7) | (b & 0x7F)
                vend = pos + ln
                if vend > end:
                    raise IonDecodeError(
                        f"a value of {ln} bytes runs past the end of its container (byte {end})", start
                    )
                if tid == 0x8:
                    value = data[pos:vend].decode("utf-8")
                elif tid == 0xD:
                    value = _read(data, pos, vend, symbols, _DICT)
                elif tid == 0x2:
                    value = data[pos] if ln == 1 else int.from_bytes(data[pos:vend], "big")
                elif tid == 0xB:
                    value = _read(data, pos, vend, symbols, _LIST)
                elif tid == 0x6:
                    value = _timestamp(data, pos, vend)
                elif tid == 0x5:
                    value = _decimal(data, pos, vend)
                elif tid == 0xA:
                    value = data[pos:vend]
                elif tid == 0x7:
                    sid = int.from_bytes(data[pos:vend], "big")
                    if sid >= nsym:
                        raise IonDecodeError(f"unknown symbol ID {sid}", start)
                    text = symbols[sid]
                    value = IonPySymbol.from_value(IonType.SYMBOL, text if text is not None else SymbolToken(None, sid))
                elif tid == 0x3:
                    if not ln:
                        raise IonDecodeError("invalid type descriptor 0x30 (negative zero int)", start)
                    value = -int.from_bytes(data[pos:vend], "big")
                elif tid == 0x4:
                    if ln == 8:
                        value = _DOUBLE.unpack_from(data, pos)[0]
                    elif ln == 0:
                        value = 0.0
                    elif ln == 4:
                        value = _SINGLE.unpack_from(data, pos)[0]
                    else:
                        raise IonDecodeError(f"invalid float length {ln}", start)
                elif tid == 0x0:
                    pos = vend  # NOP padding
                    continue
                elif tid == 0xE:
                    value = _annotated(data, pos, vend, symbols, start)
                elif tid == 0xC:
                    value = IonPyList.from_value(IonType.SEXP, _read(data, pos, vend, symbols, _LIST))
                elif tid == 0x9:
                    value = IonPyBytes.from_value(IonType.CLOB, data[pos:vend])
                else:
                    raise IonDecodeError(f"invalid type descriptor 0x{tb:02X}", start)
                pos = vend
        except IonDecodeError:
            raise
        except (IndexError, ValueError, ArithmeticError, StructError, RecursionError) as exc:
            raise _decode_error(exc, start) from exc
        if mode == _DICT:
            out[key] = value
            count += 1
        elif mode:
            out.append((key, value))
        else:
            out.append(value)
    if mode == _DICT and len(out) != count:
        # Repeated field names: a dict would keep only the last one.
        struct = IonPyDict.from_value(IonType.STRUCT, {})
        for name, field in _read(data, first, end, symbols, _PAIRS):
            struct.add_item(name, field)
        return struct
    return out


def _value_end(data: bytes, pos: int, end: int) -> int:
    """Where the value starting at ``pos`` ends (reads only its type descriptor and length)."""
    tb = data[pos]
    p = pos + 1
    ln = tb & 0x0F
    if ln == 0x0F or tb >> 4 == 0x1:
        return p
    if ln == 0x0E or tb == 0xD1:
        b = data[p]
        p += 1
        ln = b & 0x7F
        while not b & 0x80:
            b = data[p]
            p += 1
            ln = (ln << 7) | (b & 0x7F)
    vend = p + ln
    if vend > end:
        raise IonDecodeError(f"a value of {ln} bytes runs past the end of the data (byte {end})", pos)
    return vend


def _varuint_at(data: bytes, p: int) -> tuple[int, int]:
    b = data[p]
    p += 1
    n = b & 0x7F
    while not b & 0x80:
        b = data[p]
        p += 1
        n = (n << 7) | (b & 0x7F)
    return n, p


def _annotated(data: bytes, pos: int, end: int, symbols: list[str | None], start: int) -> Any:
    """The value of an annotation wrapper whose body is ``data[pos:end]``."""
    length, p = _varuint_at(data, pos)
    annotations_end = p + length
    if not length or annotations_end >= end:
        raise IonDecodeError("malformed annotation wrapper: bad annotations length", start)
    nsym = len(symbols)
    annotations: list[Any] = []
    while p < annotations_end:
        sid, p = _varuint_at(data, p)
        if sid >= nsym:
            raise IonDecodeError(f"unknown symbol ID {sid} (as an annotation)", start)
        text = symbols[sid]
        annotations.append(text if text is not None else SymbolToken(None, sid))
    if p != annotations_end:
        raise IonDecodeError("malformed annotation wrapper: annotations overrun their length", start)
    tb = data[p]
    if tb >> 4 == 0xE or (tb >> 4 == 0 and tb != 0x0F):
        raise IonDecodeError("an annotation wrapper must wrap exactly one value", start)
    if _value_end(data, p, end) != end:
        raise IonDecodeError("an annotation wrapper's value must fill the wrapper", start)
    (value,) = _read(data, p, end, symbols, _LIST)
    return _annotate(value, tuple(annotations))


def _annotate(value: Any, annotations: tuple[Any, ...]) -> Any:
    if isinstance(value, _IonNature):  # already an IonPy value, made by this reader
        value.ion_annotations = annotations
        return value
    if value is None:
        return IonPyNull.from_value(IonType.NULL, None, annotations)
    cls, ion_type = _ANNOTATED[type(value)]
    return cls.from_value(ion_type, value, annotations)


def _decimal_fields(data: bytes, p: int, end: int) -> tuple[int, int, bool]:
    """(exponent, coefficient, negative zero) of an Ion decimal body ``data[p:end]``."""
    b = data[p]
    p += 1
    negative = b & 0x40
    exponent = b & 0x3F
    while not b & 0x80:
        b = data[p]
        p += 1
        exponent = (exponent << 7) | (b & 0x7F)
    if p > end:
        raise ValueError("a decimal exponent runs past the end of its value")
    if negative:
        exponent = -exponent
    if p == end:
        return exponent, 0, False
    coefficient = int.from_bytes(data[p:end], "big")
    sign = 1 << (8 * (end - p) - 1)
    if coefficient & sign:
        coefficient ^= sign
        return exponent, -coefficient, not coefficient
    return exponent, coefficient, False


def _decimal(data: bytes, pos: int, end: int) -> Decimal:
    if pos == end:
        return _ZERO
    raw = data[pos:end]
    value = _DECIMALS.get(raw)
    if value is None:
        exponent, coefficient, negative_zero = _decimal_fields(data, pos, end)
        # From a string the exponent is kept exactly; no context rounding applies.
        value = Decimal(f"-0E{exponent}" if negative_zero else f"{coefficient}E{exponent}")
        if len(_DECIMALS) >= _CACHE_LIMIT:
            _DECIMALS.clear()
        _DECIMALS[raw] = value
    return value


def _fraction(data: bytes, pos: int, end: int) -> tuple[Decimal, int, int]:
    """(fractional_seconds, microsecond, fractional_precision) of a timestamp fraction."""
    raw = data[pos:end]
    cached = _FRACTIONS.get(raw)
    if cached is not None:
        return cached
    exponent, coefficient, negative_zero = _decimal_fields(data, pos, end)
    if coefficient == 0 and exponent >= 0:
        # Ion: a zero fraction with a non-negative exponent is no fraction at all.
        result = (_ZERO, 0, 0)
    else:
        digits = len(str(abs(coefficient)))
        if coefficient < 0 or exponent >= 0 or (coefficient and digits > -exponent):
            raise ValueError(f"timestamp fraction {coefficient}E{exponent} is not in [0, 1)")
        fraction = Decimal(f"-0E{exponent}" if negative_zero else f"{coefficient}E{exponent}")
        shift = 6 + exponent  # truncate to microseconds, as amazon.ion does
        if shift >= 0:
            microsecond = coefficient * 10**shift
        else:
            microsecond = 0 if -shift > digits else coefficient // 10**-shift
        result = (fraction, microsecond, min(-exponent, 6))
    if len(_FRACTIONS) >= _CACHE_LIMIT:
        _FRACTIONS.clear()
    _FRACTIONS[raw] = result
    return result


def _offset_tz(minutes: int) -> Any:
    tz = _TZ.get(minutes)
    if tz is None:
        tz = _TZ[minutes] = OffsetTZInfo(timedelta(minutes=minutes))
    return tz


def _timestamp(data: bytes, pos: int, end: int) -> Any:
    """A Timestamp as ``simpleion`` reads it: local fields, precision and exact fraction."""
    b = data[pos]
    p = pos + 1
    offset: int | None
    if b == 0x80:
        offset = 0
    elif b == 0xC0:
        offset = None
    else:
        negative = b & 0x40
        offset = b & 0x3F
        while not b & 0x80:
            b = data[p]
            p += 1
            offset = (offset << 7) | (b & 0x7F)
        if negative:
            offset = -offset if offset else None  # -0: unknown local offset
    b = data[p]
    p += 1
    year = b & 0x7F
    while not b & 0x80:
        b = data[p]
        p += 1
        year = (year << 7) | (b & 0x7F)
    month = day = 1
    hour = minute = second = microsecond = fractional_precision = 0
    fraction = _ZERO
    precision = 0
    if p < end:
        month, p = _varuint_at(data, p)
        precision = 1
        if p < end:
            day, p = _varuint_at(data, p)
            precision = 2
            if p < end:
                hour, p = _varuint_at(data, p)
                minute, p = _varuint_at(data, p)
                precision = 3
                if p < end:
                    second, p = _varuint_at(data, p)
                    precision = 4
                    if p < end:
                        fraction, microsecond, fractional_precision = _fraction(data, p, end)
                        p = end
    if p != end:
        raise ValueError("timestamp fields run past the end of the value")
    tz = None
    if offset is not None:
        tz = _offset_tz(offset)
        if offset:
            local = datetime(year, month, day, hour, minute, second) + timedelta(minutes=offset)
            year, month, day = local.year, local.month, local.day
            hour, minute = local.hour, local.minute
    # datetime.__new__ skips Timestamp.__new__'s argument juggling; the three slots it
    # would fill are set right below, to the values it would compute.
    value = _new_datetime(Timestamp, year, month, day, hour, minute, second, microsecond, tz)
    value.precision = _PRECISIONS[precision]
    value.fractional_precision = fractional_precision
    value.fractional_seconds = fraction
    return value


def _symbol_table_body(data: bytes, pos: int, end: int) -> tuple[int, int] | None:
    """The struct body range of a local symbol table at ``pos``, or None if it is not one.

    A local symbol table is a top-level struct whose first annotation is $ion_symbol_table.
    """
    tb = data[pos]
    if tb >> 4 != 0xE:
        return None
    p = pos + 1
    if tb & 0x0F == 0x0E:
        _, p = _varuint_at(data, p)
    length, p = _varuint_at(data, p)
    annotations_end = p + length
    sid, _ = _varuint_at(data, p)
    if sid != _SID_SYMBOL_TABLE or annotations_end >= end:
        return None
    tb = data[annotations_end]
    if tb >> 4 != 0xD:
        return None
    if tb == 0xDF:  # null.struct: no imports, no symbols
        return (end, end)
    body = annotations_end + 1
    if tb & 0x0F == 0x0E or tb == 0xD1:
        _, body = _varuint_at(data, body)
    return (body, end)


def _local_symbol_table(data: bytes, body: tuple[int, int], current: list[str | None], offset: int) -> list[str | None]:
    """The symbol list (text by SID) that a local symbol table defines."""
    fields = _read(data, body[0], body[1], current, _PAIRS)
    imports = [value for name, value in fields if name == "imports"]
    declared = [value for name, value in fields if name == "symbols"]
    if len(imports) > 1 or len(declared) > 1:
        raise IonDecodeError("a local symbol table has more than one imports or symbols field", offset)
    symbols = list(_SYSTEM_SYMBOLS)
    if imports:
        if getattr(imports[0], "text", None) == "$ion_symbol_table":
            symbols = list(current)  # append to the current table
        elif isinstance(imports[0], list):
            for entry in imports[0]:
                name = entry.get("name") if isinstance(entry, Mapping) else None
                if type(name) is str and name and name != "$ion":
                    raise IonDecodeError(
                        f"the local symbol table imports the shared symbol table {name!r} "
                        f"(version {entry.get('version')}), and this reader has no catalog of "
                        "shared symbol tables to resolve it",
                        offset,
                    )
    if declared and isinstance(declared[0], list):
        symbols.extend(text if type(text) is str else None for text in declared[0])
    return symbols


# -- writing ------------------------------------------------------------------------------


def dump_binary(values: Iterable[Any]) -> bytes:
    """Ion binary: the version marker, one local symbol table, then the values.

    Every field uses its minimal encoding (floats are 8 bytes, 0e0 is the empty float);
    decimals and timestamps are written exactly: exponent, precision, fraction digits and
    offset, including the unknown offset -00:00 (``tzinfo=None``).
    """
    encoder = _Encoder()
    body = b"".join([encoder.encode(value) for value in values])
    return _IVM + encoder.symbol_table() + body


_VARUINT_1 = tuple(bytes((0x80 | n,)) for n in range(0x80))
_VARINT_1 = {n: bytes((0x80 | n,)) if n >= 0 else bytes((0xC0 | -n,)) for n in range(-63, 64)}
_SMALL_INTS = (b"\x20", *(bytes((0x21, n)) for n in range(1, 256)))
_LENGTHS: dict[int, tuple[bytes, ...]] = {
    tq: tuple(bytes((tq | n,)) for n in range(14)) for tq in range(0x00, 0x100, 0x10)
}
_TYPE_CODE: dict[IonType, int] = {
    IonType.NULL: 0x00,
    IonType.BOOL: 0x10,
    IonType.INT: 0x20,
    IonType.FLOAT: 0x40,
    IonType.DECIMAL: 0x50,
    IonType.TIMESTAMP: 0x60,
    IonType.SYMBOL: 0x70,
    IonType.STRING: 0x80,
    IonType.CLOB: 0x90,
    IonType.BLOB: 0xA0,
    IonType.LIST: 0xB0,
    IonType.SEXP: 0xC0,
    IonType.STRUCT: 0xD0,
}
_FRACTION_BYTES: dict[Any, bytes] = {}


def _varuint(n: int) -> bytes:
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
    return bytes((tq | 0x0E,)) + _varuint(length)


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
    return b"\x48" + _DOUBLE.pack(value)


def _encode_decimal(value: Decimal) -> bytes:
    body = _decimal_body(value)
    return _header(0x50, len(body)) + body


def _encode_string(value: str) -> bytes:
    raw = value.encode("utf-8")
    n = len(raw)
    if n < 14:
        return _LENGTHS[0x80][n] + raw
    return b"\x8e" + _varuint(n) + raw


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
        if len(_FRACTION_BYTES) >= _CACHE_LIMIT:
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
    parts.append(_varuint(utc.year))
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


class _Encoder:
    """Encodes values, interning field names, annotations and symbols as it goes.

    SIDs are given in order of first use; ``symbol_table()`` then declares them all.
    """

    def __init__(self) -> None:
        self.sids: dict[str, int] = {text: sid for sid, text in enumerate(_SYSTEM_SYMBOLS) if text}
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
                self.unknown_sid = len(_SYSTEM_SYMBOLS) + len(self.local) - 1
            return self.unknown_sid
        if type(text) is not str:
            raise TypeError(f"an Ion symbol must be text; got {type(text).__name__}")
        sid = self.sids.get(text)
        if sid is None:
            self.local.append(text)
            sid = self.sids[text] = len(_SYSTEM_SYMBOLS) + len(self.local) - 1
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
                field = names[name] = _varuint(self.sid(name))
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
        sids = b"".join([_varuint(self.sid(annotation)) for annotation in annotations])
        body = self._untyped(value) if ion_type is None else self._typed(value, ion_type)
        wrapped = _varuint(len(sids)) + sids + body
        return _header(0xE0, len(wrapped)) + wrapped

    def _typed(self, value: Any, ion_type: IonType) -> bytes:
        if isinstance(value, IonPyNull) or value is None:
            return b"\x0f" if ion_type is IonType.NULL else bytes((_TYPE_CODE[ion_type] | 0x0F,))
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
