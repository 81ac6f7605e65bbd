"""The Ion hash of a value read straight from its Ion 1.0 binary encoding, without building it.

Why: journal verification hashes every revision's metadata and data and every block's
transactionInfo, and turning their bytes into Python values only to serialise them again for
the hash was three quarters of its cost. The hash's serialisation ``s(v)`` borrows the binary
layout, so most of it is already in the bytes: a string's or blob's representation is its
payload, a UTC timestamp's is its body, a symbol's text comes from the symbol table. What
differs is canonical form (the hash uses the minimal encoding, a reader must accept padded
ones), symbols by text instead of SID, and structs as sorted field hashes.

The rules are those of :mod:`qldb_dr.ion.hash` (the typed path); ``tests/unit/test_ion_binhash.py``
holds this module equal to it and to ionhash on generated values, on non-minimal encodings and
on every golden block. It assumes bytes that :mod:`qldb_dr.ion.decoder` accepts: the journal
reader decodes every value it hashes here, and that decoder is what rejects malformed input
(this module raises :class:`IonDecodeError` on what it cannot walk, but is not the validator).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from hashlib import sha256
from struct import pack, unpack_from

from qldb_dr.ion.constants import CACHE_LIMIT
from qldb_dr.ion.decoder import IonDecodeError
from qldb_dr.ion.hash import int_field, symbol, timestamp_representation, varint
from qldb_dr.ion.scalars import decimal_fields, read_timestamp, varuint_at

__all__ = ["Hasher", "ion_hash_binary", "list_items", "struct_fields"]

_END = b"\x0e"
_ZERO_DOUBLE = b"\x00" * 8
# s(null.<type>) by the high nibble of a typed null's descriptor (0x3F is null.int too).
_NULLS = tuple(bytes((0x0B, (0x20 if tid == 3 else tid << 4) | 0x0F, 0x0E)) for tid in range(14))
_PREFIX = tuple(bytes((0x0B, tid << 4)) for tid in range(16))
_NEGATIVE_EXPONENTS = frozenset(range(0xC1, 0x100))  # one-byte VarInts -1..-63

# Representations of decimals and timestamps by their encoded body; journals repeat them.
_DECIMALS: dict[bytes, bytes] = {}
_TIMESTAMPS: dict[bytes, bytes] = {}
# The field and struct caches of a Hasher hold keys up to this many bytes, this many of them.
_CACHED_BYTES = 256
_CACHED_ENTRIES = 1 << 16


class Hasher:
    """Hashes values encoded under one symbol table.

    Remembers the hash of every struct field and the serialisation of every small struct it
    has hashed, by their bytes: a journal repeats most of them (a transaction's id and time in
    each of its revisions' metadata, a table's name and id in each document entry). Under one
    symbol table the same bytes are the same value, so a remembered hash is the hash.
    """

    __slots__ = ("_fields", "_structs", "symbols")

    def __init__(self, symbols: Sequence[str | None]) -> None:
        self.symbols = [symbol(text) for text in symbols]  # s(symbol) by SID; no text: $0
        self._fields: dict[bytes, bytes] = {}
        self._structs: dict[bytes, bytes] = {}

    def serialize_at(self, data: bytes, start: int, end: int) -> bytes:
        """``s(v)`` of the single value encoded in ``data[start:end]``."""
        if len(self._fields) > _CACHED_ENTRIES or len(self._structs) > _CACHED_ENTRIES:
            self._fields.clear()
            self._structs.clear()
        values = _values(data, start, end, self.symbols, self._fields, self._structs, False)
        if len(values) != 1:
            raise IonDecodeError(f"expected one value, found {len(values)}", start)
        return values[0]

    def hash_at(self, data: bytes, start: int, end: int) -> bytes:
        """``H(v)`` of the single value encoded in ``data[start:end]``."""
        return sha256(self.serialize_at(data, start, end)).digest()


def ion_hash_binary(data: bytes) -> list[bytes]:
    """``H(v)`` of every top-level value of an Ion 1.0 binary stream, as :func:`qldb_dr.ion.ion_hash`
    of each value :func:`qldb_dr.ion.iter_binary` reads (which also validates the stream)."""
    from qldb_dr.ion.binary import iter_binary_located  # binary imports the decoder; no cycle here

    data = bytes(data)
    out = []
    names: list[str | None] | None = None
    hasher = Hasher(())
    for _, start, end, table in iter_binary_located(data):
        if table is not names:
            names, hasher = table, Hasher(table)
        out.append(hasher.hash_at(data, start, end))
    return out


def _escape(representation: bytes) -> bytes:
    if b"\x0b" in representation or b"\x0c" in representation or b"\x0e" in representation:
        return representation.replace(b"\x0c", b"\x0c\x0c").replace(b"\x0b", b"\x0c\x0b").replace(b"\x0e", b"\x0c\x0e")
    return representation


def _values(
    data: bytes,
    pos: int,
    end: int,
    symbols: Sequence[bytes],
    fields: dict[bytes, bytes],
    structs: dict[bytes, bytes],
    struct: bool,
) -> list[bytes]:
    """``s(v)`` of each value in ``data[pos:end]`` (a container body), or for a struct body
    ``H(s(name) || s(v))`` of each field. The hot loop: the common types inline."""
    out = []
    name = b""
    field = 0
    while pos < end:
        if struct:
            field = pos
            b = data[pos]
            pos += 1
            sid = b & 0x7F
            while not b & 0x80:
                b = data[pos]
                pos += 1
                sid = (sid << 7) | (b & 0x7F)
            name = symbols[sid]
        tb = data[pos]
        pos += 1
        tid = tb >> 4
        low = ln = tb & 0x0F
        if low == 0x0F or tid == 0x1:
            vend = pos
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
                raise IonDecodeError(f"a value of {ln} bytes runs past the end of its container", pos)
        key = b""
        if struct and vend - field <= _CACHED_BYTES:
            key = data[field:vend]
            h = fields.get(key)
            if h is not None:
                out.append(h)
                pos = vend
                continue
        if low == 0x0F:
            s = _NULLS[tid]
        elif tid == 0x1:
            s = b"\x0b\x11\x0e" if low else b"\x0b\x10\x0e"
        elif tid == 0x8:
            s = b"\x0b\x80" + _escape(data[pos:vend]) + _END
        elif tid == 0xD:
            if ln <= _CACHED_BYTES:
                body = data[pos:vend]
                cached = structs.get(body)
                if cached is None:
                    hashes = _values(data, pos, vend, symbols, fields, structs, True)
                    hashes.sort()
                    cached = structs[body] = b"\x0b\xd0" + _escape(b"".join(hashes)) + _END
                s = cached
            else:
                hashes = _values(data, pos, vend, symbols, fields, structs, True)
                hashes.sort()
                s = b"\x0b\xd0" + _escape(b"".join(hashes)) + _END
        elif tid in {2, 3}:
            magnitude = data[pos:vend].lstrip(b"\x00")
            # -0 is not an Ion int; the reader reads 0x31 0x00 as 0, which hashes as 0.
            s = _PREFIX[tid if magnitude else 2] + _escape(magnitude) + _END
        elif tid == 0x6:
            s = _timestamp(data, pos, vend)
        elif tid == 0x7:
            s = symbols[int.from_bytes(data[pos:vend], "big")]
        elif tid in {11, 12}:
            s = _PREFIX[tid] + b"".join(_values(data, pos, vend, symbols, fields, structs, False)) + _END
        elif tid == 0x5:
            s = _decimal(data, pos, vend)
        elif tid in {10, 9}:
            s = _PREFIX[tid] + _escape(data[pos:vend]) + _END
        elif tid == 0x4:
            if ln == 8:
                raw = data[pos:vend]
            elif ln == 4:
                raw = pack(">d", unpack_from(">f", data, pos)[0])
            elif ln == 0:
                raw = _ZERO_DOUBLE
            else:
                raise IonDecodeError(f"invalid float length {ln}", pos)
            s = b"\x0b\x40\x0e" if raw == _ZERO_DOUBLE else b"\x0b\x40" + _escape(raw) + _END
        elif tid == 0xE:
            s = _annotated(data, pos, vend, symbols, fields, structs)
        elif tid == 0x0:
            pos = vend  # NOP padding: no value (and a struct field of it is no field)
            continue
        else:
            raise IonDecodeError(f"invalid type descriptor 0x{tb:02X}", pos - 1)
        pos = vend
        if struct:
            h = sha256(name + s).digest()
            if key:
                fields[key] = h
            out.append(h)
        else:
            out.append(s)
    return out


def _annotated(
    data: bytes, pos: int, end: int, symbols: Sequence[bytes], fields: dict[bytes, bytes], structs: dict[bytes, bytes]
) -> bytes:
    b = data[pos]
    pos += 1
    length = b & 0x7F
    while not b & 0x80:
        b = data[pos]
        pos += 1
        length = (length << 7) | (b & 0x7F)
    annotations_end = pos + length
    parts = [b"\x0b\xe0"]
    while pos < annotations_end:
        b = data[pos]
        pos += 1
        sid = b & 0x7F
        while not b & 0x80:
            b = data[pos]
            pos += 1
            sid = (sid << 7) | (b & 0x7F)
        parts.append(symbols[sid])
    parts.extend(_values(data, pos, end, symbols, fields, structs, False))
    parts.append(_END)
    return b"".join(parts)


def _decimal(data: bytes, pos: int, end: int) -> bytes:
    if pos == end:
        return b"\x0b\x50\x0e"  # 0d0
    raw = data[pos:end]
    s = _DECIMALS.get(raw)
    if s is None:
        exponent, coefficient, negative_zero = decimal_fields(data, pos, end)
        if exponent == 0 and coefficient == 0 and not negative_zero:
            representation = b""
        else:
            representation = varint(exponent) + int_field(coefficient, negative_zero)
        s = b"\x0b\x50" + _escape(representation) + _END
        if len(_DECIMALS) >= CACHE_LIMIT:
            _DECIMALS.clear()
        _DECIMALS[raw] = s
    return s


def _timestamp(data: bytes, pos: int, end: int) -> bytes:
    raw = data[pos:end]
    s = _TIMESTAMPS.get(raw)
    if s is None:
        # Else (a local offset, a padded field, a zero fraction): the typed path's rules.
        canonical = _canonical_timestamp(raw)
        representation = raw if canonical else timestamp_representation(read_timestamp(data, pos, end))
        s = b"\x0b\x60" + _escape(representation) + _END
        if len(_TIMESTAMPS) >= CACHE_LIMIT:
            _TIMESTAMPS.clear()
        _TIMESTAMPS[raw] = s
    return s


def _canonical_timestamp(raw: bytes) -> bool:
    """Whether a timestamp body is already its hash representation: offset UTC or unknown
    (so the fields are the UTC fields the hash wants), every VarUInt minimal, and a fraction,
    if any, with a one-byte negative exponent and a minimal non-negative coefficient."""
    if raw[0] != 0x80 and raw[0] != 0xC0:
        return False
    p = 1
    n = len(raw)
    fields = 0
    while p < n and fields < 6:
        if raw[p] == 0:
            return False  # a VarUInt padded with a zero group
        while not raw[p] & 0x80:
            p += 1
        p += 1
        fields += 1
    if p == n:
        return True
    if fields != 6 or raw[p] not in _NEGATIVE_EXPONENTS:
        return False
    coefficient = raw[p + 1 :]
    if not coefficient:
        return True
    first = coefficient[0]
    return 0 < first < 0x80 or (first == 0 and len(coefficient) > 1 and coefficient[1] >= 0x80)


# -- walking a container, for callers that hash some of its members -----------------------------------


def _header(data: bytes, pos: int) -> tuple[int, int, int]:
    """(type nibble, body start, body end) of the value at ``pos``."""
    tb = data[pos]
    pos += 1
    ln = tb & 0x0F
    if ln == 0x0F or tb >> 4 == 0x1:
        return tb >> 4, pos, pos
    if ln == 0x0E or tb == 0xD1:
        ln, pos = varuint_at(data, pos)
    return tb >> 4, pos, pos + ln


def struct_fields(data: bytes, start: int) -> Iterator[tuple[int, int, int]] | None:
    """(field SID, value start, value end) of each field of the struct at ``start``, NOP
    padding skipped; None if the value there is not a non-null, unannotated struct."""
    tid, pos, end = _header(data, start)
    if tid != 0xD or data[start] == 0xDF:
        return None
    return _members(data, pos, end, True)


def list_items(data: bytes, start: int) -> Iterator[tuple[int, int, int]] | None:
    """(0, value start, value end) of each value of the list at ``start``, NOP padding
    skipped; None if the value there is not a non-null, unannotated list."""
    tid, pos, end = _header(data, start)
    if tid != 0xB or data[start] == 0xBF:
        return None
    return _members(data, pos, end, False)


def _members(data: bytes, pos: int, end: int, struct: bool) -> Iterator[tuple[int, int, int]]:
    sid = 0
    while pos < end:
        if struct:
            sid, pos = varuint_at(data, pos)
        start = pos
        tid, _, pos = _header(data, pos)
        if tid == 0 and data[start] != 0x0F:
            continue  # NOP padding
        yield sid, start, pos
