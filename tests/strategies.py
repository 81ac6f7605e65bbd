"""Hypothesis strategies for the Ion value model of ``qldb_dr.ion``.

Values are built the way the binary reader returns them: plain Python values wherever
the Ion type is unambiguous and there are no annotations, ``IonPy*`` values otherwise.
So a round trip through the codec can be held to exact equality of Python types too.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
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
)
from amazon.ion.symbols import SymbolToken
from hypothesis import strategies as st

__all__ = [
    "annotate",
    "decimals",
    "ion_structs",
    "ion_values",
    "repeated_field_struct",
    "scalars",
    "timestamps",
]

# Short texts from a small alphabet make repeated names and symbols likely; the bytes
# the Ion hash escapes (0x0B, 0x0C, 0x0E) are in it on purpose.
_NAME_ALPHABET = st.sampled_from("abcxyz_$ \x0b\x0c\x0eé€😀")
field_names = st.text(_NAME_ALPHABET, max_size=4)
# "$ion_symbol_table" as a top-level first annotation would make a value a symbol table.
annotation_names = st.text(_NAME_ALPHABET, min_size=1, max_size=4).filter(lambda t: not t.startswith("$ion"))

_TYPED_NULLS = [t for t in IonType if t is not IonType.NULL]
_PRECISIONS = list(TimestampPrecision)


@st.composite
def timestamps(draw: st.DrawFn) -> Timestamp:
    """Timestamps at every precision, with 0-9 fraction digits, known or unknown offsets.

    Dates (YEAR, MONTH, DAY precision) have no offset in Ion, so they get tzinfo=None.
    """
    precision = draw(st.sampled_from(_PRECISIONS))
    moment = draw(st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 30)))
    tz = None
    if precision >= TimestampPrecision.MINUTE:
        minutes = draw(st.none() | st.integers(-23 * 60 - 59, 23 * 60 + 59))
        tz = None if minutes is None else OffsetTZInfo(timedelta(minutes=minutes))
    month = moment.month if precision >= TimestampPrecision.MONTH else 1
    day = moment.day if precision >= TimestampPrecision.DAY else 1
    hour, minute = (moment.hour, moment.minute) if precision >= TimestampPrecision.MINUTE else (0, 0)
    second = moment.second if precision >= TimestampPrecision.SECOND else 0
    fraction = None
    if precision is TimestampPrecision.SECOND:
        digits = draw(st.integers(0, 9))
        if digits:
            coefficient = draw(st.integers(0, 10**digits - 1))
            fraction = Decimal(f"{coefficient}E-{digits}")
    fields = (moment.year, month, day, hour, minute, second)
    return Timestamp(*fields, None, tz, precision=precision, fractional_seconds=fraction)


@st.composite
def decimals(draw: st.DrawFn) -> Decimal:
    """Finite decimals: exponents up to ±9999, negative zero, trailing zeros."""
    sign = draw(st.integers(0, 1))
    coefficient = draw(st.integers(0, 10**20) | st.integers(0, 10**40))
    exponent = draw(st.integers(-40, 40) | st.integers(-9999, 9999))
    return Decimal((sign, tuple(int(d) for d in str(coefficient)), exponent))


def _symbol(text: str | None) -> Any:
    return IonPySymbol.from_value(IonType.SYMBOL, text if text is not None else SymbolToken(None, 0))


def scalars() -> st.SearchStrategy[Any]:
    """Every Ion scalar type, typed nulls included; NaN is left out (it equals nothing)."""
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70) | st.integers(-300, 300),
        st.floats(allow_nan=False),
        decimals(),
        timestamps(),
        st.text(max_size=20),
        st.binary(max_size=40),
        (field_names | st.none()).map(_symbol),  # None: $0, the symbol with unknown text
        st.binary(max_size=20).map(lambda raw: IonPyBytes.from_value(IonType.CLOB, raw)),
        st.sampled_from(_TYPED_NULLS).map(lambda t: IonPyNull.from_value(t, None)),
    )


_ANNOTATABLE: dict[type, tuple[Any, IonType]] = {
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


def annotate(value: Any, annotations: list[str]) -> Any:
    """A copy of ``value`` with these annotations (an IonPy value)."""
    names = tuple(annotations)
    if value is None:
        return IonPyNull.from_value(IonType.NULL, None, names)
    if isinstance(value, IonPyDict):  # from_value would fold repeated field names
        copy = IonPyDict.from_value(IonType.STRUCT, {}, names)
        for name, field in value.iteritems():
            copy.add_item(name, field)
        return copy
    if isinstance(value, IonPyNull | IonPySymbol | IonPyBytes | IonPyList):
        return type(value).from_value(value.ion_type, value, names)
    cls, ion_type = _ANNOTATABLE[type(value)]
    return cls.from_value(ion_type, value, names)


def _annotated(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.builds(annotate, values, st.lists(annotation_names, min_size=1, max_size=3))


def repeated_field_struct(pairs: list[tuple[str, Any]], repeat: Any) -> Any:
    """An IonPyDict with ``pairs`` and the first field name once more, holding ``repeat``."""
    struct = IonPyDict.from_value(IonType.STRUCT, {})
    for name, value in pairs:
        struct.add_item(name, value)
    struct.add_item(pairs[0][0], repeat)
    return struct


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    pairs = st.lists(st.tuples(field_names, children), min_size=1, max_size=4)
    containers = st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(lambda items: IonPyList.from_value(IonType.SEXP, items)),
        st.dictionaries(field_names, children, max_size=4),
        st.builds(repeated_field_struct, pairs, children),
    )
    return containers | _annotated(containers)


def ion_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Any Ion value: scalars, annotated values and nested lists, s-expressions and structs."""
    leaves = scalars()
    return st.recursive(leaves | _annotated(leaves), _containers, max_leaves=max_leaves)


def ion_structs(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Structs only (plain dicts, or IonPyDict when a field name repeats)."""
    children = ion_values(max_leaves=max_leaves)
    return st.dictionaries(field_names, children, max_size=6) | st.builds(
        repeated_field_struct, st.lists(st.tuples(field_names, children), min_size=1, max_size=4), children
    )
