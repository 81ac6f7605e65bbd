"""The expected target: what a restore of a journal up to a block must hold, computed from the
verified journal alone.

This is the oracle — of Verify Restore, and of the differential tests that hold every
strategy and mode to it. It shares nothing with planning, partitioning or replay but the
journal reader, so a mistake in one is not repeated in the other. (Partition runs its
`Summary` on the blocks it verifies, so that Verify Restore need not read the journal again;
the rules are applied here, to the blocks or to those summaries alike.) Its rules:

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
from qldb_dr.ion import dump_binary, ion_hash, load_binary
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
    data_hash: bytes | None  # the hash of the data: a redacted version's, or a user version's once its data is let go
    block: int

    def digest(self) -> bytes | None:
        """The Ion hash of a user or redacted version's data (None: deleted)."""
        if self.data_hash is None and self.kind == USER:
            return ion_hash(self.data)
        return self.data_hash


@dataclass
class Table:
    """One table of the source (a name can have several over time: created, dropped, created)."""

    name: str
    active: bool = True
    ids: set[str] = field(default_factory=set)
    indexes: list[str] = field(default_factory=list)
    indexes_dropped: bool = False  # a DROP INDEX ran: the journal does not say which field


@dataclass(slots=True)
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
    versions: bool = True  # every document's versions (else only its last)

    def live(self) -> dict[str, dict[str, Any]]:
        """`latest`: per table, source id -> the document's data (PLACEHOLDER if redacted).
        Only a model built from blocks holds it; one built from Partition's summaries holds
        each version's hash instead (`latest()`)."""
        result: dict[str, dict[str, Any]] = {name: {} for name in self.tables}
        for doc in self.documents.values():
            last = doc.last
            if last.kind == USER and last.data is None:
                raise ValueError(
                    f"document {doc.source_id}: this expected target holds its data's hash, not its data "
                    "(built from Partition's summaries); compare latest()"
                )
            if last.kind != DELETED:
                result[doc.table.name][doc.source_id] = last.data if last.kind == USER else PLACEHOLDER
        return result

    def latest(self) -> dict[str, dict[str, tuple[int, bytes]]]:
        """`latest`, as Verify Restore compares it: per table, source id -> (the last version,
        the Ion hash of its data — of PLACEHOLDER if redacted)."""
        result: dict[str, dict[str, tuple[int, bytes]]] = {name: {} for name in self.tables}
        empty = ion_hash(PLACEHOLDER)
        for doc in self.documents.values():
            last = doc.last
            if last.kind != DELETED:
                result[doc.table.name][doc.source_id] = (
                    last.version,
                    (last.digest() or empty) if last.kind == USER else empty,
                )
        return result

    def chains(self) -> dict[str, dict[str, list[tuple[int, str, bytes | None]]]]:
        """`history`: per table, source id -> [(version, kind, Ion hash of a user version's
        data)], as the target's history() must show them (a live document's redacted last
        version: PLACEHOLDER). Only a model built with `versions` has them."""
        if not self.versions:
            raise ValueError("this expected target keeps only each document's last version")
        result: dict[str, dict[str, list[tuple[int, str, bytes | None]]]] = {name: {} for name in self.tables}
        for doc in self.documents.values():
            chain: list[tuple[int, str, bytes | None]] = []
            for v in doc.versions:
                if v.kind == REDACTED and v is doc.last:
                    chain.append((v.version, USER, ion_hash(PLACEHOLDER)))
                else:
                    chain.append((v.version, v.kind, v.digest() if v.kind == USER else None))
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


# A block as the model takes it, in order: a table id bound to the table of that name active
# then (a document's first statement), a DDL statement, a document's version, a redaction.
# Both ways of building the model — from the journal's blocks, and from the summaries Partition
# writes of them (`Summary`) — go through `_steps`, so they cannot disagree.
#   ("b", table id, table name)  ("q", DDL text)  ("r", document id, version)
#   ("v", document id, table id, table name, Version)
Step = tuple[Any, ...]


def _steps(block: Block) -> Iterator[Step]:
    info = block.transaction_info
    entries = dict(info.documents) if info is not None else {}
    first_statement = {doc_id: min(e.statements, default=0) for doc_id, e in entries.items()}
    for index, statement in enumerate(info.statements if info is not None else ()):
        for doc_id, entry in entries.items():
            if first_statement[doc_id] == index:
                yield ("b", entry.table_id, entry.table_name)
        if _is_ddl(statement.statement):
            yield ("q", statement.statement)
    for revision in block.revisions or ():
        if revision.metadata is None or revision.document_id not in entries:
            continue  # a system revision, or a catalog change
        entry = entries[revision.document_id]
        number = int(revision.version or 0)
        if revision.data is not None:
            # The hash the reader took from the bytes, if it did; else hashed only when let go
            # or compared (a latest restore's check: each live document's last version alone).
            version = Version(number, USER, revision.data, revision.data_ion_hash, block.sequence_no)
        elif revision.data_hash is not None:
            version = Version(number, REDACTED, None, revision.data_hash, block.sequence_no)
        else:
            version = Version(number, DELETED, None, None, block.sequence_no)
        yield ("v", revision.document_id or "", entry.table_id, entry.table_name, version)
    for redacted in (block.redaction_info or {}).get("revisions", ()):
        yield ("r", str(redacted["documentId"]), int(redacted["version"]))


_DDL = (_CREATE_TABLE, _DROP_TABLE, _UNDROP_TABLE, _CREATE_INDEX, _DROP_INDEX)


def _is_ddl(text: str) -> bool:
    return any(pattern.match(text) for pattern in _DDL)


class _Model:
    """The expected target as steps change it.

    What it holds is bounded by the state at the cut, not by the journal: a version's data is
    let go once the document changes again (history keeps its hash), and without `versions`
    (a latest restore's check) only each document's last version is kept."""

    def __init__(self, versions: bool) -> None:
        self.versions = versions
        self.schema = _Schema()
        self.documents: dict[str, Document] = {}
        self.redactions: list[tuple[str, int]] = []

    def step(self, step: Step) -> None:
        if step[0] == "v":
            _, doc_id, table_id, table_name, version = step
            doc = self.documents.get(doc_id)
            if doc is None:
                doc = self.documents[doc_id] = Document(doc_id, self.schema.table_of(table_id, table_name))
            if doc.versions and not self.versions:
                doc.versions.clear()
            elif doc.versions and (previous := doc.versions[-1]).data is not None:
                doc.versions[-1] = Version(previous.version, USER, None, previous.digest(), previous.block)
            doc.versions.append(version)
        elif step[0] == "b":
            self.schema.table_of(step[1], step[2])
        elif step[0] == "q":
            self.schema.statement(step[1])
        else:
            self.redactions.append((step[1], step[2]))

    def result(self, cut: int) -> ExpectedTarget:
        for doc_id, number in self.redactions:
            doc = self.documents.get(doc_id)
            if doc is not None:
                doc.versions = [
                    Version(v.version, REDACTED, None, v.digest(), v.block)
                    if v.version == number and v.kind == USER
                    else v
                    for v in doc.versions
                ]
        tables = {t.name: t for t in self.schema.tables if t.active}
        kept = {d: doc for d, doc in self.documents.items() if tables.get(doc.table.name) is doc.table}
        return ExpectedTarget(cut, tables, kept, self.schema.notes, self.versions)


def build(blocks: Iterable[Block], cut: int, *, versions: bool = True) -> ExpectedTarget:
    """The expected target after applying `blocks` (in journal order) up to block `cut`."""
    model = _Model(versions)
    for block in blocks:
        if block.sequence_no > cut:
            break
        for step in _steps(block):
            model.step(step)
    return model.result(cut)


class Summary:
    """One export object's blocks as the model's steps, their data replaced by its Ion hash:
    what Partition, reading each object once, writes for Verify Restore, which then need not
    read the journal again (`from_summaries`). Without `versions` only a document's last
    version in the object is kept; the table binding of a dropped one stays in its place."""

    def __init__(self, versions: bool) -> None:
        self.versions = versions
        self.first: int | None = None
        self.last: int | None = None
        self.steps: list[Any] = []
        self._bound: set[str] = set()
        self._latest: dict[str, int] = {}  # document id -> the index of its version step

    def add(self, block: Block) -> None:
        if self.first is None:
            self.first = block.sequence_no
        self.last = block.sequence_no
        for step in _steps(block):
            if step[0] == "b":
                self._bind(step[1], step[2])
            elif step[0] == "v":
                _, doc_id, table_id, table_name, version = step
                self._bind(table_id, table_name)  # the document's first sight binds its table id
                record = [
                    "v",
                    doc_id,
                    table_id,
                    table_name,
                    version.version,
                    version.kind,
                    version.digest(),
                    version.block,
                ]
                earlier = None if self.versions else self._latest.get(doc_id)
                if earlier is not None:
                    self.steps[earlier] = None  # superseded within the object
                self._latest[doc_id] = len(self.steps)
                self.steps.append(record)
            else:
                self.steps.append(list(step))

    def _bind(self, table_id: str, name: str) -> None:
        # Binding a table id again is a no-op for the model: the first binding is what counts.
        if table_id not in self._bound:
            self._bound.add(table_id)
            self.steps.append(["b", table_id, name])

    def to_ion(self) -> bytes:
        return dump_binary([{"first": self.first, "last": self.last, "steps": [s for s in self.steps if s]}])


def _step(record: Any) -> Step:
    if record[0] == "v":
        _, doc_id, table_id, table_name, number, kind, digest, block = record
        data_hash = None if digest is None else bytes(digest)
        return (
            "v",
            str(doc_id),
            str(table_id),
            str(table_name),
            Version(int(number), str(kind), None, data_hash, int(block)),
        )
    if record[0] == "r":
        return ("r", str(record[1]), int(record[2]))
    return tuple(str(part) for part in record)


def from_summaries(summaries: Iterable[bytes], cut: int, start: int, *, versions: bool) -> ExpectedTarget | None:
    """The expected target from Partition's summaries of the journal's objects, in journal
    order; None unless they cover it block after block from `start` (the journal's first
    block) to the cut — a restore planned before Partition wrote them."""
    model = _Model(versions)
    following = start
    for data in summaries:
        record = load_binary(data)
        if record["first"] is None:
            continue  # an object Partition read no block of (all of it beyond the point in time)
        if int(record["first"]) != following:
            return None
        for step in record["steps"]:
            model.step(_step(step))
        following = int(record["last"]) + 1
    return model.result(cut) if following > cut else None


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


def from_vault(vault: Vault, source: str, cut: int, *, versions: bool = True) -> ExpectedTarget:
    return build(journal(vault, source, cut), cut, versions=versions)
