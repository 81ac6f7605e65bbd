"""The restore's vocabulary: the revisions it replays, and the tables it
keeps in the target ledger.

Project-owned tables in the target (documented names; user documents get no extra fields):

    qldbdr_restore    one document: the source ledger this target restores, its mode, the
                      partition count, and the watermark (last source block applied)
    qldbdr_partition  one document per partition: the last source revision applied to it
                      (block sequence number, then document id) — the version guard
    qldbdr_batch      one document per replay transaction: the source-id -> target-id map
                      of the documents it wrote, with the source version applied

Replay is partitioned by source document id; a partition's revisions are applied in source
order (block sequence number, then document id), so every document's versions are applied
in order, and one mark per partition tells what is done. A transaction reads its
partition's mark, applies only what lies beyond it, and moves it — in the same
transaction: replaying any batch again, or two workers racing on one partition (OCC), can
never apply a revision twice.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from typing import Any

RESTORE_TABLE = "qldbdr_restore"
PARTITION_TABLE = "qldbdr_partition"
BATCH_TABLE = "qldbdr_batch"
PROJECT_TABLES = (RESTORE_TABLE, PARTITION_TABLE, BATCH_TABLE)

DOCUMENTS_PER_TRANSACTION = 40  # QLDB's limit, bookkeeping included
USER_DOCUMENTS_PER_TRANSACTION = DOCUMENTS_PER_TRANSACTION - 2  # + the partition and batch documents
BYTES_PER_TRANSACTION = 3_500_000  # under QLDB's 4 MB, with room for bookkeeping


class ReportStatus(enum.Enum):
    """How a restore ended, in its report (and the branch the workflow takes on it)."""

    OK = "OK"  # the target was verified equal to the journal
    SUPERSEDED = "SUPERSEDED"  # a later restore of the target wrote past this one's block first; it verifies
    FAILURE = "FAILURE"  # a partition failed, or the target does not equal the journal


class Mode(enum.Enum):
    LATEST = "latest"  # the final state of every document
    HISTORY = "history"  # every revision, in order: history() on the target shows each version


def partition_of(document_id: str, partitions: int) -> int:
    """Stable for a document id and a partition count (not Python's salted hash)."""
    return int.from_bytes(hashlib.sha256(document_id.encode()).digest()[:8], "big") % partitions


REDACTION = "redaction"  # a SourceRevision kind: a later block redacted this document's `version`


@dataclass(frozen=True, slots=True)
class SourceRevision:
    """One revision of a source document, as replay needs it.

    kind: "user" (data), "deleted" (no data), "redacted" (data_hash only), or REDACTION (not a
    revision: the redaction, in block `sequence_no`, of the document's version `version`).
    """

    table: str
    table_id: str
    document_id: str
    version: int
    kind: str
    sequence_no: int
    data: Any = None
    data_hash: bytes | None = None

    @property
    def order(self) -> tuple[int, str]:
        return self.sequence_no, self.document_id

    def to_ion(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "t": self.table,
            "tid": self.table_id,
            "id": self.document_id,
            "v": self.version,
            "k": self.kind,
            "s": self.sequence_no,
        }
        if self.data is not None:
            value["data"] = self.data
        if self.data_hash is not None:
            value["h"] = self.data_hash
        return value

    @classmethod
    def from_ion(cls, value: Any) -> SourceRevision:
        return cls(
            table=str(value["t"]),
            table_id=str(value["tid"]),
            document_id=str(value["id"]),
            version=int(value["v"]),
            kind=str(value["k"]),
            sequence_no=int(value["s"]),
            data=value.get("data"),
            data_hash=None if value.get("h") is None else bytes(value["h"]),
        )


@dataclass(frozen=True, slots=True)
class Target:
    ledger: str
    region: str
