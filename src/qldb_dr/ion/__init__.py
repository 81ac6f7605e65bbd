"""Ion values: the in-memory model, a fast binary codec and the Ion hash.

The value model is the one ``amazon.ion.simpleion`` reads and writes, so values move
between this package, pyqldb and simpleion without conversion:

* plain Python values where the Ion type is unambiguous — ``None`` (null), ``bool``,
  ``int``, ``float``, ``decimal.Decimal``, ``str`` (string), ``bytes`` (blob),
  ``list``, ``dict`` (struct), ``datetime`` / ``amazon.ion.core.Timestamp``;
* ``amazon.ion.simple_types.IonPy*`` values where Ion says more than Python can —
  symbols, clobs, s-expressions, typed nulls, annotated values and structs with
  repeated field names. Each carries ``ion_type`` and ``ion_annotations``.

Timestamps keep their precision (``Timestamp.precision`` and ``fractional_seconds``),
decimals their exponent: both take part in the Ion hash.
"""

from qldb_dr.ion.binary import dump_binary, iter_binary, load_binary
from qldb_dr.ion.hash import ion_hash, serialize
from qldb_dr.ion.text import dump_text, iter_text, load_text

__all__ = [
    "dump_binary",
    "dump_text",
    "ion_hash",
    "iter_binary",
    "iter_text",
    "load_binary",
    "load_text",
    "serialize",
]
