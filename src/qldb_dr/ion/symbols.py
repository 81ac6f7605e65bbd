"""Local symbol tables in an Ion 1.0 binary stream: recognising one, and the symbols it defines.

A stream starts with the system symbols (:data:`qldb_dr.ion.constants.SYSTEM_SYMBOLS`); a
local symbol table, a top-level struct annotated ``$ion_symbol_table``, replaces them or
appends to them. Imports of shared symbol tables are refused: there is no catalog to resolve
them. The writer declares its own symbols (``Encoder.symbol_table`` in :mod:`qldb_dr.ion.encoder`).
"""

from __future__ import annotations

from collections.abc import Mapping

from qldb_dr.ion.constants import SYSTEM_SYMBOLS
from qldb_dr.ion.decoder import PAIRS, IonDecodeError, read_values
from qldb_dr.ion.scalars import varuint_at

_SID_SYMBOL_TABLE = 3  # $ion_symbol_table


def symbol_table_body(data: bytes, pos: int, end: int) -> tuple[int, int] | None:
    """The struct body range of a local symbol table at ``pos``, or None if it is not one.

    A local symbol table is a top-level struct whose first annotation is $ion_symbol_table.
    """
    tb = data[pos]
    if tb >> 4 != 0xE:
        return None
    p = pos + 1
    if tb & 0x0F == 0x0E:
        _, p = varuint_at(data, p)
    length, p = varuint_at(data, p)
    annotations_end = p + length
    sid, _ = varuint_at(data, p)
    if sid != _SID_SYMBOL_TABLE or annotations_end >= end:
        return None
    tb = data[annotations_end]
    if tb >> 4 != 0xD:
        return None
    if tb == 0xDF:  # null.struct: no imports, no symbols
        return (end, end)
    body = annotations_end + 1
    if tb & 0x0F == 0x0E or tb == 0xD1:
        _, body = varuint_at(data, body)
    return (body, end)


def local_symbol_table(data: bytes, body: tuple[int, int], current: list[str | None], offset: int) -> list[str | None]:
    """The symbol list (text by SID) that a local symbol table defines."""
    fields = read_values(data, body[0], body[1], current, PAIRS)
    imports = [value for name, value in fields if name == "imports"]
    declared = [value for name, value in fields if name == "symbols"]
    if len(imports) > 1 or len(declared) > 1:
        raise IonDecodeError("a local symbol table has more than one imports or symbols field", offset)
    symbols = list(SYSTEM_SYMBOLS)
    if imports:
        if getattr(imports[0], "text", None) == "$ion_symbol_table":
            symbols = list(current)  # append to the current table
        elif isinstance(imports[0], list):
            for entry in imports[0]:
                name = entry.get("name") if isinstance(entry, Mapping) else None
                if type(name) is str and name and name != "$ion":
                    raise IonDecodeError(
                        f"the local symbol table imports the shared symbol table {name!r} "
                        f"(version {entry.get('version')}), and this reader has no catalog of "
                        "shared symbol tables to resolve it",
                        offset,
                    )
    if declared and isinstance(declared[0], list):
        symbols.extend(text if type(text) is str else None for text in declared[0])
    return symbols
