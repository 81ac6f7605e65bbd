"""Values as amazon.ion's typed IonPy* objects all the way down.

pyqldb hashes statement parameters with ionhash, which needs every nested value to carry
its Ion type; it converts a plain top-level value itself (through a slow text round
trip) but not a typed container holding plain children. Converting here, once, fixes both.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from amazon.ion.core import IonType
from amazon.ion.simple_types import (
    IonPyBool,
    IonPyBytes,
    IonPyDecimal,
    IonPyDict,
    IonPyFloat,
    IonPyInt,
    IonPyList,
    IonPyNull,
    IonPyText,
    IonPyTimestamp,
)


def typed(value: Any) -> Any:
    ion_type = getattr(value, "ion_type", None)
    annotations = getattr(value, "ion_annotations", ())
    if ion_type is not None:
        if type(value).__name__ == "IonPyNull":
            return value
        if ion_type is IonType.STRUCT:
            result = IonPyDict.from_value(IonType.STRUCT, {}, annotations)
            for name, field in value.iteritems() if hasattr(value, "iteritems") else value.items():
                result.add_item(name, typed(field))
            return result
        if ion_type in (IonType.LIST, IonType.SEXP):
            return IonPyList.from_value(ion_type, [typed(v) for v in value], annotations)
        return value
    if value is None:
        return IonPyNull.from_value(IonType.NULL, None)
    if isinstance(value, bool):
        return IonPyBool.from_value(IonType.BOOL, value)
    if isinstance(value, int):
        return IonPyInt.from_value(IonType.INT, value)
    if isinstance(value, float):
        return IonPyFloat.from_value(IonType.FLOAT, value)
    if isinstance(value, Decimal):
        return IonPyDecimal.from_value(IonType.DECIMAL, value)
    if isinstance(value, str):
        return IonPyText.from_value(IonType.STRING, value)
    if isinstance(value, bytes | bytearray):
        return IonPyBytes.from_value(IonType.BLOB, bytes(value))
    if isinstance(value, datetime):
        return IonPyTimestamp.from_value(IonType.TIMESTAMP, value)
    if isinstance(value, dict):
        result = IonPyDict.from_value(IonType.STRUCT, {})
        for name, field in value.items():
            result.add_item(name, typed(field))
        return result
    if isinstance(value, list | tuple):
        return IonPyList.from_value(IonType.LIST, [typed(v) for v in value])
    raise TypeError(f"not an Ion value: {type(value).__name__}")
