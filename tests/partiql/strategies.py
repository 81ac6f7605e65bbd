"""Hypothesis strategies for Ion values in the project's model (plain Python and ``IonPy*``).

``ion_structs`` draws from the shared ``tests/strategies.py`` when it exists; the local ones
cover what the PartiQL engine must carry unchanged: decimal exponents, timestamp precision and
offsets, symbols, clobs, sexps, typed nulls, annotations and repeated field names.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from amazon.ion.core import IonType, OffsetTZInfo, Timestamp, TimestampPrecision
from amazon.ion.simple_types import (
    IonPyBytes,
    IonPyDecimal,
    IonPyDict,
    IonPyInt,
    IonPyList,
    IonPyNull,
    IonPySymbol,
    IonPyText,
)
from hypothesis import strategies as st

names = st.text(alphabet="abcdefgh_XYZ$é", min_size=1, max_size=6)
annotation_lists = st.lists(st.sampled_from(["a", "b::c", "$x"]), min_size=1, max_size=2).map(tuple)


@st.composite
def timestamps(draw: st.DrawFn) -> Timestamp:
    precision = draw(st.sampled_from(list(TimestampPrecision)))
    year = draw(st.integers(1, 9999))
    month = draw(st.integers(1, 12)) if precision.includes_month else 1
    day = draw(st.integers(1, 28)) if precision.includes_day else 1
    hour = draw(st.integers(0, 23)) if precision.includes_minute else 0
    minute = draw(st.integers(0, 59)) if precision.includes_minute else 0
    second = draw(st.integers(0, 59)) if precision.includes_second else 0
    tz = None
    if precision.includes_minute and draw(st.booleans()):
        tz = OffsetTZInfo(timedelta(minutes=draw(st.integers(-23 * 60 - 59, 23 * 60 + 59))))
    fraction = None
    if precision.includes_second and draw(st.booleans()):
        digits = draw(st.integers(1, 9))
        fraction = Decimal(draw(st.integers(0, 10**digits - 1))).scaleb(-digits)
    return Timestamp(year, month, day, hour, minute, second, None, tz, precision=precision, fractional_seconds=fraction)


typed_nulls = (
    st.sampled_from(list(IonType)).filter(lambda t: t is not IonType.NULL).map(lambda t: IonPyNull.from_value(t, None))
)

scalars: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.binary(max_size=8),
    st.text(max_size=6).map(lambda t: IonPySymbol.from_value(IonType.SYMBOL, t)),
    st.text(max_size=6).map(lambda t: IonPyText.from_value(IonType.SYMBOL, t)),
    st.binary(max_size=6).map(lambda b: IonPyBytes.from_value(IonType.CLOB, b)),
    timestamps(),
    typed_nulls,
    st.tuples(st.integers(), annotation_lists).map(lambda p: IonPyInt.from_value(IonType.INT, p[0], p[1])),
    st.tuples(st.booleans(), annotation_lists).map(lambda p: IonPyInt.from_value(IonType.BOOL, p[0], p[1])),
    st.tuples(st.decimals(allow_nan=False, allow_infinity=False), annotation_lists).map(
        lambda p: IonPyDecimal.from_value(IonType.DECIMAL, p[0], p[1])
    ),
)


def _repeated_struct(pairs: list[tuple[str, Any]]) -> IonPyDict:
    struct = IonPyDict()
    for name, value in pairs:
        struct.add_item(name, value)
    struct.ion_type = IonType.STRUCT
    struct.ion_annotations = ()
    return struct


def _sexp(items: list[Any]) -> IonPyList:
    return IonPyList.from_value(IonType.SEXP, items)


def _annotated_list(pair: tuple[list[Any], tuple[str, ...]]) -> IonPyList:
    return IonPyList.from_value(IonType.LIST, pair[0], pair[1])


def _annotated_struct(pair: tuple[dict[str, Any], tuple[str, ...]]) -> IonPyDict:
    return IonPyDict.from_value(IonType.STRUCT, pair[0], pair[1])


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=3).map(_sexp),
        st.tuples(st.lists(children, max_size=3), annotation_lists).map(_annotated_list),
        st.dictionaries(names, children, max_size=4),
        st.tuples(st.dictionaries(names, children, max_size=3), annotation_lists).map(_annotated_struct),
        st.lists(st.tuples(st.sampled_from(["k", "k", "j"]), children), min_size=2, max_size=4).map(_repeated_struct),
    )


ion_values: st.SearchStrategy[Any] = st.recursive(scalars, _containers, max_leaves=12)


def local_ion_structs() -> st.SearchStrategy[Any]:
    """A struct document: a plain dict, or an IonPyDict with repeated field names."""
    return st.one_of(
        st.dictionaries(names, ion_values, max_size=6),
        st.tuples(st.dictionaries(names, ion_values, max_size=4), annotation_lists).map(_annotated_struct),
        st.lists(st.tuples(st.sampled_from(["k", "k", "j", "i"]), ion_values), min_size=2, max_size=5).map(
            _repeated_struct
        ),
    )


def ion_structs() -> st.SearchStrategy[Any]:
    """Struct documents: the shared ``tests.strategies.ion_structs`` when the repository has
    it, together with this module's (which adds annotated top-level structs) either way."""
    try:
        from tests.strategies import ion_structs as shared
    except ImportError:
        return local_ion_structs()
    return st.one_of(shared(), local_ion_structs())
