"""Constants of the Ion 1.0 binary format that its reader, its writer and the Ion hash share.

One table each: the system symbols, the type code of every Ion type (written by the binary
writer and by the Ion hash, whose serialisation borrows the binary layout), the Ion type of
every typed null (read by the reader); the 8-byte float layout; the size of the codec's caches.
"""

from __future__ import annotations

from struct import Struct

from amazon.ion.core import IonType

# SIDs 1-9; the text of SID 0 is unknown by definition.
SYSTEM_SYMBOLS: tuple[str | None, ...] = (
    None,
    "$ion",
    "$ion_1_0",
    "$ion_symbol_table",
    "name",
    "version",
    "imports",
    "symbols",
    "max_id",
    "$ion_shared_symbol_table",
)

# Type qualifier (high nibble) per Ion type; nulls set the low nibble to F.
TYPE_CODE: dict[IonType, int] = {
    IonType.NULL: 0x00,
    IonType.BOOL: 0x10,
    IonType.INT: 0x20,
    IonType.FLOAT: 0x40,
    IonType.DECIMAL: 0x50,
    IonType.TIMESTAMP: 0x60,
    IonType.SYMBOL: 0x70,
    IonType.STRING: 0x80,
    IonType.CLOB: 0x90,
    IonType.BLOB: 0xA0,
    IonType.LIST: 0xB0,
    IonType.SEXP: 0xC0,
    IonType.STRUCT: 0xD0,
}

# The Ion type of a typed null (low nibble F), by the high nibble of its type descriptor.
NULL_TYPES: dict[int, IonType] = {
    0x1: IonType.BOOL,
    0x2: IonType.INT,
    0x3: IonType.INT,
    0x4: IonType.FLOAT,
    0x5: IonType.DECIMAL,
    0x6: IonType.TIMESTAMP,
    0x7: IonType.SYMBOL,
    0x8: IonType.STRING,
    0x9: IonType.CLOB,
    0xA: IonType.BLOB,
    0xB: IonType.LIST,
    0xC: IonType.SEXP,
    0xD: IonType.STRUCT,
}

DOUBLE = Struct(">d")

# How many entries each cache of the codec holds before it is emptied (the reader's decimals
# and timestamp fractions, the writer's timestamp fractions).
CACHE_LIMIT = 4096
