"""The Ion 1.0 binary reader's value decoder, and the error it raises on malformed input.

Decodes straight from ``bytes``: one loop per container, a branch per type nibble, ``bytes``
slices and ``int.from_bytes`` for the payloads. Decimals and timestamps, the costlier
scalars, are read by :mod:`qldb_dr.ion.scalars`. The values it returns are those
:mod:`qldb_dr.ion.binary` describes. The stream around the values (version markers, local
symbol tables) is read by :func:`qldb_dr.ion.binary.iter_binary` and :mod:`qldb_dr.ion.symbols`.
"""

from __future__ import annotations

from decimal import Decimal
from struct import Struct
from struct import error as StructError
from typing import Any

from amazon.ion.core import IonType, Timestamp
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

from qldb_dr.ion.constants import DOUBLE, NULL_TYPES
from qldb_dr.ion.scalars import read_decimal, read_timestamp, varuint_at


class IonDecodeError(ValueError):
    """The bytes are not well-formed Ion 1.0 binary, or they import a shared symbol table.

    Retrying cannot help: the same bytes fail the same way. ``offset`` is the byte offset
    (from the start of the stream) of the value or field where decoding failed.
    """

    def __init__(self, reason: str, offset: int | None = None) -> None:
        self.reason = reason
        self.offset = offset
        super().__init__(reason if offset is None else f"{reason} (at byte {offset})")


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

_SINGLE = Struct(">f")

# How deep containers may nest: deeper data is refused (IonDecodeError), the same way whether
# this module runs as Python (whose recursion limit it stays well below) or compiled (where
# nothing else would stop a crafted export from exhausting the C stack).
MAX_DEPTH = 256

# Modes of read_values: what the container body becomes.
LIST = 0
DICT = 1
PAIRS = 2


def decode_error(exc: Exception, offset: int) -> IonDecodeError:
    if isinstance(exc, IndexError):
        return IonDecodeError("truncated Ion binary: the data ends inside a value", offset)
    if isinstance(exc, RecursionError):
        return IonDecodeError("containers are nested too deeply", offset)
    if isinstance(exc, ArithmeticError) and not isinstance(exc, OverflowError):
        return IonDecodeError("a decimal is out of range (exponent too large)", offset)
    if isinstance(exc, UnicodeDecodeError):
        return IonDecodeError(f"invalid UTF-8 in a string or symbol: {exc.reason}", offset)
    return IonDecodeError(f"malformed Ion binary value: {exc}", offset)


def read_values(data: bytes, pos: int, end: int, symbols: list[str | None], mode: int, depth: int = 0) -> Any:
    """The values in ``data[pos:end]``: a list (LIST), a struct (DICT) or field pairs (PAIRS),
    ``depth`` containers deep.

    The hot loop of the module: every value of a container is decoded inline here, except
    the rarer or costlier types, which get a function each.
    """
    if depth > MAX_DEPTH:
        raise IonDecodeError(f"containers are nested too deeply (more than {MAX_DEPTH})", pos)
    out: Any = {} if mode == DICT else []
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
                    value = IonPyNull.from_value(NULL_TYPES[tid], None)
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
                    value = read_values(data, pos, vend, symbols, DICT, depth + 1)
                elif tid == 0x2:
                    value = data[pos] if ln == 1 else int.from_bytes(data[pos:vend], "big")
                elif tid == 0xB:
                    value = read_values(data, pos, vend, symbols, LIST, depth + 1)
                elif tid == 0x6:
                    value = read_timestamp(data, pos, vend)
                elif tid == 0x5:
                    value = read_decimal(data, pos, vend)
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
                        value = DOUBLE.unpack_from(data, pos)[0]
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
                    value = _annotated(data, pos, vend, symbols, start, depth + 1)
                elif tid == 0xC:
                    value = IonPyList.from_value(IonType.SEXP, read_values(data, pos, vend, symbols, LIST, depth + 1))
                elif tid == 0x9:
                    value = IonPyBytes.from_value(IonType.CLOB, data[pos:vend])
                else:
                    raise IonDecodeError(f"invalid type descriptor 0x{tb:02X}", start)
                pos = vend
        except IonDecodeError:
            raise
        except (IndexError, ValueError, ArithmeticError, StructError, RecursionError) as exc:
            raise decode_error(exc, start) from exc
        if mode == DICT:
            out[key] = value
            count += 1
        elif mode:
            out.append((key, value))
        else:
            out.append(value)
    if mode == DICT and len(out) != count:
        # Repeated field names: a dict would keep only the last one.
        struct = IonPyDict.from_value(IonType.STRUCT, {})
        for name, field in read_values(data, first, end, symbols, PAIRS, depth):
            struct.add_item(name, field)
        return struct
    return out


def value_end(data: bytes, pos: int, end: int) -> int:
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


def _annotated(data: bytes, pos: int, end: int, symbols: list[str | None], start: int, depth: int) -> Any:
    """The value of an annotation wrapper whose body is ``data[pos:end]``."""
    length, p = varuint_at(data, pos)
    annotations_end = p + length
    if not length or annotations_end >= end:
        raise IonDecodeError("malformed annotation wrapper: bad annotations length", start)
    nsym = len(symbols)
    annotations: list[Any] = []
    while p < annotations_end:
        sid, p = varuint_at(data, p)
        if sid >= nsym:
            raise IonDecodeError(f"unknown symbol ID {sid} (as an annotation)", start)
        text = symbols[sid]
        annotations.append(text if text is not None else SymbolToken(None, sid))
    if p != annotations_end:
        raise IonDecodeError("malformed annotation wrapper: annotations overrun their length", start)
    tb = data[p]
    if tb >> 4 == 0xE or (tb >> 4 == 0 and tb != 0x0F):
        raise IonDecodeError("an annotation wrapper must wrap exactly one value", start)
    if value_end(data, p, end) != end:
        raise IonDecodeError("an annotation wrapper's value must fill the wrapper", start)
    (value,) = read_values(data, p, end, symbols, LIST, depth)
    return _annotate(value, tuple(annotations))


def _annotate(value: Any, annotations: tuple[Any, ...]) -> Any:
    if isinstance(value, _IonNature):  # already an IonPy value, made by this reader
        value.ion_annotations = annotations
        return value
    if value is None:
        return IonPyNull.from_value(IonType.NULL, None, annotations)
    cls, ion_type = _ANNOTATED[type(value)]
    return cls.from_value(ion_type, value, annotations)
