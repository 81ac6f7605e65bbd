"""Partition: read one export object once — verify it, learn its schema, split its revisions by
source document id into partition files — and write what it showed (its findings) with them.

Each (object, partition) pair becomes one Ion binary file of source revisions in block order:
    <vault prefix><source>/restores/<restoreId>/partitions/p<NNNN>/<first>-<last>.ion
so re-running an item rewrites the same files, and a replay worker reads its partition's
files in name order. A block's redactionInfo becomes a `redaction` record for the redacted
document's partition. System revisions (hash only) and revisions of documents the block does
not place in a table (catalog changes) are counted and skipped. An object that fails
verification writes no partition files: its findings name the file and the block, and the
gate after Partition refuses the restore (`restore.gate`).

Catch-up: an incremental latest restore replays again the revisions up to the watermark of
the tables dropped then and undropped since (`restore.catchup`). Which tables those are is
known only once every object is read, so the gate reads those objects again — the very bytes
Partition verified (the version and SHA-256 its findings recorded) — and writes their
revisions of those tables to `<first>-<last>.catch-up.ion` beside the object's own file.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from qldb_dr.catalog import Vault
from qldb_dr.encoding import parse_iso
from qldb_dr.ion import dump_binary
from qldb_dr.journal.models import Block, DocumentEntry, Revision, RevisionKind
from qldb_dr.journal.reader import read_blocks
from qldb_dr.restore import expected, findings
from qldb_dr.restore.model import REDACTION, SourceRevision, partition_of
from qldb_dr.restore.plan import SchemaEvents, learn
from qldb_dr.store import Store
from qldb_dr.store.pinned import Pin, PinnedStore


def partitions_prefix(vault: Vault, source: str, restore_id: str) -> str:
    return f"{vault.restore(source, restore_id)}partitions/"


def partition_prefix(vault: Vault, source: str, restore_id: str, partition: int) -> str:
    return f"{partitions_prefix(vault, source, restore_id)}p{partition:04d}/"


@dataclass
class Split:
    """What one object gave: revisions per partition, and what was skipped."""

    revisions: dict[int, list[SourceRevision]] = field(default_factory=lambda: defaultdict(list))
    system: int = 0
    unplaced: int = 0
    blocks: int = 0


_KINDS = {RevisionKind.USER: "user", RevisionKind.DELETED: "deleted"}


def _source(revision: Revision, entry: DocumentEntry, sequence_no: int) -> SourceRevision:
    """A user revision as the replay takes it: its table from the block's transactionInfo,
    labelled with the block `sequence_no` it is replayed at."""
    return SourceRevision(
        table=entry.table_name,
        table_id=entry.table_id,
        document_id=revision.document_id or "",
        version=revision.version or 0,
        kind=_KINDS.get(revision.kind, "redacted"),
        sequence_no=sequence_no,
        data=revision.data,
        data_hash=revision.data_hash,
    )


def split_block(result: Split, block: Block, partitions: int) -> None:
    """Add one block's revisions (and redactions) to `result`."""
    result.blocks += 1
    documents = block.transaction_info.documents if block.transaction_info is not None else {}
    for revision in block.revisions or ():
        if revision.metadata is None:
            result.system += 1
            continue
        doc_id = revision.document_id or ""
        entry = documents.get(doc_id)
        if entry is None:
            result.unplaced += 1
            continue
        result.revisions[partition_of(doc_id, partitions)].append(_source(revision, entry, block.sequence_no))
    # A redaction of an earlier revision (maybe exported before it, so still holding its
    # data): history mode redacts that version on the target too.
    for redacted in (block.redaction_info or {}).get("revisions", ()):
        doc_id = str(redacted["documentId"])
        result.revisions[partition_of(doc_id, partitions)].append(
            SourceRevision(
                table="",
                table_id=str(redacted["tableId"]),
                document_id=doc_id,
                version=int(redacted["version"]),
                kind=REDACTION,
                sequence_no=block.sequence_no,
            )
        )


@dataclass
class _Reading:
    """What one pass over an object gathers besides its findings: the revisions to replay
    (blocks after `after`, up to the cut or the last block before `at`) and its schema."""

    partitions: int
    after: int
    cut: int | None
    at: datetime | None
    summary: expected.Summary | None
    result: Split = field(default_factory=Split)
    schema: SchemaEvents = field(default_factory=SchemaEvents)
    read_to: int | None = None  # the last block before the cut (or `at`)
    beyond_at: int | None = None  # the first block committed after `at`
    earlier: Counter[str] = field(default_factory=Counter)  # revisions up to `after`, by table id

    def __call__(self, block: Block) -> None:
        if self.beyond_at is not None or (self.cut is not None and block.sequence_no > self.cut):
            return
        if self.at is not None and block.timestamp > self.at:
            self.beyond_at = block.sequence_no
            return
        self.read_to = block.sequence_no
        if self.summary is not None:
            self.summary.add(block)
        if block.sequence_no > self.after:
            self.schema.watermark()  # the schema as of the target's watermark, for the catch-up
        learn(self.schema, block)
        if block.sequence_no > self.after:
            split_block(self.result, block, self.partitions)
        elif block.transaction_info is not None:  # what a catch-up would read again
            documents = block.transaction_info.documents
            for revision in block.revisions or ():
                if revision.metadata is not None and (entry := documents.get(revision.document_id or "")):
                    self.earlier[entry.table_id] += 1


def read_object(
    vault: Vault, item: dict[str, Any], partitions: int, after: int, summary: expected.Summary | None = None
) -> tuple[dict[str, Any], Split]:
    """Read one Map item's object once: its findings and what it gives the restore (its
    schema, its revisions by partition, how far it was read), writing nothing; `summary`, if
    given, gathers its blocks for Verify Restore (a dry run's estimate needs none)."""
    key = str(item["key"])
    store: Store = vault.store
    if item.get("pin"):  # the version the recovery point pinned, and nothing else
        store = PinnedStore(vault.store, {key: Pin.from_json(item["pin"])}, {})
    at, cut = item.get("at"), item.get("cut")
    reading = _Reading(
        partitions,
        after,
        None if cut is None else int(cut),
        None if at is None else parse_iso(at),
        summary,
    )
    found = findings.read(store, item, reading)
    result = reading.result
    outcome = {
        "key": key,
        "blocks": result.blocks,
        "revisions": sum(len(r) for r in result.revisions.values()),
        "systemRevisions": result.system,
        "unplacedRevisions": result.unplaced,
        "partitions": sorted(result.revisions) if found["verified"] else [],
        "findings": found,
        "schema": reading.schema.events,
        "readTo": reading.read_to,
        "beyondAt": reading.beyond_at,
        "earlierRevisions": dict(reading.earlier),
    }
    return outcome, result


def partition_object(
    vault: Vault, source: str, restore_id: str, item: dict[str, Any], partitions: int, after: int, versions: bool
) -> dict[str, Any]:
    """Read, verify and split one object; its partition files and summary are written only if
    it verified."""
    summary = expected.Summary(versions)
    outcome, result = read_object(vault, item, partitions, after, summary)
    if outcome["findings"]["verified"]:
        write(vault, source, restore_id, item, result)
        vault.store.write(summary_key(vault, source, restore_id, item), summary.to_ion())
    return outcome


def summaries_prefix(vault: Vault, source: str, restore_id: str) -> str:
    return f"{vault.restore(source, restore_id)}expected/"


def summary_key(vault: Vault, source: str, restore_id: str, item: dict[str, Any]) -> str:
    """Where the item's summary goes (`expected.Summary`): named by its blocks, so the names'
    order is the journal's."""
    return f"{summaries_prefix(vault, source, restore_id)}{int(item['first']):012d}-{int(item['last']):012d}.ion"


def write(vault: Vault, source: str, restore_id: str, item: dict[str, Any], result: Split, kind: str = "") -> None:
    """The item's partition files (`kind` "catch-up": those of its revisions read again)."""
    span = f"{int(item['first']):012d}-{int(item['last']):012d}{'.' + kind if kind else ''}"
    for partition, revisions in sorted(result.revisions.items()):
        name = f"{partition_prefix(vault, source, restore_id, partition)}{span}.ion"
        vault.store.write(name, dump_binary([r.to_ion() for r in revisions]))


def catch_up(
    vault: Vault, item: dict[str, Any], found: dict[str, Any], partitions: int, after: int, tables: frozenset[str]
) -> Split:
    """The revisions of `tables` (source table ids) in the item's blocks up to `after`, as though
    they were in block `after + 1` (before everything new, and after the partitions' marks,
    which no earlier restore moved beyond its block): a latest restore applies each document's
    last revision. Read at the version, and with the SHA-256, that Partition's findings
    (`found`) recorded for the bytes it verified: anything else is refused
    (TamperedObjectError)."""
    key = str(item["key"])
    store = PinnedStore(vault.store, {key: Pin.from_json(found["read"])}, {})
    result = Split()
    for block in read_blocks(store.read(key), store.describe(key)):
        if block.sequence_no > after:
            break
        documents = block.transaction_info.documents if block.transaction_info is not None else {}
        for revision in block.revisions or ():
            entry = documents.get(revision.document_id or "")
            if revision.metadata is None or entry is None or entry.table_id not in tables:
                continue
            doc_id = revision.document_id or ""
            result.revisions[partition_of(doc_id, partitions)].append(_source(revision, entry, after + 1))
    return result
