"""A ledger's SQLite file: its schema, how connections to it are opened, and how document
data is stored in it (Ion binary).

One SQLite file (WAL mode) per ledger, holding the journal (blocks), the current state
(tables, indexes, documents, revisions, index entries), the Merkle nodes digests and proofs
are made of, the export records and the control-plane settings.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from qldb_dr.ion import dump_binary

SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL, strand_id TEXT NOT NULL, created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (
    seq INTEGER PRIMARY KEY, tx_id TEXT NOT NULL, time_ms INTEGER NOT NULL,
    block_hash BLOB NOT NULL, body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS blocks_time ON blocks (time_ms);
CREATE TABLE IF NOT EXISTS tables (
    table_id TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL, tags BLOB,
    created_seq INTEGER NOT NULL, changed_seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS indexes (
    index_id TEXT PRIMARY KEY, table_id TEXT NOT NULL, field TEXT NOT NULL, created_seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, table_id TEXT NOT NULL, version INTEGER NOT NULL,
    seq INTEGER NOT NULL, live INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_table ON documents (table_id, live);
CREATE TABLE IF NOT EXISTS revisions (
    doc_id TEXT NOT NULL, version INTEGER NOT NULL, table_id TEXT NOT NULL, seq INTEGER NOT NULL,
    hash BLOB NOT NULL, data BLOB, data_hash BLOB, tx_ms INTEGER NOT NULL, tx_id TEXT NOT NULL,
    PRIMARY KEY (doc_id, version)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS revisions_table ON revisions (table_id, seq);
CREATE TABLE IF NOT EXISTS index_entries (
    index_id TEXT NOT NULL, key TEXT NOT NULL, doc_id TEXT NOT NULL, PRIMARY KEY (index_id, key, doc_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS index_keys (
    index_id TEXT NOT NULL, key TEXT NOT NULL, changed_seq INTEGER NOT NULL, PRIMARY KEY (index_id, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS exports (
    export_id TEXT PRIMARY KEY, created_ms INTEGER NOT NULL, status TEXT NOT NULL, config TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS merkle (
    level INTEGER NOT NULL, position INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (level, position)
) WITHOUT ROWID;
"""


def connect(path: Path, *, create: bool = False) -> sqlite3.Connection:
    """A connection to the ledger's file. Only `create` makes the file: a connection opened
    for a ledger deleted meanwhile (a session still on it) must fail, not leave an empty
    database behind under the ledger's name."""
    mode = "rwc" if create else "rw"
    try:
        connection = sqlite3.connect(
            f"{path.absolute().as_uri()}?mode={mode}",
            uri=True,
            isolation_level=None,
            check_same_thread=False,
            timeout=30,
        )
    except sqlite3.OperationalError as exc:
        raise FileNotFoundError(f"{path}: no ledger here ({exc})") from exc
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")  # an acknowledged commit survives power loss
    return connection


def encode(value: Any) -> bytes:
    """A value as the file stores it (document data, table tags): Ion binary."""
    return dump_binary([value])
