"""The scalar functions and CAST of the QLDB PartiQL subset, over Ion values.

Unless a function says otherwise, a MISSING argument gives MISSING and a NULL one gives NULL;
any other wrong type raises ``PartiqlError`` naming the function.
"""

from __future__ import annotations

import calendar
import functools
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from amazon.ion import simpleion
from amazon.ion.core import IonType, OffsetTZInfo, Timestamp, TimestampPrecision
from amazon.ion.simple_types import IonPySymbol

from qldb_dr.partiql.errors import PartiqlError
from qldb_dr.partiql.values import (
    MISSING,
    NUMBERS,
    SEQUENCES,
    TEXTS,
    Kind,
    bool_of,
    equals,
    instant,
    is_absent,
    kind,
    text_of,
    type_name,
)

AGGREGATES: Final = frozenset({"COUNT", "SUM", "MIN", "MAX", "AVG"})

# name -> (fewest, most) arguments; HISTORY is only valid as a FROM source.
ARITY: Final[dict[str, tuple[int, int]]] = {
    "UPPER": (1, 1),
    "LOWER": (1, 1),
    "TRIM": (3, 3),  # (spec, characters, string): the parser builds it from TRIM(...) syntax
    "CHAR_LENGTH": (1, 1),
    "SUBSTRING": (2, 3),
    "COALESCE": (1, 64),
    "NULLIF": (2, 2),
    "EXTRACT": (2, 2),
    "DATE_ADD": (3, 3),
    "DATE_DIFF": (3, 3),
    "UTCNOW": (0, 0),
    "TO_STRING": (2, 2),
    "TO_TIMESTAMP": (1, 2),
    "SIZE": (1, 1),
    "EXISTS": (1, 1),
    "HISTORY": (1, 3),
}

DATE_PARTS: Final = frozenset({"year", "month", "day", "hour", "minute", "second"})
EXTRACT_PARTS: Final = DATE_PARTS | {"timezone_hour", "timezone_minute"}

_PRECISION_OF_PART: Final = {
    "year": TimestampPrecision.YEAR,
    "month": TimestampPrecision.MONTH,
    "day": TimestampPrecision.DAY,
    "hour": TimestampPrecision.MINUTE,
    "minute": TimestampPrecision.MINUTE,
    "second": TimestampPrecision.SECOND,
}
_SECONDS_OF_PART: Final = {"day": 86400, "hour": 3600, "minute": 60, "second": 1}


def call(name: str, args: list[Any], utcnow: Callable[[], datetime]) -> Any:
    """Apply the scalar function ``name`` (upper case, arity checked by the parser)."""
    if name == "COALESCE":
        return next((a for a in args if not is_absent(a)), None)
    if name == "NULLIF":
        return None if equals(args[0], args[1]) is True else args[0]
    if name == "EXISTS":
        return _exists(args[0])
    if name == "UTCNOW":
        return _as_timestamp(utcnow())
    if name == "HISTORY":
        raise PartiqlError("history() is only allowed as a FROM source")
    if MISSING in args:
        return MISSING
    if any(is_absent(a) for a in args):
        return None
    return _STRICT[name](*args)


# -- strings ----------------------------------------------------------------------------------


def _text(function: str, value: Any) -> str:
    if kind(value) not in TEXTS:
        raise PartiqlError(f"{function} expects a string, not {type_name(value)}")
    return text_of(value)


def _int(function: str, value: Any) -> int:
    if kind(value) is not Kind.INT:
        raise PartiqlError(f"{function} expects an int, not {type_name(value)}")
    return int(value)


def _upper(value: Any) -> str:
    return _text("UPPER", value).upper()


def _lower(value: Any) -> str:
    return _text("LOWER", value).lower()


def _char_length(value: Any) -> int:
    return len(_text("CHAR_LENGTH", value))


def _substring(value: Any, start: Any, length: Any = None) -> str:
    text = _text("SUBSTRING", value)
    first = _int("SUBSTRING", start)
    end = len(text) + 1
    if length is not None:
        count = _int("SUBSTRING", length)
        if count < 0:
            raise PartiqlError(f"SUBSTRING length must not be negative, got {count}")
        end = min(end, first + count)
    first = max(first, 1)
    return text[first - 1 : end - 1] if end > first else ""


def _trim(spec: Any, characters: Any, value: Any) -> str:
    text = _text("TRIM", value)
    chars = _text("TRIM", characters)
    if spec == "leading":
        return text.lstrip(chars)
    if spec == "trailing":
        return text.rstrip(chars)
    return text.strip(chars)


def _size(value: Any) -> int:
    k = kind(value)
    if k in SEQUENCES:
        return len(value)
    if k is Kind.STRUCT:
        return len(value.items())
    raise PartiqlError(f"SIZE expects a list, sexp, bag or struct, not {type_name(value)}")


def _exists(value: Any) -> bool:
    k = kind(value)
    if k in (Kind.NULL, Kind.MISSING):
        return False
    if k in SEQUENCES:
        return len(value) > 0
    if k is Kind.STRUCT:
        return len(value.items()) > 0
    raise PartiqlError(f"EXISTS expects a collection or a subquery, not {type_name(value)}")


# -- timestamps -------------------------------------------------------------------------------


def _timestamp(function: str, value: Any) -> datetime:
    if kind(value) is not Kind.TIMESTAMP:
        raise PartiqlError(f"{function} expects a timestamp, not {type_name(value)}")
    result: datetime = value
    return result


def _precision(value: datetime) -> TimestampPrecision:
    precision = getattr(value, "precision", None)
    return precision if isinstance(precision, TimestampPrecision) else TimestampPrecision.SECOND


def _fraction(value: datetime) -> Decimal:
    fraction = getattr(value, "fractional_seconds", None)
    if isinstance(fraction, Decimal):
        return fraction
    return Decimal(value.microsecond).scaleb(-6) if value.microsecond else Decimal(0)


def _as_timestamp(value: datetime) -> Timestamp:
    if isinstance(value, Timestamp):
        return value
    tz = value.tzinfo or UTC
    return _build(value.replace(tzinfo=None), tz, TimestampPrecision.SECOND, _fraction(value))


def _build(wall: datetime, tz: Any, precision: TimestampPrecision, fraction: Decimal | None) -> Timestamp:
    """A Timestamp from wall-clock fields (microseconds ignored) at ``precision``."""
    if precision < TimestampPrecision.MINUTE:
        tz = None
    return Timestamp(
        wall.year,
        wall.month,
        wall.day,
        wall.hour if precision >= TimestampPrecision.MINUTE else 0,
        wall.minute if precision >= TimestampPrecision.MINUTE else 0,
        wall.second if precision >= TimestampPrecision.SECOND else 0,
        None,
        tz,
        precision=precision,
        fractional_seconds=fraction if precision >= TimestampPrecision.SECOND and fraction else None,
    )


def _extract(part: str, value: Any) -> Any:
    ts = _timestamp("EXTRACT", value)
    if part == "second":
        return Decimal(ts.second) + _fraction(ts)
    if part in ("timezone_hour", "timezone_minute"):
        offset = ts.utcoffset() or timedelta(0)
        minutes = int(offset.total_seconds()) // 60
        sign = -1 if minutes < 0 else 1
        hours, rest = divmod(abs(minutes), 60)
        return sign * (hours if part == "timezone_hour" else rest)
    return int(getattr(ts, part))


def _date_add(part: str, amount: Any, value: Any) -> Timestamp:
    ts = _timestamp("DATE_ADD", value)
    count = _int("DATE_ADD", amount)
    precision = max(_precision(ts), _PRECISION_OF_PART[part], key=lambda p: p.value)
    wall = datetime(ts.year, ts.month, ts.day, ts.hour, ts.minute, ts.second)
    try:
        if part in ("year", "month"):
            months = wall.year * 12 + wall.month - 1 + count * (12 if part == "year" else 1)
            year, month = divmod(months, 12)
            day = min(wall.day, calendar.monthrange(year, month + 1)[1])
            wall = wall.replace(year=year, month=month + 1, day=day)
        else:
            wall = wall + timedelta(seconds=count * _SECONDS_OF_PART[part])
    except (ValueError, OverflowError):
        raise PartiqlError(f"DATE_ADD({part}, {count}, ...) leaves the timestamp range") from None
    return _build(wall, ts.tzinfo, precision, _fraction(ts))


def _date_diff(part: str, first: Any, second: Any) -> int:
    a = instant(_timestamp("DATE_DIFF", first))
    b = instant(_timestamp("DATE_DIFF", second))
    if part in ("year", "month"):
        sign = 1 if b >= a else -1
        low, high = (a, b) if sign == 1 else (b, a)
        months = (high[0].year - low[0].year) * 12 + high[0].month - low[0].month
        if months and _within_month(high) < _within_month(low):
            months -= 1  # the last month is not complete
        return sign * (months // 12 if part == "year" else months)
    delta = b[0] - a[0]
    seconds = Decimal(delta.days * 86400 + delta.seconds) + (b[1] - a[1])
    return int(seconds / _SECONDS_OF_PART[part])  # whole units, truncated toward zero


def _within_month(moment: tuple[datetime, Decimal]) -> tuple[int, Any, Decimal]:
    return (moment[0].day, moment[0].time(), moment[1])


# -- TO_STRING / TO_TIMESTAMP patterns --------------------------------------------------------

_MONTHS: Final = [calendar.month_name[i] for i in range(1, 13)]
_PATTERN_TOKEN: Final = re.compile(r"'(?:[^']|'')*'|([a-zA-Z])\1*|.", re.S)


@functools.lru_cache(maxsize=256)
def _pattern_tokens(pattern: str) -> tuple[tuple[str, str], ...]:
    """(kind, text): kind "lit" for literal text, else the pattern letter run."""
    tokens = []
    for match in _PATTERN_TOKEN.finditer(pattern):
        text = match.group(0)
        if text.startswith("'"):
            tokens.append(("lit", text[1:-1].replace("''", "'") if len(text) > 2 else "'"))
        elif match.group(1):
            if match.group(1) not in "yMdahHmsSnXx":
                raise PartiqlError(f"unknown timestamp pattern letter {match.group(1)!r} in {pattern!r}")
            tokens.append(("pat", text))
        else:
            tokens.append(("lit", text))
    return tuple(tokens)


def _offset_text(ts: datetime, token: str) -> str:
    offset = ts.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    if token[0] == "X" and minutes == 0:
        return "Z"
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    if len(token) == 1:
        return f"{sign}{hours:02d}" + (f"{rest:02d}" if rest else "")
    if len(token) in (2, 4):
        return f"{sign}{hours:02d}{rest:02d}"
    return f"{sign}{hours:02d}:{rest:02d}"


def _to_string(value: Any, pattern: Any) -> str:
    ts = _timestamp("TO_STRING", value)
    out = []
    for token_kind, token in _pattern_tokens(_text("TO_STRING", pattern)):
        if token_kind == "lit":
            out.append(token)
            continue
        letter, n = token[0], len(token)
        if letter == "y":
            out.append(f"{ts.year % 100:02d}" if n == 2 else f"{ts.year:0{max(n, 1)}d}")
        elif letter == "M":
            out.append(
                _MONTHS[ts.month - 1][:3]
                if n == 3
                else _MONTHS[ts.month - 1]
                if n == 4
                else _MONTHS[ts.month - 1][0]
                if n >= 5
                else f"{ts.month:0{n}d}"
            )
        elif letter == "d":
            out.append(f"{ts.day:0{n}d}")
        elif letter == "a":
            out.append("AM" if ts.hour < 12 else "PM")
        elif letter == "h":
            out.append(f"{(ts.hour % 12) or 12:0{n}d}")
        elif letter == "H":
            out.append(f"{ts.hour:0{n}d}")
        elif letter == "m":
            out.append(f"{ts.minute:0{n}d}")
        elif letter == "s":
            out.append(f"{ts.second:0{n}d}")
        elif letter == "S":
            digits = str(_fraction(ts).quantize(Decimal(1).scaleb(-9)))[2:]
            out.append(digits[:n].ljust(n, "0"))
        elif letter == "n":
            out.append(str(int(_fraction(ts) * 1_000_000_000)))
        else:
            out.append(_offset_text(ts, token))
    return "".join(out)


@functools.lru_cache(maxsize=256)
def _timestamp_regex(pattern: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    parts = []
    fields = []
    for token_kind, token in _pattern_tokens(pattern):
        if token_kind == "lit":
            parts.append(re.escape(token))
            continue
        letter, n = token[0], len(token)
        if letter == "M" and n >= 3:
            names = [m[:3] for m in _MONTHS] if n == 3 else _MONTHS
            parts.append("(" + "|".join(names) + ")")
        elif letter == "a":
            parts.append("(AM|PM)")
        elif letter in "Xx":
            parts.append(r"(Z|[+-]\d\d(?::?\d\d)?)")
        elif letter == "S":
            parts.append(rf"(\d{{{n}}})")
        elif letter == "n":
            parts.append(r"(\d{1,9})")
        elif letter == "y" and n == 4:
            parts.append(r"(\d{4})")
        elif n == 1:
            parts.append(r"(\d{1,9})" if letter == "y" else r"(\d{1,2})")
        else:
            parts.append(rf"(\d{{{n}}})")
        fields.append(token)
    return re.compile("".join(parts), re.I), tuple(fields)


def _to_timestamp(value: Any, pattern: Any = None) -> Timestamp:
    text = _text("TO_TIMESTAMP", value)
    if pattern is None:
        return _parse_ion_timestamp("TO_TIMESTAMP", text)
    regex, fields = _timestamp_regex(_text("TO_TIMESTAMP", pattern))
    match = regex.fullmatch(text.strip())
    if match is None:
        raise PartiqlError(f"TO_TIMESTAMP: {text!r} does not match the pattern {pattern!r}")
    got: dict[str, Any] = {}
    for token, group in zip(fields, match.groups(), strict=True):
        letter = token[0]
        if letter == "M" and len(token) >= 3:
            got["M"] = [m[: len(group)].lower() for m in _MONTHS].index(group.lower()) + 1
        elif letter == "a":
            got["a"] = group.upper()
        elif letter in "Xx":
            got["X"] = group
        elif letter == "S":
            got["S"] = Decimal("0." + group)
        elif letter == "n":
            got["S"] = Decimal(int(group)).scaleb(-9)
        elif letter == "y" and len(token) == 2:
            got["y"] = 2000 + int(group)
        else:
            got[letter] = int(group)
    hour = got.get("H", 0)
    if "h" in got:
        hour = got["h"] % 12 + (12 if got.get("a") == "PM" else 0)
    if "S" in got or "s" in got:
        precision = TimestampPrecision.SECOND
    elif {"H", "h", "m"} & got.keys():
        precision = TimestampPrecision.MINUTE
    elif "d" in got:
        precision = TimestampPrecision.DAY
    elif "M" in got:
        precision = TimestampPrecision.MONTH
    else:
        precision = TimestampPrecision.YEAR
    tz = _parse_offset(got["X"]) if "X" in got else None
    try:
        wall = datetime(got.get("y", 1970), got.get("M", 1), got.get("d", 1), hour, got.get("m", 0), got.get("s", 0))
    except ValueError as exc:
        raise PartiqlError(f"TO_TIMESTAMP: {text!r} is not a valid timestamp ({exc})") from None
    return _build(wall, tz, precision, got.get("S"))


def _parse_offset(text: str) -> Any:
    if text.upper() == "Z":
        return OffsetTZInfo(timedelta(0))
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + (int(digits[2:4]) if len(digits) > 2 else 0)
    return OffsetTZInfo(timedelta(minutes=sign * minutes))


def _parse_ion_timestamp(function: str, text: str) -> Timestamp:
    try:
        value = simpleion.loads(text.strip())
    except Exception:  # amazon.ion raises assorted exception types for bad text
        value = None
    if value is None or kind(value) is not Kind.TIMESTAMP:
        raise PartiqlError(f"{function}: {text!r} is not an Ion timestamp")
    return _as_timestamp(value)


_STRICT: Final[dict[str, Callable[..., Any]]] = {
    "UPPER": _upper,
    "LOWER": _lower,
    "TRIM": _trim,
    "CHAR_LENGTH": _char_length,
    "SUBSTRING": _substring,
    "EXTRACT": _extract,
    "DATE_ADD": _date_add,
    "DATE_DIFF": _date_diff,
    "TO_STRING": _to_string,
    "TO_TIMESTAMP": _to_timestamp,
    "SIZE": _size,
}


# -- CAST -------------------------------------------------------------------------------------

_INT_TEXT: Final = re.compile(r"[+-]?\d+")


def cast(value: Any, target: str) -> Any:
    """``CAST(value AS target)``; target is INT DECIMAL FLOAT STRING SYMBOL TIMESTAMP or BOOL.
    A value already of the target type is returned unchanged."""
    k = kind(value)
    if k is Kind.MISSING:
        return MISSING
    if k is Kind.NULL:
        return None
    try:
        return _CASTS[target](value, k)
    except PartiqlError:
        raise
    except (ValueError, ArithmeticError):
        pass
    raise PartiqlError(f"cannot CAST {_show(value)} to {target}")


def _show(value: Any) -> str:
    k = kind(value)
    return repr(text_of(value)) if k in TEXTS else type_name(value)


def _fail_cast(value: Any, target: str) -> PartiqlError:
    return PartiqlError(f"cannot CAST {_show(value)} to {target}")


def _cast_int(value: Any, k: Kind) -> Any:
    if k is Kind.INT:
        return value
    if k is Kind.BOOL:
        return int(bool_of(value))
    if k is Kind.FLOAT and not math.isfinite(value):
        raise _fail_cast(value, "INT")
    if k in (Kind.FLOAT, Kind.DECIMAL):
        return int(value)  # truncates toward zero
    if k in TEXTS and _INT_TEXT.fullmatch(text_of(value).strip()):
        return int(text_of(value).strip())
    raise _fail_cast(value, "INT")


def _cast_decimal(value: Any, k: Kind) -> Any:
    if k is Kind.DECIMAL:
        return value
    if k is Kind.INT:
        return Decimal(int(value))
    if k is Kind.BOOL:
        return Decimal(int(bool_of(value)))
    if k is Kind.FLOAT and math.isfinite(value):
        return Decimal(repr(float(value)))
    if k in TEXTS:
        try:
            number = Decimal(text_of(value).strip().replace("d", "e").replace("D", "e"))
        except InvalidOperation:
            raise _fail_cast(value, "DECIMAL") from None
        if number.is_finite():
            return number
    raise _fail_cast(value, "DECIMAL")


def _cast_float(value: Any, k: Kind) -> Any:
    if k is Kind.FLOAT:
        return value
    if k in NUMBERS:
        return float(value)
    if k is Kind.BOOL:
        return float(bool_of(value))
    if k in TEXTS:
        return float(text_of(value).strip())
    raise _fail_cast(value, "FLOAT")


def _as_text(value: Any, k: Kind, target: str) -> str:
    if k in TEXTS:
        return text_of(value)
    if k is Kind.INT:
        return str(int(value))
    if k is Kind.DECIMAL:
        return str(Decimal(value))
    if k is Kind.FLOAT:
        f = float(value)
        return "nan" if math.isnan(f) else ("+inf" if f > 0 else "-inf") if math.isinf(f) else repr(f)
    if k is Kind.BOOL:
        return "true" if bool_of(value) else "false"
    if k is Kind.TIMESTAMP:
        text: str = simpleion.dumps(_as_timestamp(value), binary=False, omit_version_marker=True)
        return text
    raise _fail_cast(value, target)


def _cast_string(value: Any, k: Kind) -> Any:
    return value if k is Kind.STRING else _as_text(value, k, "STRING")


def _cast_symbol(value: Any, k: Kind) -> Any:
    if k is Kind.SYMBOL:
        return value
    return IonPySymbol.from_value(IonType.SYMBOL, _as_text(value, k, "SYMBOL"))


def _cast_timestamp(value: Any, k: Kind) -> Any:
    if k is Kind.TIMESTAMP:
        return value
    if k in TEXTS:
        return _parse_ion_timestamp("CAST", text_of(value))
    raise _fail_cast(value, "TIMESTAMP")


def _cast_bool(value: Any, k: Kind) -> Any:
    if k is Kind.BOOL:
        return value
    if k in NUMBERS:
        return bool(value != 0)
    if k in TEXTS and text_of(value).strip().lower() in ("true", "false"):
        return text_of(value).strip().lower() == "true"
    raise _fail_cast(value, "BOOL")


_CASTS: Final[dict[str, Callable[[Any, Kind], Any]]] = {
    "INT": _cast_int,
    "DECIMAL": _cast_decimal,
    "FLOAT": _cast_float,
    "STRING": _cast_string,
    "SYMBOL": _cast_symbol,
    "TIMESTAMP": _cast_timestamp,
    "BOOL": _cast_bool,
}
