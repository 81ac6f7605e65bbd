"""The ledger engine: a durable journal of hashed blocks over SQLite, the current state the
PartiQL evaluator reads, and transactions with serializable optimistic concurrency.

One SQLite file (WAL mode) per ledger. A commit is one SQLite transaction that appends the
block, its revisions, the new document states, index entries and Merkle nodes together: a
crash leaves either the whole block or none of it.

Concurrency (QLDB's model): a transaction reads committed state and its own writes, and
records what it read — documents, full table scans, index keys. At commit, under the
ledger's commit lock, anything it read or wrote that changed after it started fails it with
OccConflict and nothing is applied; otherwise its block is appended.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from amazon.ion.core import Timestamp

from qldb_dr.ion import dump_binary, ion_hash, load_binary
from qldb_dr.journal.builder import build_block, make_metadata, make_revision, millis, new_id, system_revision
from qldb_dr.journal.hashing import EMPTY, commit_digest, dot, merkle_path, merkle_root, statement_hash
from qldb_dr.journal.models import BlockAddress, DocumentEntry, Revision, Statement
from qldb_dr.journal.writer import block_to_ion
from qldb_dr.local.ledger.errors import BadRequest, CapacityExceeded, OccConflict
from qldb_dr.partiql import Document, IndexInfo, PartiqlError, TableInfo, execute, index_key
from qldb_dr.partiql import Revision as CommittedRevision
from qldb_dr.partiql.access import ACTIVE, INACTIVE, ONLINE

# QLDB's quotas where applications meet them (Developer Guide, "Quotas and limits").
DOCUMENTS_PER_TRANSACTION = 40
DOCUMENT_BYTES = 128 * 1024
TRANSACTION_BYTES = 4 * 1024 * 1024
ACTIVE_TABLES = 20
TOTAL_TABLES = 40
INDEXES_PER_TABLE = 5
STATEMENT_CHARS = 100_000
COMMIT_WAIT_SECONDS = 10.0  # a commit queued longer than this gets CapacityExceeded
HISTORY_IDS = 500  # history() narrowed to at most this many document ids per SQL query (SQLite variables)

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


def _connect(path: Path, *, create: bool = False) -> sqlite3.Connection:
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


def _encode(value: Any) -> bytes:
    return dump_binary([value])


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _from_ms(ms: int) -> Timestamp:
    return millis(datetime.fromtimestamp(ms / 1000, UTC))


@dataclass
class _Pending:
    """A document this transaction wrote: its final data (None = deleted)."""

    table_id: str
    data: Any
    base_version: int | None  # the committed version it replaces; None when inserted here
    statements: list[int] = field(default_factory=list)
    encoded: bytes | None = None  # `data` as Ion binary, kept from the size check for the commit


@dataclass(frozen=True, slots=True)
class Catalog:
    """Tables and indexes, in creation order; replaced (never mutated) when DDL commits."""

    tables: tuple[TableInfo, ...] = ()

    def by_id(self, table_id: str) -> TableInfo | None:
        return next((t for t in self.tables if t.table_id == table_id), None)

    def active(self, name: str) -> TableInfo | None:
        return next((t for t in self.tables if t.name == name and t.status == ACTIVE), None)

    def replace(self, table: TableInfo) -> Catalog:
        others = [t for t in self.tables if t.table_id != table.table_id]
        if len(others) == len(self.tables):
            return Catalog((*self.tables, table))
        return Catalog(tuple(table if t.table_id == table.table_id else t for t in self.tables))


class Ledger:
    """One ledger: its SQLite file, its journal tip, its catalog and its commit lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.gone = False
        self._local = threading.local()
        self._lock = threading.Lock()
        self.commit_wait = COMMIT_WAIT_SECONDS
        self.capacity_exceeded = threading.Event()  # set whenever a commit is turned away
        self._writer = _connect(path)
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
        connection = _connect(path, create=True)
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
            connection = _connect(self.path)
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

    def committed_document(self, table_id: str, doc_id: str) -> Document | None:
        row = (
            self.reader()
            .execute(self._DOCUMENT + "WHERE d.doc_id = ? AND d.table_id = ? AND d.live = 1", (doc_id, table_id))
            .fetchone()
        )
        return None if row is None else self._document(row)

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

    # -- digests and proofs (docs/export-format.md), from stored subtree nodes: O(log n) lookups --------

    def _node(self, level: int, position: int) -> bytes:
        row = (
            self.reader()
            .execute("SELECT hash FROM merkle WHERE level = ? AND position = ?", (level, position))
            .fetchone()
        )
        if row is None:
            raise LookupError(f"no Merkle node at level {level}, position {position}")
        return bytes(row[0])

    def _range(self, lo: int, hi: int) -> bytes:
        """Root of the tree over block hashes lo..hi-1 (the RFC 6962 shape QLDB uses)."""
        size = hi - lo
        if size & (size - 1) == 0 and lo % size == 0:
            return self._node(size.bit_length() - 1, lo // size)
        split = 1 << ((size - 1).bit_length() - 1)
        return dot(self._range(lo, lo + split), self._range(lo + split, hi))

    def _path(self, leaf: int, lo: int, hi: int) -> list[bytes]:
        size = hi - lo
        if size == 1:
            return []
        split = 1 << ((size - 1).bit_length() - 1)
        if leaf < lo + split:
            return [*self._path(leaf, lo, lo + split), self._range(lo + split, hi)]
        return [*self._path(leaf, lo + split, hi), self._range(lo, lo + split)]

    def digest(self, tip: int | None = None) -> tuple[bytes, int]:
        """The ledger digest at `tip` (default: the last block) and the tip's sequence number."""
        tip = self.tip_seq if tip is None else tip
        if tip < 0:
            return EMPTY, tip
        return self._range(0, tip + 1), tip

    def block_proof(self, seq: int, tip: int) -> list[bytes]:
        """Hashes that fold block `seq`'s hash into the digest at `tip`."""
        return self._path(seq, 0, tip + 1)

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
        user: list[tuple[str, _Pending, int, Revision]] = []
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
            self._append_merkle(db, seq, block.block_hash)
            changed_tables = self._apply_catalog(db, txn, seq)
            for doc_id, pending, version, revision in user:
                self._apply_document(db, txn, seq, now_ms, doc_id, pending, version, revision)
                changed_tables.add(pending.table_id)
            for table_id in changed_tables:
                db.execute("UPDATE tables SET changed_seq = ? WHERE table_id = ?", (seq, table_id))
            if txn.redaction is not None:
                self._apply_redaction(db, txn.redaction)
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

    def _apply_redaction(self, db: sqlite3.Connection, redaction: dict[str, Any]) -> None:
        """Replace the revision's data by its hash, in the revisions table and in the stored
        block: the revision hash, and so every block hash, stays as it was."""
        doc_id, version = redaction["documentId"], redaction["version"]
        sequence = redaction["blockAddress"]["sequenceNo"]
        (data,) = db.execute(
            "SELECT data FROM revisions WHERE doc_id = ? AND version = ?", (doc_id, version)
        ).fetchone()
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

    @staticmethod
    def _append_merkle(db: sqlite3.Connection, seq: int, leaf: bytes) -> None:
        """Store the leaf and every subtree it completes (the nodes that digests and proofs
        are made of, so neither ever needs a scan of the journal)."""
        level, position, node = 0, seq, leaf
        db.execute("INSERT INTO merkle (level, position, hash) VALUES (0, ?, ?)", (seq, leaf))
        while position % 2 == 1:
            left = db.execute(
                "SELECT hash FROM merkle WHERE level = ? AND position = ?", (level, position - 1)
            ).fetchone()[0]
            node = dot(left, node)
            level, position = level + 1, position // 2
            db.execute("INSERT INTO merkle (level, position, hash) VALUES (?, ?, ?)", (level, position, node))

    def _apply_catalog(self, db: sqlite3.Connection, txn: Transaction, seq: int) -> set[str]:
        changed: set[str] = set()
        before = self.catalog
        for table_id in txn.ddl_tables:
            table = txn.catalog.by_id(table_id)
            assert table is not None
            tags = _encode(dict(table.tags)) if table.tags else None
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
                for doc in self.committed_scan(table_id):
                    key = _field_key(doc.data, index.field)
                    if key is not None:
                        db.execute("INSERT OR IGNORE INTO index_entries VALUES (?, ?, ?)", (index_id, key, doc.id))
            changed.add(table_id)
        return changed

    def _apply_document(
        self,
        db: sqlite3.Connection,
        txn: Transaction,
        seq: int,
        now_ms: int,
        doc_id: str,
        pending: _Pending,
        version: int,
        revision: Revision,
    ) -> None:
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
            old_key = None if old is None else _field_key(old, index.field)
            new_key = None if pending.data is None else _field_key(pending.data, index.field)
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


def _occ(tx_id: str, why: str) -> str:
    return f"Optimistic concurrency control (OCC) failure encountered while committing transaction {tx_id}: {why}"


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _field_key(data: Any, field_name: str) -> str | None:
    getter = getattr(data, "get", None)
    if getter is None:
        return None
    value = getter(field_name)
    return None if value is None else index_key(value)


class Transaction:
    """One QLDB transaction: the statements it ran, what it read, what it will write.

    Implements the PartiQL evaluator's `TableAccess` port over the ledger's committed
    state plus this transaction's own writes.
    """

    def __init__(self, ledger: Ledger, tx_id: str, start_seq: int, catalog: Catalog) -> None:
        self.ledger = ledger
        self.id = tx_id
        self.start_seq = start_seq
        self.started = time.monotonic()
        self.catalog = catalog
        self.statements: list[Statement] = []
        self.pending: dict[str, _Pending] = {}
        self.read_documents: set[str] = set()
        self.read_tables: set[str] = set()
        self.read_keys: set[tuple[str, str]] = set()
        self.catalog_tables: set[str] = set()
        self.ddl: list[dict[str, Any]] = []
        self.ddl_tables: list[str] = []
        self.redaction: dict[str, Any] | None = None
        self.reads = 0  # documents and revisions read (QLDB's read I/Os: ConsumedIOs.ReadIOs)
        self._bytes = 0
        self._now = millis(datetime.now(UTC))

    # -- statements ----------------------------------------------------------------------------

    def execute(self, statement: str, parameters: Sequence[Any]) -> list[Any]:
        """Record the statement (its digest counts toward the commit digest even if it fails,
        as the driver hashes it before sending), then run it."""
        self.statements.append(Statement(statement, millis(datetime.now(UTC)), statement_hash(statement, parameters)))
        if len(statement) > STATEMENT_CHARS:
            raise BadRequest(f"statement is {len(statement):,} characters; QLDB's limit is {STATEMENT_CHARS:,}")
        try:
            return execute(statement, parameters, self)
        except PartiqlError as exc:
            raise BadRequest(str(exc)) from exc

    # -- TableAccess: reads ----------------------------------------------------------------------

    def table(self, name: str) -> TableInfo | None:
        table = self.catalog.active(name)
        if table is not None:
            self.catalog_tables.add(table.table_id)
        return table

    def table_by_id(self, table_id: str) -> TableInfo | None:
        table = self.catalog.by_id(table_id)
        if table is not None:
            self.catalog_tables.add(table_id)
        return table

    def tables(self) -> Sequence[TableInfo]:
        return self.catalog.tables

    def scan(self, table_id: str) -> Iterable[Document]:
        self.read_tables.add(table_id)
        mine = {d: p for d, p in self.pending.items() if p.table_id == table_id}
        for doc in self.ledger.committed_scan(table_id):
            self.reads += 1
            pending = mine.pop(doc.id, None)
            if pending is None:
                yield doc
            elif pending.data is not None:
                yield Document(doc.id, pending.data, doc.committed)
        for doc_id, pending in mine.items():
            if pending.data is not None and pending.base_version is None:
                yield Document(doc_id, pending.data, None)

    def get(self, table_id: str, document_id: str) -> Document | None:
        pending = self.pending.get(document_id)
        self.read_documents.add(document_id)
        committed = self.ledger.committed_document(table_id, document_id)
        self.reads += committed is not None
        if pending is None:
            return committed
        if pending.table_id != table_id or pending.data is None:
            return None
        return Document(document_id, pending.data, None if committed is None else committed.committed)

    def lookup(self, table_id: str, field: str, value: Any) -> Iterable[Document]:
        table = self.catalog.by_id(table_id)
        index = next((i for i in table.indexes if i.field == field), None) if table else None
        key = index_key(value)
        if index is None or key is None:
            yield from self.scan(table_id)
            return
        self.read_keys.add((index.index_id, key))
        seen = set()
        for doc_id in self.ledger.committed_lookup(index.index_id, key):
            doc = self.get(table_id, doc_id)
            if doc is not None:
                seen.add(doc_id)
                yield doc
        for doc_id, pending in self.pending.items():
            mine = doc_id not in seen and pending.table_id == table_id and pending.data is not None
            if mine and _field_key(pending.data, field) == key:
                yield Document(doc_id, pending.data, None)

    def history(
        self, table_id: str, start: datetime | None, end: datetime | None, document_ids: Sequence[str] | None = None
    ) -> Iterable[CommittedRevision]:
        for revision in self.ledger.committed_history(table_id, start, end, document_ids):
            self.reads += 1
            yield revision

    def utcnow(self) -> datetime:
        now: datetime = self._now
        return now

    # -- TableAccess: writes ---------------------------------------------------------------------

    def _statement(self) -> int:
        return len(self.statements) - 1

    def _write(self, table_id: str, document_id: str, data: Any, base_version: int | None) -> None:
        pending = self.pending.get(document_id)
        if pending is None:
            if len(self.pending) >= DOCUMENTS_PER_TRANSACTION:
                raise BadRequest(
                    f"Transaction {self.id} writes more than {DOCUMENTS_PER_TRANSACTION} documents, QLDB's limit"
                )
            pending = self.pending[document_id] = _Pending(table_id, data, base_version)
        else:
            pending.data = data
        if not pending.statements or pending.statements[-1] != self._statement():
            pending.statements.append(self._statement())
        pending.encoded = None if data is None else _encode(data)
        if pending.encoded is not None:
            size = len(pending.encoded)
            if size > DOCUMENT_BYTES:
                raise BadRequest(f"document {document_id} is {size:,} bytes in Ion binary; QLDB's limit is 128 KB")
            self._bytes += size
            if self._bytes > TRANSACTION_BYTES:
                raise BadRequest(f"Transaction {self.id} writes more than 4 MB, QLDB's limit")

    def insert(self, table_id: str, data: Any) -> str:
        document_id = new_id()
        self._write(table_id, document_id, data, None)
        return document_id

    def update(self, table_id: str, document_id: str, data: Any) -> None:
        pending = self.pending.get(document_id)
        base = pending.base_version if pending else self._committed_version(table_id, document_id)
        self._write(table_id, document_id, data, base)

    def delete(self, table_id: str, document_id: str) -> None:
        pending = self.pending.get(document_id)
        if pending is not None and pending.base_version is None:
            del self.pending[document_id]  # inserted and deleted here: it never existed
            return
        base = pending.base_version if pending else self._committed_version(table_id, document_id)
        self._write(table_id, document_id, None, base)

    def _committed_version(self, table_id: str, document_id: str) -> int:
        doc = self.ledger.committed_document(table_id, document_id)
        if doc is None or doc.committed is None:
            raise PartiqlError(f"document {document_id} does not exist")
        self.read_documents.add(document_id)
        return doc.committed.version

    def _ddl(self, table: TableInfo, change: dict[str, Any]) -> None:
        self.catalog = self.catalog.replace(table)
        self.ddl.append(change)
        if table.table_id not in self.ddl_tables:
            self.ddl_tables.append(table.table_id)
        self.catalog_tables.add(table.table_id)

    def create_table(self, name: str, tags: Mapping[str, str]) -> str:
        active = [t for t in self.catalog.tables if t.status == ACTIVE]
        if len(active) >= ACTIVE_TABLES:
            raise BadRequest(f"the ledger has {ACTIVE_TABLES} active tables, QLDB's limit")
        if len(self.catalog.tables) >= TOTAL_TABLES:
            raise BadRequest(f"the ledger has {TOTAL_TABLES} tables (active and dropped), QLDB's limit")
        if self.catalog.active(name) is not None:
            raise PartiqlError(f"a table named {name} already exists")
        table_id = new_id()
        self._ddl(TableInfo(name, table_id, ACTIVE, (), dict(tags)), {"createTable": name, "tableId": table_id})
        return table_id

    def drop_table(self, table_id: str) -> None:
        table = self._known(table_id)
        self._ddl(
            TableInfo(table.name, table_id, INACTIVE, table.indexes, table.tags),
            {"dropTable": table.name, "tableId": table_id},
        )

    def undrop_table(self, table_id: str) -> None:
        table = self._known(table_id)
        if self.catalog.active(table.name) is not None:
            raise PartiqlError(f"an active table named {table.name} already exists")
        self._ddl(
            TableInfo(table.name, table_id, ACTIVE, table.indexes, table.tags),
            {"undropTable": table.name, "tableId": table_id},
        )

    def create_index(self, table_id: str, field: str) -> str:
        table = self._known(table_id)
        if len(table.indexes) >= INDEXES_PER_TABLE:
            raise BadRequest(f"table {table.name} has {INDEXES_PER_TABLE} indexes, QLDB's limit")
        index_id = new_id()
        indexes = (*table.indexes, IndexInfo(index_id, field, ONLINE))
        self._ddl(
            TableInfo(table.name, table_id, table.status, indexes, table.tags),
            {"createIndex": field, "tableId": table_id, "indexId": index_id},
        )
        return index_id

    def drop_index(self, table_id: str, index_id: str) -> None:
        table = self._known(table_id)
        indexes = tuple(i for i in table.indexes if i.index_id != index_id)
        self._ddl(
            TableInfo(table.name, table_id, table.status, indexes, table.tags),
            {"dropIndex": index_id, "tableId": table_id},
        )

    def _known(self, table_id: str) -> TableInfo:
        table = self.catalog.by_id(table_id)
        if table is None:
            raise PartiqlError(f"no table with id {table_id}")
        return table

    def redact(self, block_address: Any, table_id: str, document_id: str) -> Any:
        """Mark a historic revision for redaction at commit (QLDB: one per transaction)."""
        if self.redaction is not None:
            raise BadRequest("a transaction can redact only one revision")
        try:
            strand, sequence = str(block_address["strandId"]), int(block_address["sequenceNo"])
        except (KeyError, TypeError, ValueError) as exc:
            raise PartiqlError("the block address must be {strandId: string, sequenceNo: int}") from exc
        row = (
            self.ledger.reader()
            .execute(
                "SELECT r.version, r.data, d.version, d.live FROM revisions r JOIN documents d ON d.doc_id = r.doc_id "
                "WHERE r.doc_id = ? AND r.table_id = ? AND r.seq = ?",
                (document_id, table_id, sequence),
            )
            .fetchone()
        )
        if strand != self.ledger.strand_id or row is None:
            raise PartiqlError(f"no revision of document {document_id} in table {table_id} at block {sequence}")
        version, data, latest, live = row
        if data is None:
            raise PartiqlError(f"revision {version} of document {document_id} is already redacted or a deletion")
        if live and version == latest:
            raise PartiqlError(f"revision {version} is the current revision of document {document_id}")
        self.read_documents.add(document_id)
        self.redaction = {
            "blockAddress": {"strandId": strand, "sequenceNo": sequence},
            "tableId": table_id,
            "documentId": document_id,
            "version": version,
        }
        return dict(self.redaction)
