"""PartiQL semantics over Ion values: MISSING, bags, value kinds, equality, ordering, index keys.

Values are the project's Ion model (see ``qldb_dr.ion``): plain Python where unambiguous,
``amazon.ion`` ``IonPy*`` values otherwise. Nothing here converts a value: kinds and comparisons
look through the representation (an ``IonPyInt`` whose ``ion_type`` is BOOL is a bool, an
``IonPyText`` whose ``ion_type`` is SYMBOL is a symbol) and leave it as it is.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from amazon.ion.core import IonType, Multimap, Timestamp
from amazon.ion.simple_types import IonPyDict, IonPyList, IonPyNull
from amazon.ion.symbols import SymbolToken

from qldb_dr.partiql.errors import PartiqlError


class _Missing:
    """PartiQL's MISSING: the value of an absent field. Never stored, never returned."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()


class Bag(list[Any]):
    """A PartiQL bag (unordered): a query's result or ``<< ... >>``. Returned as an Ion list."""

    __slots__ = ()


class Kind(enum.Enum):
    MISSING = "missing"
    NULL = "null"
    BOOL = "bool"
    INT = "int"
    FLOAT = "float"
    DECIMAL = "decimal"
    TIMESTAMP = "timestamp"
    SYMBOL = "symbol"
    STRING = "string"
    CLOB = "clob"
    BLOB = "blob"
    LIST = "list"
    SEXP = "sexp"
    STRUCT = "struct"
    BAG = "bag"


NUMBERS: Final = frozenset({Kind.INT, Kind.FLOAT, Kind.DECIMAL})
TEXTS: Final = frozenset({Kind.STRING, Kind.SYMBOL})
SEQUENCES: Final = frozenset({Kind.LIST, Kind.SEXP, Kind.BAG})

_BY_TYPE: Final[dict[type, Kind]] = {
    type(None): Kind.NULL,
    bool: Kind.BOOL,
    int: Kind.INT,
    float: Kind.FLOAT,
    Decimal: Kind.DECIMAL,
    str: Kind.STRING,
    bytes: Kind.BLOB,
    list: Kind.LIST,
    dict: Kind.STRUCT,
    Bag: Kind.BAG,
    _Missing: Kind.MISSING,
    datetime: Kind.TIMESTAMP,
    Timestamp: Kind.TIMESTAMP,
    SymbolToken: Kind.SYMBOL,
    IonPyNull: Kind.NULL,
}

_BY_ION_TYPE: Final[dict[IonType, Kind]] = {
    IonType.NULL: Kind.NULL,
    IonType.BOOL: Kind.BOOL,
    IonType.INT: Kind.INT,
    IonType.FLOAT: Kind.FLOAT,
    IonType.DECIMAL: Kind.DECIMAL,
    IonType.TIMESTAMP: Kind.TIMESTAMP,
    IonType.SYMBOL: Kind.SYMBOL,
    IonType.STRING: Kind.STRING,
    IonType.CLOB: Kind.CLOB,
    IonType.BLOB: Kind.BLOB,
    IonType.LIST: Kind.LIST,
    IonType.SEXP: Kind.SEXP,
    IonType.STRUCT: Kind.STRUCT,
}

# For subclasses that carry no ion_type (e.g. IonPyInt(5)): the first matching base wins.
_BY_BASE: Final[tuple[tuple[type, Kind], ...]] = (
    (bool, Kind.BOOL),
    (int, Kind.INT),
    (float, Kind.FLOAT),
    (Decimal, Kind.DECIMAL),
    (str, Kind.STRING),
    (bytes, Kind.BLOB),
    (Bag, Kind.BAG),
    (list, Kind.LIST),
    (dict, Kind.STRUCT),
    (Multimap, Kind.STRUCT),
    (datetime, Kind.TIMESTAMP),
    (SymbolToken, Kind.SYMBOL),
)


def kind(value: Any) -> Kind:
    """The PartiQL/Ion kind of ``value``; a typed null is NULL. Raises for non-Ion values."""
    k = _BY_TYPE.get(type(value))
    if k is not None:
        return k
    if isinstance(value, IonPyNull):
        return Kind.NULL
    ion_type = getattr(value, "ion_type", None)
    if ion_type is not None:
        return _BY_ION_TYPE[ion_type]
    for base, k in _BY_BASE:
        if isinstance(value, base):
            return k
    raise PartiqlError(f"{type(value).__name__} is not an Ion value")


def type_name(value: Any) -> str:
    """The kind's name for messages; typed nulls read ``null.int``."""
    if isinstance(value, IonPyNull) and value.ion_type not in (None, IonType.NULL):
        return f"null.{value.ion_type.name.lower()}"
    return kind(value).value


def article(value: Any) -> str:
    """The type name with its article, for messages: "an int", "a string"."""
    name = type_name(value)
    return ("an " if name[0] in "aeiou" else "a ") + name


def is_absent(value: Any) -> bool:
    """NULL (any type) or MISSING."""
    return value is None or value is MISSING or isinstance(value, IonPyNull)


def text_of(value: Any) -> str:
    """The text of a string or symbol (the caller has checked the kind)."""
    if isinstance(value, SymbolToken):
        if value.text is None:
            raise PartiqlError(f"symbol ${value.sid} has no known text")
        return str(value.text)
    return str(value)


def _text_or_none(value: Any) -> str | None:
    """The text of a string or symbol; None for a symbol with unknown text ($0)."""
    if isinstance(value, SymbolToken):
        return None if value.text is None else str(value.text)
    return str(value)


def bool_of(value: Any) -> bool:
    """The truth of a BOOL-kind value (``IonPyInt`` bools are 0 or 1)."""
    return bool(value)


# -- structs ----------------------------------------------------------------------------------


def struct_items(value: Any) -> list[tuple[str, Any]]:
    """Every (field name, value) of a struct, repeated names included, in order."""
    items = value.items()
    return [(_field_text(k), v) for k, v in items]


def _field_text(name: Any) -> str:
    return text_of(name) if isinstance(name, SymbolToken) else str(name)


def struct_get(value: Any, name: str) -> Any:
    """Field ``name`` of a struct (the last of repeated ones, as ``IonPyDict`` does), or MISSING."""
    if type(value) is dict:
        return value.get(name, MISSING)
    if name in value:
        return value[name]
    return MISSING


def make_struct(pairs: Iterable[tuple[str, Any]]) -> Any:
    """A struct of ``pairs``: a dict, or an ``IonPyDict`` when a field name repeats."""
    pairs = list(pairs)
    result = dict(pairs)
    if len(result) == len(pairs):
        return result
    multi = IonPyDict()
    for k, v in pairs:
        multi.add_item(k, v)
    multi.ion_type = IonType.STRUCT
    multi.ion_annotations = ()
    return multi


def copy_container(value: Any) -> Any:
    """A shallow copy of a list, sexp or struct keeping its Ion type, annotations and repeated
    field names; used for copy-on-write updates (values given to the engine are never mutated)."""
    if type(value) is dict:
        return dict(value)
    if type(value) is list:
        return list(value)
    if isinstance(value, Multimap):
        copy = IonPyDict()
        for k, v in value.items():
            copy.add_item(k, v)
    elif isinstance(value, list):
        copy = IonPyList(value)
    else:
        raise PartiqlError(f"cannot modify inside a {type_name(value)}")
    copy.ion_type = getattr(value, "ion_type", None) or (
        IonType.STRUCT if isinstance(value, Multimap) else IonType.LIST
    )
    copy.ion_annotations = getattr(value, "ion_annotations", ())
    return copy


def deep_copy(value: Any) -> Any:
    """A copy of ``value`` sharing no container with it (scalars are immutable and shared)."""
    k = kind(value)
    if k in (Kind.LIST, Kind.SEXP) and not isinstance(value, IonPyNull):
        copy = copy_container(value)
        for i, item in enumerate(copy):
            copy[i] = deep_copy(item)
        return copy
    if k is Kind.STRUCT and not isinstance(value, IonPyNull):
        if type(value) is dict:
            return {name: deep_copy(item) for name, item in value.items()}
        copy = IonPyDict()
        for name, item in value.items():
            copy.add_item(name, deep_copy(item))
        copy.ion_type = IonType.STRUCT
        copy.ion_annotations = getattr(value, "ion_annotations", ())
        return copy
    return value


# -- equality and order -----------------------------------------------------------------------


def instant(value: datetime) -> tuple[datetime, Decimal]:
    """A timestamp as a comparable UTC instant (second, exact fraction); unknown offset is UTC."""
    offset = value.utcoffset() or timedelta(0)
    whole = datetime(value.year, value.month, value.day, value.hour, value.minute, value.second) - offset
    fraction = getattr(value, "fractional_seconds", None)
    if fraction is None:
        fraction = Decimal(value.microsecond).scaleb(-6)
    return whole, fraction


def equals(a: Any, b: Any) -> Any:
    """PartiQL ``a = b``: True/False, None when either side is NULL, MISSING when either is MISSING.

    Numbers compare by value across int, decimal and float; strings and symbols by text;
    timestamps as instants; containers element by element (where null equals null).
    """
    ka, kb = kind(a), kind(b)
    if ka is Kind.MISSING or kb is Kind.MISSING:
        return MISSING
    if ka is Kind.NULL or kb is Kind.NULL:
        return None
    return _same(a, ka, b, kb)


def _same(a: Any, ka: Kind, b: Any, kb: Kind) -> bool:
    if ka in NUMBERS:
        return kb in NUMBERS and bool(a == b)
    if ka in TEXTS:
        return kb in TEXTS and _text_or_none(a) == _text_or_none(b)  # $0 equals only $0
    if ka is not kb:
        return False
    if ka is Kind.BOOL:
        return bool_of(a) == bool_of(b)
    if ka is Kind.TIMESTAMP:
        return instant(a) == instant(b)
    if ka in (Kind.BLOB, Kind.CLOB):
        return bytes(a) == bytes(b)
    if ka in (Kind.LIST, Kind.SEXP):
        return len(a) == len(b) and all(deep_equal(x, y) for x, y in zip(a, b, strict=True))
    if ka is Kind.BAG:
        return _multiset_equal(list(a), list(b), deep_equal)
    if ka is Kind.STRUCT:
        return _multiset_equal(struct_items(a), struct_items(b), _same_field)
    return False  # pragma: no cover - every kind is handled above


def deep_equal(a: Any, b: Any) -> bool:
    """Equality inside containers: like ``equals`` but null equals null and MISSING equals MISSING."""
    ka, kb = kind(a), kind(b)
    if ka in (Kind.NULL, Kind.MISSING) or kb in (Kind.NULL, Kind.MISSING):
        return ka is kb
    return _same(a, ka, b, kb)


def _same_field(a: tuple[str, Any], b: tuple[str, Any]) -> bool:
    return a[0] == b[0] and deep_equal(a[1], b[1])


def _multiset_equal(a: list[Any], b: list[Any], same: Callable[[Any, Any], bool]) -> bool:
    if len(a) != len(b):
        return False
    remaining = list(b)
    for x in a:
        for i, y in enumerate(remaining):
            if same(x, y):
                del remaining[i]
                break
        else:
            return False
    return True


def order(op: str, a: Any, b: Any) -> Any:
    """PartiQL ``a <op> b`` for ``<``, ``<=``, ``>``, ``>=``; NULL/MISSING propagate.

    Numbers, texts (by code point), timestamps (as instants) and bools are ordered; comparing
    anything else, or two different kinds, is a type error.
    """
    ka, kb = kind(a), kind(b)
    if ka is Kind.MISSING or kb is Kind.MISSING:
        return MISSING
    if ka is Kind.NULL or kb is Kind.NULL:
        return None
    if ka in NUMBERS and kb in NUMBERS:
        if (ka is Kind.FLOAT and math.isnan(a)) or (kb is Kind.FLOAT and math.isnan(b)):
            return False
        x, y = a, b
    elif ka in TEXTS and kb in TEXTS:
        x, y = text_of(a), text_of(b)
    elif ka is Kind.TIMESTAMP and kb is Kind.TIMESTAMP:
        x, y = instant(a), instant(b)
    elif ka is Kind.BOOL and kb is Kind.BOOL:
        x, y = bool_of(a), bool_of(b)
    else:
        raise PartiqlError(f"cannot compare {type_name(a)} with {type_name(b)} using {op}")
    if op == "<":
        return bool(x < y)
    if op == "<=":
        return bool(x <= y)
    if op == ">":
        return bool(x > y)
    return bool(x >= y)


# -- index keys -------------------------------------------------------------------------------


def index_key(value: Any) -> str | None:
    """A canonical text key with ``equals(a, b) is True`` exactly when ``index_key(a) ==
    index_key(b)``; None for values equal to nothing (NULL, MISSING, float NaN).

    A ledger can keep its equality indexes on this key: ``1``, ``1.00`` and ``1e0`` share a key,
    as do the string ``"a"`` and the symbol ``a``, and two timestamps for the same instant.
    """
    k = kind(value)
    if k in (Kind.NULL, Kind.MISSING):
        return None
    if k is Kind.FLOAT and math.isnan(value):
        return None
    return _key(value, k)


def _key(value: Any, k: Kind) -> str:
    if k in NUMBERS:
        return "n" + _number_key(value) + ";"
    if k in TEXTS:
        text = _text_or_none(value)
        return "u" if text is None else f"s{len(text)}:{text}"
    if k is Kind.BOOL:
        return "b1" if bool_of(value) else "b0"
    if k is Kind.TIMESTAMP:
        whole, fraction = instant(value)
        return f"t{whole.isoformat()}{_number_key(fraction)};"
    if k in (Kind.BLOB, Kind.CLOB):
        data = bytes(value).hex()
        return f"{'x' if k is Kind.BLOB else 'c'}{len(data)}:{data}"
    if k in (Kind.NULL, Kind.MISSING):
        return "z"
    if k in (Kind.LIST, Kind.SEXP):
        return ("l(" if k is Kind.LIST else "e(") + "".join(_key(v, kind(v)) for v in value) + ")"
    if k is Kind.BAG:
        return "g(" + "".join(sorted(_key(v, kind(v)) for v in value)) + ")"
    pairs = sorted(f"{len(n)}:{n}{_key(v, kind(v))}" for n, v in struct_items(value))
    return "d(" + "".join(pairs) + ")"


def _number_key(value: Any) -> str:
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if math.isnan(value):
            return "nan"
    number = Decimal(value)
    sign, digits, exponent = number.as_tuple()
    if not isinstance(exponent, int):  # pragma: no cover - Ion decimals are finite
        return str(number)
    coefficient = list(digits)
    while len(coefficient) > 1 and coefficient[-1] == 0:
        coefficient.pop()
        exponent += 1
    if coefficient == [0]:
        return "0"
    return ("-" if sign else "") + "".join(map(str, coefficient)) + "e" + str(exponent)
