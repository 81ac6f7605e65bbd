"""The PartiQL engine of the local ledger: parse and run QLDB's PartiQL subset over Ion values.

``execute(statement, parameters, access)`` is the entry point; ``TableAccess`` (access.py) is
the port the ledger implements; every failure is a ``PartiqlError``.
"""

from qldb_dr.local.partiql.access import Document, IndexInfo, Revision, TableAccess, TableInfo, index_key
from qldb_dr.local.partiql.errors import PartiqlError
from qldb_dr.local.partiql.evaluate import execute
from qldb_dr.local.partiql.parser import parse

__all__ = [
    "Document",
    "IndexInfo",
    "PartiqlError",
    "Revision",
    "TableAccess",
    "TableInfo",
    "execute",
    "index_key",
    "parse",
]
