"""Ion text through amazon.ion's reader and writer (the field library; text is not a hot path).

One repair to that library, installed when this module is imported (every qldb-dr module that
reads Ion imports it): amazon.ion 0.9.3 gathers a text token's characters with `text += char`
on an attribute, which copies the whole token for every character — quadratic in the token's
length (a 1.6 MB string took two minutes: a denial of service on verify and restore). The
token's characters go to a list instead, joined once. Same interface, same results; written by
hand because the library has no release with it fixed (pyqldb and ionhash pin 0.9.3).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from amazon.ion import reader as _reader
from amazon.ion import simpleion
from amazon.ion.symbols import SymbolToken


class _Characters:
    """`CodePointArray`'s state: the characters so far, joined on demand."""

    __slots__ = ("parts", "text")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.text = ""

    def joined(self) -> str:
        if self.parts:
            self.text += "".join(self.parts)
            self.parts.clear()
        return self.text


def _state(array: Any) -> _Characters:
    state: _Characters | None = array.__dict__.get("_qldb_dr_chars")
    if state is None:
        state = array.__dict__["_qldb_dr_chars"] = _Characters()
    return state


def _init(self: Any, initial_bytes: Any = None) -> None:
    _state(self)
    if initial_bytes is not None:
        for b in initial_bytes:
            self.append(b)


def _append(self: Any, value: Any) -> None:
    _state(self).parts.append(_reader.safe_unichr(value))


def _extend(self: Any, values: Any) -> None:
    if isinstance(values, str):
        _state(self).parts.append(values)
    else:
        for b in values:
            self.append(b)


def install() -> None:
    """Replace CodePointArray's string building (idempotent)."""
    cls = _reader.CodePointArray
    if getattr(cls, "_qldb_dr_linear", False):
        return
    for name in ("append", "extend", "as_text", "as_symbol", "__len__", "__getitem__"):
        if not hasattr(cls, name):
            raise RuntimeError(f"amazon.ion's CodePointArray has no {name}: re-check qldb_dr.ion.text")
    cls.__init__ = _init
    cls.append = _append
    cls.extend = _extend
    cls.as_text = lambda self: _state(self).joined()
    cls.as_symbol = lambda self: SymbolToken(_state(self).joined(), sid=None, location=None)
    cls.__len__ = lambda self: len(_state(self).joined())
    cls.__getitem__ = lambda self, index: _state(self).joined()[index]
    cls.__repr__ = lambda self: f"CodePointArray(text={_state(self).joined()})"
    cls._qldb_dr_linear = True


install()


def iter_text(data: bytes | str) -> Iterator[Any]:
    """Every top-level value of an Ion text stream, in order."""
    yield from simpleion.loads(data, single_value=False)


def load_text(data: bytes | str) -> Any:
    """The single top-level value of an Ion text document."""
    return simpleion.loads(data)


def dump_text(values: Iterable[Any], *, pretty: bool = False) -> bytes:
    """Top-level values as Ion text, one per line."""
    lines = [
        simpleion.dumps(v, binary=False, omit_version_marker=True, indent="  " if pretty else None) for v in values
    ]
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""
