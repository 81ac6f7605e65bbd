"""A workflow's settings and state as JSON, named from their fields: `source_ledger` is
`sourceLedger`, always.

Settings and state ride in an execution's JSON from step to step. Written out by hand per
class, their names drifted apart (one recovery point had seven spellings); derived from the
field names they cannot. Only the types settings hold are supported: str, int, bool, an Enum,
a datetime (ISO 8601, UTC), and any of these or None.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from datetime import datetime
from typing import Any, TypeVar

from qldb_dr.encoding import iso, parse_iso
from qldb_dr.errors import InvalidInputError

T = TypeVar("T")


def json_name(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def to_json(value: Any) -> dict[str, Any]:
    """A dataclass instance's fields, named by `json_name`."""
    return {json_name(f.name): _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}


def _encode(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return iso(value)
    return value


def from_json(cls: type[T], value: Any, what: str) -> T:
    """The dataclass `cls` from what `to_json` wrote; a field it lacks takes its default."""
    if not isinstance(value, dict):
        raise InvalidInputError(f"the {what} is not an object: {value!r:.200}")
    kinds = _kinds(cls)  # type: ignore[arg-type]
    given: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        name = json_name(f.name)
        if name not in value:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise InvalidInputError(f"the {what} is incomplete: it has no {name}")
            continue
        try:
            given[f.name] = _decode(kinds[f.name], value[name])
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"the {what}'s {name} is not valid: {value[name]!r:.100} ({exc})") from exc
    return cls(**given)


@functools.cache
def _kinds(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _decode(kind: Any, value: Any) -> Any:
    if isinstance(kind, types.UnionType):  # X | None
        if value is None:
            return None
        (kind,) = (k for k in kind.__args__ if k is not type(None))
    if kind is datetime:
        return parse_iso(str(value))
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return kind(value)
    if kind is bool:
        if not isinstance(value, bool):
            raise TypeError("not true or false")
        return value
    if kind in (int, str):
        return kind(value)
    raise TypeError(f"{kind} is not a settings type")
