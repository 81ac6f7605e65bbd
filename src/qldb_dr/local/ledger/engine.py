"""The ledger engine: a durable journal of hashed blocks over SQLite, the current state the
PartiQL evaluator reads, and commits with serializable optimistic concurrency.

One SQLite file (WAL mode) per ledger (its schema: schema.py). A commit is one SQLite
transaction that appends the block, its revisions, the new document states, index entries
(apply.py) and Merkle nodes (merkle.py) together: a crash leaves either the whole block or
none of it.

Concurrency (QLDB's model): a transaction (transaction.py) reads committed state and its
own writes, and records what it read — documents, full table scans, index keys. At commit,
under the ledger's commit lock, anything it read or wrote that changed after it started
fails it with OccConflict and nothing is applied; otherwise its block is appended.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from amazon.ion.core import Timestamp

from qldb_dr.ion import dump_binary, load_binary
from qldb_dr.journal.builder import build_block, make_metadata, make_revision, millis, new_id, system_revision
from qldb_dr.journal.hashing import EMPTY, commit_digest, merkle_path, merkle_root
from qldb_dr.journal.models import BlockAddress, DocumentEntry, Revision
from qldb_dr.journal.writer import block_to_ion
from qldb_dr.local.ledger import merkle
from qldb_dr.local.ledger.apply import apply_catalog, apply_document, apply_redaction
from qldb_dr.local.ledger.catalog import Catalog
from qldb_dr.local.ledger.errors import BadRequest, CapacityExceeded, OccConflict
from qldb_dr.local.ledger.schema import SCHEMA, connect
from qldb_dr.local.ledger.transaction import Pending, Transaction
from qldb_dr.partiql import Document, IndexInfo, TableInfo
from qldb_dr.partiql import Revision as CommittedRevision
from qldb_dr.partiql.access import ACTIVE, ONLINE

COMMIT_WAIT_SECONDS = 10.0  # a commit queued longer than this gets CapacityExceeded
HISTORY_IDS = 500  # history() narrowed to at most this many document ids per SQL query (SQLite variables)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _from_ms(ms: int) -> Timestamp:
    return millis(datetime.fromtimestamp(ms / 1000, UTC))


class Ledger:
    """One ledger: its SQLite file, its journal tip, its catalog and its commit lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.gone = False
        self._local = threading.local()
        self._lock = threading.Lock()
        self.commit_wait = COMMIT_WAIT_SECONDS
        self.capacity_exceeded = threading.Event()  # set whenever a commit is turned away
        self._writer = connect(path)
        self._writer.executescript(SCHEMA)
        row = self._writer.execute("SELECT name, strand_id, created_ms FROM ledger").fetchone()
        if row is None:
            raise FileNotFoundError(f"{path} holds no ledger")
        self.name, self.strand_id, created_ms = row
        self.created = _from_ms(created_ms)
        self._load()

    @classmethod
    def create(cls, path: Path, name: str) -> Ledger:
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = connect(path, create=True)
        try:
            connection.executescript(SCHEMA)
            connection.execute(
                "INSERT INTO ledger (id, name, strand_id, created_ms) VALUES (1, ?, ?, ?)",
                (name, new_id(), _ms(datetime.now(UTC))),
            )
        finally:
            connection.close()
        return cls(path)

    def _load(self) -> None:
        db = self._writer
        tip = db.execute("SELECT seq, block_hash, time_ms FROM blocks ORDER BY seq DESC LIMIT 1").fetchone()
        self.tip_seq: int = tip[0] if tip else -1
        self.tip_hash: bytes = tip[1] if tip else EMPTY
        self._last_ms: int = tip[2] if tip else 0
        indexes: dict[str, list[IndexInfo]] = {}
        for index_id, table_id, field_name in db.execute(
            "SELECT index_id, table_id, field FROM indexes ORDER BY created_seq, index_id"
        ):
            indexes.setdefault(table_id, []).append(IndexInfo(index_id, field_name, ONLINE))
        tables = []
        self._table_changed: dict[str, int] = {}
        for table_id, name, status, tags, changed in db.execute(
            "SELECT table_id, name, status, tags, changed_seq FROM tables ORDER BY created_seq, table_id"
        ):
            tag_map = load_binary(tags) if tags else {}
            tables.append(TableInfo(name, table_id, status, tuple(indexes.get(table_id, ())), dict(tag_map)))
            self._table_changed[table_id] = changed
        self.catalog = Catalog(tuple(tables))
        self._catalog_changed: dict[str, int] = {}

    def close(self) -> None:
        self._writer.close()

    def deleted(self) -> None:
        """DeleteLedger: the sessions still on this ledger fail from now on, plainly. The writer
        closes under the commit lock: closing a connection another thread is using crashes
        the process."""
        self.gone = True
        with self._lock:
            self._writer.close()

    def _alive(self) -> None:
        if self.gone:
            raise BadRequest(f"Ledger {self.name} does not exist (it was deleted)")

    def settings(self) -> dict[str, Any]:
        """Control-plane settings (deletion protection, permissions mode, KMS key, tags)."""
        rows = self.reader().execute("SELECT key, value FROM settings").fetchall()
        return {key: json.loads(value) for key, value in rows}

    def update_settings(self, **values: Any) -> None:
        with self._lock:
            self._alive()
            self._writer.executemany(
                "INSERT INTO settings (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [(key, json.dumps(value, sort_keys=True)) for key, value in values.items()],
            )

    def reader(self) -> sqlite3.Connection:
        """This thread's read connection (WAL: readers never block the writer)."""
        self._alive()
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = connect(self.path)
            self._local.connection = connection
        return connection

    def begin(self) -> Transaction:
        self._alive()
        return Transaction(self, new_id(), self.tip_seq, self.catalog)

    # -- reads of committed state ----------------------------------------------------------------

    _DOCUMENT = (
        "SELECT d.doc_id, r.seq, r.hash, r.data, r.version, r.tx_ms, r.tx_id FROM documents d "
        "JOIN revisions r ON r.doc_id = d.doc_id AND r.version = d.version "
    )

    def _document(self, row: tuple[Any, ...]) -> Document:
        doc_id, seq, hash_, data, version, tx_ms, tx_id = row
        value = load_binary(data)
        committed = CommittedRevision(self.strand_id, seq, hash_, doc_id, version, _from_ms(tx_ms), tx_id, value)
        return Document(doc_id, value, committed)

    def committed_documents(self, table_id: str, doc_ids: list[str]) -> dict[str, Document]:
        """The live ones among `doc_ids`, by id: a query per 500 ids, not one per id (a by-id
        IN list of a few hundred, as Verify Restore reads, costs one SQLite statement)."""
        found: dict[str, Document] = {}
        for chunk in _chunks(doc_ids, 500):
            marks = ",".join("?" * len(chunk))
            rows = self.reader().execute(
                self._DOCUMENT + f"WHERE d.doc_id IN ({marks}) AND d.table_id = ? AND d.live = 1", (*chunk, table_id)
            )
            for row in rows.fetchall():
                found[row[0]] = self._document(row)
        return found

    def committed_scan(self, table_id: str) -> Iterator[Document]:
        rows = self.reader().execute(self._DOCUMENT + "WHERE d.table_id = ? AND d.live = 1", (table_id,))
        for row in rows.fetchall():
            yield self._document(row)

    def committed_lookup(self, index_id: str, key: str) -> list[str]:
        rows = self.reader().execute("SELECT doc_id FROM index_entries WHERE index_id = ? AND key = ?", (index_id, key))
        return [r[0] for r in rows.fetchall()]

    def committed_history(
        self, table_id: str, start: datetime | None, end: datetime | None, document_ids: Sequence[str] | None = None
    ) -> Iterator[Any]:
        sql = "SELECT doc_id, version, seq, hash, data, data_hash, tx_ms, tx_id FROM revisions WHERE table_id = ?"
        args: list[Any] = [table_id]
        if document_ids is not None and len(document_ids) <= HISTORY_IDS:  # found by the (doc_id, version) key
            sql += f" AND doc_id IN ({', '.join('?' * len(document_ids))})"
            args += document_ids
        if start is not None:
            sql += " AND tx_ms >= ?"
            args.append(_ms(start))
        if end is not None:
            sql += " AND tx_ms <= ?"
            args.append(_ms(end))
        for doc_id, version, seq, hash_, data, data_hash, tx_ms, tx_id in (
            self.reader().execute(sql + " ORDER BY seq, doc_id", args).fetchall()
        ):
            yield CommittedRevision(
                self.strand_id,
                seq,
                hash_,
                doc_id,
                version,
                _from_ms(tx_ms),
                tx_id,
                None if data is None else load_binary(data),
                data_hash,
            )

    def blocks_between(self, start_ms: int, end_ms: int) -> Iterator[Any]:
        """Block structs committed in [start_ms, end_ms), in sequence order, read in pages."""
        after = -1
        while True:
            rows = (
                self.reader()
                .execute(
                    "SELECT seq, body FROM blocks WHERE time_ms >= ? AND time_ms < ? AND seq > ? "
                    "ORDER BY seq LIMIT 500",
                    (start_ms, end_ms, after),
                )
                .fetchall()
            )
            if not rows:
                return
            for seq, body in rows:
                yield load_binary(body)
                after = seq

    def put_export(self, export_id: str, created_ms: int, status: str, config: str) -> None:
        with self._lock:
            self._alive()
            self._writer.execute(
                "INSERT INTO exports (export_id, created_ms, status, config) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (export_id) DO UPDATE SET status = excluded.status, config = excluded.config",
                (export_id, created_ms, status, config),
            )

    def export_records(self) -> list[str]:
        rows = self.reader().execute("SELECT config FROM exports ORDER BY created_ms, export_id").fetchall()
        return [r[0] for r in rows]

    def block_body(self, seq: int) -> bytes | None:
        row = self.reader().execute("SELECT body FROM blocks WHERE seq = ?", (seq,)).fetchone()
        return None if row is None else bytes(row[0])

    # -- digests and proofs (docs/export-format.md), from stored subtree nodes (merkle.py) ----------------

    def digest(self, tip: int | None = None) -> tuple[bytes, int]:
        """The ledger digest at `tip` (default: the last block) and the tip's sequence number."""
        tip = self.tip_seq if tip is None else tip
        if tip < 0:
            return EMPTY, tip
        return merkle.range_root(self.reader(), 0, tip + 1), tip

    def block_proof(self, seq: int, tip: int) -> list[bytes]:
        """Hashes that fold block `seq`'s hash into the digest at `tip`."""
        return merkle.range_path(self.reader(), seq, 0, tip + 1)

    def revision_proof(self, seq: int, revision_index: int, tip: int) -> list[bytes]:
        """Hashes that fold a revision's hash into the digest at `tip`: its siblings in the
        block's revisions tree, then in the entries tree, then previousBlockHash, then the
        block's proof — the shape of QLDB's GetRevision proofs."""
        body = self.block_body(seq)
        assert body is not None
        block = load_binary(body)
        hashes = [r["hash"] for r in block["revisions"]]
        entries = list(block["entriesHashList"])
        root_index = entries.index(merkle_root(hashes))
        return [
            *merkle_path(hashes, revision_index),
            *merkle_path(entries, root_index),
            block["previousBlockHash"],
            *self.block_proof(seq, tip),
        ]

    # -- commit ----------------------------------------------------------------------------------

    def commit(self, txn: Transaction, client_digest: bytes) -> bytes:
        """Validate and append the transaction's block; returns the commit digest."""
        self._alive()
        expected = commit_digest(txn.id, [s.digest for s in txn.statements])
        if client_digest != expected:
            raise BadRequest(
                f"Transaction {txn.id}'s commit digest does not match the statements it ran; nothing was committed"
            )
        if not txn.statements:
            return expected
        if not self._lock.acquire(timeout=self.commit_wait):
            self.capacity_exceeded.set()
            raise CapacityExceeded("Capacity exceeded")  # QLDB's message; pyqldb retries with backoff
        try:
            self._alive()
            self._validate(txn)
            self._append(txn)
        finally:
            self._lock.release()
        return expected

    def _validate(self, txn: Transaction) -> None:
        after = txn.start_seq
        db = self._writer
        touched = set(txn.read_documents) | {d for d, p in txn.pending.items() if p.base_version is not None}
        for chunk in _chunks(sorted(touched), 500):
            marks = ",".join("?" * len(chunk))
            for doc_id, seq in db.execute(f"SELECT doc_id, seq FROM documents WHERE doc_id IN ({marks})", chunk):
                if seq > after:
                    raise OccConflict(_occ(txn.id, f"document {doc_id} changed"))
        for table_id in txn.read_tables:
            if self._table_changed.get(table_id, -1) > after:
                raise OccConflict(_occ(txn.id, "a table it scanned changed"))
        for index_id, key in txn.read_keys:
            row = db.execute(
                "SELECT changed_seq FROM index_keys WHERE index_id = ? AND key = ?", (index_id, key)
            ).fetchone()
            if row is not None and row[0] > after:
                raise OccConflict(_occ(txn.id, "an indexed value it looked up changed"))
        for table_id in txn.catalog_tables:
            if self._catalog_changed.get(table_id, -1) > after:
                raise OccConflict(_occ(txn.id, "a table it used was created, dropped or re-indexed"))
        for table_id in txn.ddl_tables:  # a name is held by one active table at most
            table = txn.catalog.by_id(table_id)
            if table is None or table.status != ACTIVE:
                continue
            holder = self.catalog.active(table.name)
            if holder is not None and holder.table_id != table_id:
                raise OccConflict(_occ(txn.id, f"another transaction made a table named {table.name} active"))

    def _append(self, txn: Transaction) -> None:
        seq = self.tip_seq + 1
        now_ms = max(_ms(datetime.now(UTC)), self._last_ms)
        moment = _from_ms(now_ms)
        address = BlockAddress(self.strand_id, seq)
        revisions: list[Revision] = [system_revision(change) for change in txn.ddl]
        documents: dict[str, DocumentEntry] = {}
        user: list[tuple[str, Pending, int, Revision]] = []
        for doc_id, pending in txn.pending.items():
            table = txn.catalog.by_id(pending.table_id)
            assert table is not None
            version = 0 if pending.base_version is None else pending.base_version + 1
            revision = make_revision(address, make_metadata(doc_id, version, moment, txn.id), pending.data)
            revisions.append(revision)
            user.append((doc_id, pending, version, revision))
            documents[doc_id] = DocumentEntry(table.name, table.table_id, tuple(pending.statements))
        redaction_info = None if txn.redaction is None else {"revisions": [txn.redaction]}
        block = build_block(
            address=address,
            previous_block_hash=self.tip_hash,
            transaction_id=txn.id,
            timestamp=moment,
            statements=txn.statements,
            documents=documents,
            revisions=revisions,
            redaction_info=redaction_info,
        )
        db = self._writer
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "INSERT INTO blocks (seq, tx_id, time_ms, block_hash, body) VALUES (?, ?, ?, ?, ?)",
                (seq, txn.id, now_ms, block.block_hash, dump_binary([block_to_ion(block)])),
            )
            merkle.append_leaf(db, seq, block.block_hash)
            changed_tables = apply_catalog(db, txn, seq, self.catalog, self.committed_scan)
            for doc_id, pending, version, revision in user:
                apply_document(db, txn, seq, now_ms, doc_id, pending, version, revision)
                changed_tables.add(pending.table_id)
            for table_id in changed_tables:
                db.execute("UPDATE tables SET changed_seq = ? WHERE table_id = ?", (seq, table_id))
            if txn.redaction is not None:
                apply_redaction(db, txn.redaction)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self.tip_seq, self.tip_hash, self._last_ms = seq, block.block_hash, now_ms
        for table_id in changed_tables:
            self._table_changed[table_id] = seq
        for table_id in txn.ddl_tables:  # only what it changed: others may have committed DDL since it began
            changed = txn.catalog.by_id(table_id)
            assert changed is not None
            self.catalog = self.catalog.replace(changed)
            self._catalog_changed[table_id] = seq


def _occ(tx_id: str, why: str) -> str:
    return f"Optimistic concurrency control (OCC) failure encountered while committing transaction {tx_id}: {why}"


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
