"""The Ion 1.0 binary reader's costlier fields: VarUInts, decimals and timestamps.

The container loop (:func:`qldb_dr.ion.decoder.read_values`) decodes the common scalars
inline and calls these for the rest. Decimals keep their exponent and timestamps their
precision and exact fraction, as simpleion reads them; both are cached, as journals repeat the
same decimals and millisecond fractions. Malformed bodies raise ``ValueError``
(or ``IndexError`` when truncated), which the decoder turns into an ``IonDecodeError``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from amazon.ion.core import OffsetTZInfo, Timestamp, TimestampPrecision

from qldb_dr.ion.constants import CACHE_LIMIT

_PRECISIONS = (
    TimestampPrecision.YEAR,
    TimestampPrecision.MONTH,
    TimestampPrecision.DAY,
    TimestampPrecision.MINUTE,
    TimestampPrecision.SECOND,
)

_ZERO = Decimal(0)
_new_datetime = datetime.__new__

# Journals repeat the same decimals and millisecond fractions; parsing them is the costly part.
_DECIMALS: dict[bytes, Decimal] = {}
_FRACTIONS: dict[bytes, tuple[Decimal, int, int]] = {}
_TZ: dict[int, Any] = {}


def varuint_at(data: bytes, p: int) -> tuple[int, int]:
    b = data[p]
    p += 1
    n = b & 0x7F
    while not b & 0x80:
        b = data[p]
        p += 1
        n = (n << 7) | (b & 0x7F)
    return n, p


def decimal_fields(data: bytes, p: int, end: int) -> tuple[int, int, bool]:
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


def read_decimal(data: bytes, pos: int, end: int) -> Decimal:
    if pos == end:
        return _ZERO
    raw = data[pos:end]
    value = _DECIMALS.get(raw)
    if value is None:
        exponent, coefficient, negative_zero = decimal_fields(data, pos, end)
        # From a string the exponent is kept exactly; no context rounding applies.
        value = Decimal(f"-0E{exponent}" if negative_zero else f"{coefficient}E{exponent}")
        if len(_DECIMALS) >= CACHE_LIMIT:
            _DECIMALS.clear()
        _DECIMALS[raw] = value
    return value


def _fraction(data: bytes, pos: int, end: int) -> tuple[Decimal, int, int]:
    """(fractional_seconds, microsecond, fractional_precision) of a timestamp fraction."""
    raw = data[pos:end]
    cached = _FRACTIONS.get(raw)
    if cached is not None:
        return cached
    exponent, coefficient, negative_zero = decimal_fields(data, pos, end)
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
    if len(_FRACTIONS) >= CACHE_LIMIT:
        _FRACTIONS.clear()
    _FRACTIONS[raw] = result
    return result


def _offset_tz(minutes: int) -> Any:
    tz = _TZ.get(minutes)
    if tz is None:
        tz = _TZ[minutes] = OffsetTZInfo(timedelta(minutes=minutes))
    return tz


def read_timestamp(data: bytes, pos: int, end: int) -> Any:
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
        month, p = varuint_at(data, p)
        precision = 1
        if p < end:
            day, p = varuint_at(data, p)
            precision = 2
            if p < end:
                hour, p = varuint_at(data, p)
                minute, p = varuint_at(data, p)
                precision = 3
                if p < end:
                    second, p = varuint_at(data, p)
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
