"""Applying a block to the ledger's current state, inside the commit's SQLite transaction:
the catalog rows its DDL changed, each document's new revision and state with its index
entries and keys, and the redaction of a past revision.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from typing import Any

from qldb_dr.ion import dump_binary, ion_hash, load_binary
from qldb_dr.journal.models import Revision
from qldb_dr.local.ledger.catalog import Catalog, field_key
from qldb_dr.local.ledger.schema import encode
from qldb_dr.local.ledger.transaction import Pending, Transaction
from qldb_dr.partiql import Document


def apply_redaction(db: sqlite3.Connection, redaction: dict[str, Any]) -> None:
    """Replace the revision's data by its hash, in the revisions table and in the stored
    block: the revision hash, and so every block hash, stays as it was."""
    doc_id, version = redaction["documentId"], redaction["version"]
    sequence = redaction["blockAddress"]["sequenceNo"]
    (data,) = db.execute("SELECT data FROM revisions WHERE doc_id = ? AND version = ?", (doc_id, version)).fetchone()
    data_hash = ion_hash(load_binary(data))
    db.execute(
        "UPDATE revisions SET data = NULL, data_hash = ? WHERE doc_id = ? AND version = ?",
        (data_hash, doc_id, version),
    )
    (body,) = db.execute("SELECT body FROM blocks WHERE seq = ?", (sequence,)).fetchone()
    block = load_binary(body)
    for revision in block["revisions"]:
        metadata = revision.get("metadata")
        if metadata is not None and metadata["id"] == doc_id and metadata["version"] == version:
            del revision["data"]
            revision["dataHash"] = data_hash
    db.execute("UPDATE blocks SET body = ? WHERE seq = ?", (dump_binary([block]), sequence))


def apply_catalog(
    db: sqlite3.Connection, txn: Transaction, seq: int, before: Catalog, scan: Callable[[str], Iterable[Document]]
) -> set[str]:
    """Write the tables and indexes the transaction's DDL changed (`before`: the committed
    catalog; `scan`: a table's committed documents, to fill a new index); returns their ids."""
    changed: set[str] = set()
    for table_id in txn.ddl_tables:
        table = txn.catalog.by_id(table_id)
        assert table is not None
        tags = encode(dict(table.tags)) if table.tags else None
        db.execute(
            "INSERT INTO tables (table_id, name, status, tags, created_seq, changed_seq) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (table_id) DO UPDATE SET status = excluded.status",
            (table.table_id, table.name, table.status, tags, seq, seq),
        )
        old = before.by_id(table_id)
        old_indexes = {i.index_id for i in old.indexes} if old else set()
        new_indexes = {i.index_id: i for i in table.indexes}
        for index_id in old_indexes - new_indexes.keys():
            db.execute("DELETE FROM indexes WHERE index_id = ?", (index_id,))
            db.execute("DELETE FROM index_entries WHERE index_id = ?", (index_id,))
            db.execute("DELETE FROM index_keys WHERE index_id = ?", (index_id,))
        for index_id in new_indexes.keys() - old_indexes:
            index = new_indexes[index_id]
            db.execute(
                "INSERT INTO indexes (index_id, table_id, field, created_seq) VALUES (?, ?, ?, ?)",
                (index_id, table_id, index.field, seq),
            )
            for doc in scan(table_id):
                key = field_key(doc.data, index.field)
                if key is not None:
                    db.execute("INSERT OR IGNORE INTO index_entries VALUES (?, ?, ?)", (index_id, key, doc.id))
        changed.add(table_id)
    return changed


def apply_document(
    db: sqlite3.Connection,
    txn: Transaction,
    seq: int,
    now_ms: int,
    doc_id: str,
    pending: Pending,
    version: int,
    revision: Revision,
) -> None:
    """Write one document's new revision and state, and the index entries and keys it changed."""
    data = pending.encoded
    db.execute(
        "INSERT INTO revisions (doc_id, version, table_id, seq, hash, data, data_hash, tx_ms, tx_id) "
        "VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)",
        (doc_id, version, pending.table_id, seq, revision.hash, data, now_ms, txn.id),
    )
    db.execute(
        "INSERT INTO documents (doc_id, table_id, version, seq, live) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (doc_id) DO UPDATE SET version = excluded.version, seq = excluded.seq, live = excluded.live",
        (doc_id, pending.table_id, version, seq, 0 if pending.data is None else 1),
    )
    table = txn.catalog.by_id(pending.table_id)
    if table is None or not table.indexes:
        return
    old = None
    if pending.base_version is not None:
        row = db.execute(
            "SELECT data FROM revisions WHERE doc_id = ? AND version = ?", (doc_id, pending.base_version)
        ).fetchone()
        old = load_binary(row[0]) if row and row[0] is not None else None
    for index in table.indexes:
        old_key = None if old is None else field_key(old, index.field)
        new_key = None if pending.data is None else field_key(pending.data, index.field)
        if old_key == new_key:
            continue
        if old_key is not None:
            db.execute(
                "DELETE FROM index_entries WHERE index_id = ? AND key = ? AND doc_id = ?",
                (index.index_id, old_key, doc_id),
            )
        if new_key is not None:
            db.execute("INSERT OR IGNORE INTO index_entries VALUES (?, ?, ?)", (index.index_id, new_key, doc_id))
        for key in (old_key, new_key):
            if key is not None:
                db.execute(
                    "INSERT INTO index_keys VALUES (?, ?, ?) "
                    "ON CONFLICT (index_id, key) DO UPDATE SET changed_seq = excluded.changed_seq",
                    (index.index_id, key, seq),
                )
