"""Partition: split one export object's revisions by source document id into partition files.

Each (object, partition) pair becomes one Ion binary file of source revisions in block order:
    <vault prefix><source>/restores/<restoreId>/partitions/p<NNNN>/<first>-<last>.ion
so re-running an item rewrites the same files, and a replay worker reads its partition's
files in name order. A block's redactionInfo becomes a `redaction` record for the redacted
document's partition. System revisions (hash only) and revisions of documents the block does
not place in a table (catalog changes) are counted and skipped.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from qldb_dr.catalog import Vault
from qldb_dr.ion import dump_binary
from qldb_dr.journal.models import RevisionKind
from qldb_dr.journal.reader import read_blocks
from qldb_dr.restore.model import REDACTION, SourceRevision, partition_of
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


def split(
    data: bytes, location: str, partitions: int, after: int, cut: int, catch_up: frozenset[str] = frozenset()
) -> Split:
    """The revisions of the blocks after `after` up to `cut`, and — `catch_up`: table ids —
    those tables' revisions of the blocks up to `after`, as though they were in block `after + 1`
    (before everything new, and after the partitions' marks, which no earlier restore moved
    beyond its block): a latest restore applies each document's last revision."""
    result = Split()
    for block in read_blocks(data, location):
        if block.sequence_no > cut:
            continue
        again = block.sequence_no <= after
        if again and not catch_up:
            continue
        result.blocks += not again
        documents = block.transaction_info.documents if block.transaction_info is not None else {}
        for revision in block.revisions or ():
            if revision.metadata is None:
                result.system += not again
                continue
            doc_id = revision.document_id or ""
            entry = documents.get(doc_id)
            if again and (entry is None or entry.table_id not in catch_up):
                continue
            if entry is None:
                result.unplaced += 1
                continue
            kind = revision.kind
            result.revisions[partition_of(doc_id, partitions)].append(
                SourceRevision(
                    table=entry.table_name,
                    table_id=entry.table_id,
                    document_id=doc_id,
                    version=revision.version or 0,
                    kind={RevisionKind.USER: "user", RevisionKind.DELETED: "deleted"}.get(kind, "redacted"),
                    sequence_no=after + 1 if again else block.sequence_no,
                    data=revision.data,
                    data_hash=revision.data_hash,
                )
            )
        if again:  # redactions are history mode's, which catches up nothing
            continue
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
    return result


def partition_object(
    vault: Vault, source: str, restore_id: str, item: dict[str, Any], partitions: int, after: int
) -> dict[str, Any]:
    key = str(item["key"])
    store = vault.store
    if item.get("pin"):  # the version Plan Restore verified, and nothing else
        store = PinnedStore(vault.store, {key: Pin.from_json(item["pin"])}, {})
    catch_up = frozenset(str(i) for i in item.get("catchUp", ()))
    result = split(store.read(key), store.describe(key), partitions, after, int(item["cut"]), catch_up)
    for partition, revisions in sorted(result.revisions.items()):
        span = f"{int(item['first']):012d}-{int(item['last']):012d}"
        name = f"{partition_prefix(vault, source, restore_id, partition)}{span}.ion"
        vault.store.write(name, dump_binary([r.to_ion() for r in revisions]))
    return {
        "key": key,
        "blocks": result.blocks,
        "revisions": sum(len(r) for r in result.revisions.values()),
        "systemRevisions": result.system,
        "unplacedRevisions": result.unplaced,
        "partitions": sorted(result.revisions),
    }
