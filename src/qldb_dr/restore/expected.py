"""The expected target: what a restore of a journal up to a block must hold, computed from the
verified journal alone.

This is the oracle — of Verify Restore, and of the differential tests that hold every
strategy and mode to it. It shares nothing with planning, partitioning or replay but the
journal reader, so a mistake in one is not repeated in the other. Its rules:

* A table is what the journal's DDL statements say: CREATE TABLE makes a new table of that
  name (a dropped table's name can be used again: the old table and its documents stay
  dropped), DROP TABLE deactivates the active table of that name, UNDROP TABLE "id"
  reactivates that table with its documents. A table's id is learnt from the documents
  written to it (`transactionInfo.documents`), the table being the one of that name that is
  active when the document's first statement runs. The target holds the tables active at
  the cut, with the indexes created on them.
* A document's versions are its revisions up to the cut (data: user; no data and no
  dataHash: deleted; dataHash: redacted), and a version named by a redactionInfo up to the
  cut is redacted even where the vault's copy of its block still holds the data (it was
  exported before the redaction): a restore must not bring back what the source erased.
* `latest`: every document of an active table whose last version is not a delete, with that
  version's data. A document whose last version is redacted (a point in time before the
  document changed again, read from an export taken after the redaction) cannot have its
  data restored; it is expected as an empty document, PLACEHOLDER, and called out.
* `history`: every version of those documents and of the deleted ones, in order; a redacted
  version is a redacted revision on the target, except a live document's last version, which
  QLDB cannot redact (the current revision): that one is expected as PLACEHOLDER.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from qldb_dr.catalog import Catalog, Vault, data_keys, pinned_store
from qldb_dr.ion import ion_hash
from qldb_dr.journal.models import Block
from qldb_dr.journal.reader import read_blocks

PLACEHOLDER: dict[str, Any] = {}  # a document whose data the journal no longer holds (redacted)

USER, DELETED, REDACTED = "user", "deleted", "redacted"

_NAME = r'("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_]*)'
_CREATE_TABLE = re.compile(rf"^\s*CREATE\s+TABLE\s+{_NAME}", re.IGNORECASE)
_DROP_TABLE = re.compile(rf"^\s*DROP\s+TABLE\s+{_NAME}", re.IGNORECASE)
_UNDROP_TABLE = re.compile(r'^\s*UNDROP\s+TABLE\s+"([^"]+)"', re.IGNORECASE)
_CREATE_INDEX = re.compile(rf"^\s*CREATE\s+INDEX\s+ON\s+{_NAME}\s*\(\s*{_NAME}\s*\)", re.IGNORECASE)
_DROP_INDEX = re.compile(rf'^\s*DROP\s+INDEX\s+"[^"]+"\s+ON\s+{_NAME}', re.IGNORECASE)


def _unquote(name: str) -> str:
    return name[1:-1].replace('""', '"') if name.startswith('"') else name


@dataclass(frozen=True, slots=True)
class Version:
    version: int
    kind: str  # user | deleted | redacted
    data: Any  # the document, for a user version
    data_hash: bytes | None  # a redacted version's: the hash of the data it held (a user version's data is at hand)
    block: int


@dataclass
class Table:
    """One table of the source (a name can have several over time: created, dropped, created)."""

    name: str
    active: bool = True
    ids: set[str] = field(default_factory=set)
    indexes: list[str] = field(default_factory=list)
    indexes_dropped: bool = False  # a DROP INDEX ran: the journal does not say which field


@dataclass
class Document:
    source_id: str
    table: Table
    versions: list[Version] = field(default_factory=list)

    @property
    def last(self) -> Version:
        return self.versions[-1]


@dataclass
class ExpectedTarget:
    """What the target of a restore up to block `cut` must hold."""

    cut: int
    tables: dict[str, Table]  # the tables active at the cut, by name
    documents: dict[str, Document]  # every document of those tables, by source id
    notes: list[str] = field(default_factory=list)

    def live(self) -> dict[str, dict[str, Any]]:
        """`latest`: per table, source id -> the document's data (PLACEHOLDER if redacted)."""
        result: dict[str, dict[str, Any]] = {name: {} for name in self.tables}
        for doc in self.documents.values():
            last = doc.last
            if last.kind != DELETED:
                result[doc.table.name][doc.source_id] = last.data if last.kind == USER else PLACEHOLDER
        return result

    def chains(self) -> dict[str, dict[str, list[tuple[int, str, Any]]]]:
        """`history`: per table, source id -> [(version, kind, data)], as the target's
        history() must show them (a live document's redacted last version: PLACEHOLDER)."""
        result: dict[str, dict[str, list[tuple[int, str, Any]]]] = {name: {} for name in self.tables}
        for doc in self.documents.values():
            chain = []
            for v in doc.versions:
                if v.kind == REDACTED and v is doc.last:
                    chain.append((v.version, USER, PLACEHOLDER))
                else:
                    chain.append((v.version, v.kind, v.data))
            result[doc.table.name][doc.source_id] = chain
        return result

    def placeholders(self) -> list[Document]:
        """Documents whose last version is redacted: restored without their data."""
        return [d for d in self.documents.values() if d.last.kind == REDACTED]


class _Schema:
    """The source's tables as its DDL statements change them."""

    def __init__(self) -> None:
        self.tables: list[Table] = []
        self.by_id: dict[str, Table] = {}
        self.notes: list[str] = []

    def active(self, name: str) -> Table | None:
        return next((t for t in reversed(self.tables) if t.name == name and t.active), None)

    def statement(self, text: str) -> None:
        if match := _CREATE_TABLE.match(text):
            self.tables.append(Table(_unquote(match.group(1))))
        elif match := _DROP_TABLE.match(text):
            table = self.active(_unquote(match.group(1)))
            if table is not None:
                table.active = False
        elif match := _UNDROP_TABLE.match(text):
            table = self.by_id.get(match.group(1))
            if table is None:
                self.notes.append(
                    f"UNDROP TABLE {match.group(1)}: no document of that table is in the journal, so its name is "
                    "unknown; it is not expected on the target"
                )
            else:
                table.active = True
        elif match := _CREATE_INDEX.match(text):
            table = self.active(_unquote(match.group(1)))
            if table is not None and _unquote(match.group(2)) not in table.indexes:
                table.indexes.append(_unquote(match.group(2)))
        elif match := _DROP_INDEX.match(text):
            table = self.active(_unquote(match.group(1)))
            if table is not None:
                table.indexes_dropped = True

    def table_of(self, table_id: str, name: str) -> Table:
        table = self.by_id.get(table_id)
        if table is None:
            table = self.active(name)
            if table is None:  # written to a table whose CREATE is not in the journal read
                table = Table(name)
                self.tables.append(table)
            table.ids.add(table_id)
            self.by_id[table_id] = table
        return table


def build(blocks: Iterable[Block], cut: int) -> ExpectedTarget:
    """The expected target after applying `blocks` (in journal order) up to block `cut`."""
    schema = _Schema()
    documents: dict[str, Document] = {}
    redactions: list[tuple[str, int]] = []
    for block in blocks:
        if block.sequence_no > cut:
            break
        info = block.transaction_info
        entries = dict(info.documents) if info is not None else {}
        first_statement = {doc_id: min(e.statements, default=0) for doc_id, e in entries.items()}
        for index, statement in enumerate(info.statements if info is not None else ()):
            for doc_id, entry in entries.items():
                if first_statement[doc_id] == index:
                    schema.table_of(entry.table_id, entry.table_name)
            schema.statement(statement.statement)
        for revision in block.revisions or ():
            if revision.metadata is None or revision.document_id not in entries:
                continue  # a system revision, or a catalog change
            entry = entries[revision.document_id]
            doc = documents.get(revision.document_id)
            if doc is None:
                doc = documents[revision.document_id] = Document(
                    revision.document_id, schema.table_of(entry.table_id, entry.table_name)
                )
            if revision.data is not None:
                # Not hashed here: Verify Restore hashes only what it compares (a latest restore:
                # each live document's last version), a fifth of this model's time otherwise.
                version = Version(int(revision.version or 0), USER, revision.data, None, block.sequence_no)
            elif revision.data_hash is not None:
                version = Version(int(revision.version or 0), REDACTED, None, revision.data_hash, block.sequence_no)
            else:
                version = Version(int(revision.version or 0), DELETED, None, None, block.sequence_no)
            doc.versions.append(version)
        for redacted in (block.redaction_info or {}).get("revisions", ()):
            redactions.append((str(redacted["documentId"]), int(redacted["version"])))
    for doc_id, number in redactions:
        doc = documents.get(doc_id)
        if doc is not None:
            doc.versions = [
                Version(v.version, REDACTED, None, ion_hash(v.data), v.block)
                if v.version == number and v.kind == USER
                else v
                for v in doc.versions
            ]
    tables = {t.name: t for t in schema.tables if t.active}
    kept = {d: doc for d, doc in documents.items() if tables.get(doc.table.name) is doc.table}
    return ExpectedTarget(cut, tables, kept, schema.notes)


def journal(vault: Vault, source: str, cut: int | None = None) -> Iterator[Block]:
    """The blocks of the source's recovery points in the vault, in order (up to `cut`)."""
    points = Catalog(vault).recovery_points(source)
    store = pinned_store(vault.store, points, watch=False)  # each recovery point's objects as verified
    for point in points:
        if point.first_block is None:
            continue
        if cut is not None and point.first_block.sequence_no > cut:
            return
        for location in data_keys(store, point):
            yield from read_blocks(store.read(location), location)


def cut_at(blocks: Iterable[Block], moment: datetime) -> int:
    """The last block committed at or before `moment` (-1: none)."""
    cut = -1
    for block in blocks:
        if block.timestamp > moment:
            break
        cut = block.sequence_no
    return cut


def from_vault(vault: Vault, source: str, cut: int) -> ExpectedTarget:
    return build(journal(vault, source, cut), cut)
