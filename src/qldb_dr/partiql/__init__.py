"""PartiQL as QLDB speaks it: parse and run QLDB's PartiQL subset over Ion values.

Used by the local ledger (which runs statements) and by Plan Restore (which reads the DDL of
the journal). ``execute(statement, parameters, access)`` is the entry point; ``TableAccess``
(access.py) is the port a ledger implements; every failure is a ``PartiqlError``.
"""

from qldb_dr.partiql.access import Document, IndexInfo, Revision, TableAccess, TableInfo, index_key
from qldb_dr.partiql.errors import PartiqlError
from qldb_dr.partiql.evaluate import execute
from qldb_dr.partiql.parser import parse

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
