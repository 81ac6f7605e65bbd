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

The hot modules run compiled (mypyc) where `make compiled` built them from these very sources
(`qldb_dr.ion.compiled`); ``COMPILED`` says whether they do.
"""

from qldb_dr.ion import compiled as _compiled

COMPILED = _compiled.activate(__path__)  # before any submodule is imported

from qldb_dr.ion.binary import dump_binary, iter_binary, load_binary  # noqa: E402
from qldb_dr.ion.hash import ion_hash, serialize  # noqa: E402
from qldb_dr.ion.text import dump_text, iter_text, load_text  # noqa: E402

__all__ = [
    "COMPILED",
    "dump_binary",
    "dump_text",
    "ion_hash",
    "iter_binary",
    "iter_text",
    "load_binary",
    "load_text",
    "serialize",
]
