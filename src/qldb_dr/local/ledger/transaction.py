"""A QLDB transaction over the local ledger: the statements it runs, what it reads and what
it will write, behind the PartiQL evaluator's `TableAccess` port.

A transaction reads committed state and its own writes, and records what it read —
documents, full table scans, index keys — and the tables whose catalog entries it used. It
writes nothing to the ledger's file itself: `Ledger.commit` (engine.py) validates those
records against what changed since the transaction began and appends its block.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from qldb_dr.journal.builder import millis, new_id
from qldb_dr.journal.hashing import statement_hash
from qldb_dr.journal.models import Statement
from qldb_dr.local.ledger.catalog import Catalog, field_key
from qldb_dr.local.ledger.errors import BadRequest, OccConflict
from qldb_dr.local.ledger.schema import encode
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


@dataclass
class Pending:
    """A document this transaction wrote: its final data (None = deleted)."""

    table_id: str
    data: Any
    base_version: int | None  # the committed version it replaces; None when inserted here
    statements: list[int] = field(default_factory=list)
    encoded: bytes | None = None  # `data` as Ion binary, kept from the size check for the commit


class CommittedState(Protocol):
    """What a transaction reads from its ledger (`engine.Ledger`): committed state only."""

    strand_id: str

    def reader(self) -> sqlite3.Connection: ...

    def committed_documents(self, table_id: str, doc_ids: list[str]) -> dict[str, Document]: ...

    def committed_scan(self, table_id: str) -> Iterator[Document]: ...

    def committed_lookup(self, index_id: str, key: str) -> list[str]: ...

    def committed_history(
        self, table_id: str, start: datetime | None, end: datetime | None, document_ids: Sequence[str] | None = None
    ) -> Iterator[Any]: ...


class Transaction:
    """One QLDB transaction: the statements it ran, what it read, what it will write.

    Implements the PartiQL evaluator's `TableAccess` port over the ledger's committed
    state plus this transaction's own writes.
    """

    def __init__(self, ledger: CommittedState, tx_id: str, start_seq: int, catalog: Catalog) -> None:
        self.ledger = ledger
        self.id = tx_id
        self.start_seq = start_seq
        self.started = time.monotonic()
        self.catalog = catalog
        self.statements: list[Statement] = []
        self.pending: dict[str, Pending] = {}
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

    def get(self, table_id: str, document_ids: list[str]) -> Iterable[Document]:
        self.read_documents.update(document_ids)
        committed = self.ledger.committed_documents(table_id, document_ids)
        self.reads += len(committed)
        for document_id in document_ids:
            found = committed.get(document_id)
            pending = self.pending.get(document_id)
            if pending is None:
                if found is not None:
                    yield found
            elif pending.table_id == table_id and pending.data is not None:
                yield Document(document_id, pending.data, None if found is None else found.committed)

    def lookup(self, table_id: str, field: str, value: Any) -> Iterable[Document]:
        table = self.catalog.by_id(table_id)
        index = next((i for i in table.indexes if i.field == field), None) if table else None
        key = index_key(value)
        if index is None or key is None:
            yield from self.scan(table_id)
            return
        self.read_keys.add((index.index_id, key))
        seen = set()
        for doc in self.get(table_id, self.ledger.committed_lookup(index.index_id, key)):
            seen.add(doc.id)
            yield doc
        for doc_id, pending in self.pending.items():
            mine = doc_id not in seen and pending.table_id == table_id and pending.data is not None
            if mine and field_key(pending.data, field) == key:
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
            pending = self.pending[document_id] = Pending(table_id, data, base_version)
        else:
            pending.data = data
        if not pending.statements or pending.statements[-1] != self._statement():
            pending.statements.append(self._statement())
        pending.encoded = None if data is None else encode(data)
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
        doc = self.ledger.committed_documents(table_id, [document_id]).get(document_id)
        if doc is None or doc.committed is None:
            # The evaluator found it, reading the committed state; another transaction deleted it
            # since. QLDB fails such a transaction on OCC, which the driver retries.
            raise OccConflict(f"document {document_id} was deleted by another transaction while this one used it")
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
