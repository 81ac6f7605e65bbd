"""An in-memory ``TableAccess`` for the PartiQL tests: dicts, a manual ``commit()``, and counters
that show whether a statement scanned a table or used an index or a document id."""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from amazon.ion.core import OffsetTZInfo, Timestamp, TimestampPrecision

from qldb_dr.partiql import Document, IndexInfo, PartiqlError, Revision, TableInfo, execute, index_key
from qldb_dr.partiql.values import struct_get

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
NOW = Timestamp(2024, 5, 17, 12, 30, 45, None, OffsetTZInfo(), precision=TimestampPrecision.SECOND)


@dataclass
class _Doc:
    id: str
    data: Any  # None once deleted
    revisions: list[Revision] = field(default_factory=list)
    dirty: bool = True


@dataclass
class _Table:
    info: TableInfo
    docs: dict[str, _Doc] = field(default_factory=dict)


class MemoryAccess:
    """Tables in dicts. Writes are pending until ``commit()`` makes them committed revisions."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now
        self._tables: dict[str, _Table] = {}
        self._ids = itertools.count(1)
        self._block = itertools.count(1)
        self.scans: Counter[str] = Counter()
        self.lookups: Counter[str] = Counter()
        self.gets: Counter[str] = Counter()
        self.redactions: list[tuple[Any, str, str]] = []
        self._indexes: dict[tuple[str, str], dict[str | None, list[_Doc]]] = {}

    def new_id(self) -> str:
        n = next(self._ids)
        digits = []
        while n:
            n, r = divmod(n, 62)
            digits.append(BASE62[r])
        return "".join(reversed(digits)).rjust(22, "0")

    # -- reads --------------------------------------------------------------------------------

    def table(self, name: str) -> TableInfo | None:
        return next((t.info for t in self._tables.values() if t.info.name == name and t.info.status == "ACTIVE"), None)

    def table_by_id(self, table_id: str) -> TableInfo | None:
        table = self._tables.get(table_id)
        return table.info if table else None

    def tables(self) -> Sequence[TableInfo]:
        return [t.info for t in self._tables.values()]

    def _live(self, table_id: str) -> list[_Doc]:
        return [d for d in self._tables[table_id].docs.values() if d.data is not None]

    def _document(self, doc: _Doc) -> Document:
        committed = doc.revisions[-1] if doc.revisions and doc.revisions[-1].data is not None else None
        return Document(doc.id, doc.data, committed)

    def scan(self, table_id: str) -> Iterable[Document]:
        self.scans[table_id] += 1
        return [self._document(d) for d in self._live(table_id)]

    def get(self, table_id: str, document_ids: list[str]) -> Iterable[Document]:
        self.gets[table_id] += 1
        docs = self._tables[table_id].docs
        found = (docs.get(document_id) for document_id in document_ids)
        return [self._document(doc) for doc in found if doc is not None and doc.data is not None]

    def lookup(self, table_id: str, field: str, value: Any) -> Iterable[Document]:
        self.lookups[table_id] += 1
        key = index_key(value)
        assert key is not None, "the evaluator never looks up NULL or MISSING"
        index = self._indexes.get((table_id, field))
        if index is None:  # built on first use after a write, from index_key like a ledger would
            index = {}
            for doc in self._live(table_id):
                index.setdefault(index_key(struct_get(doc.data, field)), []).append(doc)
            self._indexes[(table_id, field)] = index
        return [self._document(d) for d in index.get(key, [])]

    def history(
        self, table_id: str, start: datetime | None, end: datetime | None, document_ids: Sequence[str] | None = None
    ) -> Iterable[Revision]:
        revisions = [
            r
            for i, d in self._tables[table_id].docs.items()
            if document_ids is None or i in document_ids
            for r in d.revisions
        ]
        return [r for r in revisions if (start is None or r.tx_time >= start) and (end is None or r.tx_time <= end)]

    def utcnow(self) -> datetime:
        return self.now

    # -- writes -------------------------------------------------------------------------------

    def create_table(self, name: str, tags: Mapping[str, str]) -> str:
        if self.table(name) is not None:
            raise PartiqlError(f"table {name} exists")
        table_id = self.new_id()
        self._tables[table_id] = _Table(TableInfo(name, table_id, "ACTIVE", (), dict(tags)))
        return table_id

    def drop_table(self, table_id: str) -> None:
        table = self._tables[table_id]
        table.info = replace(table.info, status="INACTIVE")

    def undrop_table(self, table_id: str) -> None:
        table = self._tables[table_id]
        table.info = replace(table.info, status="ACTIVE")

    def create_index(self, table_id: str, field: str) -> str:
        table = self._tables[table_id]
        index_id = self.new_id()
        table.info = replace(table.info, indexes=(*table.info.indexes, IndexInfo(index_id, field)))
        return index_id

    def drop_index(self, table_id: str, index_id: str) -> None:
        table = self._tables[table_id]
        table.info = replace(table.info, indexes=tuple(i for i in table.info.indexes if i.index_id != index_id))

    def insert(self, table_id: str, data: Any) -> str:
        self._indexes.clear()
        document_id = self.new_id()
        self._tables[table_id].docs[document_id] = _Doc(document_id, data)
        return document_id

    def update(self, table_id: str, document_id: str, data: Any) -> None:
        self._indexes.clear()
        doc = self._tables[table_id].docs[document_id]
        assert doc.data is not None
        doc.data, doc.dirty = data, True

    def delete(self, table_id: str, document_id: str) -> None:
        self._indexes.clear()
        doc = self._tables[table_id].docs[document_id]
        assert doc.data is not None
        doc.data, doc.dirty = None, True

    def redact(self, block_address: Any, table_id: str, document_id: str) -> Any:
        self.redactions.append((block_address, table_id, document_id))
        doc = self._tables[table_id].docs.get(document_id)
        for i, revision in enumerate(doc.revisions if doc else []):
            if revision.sequence_no == block_address["sequenceNo"]:
                assert doc is not None
                digest = hashlib.sha256(repr(revision.data).encode()).digest()
                doc.revisions[i] = replace(revision, data=None, data_hash=digest)
                return {
                    "blockAddress": block_address,
                    "tableId": table_id,
                    "documentId": document_id,
                    "version": revision.version,
                }
        raise PartiqlError("no such revision")

    # -- test controls ------------------------------------------------------------------------

    def set_index_status(self, table_name: str, field: str, status: str) -> None:
        table = next(t for t in self._tables.values() if t.info.name == table_name)
        indexes = tuple(replace(i, status=status) if i.field == field else i for i in table.info.indexes)
        table.info = replace(table.info, indexes=indexes)

    def run(self, statement: str, *parameters: Any) -> list[Any]:
        """``execute`` against this access."""
        return execute(statement, list(parameters), self)

    def commit(self, tx_time: datetime | None = None) -> None:
        """Every pending write becomes a committed revision in one new block."""
        sequence_no = next(self._block)
        tx_id = self.new_id()
        for table in self._tables.values():
            for doc in table.docs.values():
                if not doc.dirty:
                    continue
                doc.revisions.append(
                    Revision(
                        strand_id="strand0000000000000000",
                        sequence_no=sequence_no,
                        hash=hashlib.sha256(f"{doc.id}/{len(doc.revisions)}".encode()).digest(),
                        document_id=doc.id,
                        version=len(doc.revisions),
                        tx_time=tx_time or self.now,
                        tx_id=tx_id,
                        data=doc.data,
                    )
                )
                doc.dirty = False
