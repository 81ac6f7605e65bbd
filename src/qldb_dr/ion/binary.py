"""Ion 1.0 binary: a fast reader and writer for the value model of :mod:`qldb_dr.ion`.

Why hand-written: pyqldb and ionhash pin amazon.ion 0.9.3, which has no C extension here
(``simpleion.c_ext`` is False). Its pure-Python reader resumes a coroutine and builds an
``IonEvent`` for every value, which makes reading a journal export far slower than
downloading it, and journal verification reads every block of every export. This codec
decodes straight from ``bytes``. ``tests/unit/test_ion_binary.py`` holds it equal to simpleion
on generated values, and holds the Ion hash of every value unchanged by a round trip.

This module owns the stream: the version marker, the system values between top-level
values, and the entry points. The parts: :mod:`qldb_dr.ion.decoder` decodes values (with
:mod:`qldb_dr.ion.scalars` for VarUInts, decimals and timestamps), :mod:`qldb_dr.ion.symbols`
reads local symbol tables, :mod:`qldb_dr.ion.encoder` encodes values, and
:mod:`qldb_dr.ion.constants` holds the tables they share.

The reader returns plain Python values wherever the Ion type is unambiguous and there are
no annotations, and amazon.ion ``IonPy*`` values otherwise (see :mod:`qldb_dr.ion`). Field
names and annotations come back as ``str``; a symbol whose text is unknown comes back as
``SymbolToken(None, sid)``, except the field name ``$0``, which is ``None`` as in simpleion.
The writer accepts the same values, plain or ``IonPy*``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from qldb_dr.ion.constants import SYSTEM_SYMBOLS
from qldb_dr.ion.decoder import LIST, IonDecodeError, decode_error, read_values, value_end
from qldb_dr.ion.encoder import Encoder
from qldb_dr.ion.symbols import local_symbol_table, symbol_table_body

__all__ = ["dump_binary", "iter_binary", "iter_binary_located", "load_binary"]

_IVM = b"\xe0\x01\x00\xea"


def iter_binary(data: bytes) -> Iterator[Any]:
    """Every top-level value of an Ion 1.0 binary stream, in order.

    System values are consumed, not returned: version markers (which reset the symbol
    table), local symbol tables and NOP padding. Malformed or truncated input, unknown
    symbol IDs and imports of shared symbol tables raise :class:`IonDecodeError`, which
    names the byte offset.
    """
    data = bytes(data)  # no copy for bytes; bytearray and memoryview slices lack .decode
    for start, end, symbols in _user_values(data):
        yield from read_values(data, start, end, symbols, LIST)


def iter_binary_located(data: bytes) -> Iterator[tuple[Any, int, int, list[str | None]]]:
    """As :func:`iter_binary`, each value with where it is: ``(value, start, end, symbols)``,
    its bytes ``data[start:end]`` and the symbol table (text by SID) in force there, for
    hashing it from its bytes (:mod:`qldb_dr.ion.binhash`). ``data`` must be ``bytes``."""
    for start, end, symbols in _user_values(data):
        for value in read_values(data, start, end, symbols, LIST):
            yield value, start, end, symbols


def _user_values(data: bytes) -> Iterator[tuple[int, int, list[str | None]]]:
    """(start, end, symbol table) of each top-level value that is not a system value."""
    end = len(data)
    if not end:
        return
    if not data.startswith(_IVM):
        raise IonDecodeError("not Ion 1.0 binary: the stream does not start with E0 01 00 EA", 0)
    symbols = list(SYSTEM_SYMBOLS)
    pos = 0
    while pos < end:
        if data[pos] == 0xE0:
            if not data.startswith(_IVM, pos):
                raise IonDecodeError(f"unsupported Ion version marker {data[pos : pos + 4].hex(' ')}", pos)
            symbols = list(SYSTEM_SYMBOLS)
            pos += 4
            continue
        try:
            vend = value_end(data, pos, end)
            table = symbol_table_body(data, pos, vend)
        except IonDecodeError:
            raise
        except (IndexError, ValueError) as exc:
            raise decode_error(exc, pos) from exc
        if table is not None:
            symbols = local_symbol_table(data, table, symbols, pos)
        else:
            yield pos, vend, symbols
        pos = vend


def load_binary(data: bytes) -> Any:
    """The single top-level value of an Ion binary document."""
    values = list(iter_binary(data))
    if len(values) != 1:
        raise IonDecodeError(f"expected exactly one top-level value, found {len(values)}")
    return values[0]


def dump_binary(values: Iterable[Any]) -> bytes:
    """Ion binary: the version marker, one local symbol table, then the values.

    Every field uses its minimal encoding (floats are 8 bytes, 0e0 is the empty float);
    decimals and timestamps are written exactly: exponent, precision, fraction digits and
    offset, including the unknown offset -00:00 (``tzinfo=None``).
    """
    encoder = Encoder()
    body = b"".join([encoder.encode(value) for value in values])
    return _IVM + encoder.symbol_table() + body
