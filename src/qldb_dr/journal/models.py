"""Typed, immutable models of a QLDB journal: block addresses, blocks, revisions, manifests.

Models keep the original Ion values where hashing needs them (`metadata`,
`transaction_info.ion`, `redaction_info`): a hash is computed over the value exactly as
QLDB wrote it, never over a re-built copy. Read from an ION_BINARY export, they also carry
those hashes computed from the very bytes the values were decoded from (`metadata_ion_hash`,
`data_ion_hash`, `transaction_info.ion_hash`): the same hash, without serialising the values.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True, order=True)
class BlockAddress:
    """Position of a block in the journal: a strand and a sequence number from 0."""

    strand_id: str
    sequence_no: int

    def __str__(self) -> str:
        return f"{self.strand_id}:{self.sequence_no}"

    def to_ion(self) -> dict[str, Any]:
        return {"strandId": self.strand_id, "sequenceNo": self.sequence_no}

    @classmethod
    def from_ion(cls, value: Any) -> BlockAddress:
        """What `to_ion` wrote (as Ion or JSON); KeyError, TypeError or ValueError otherwise."""
        return cls(str(value["strandId"]), int(value["sequenceNo"]))


class RevisionKind(enum.Enum):
    """What a journal revision records (docs/export-format.md)."""

    USER = "user"  # data + metadata: an insert (version 0) or an update
    DELETED = "deleted"  # metadata only: the document was deleted
    REDACTED = "redacted"  # dataHash in place of data: redacted historic revision
    SYSTEM = "system"  # hash only: internal, not recomputable


@dataclass(frozen=True, slots=True)
class Revision:
    """One entry of a block's `revisions` list."""

    hash: bytes
    address: BlockAddress | None = None
    data: Any = None
    data_hash: bytes | None = None
    metadata: Any = None  # the Ion struct {id, version, txTime, txId}, as read
    # H(metadata), H(data) from the bytes they were read from, or None (hash the values).
    metadata_ion_hash: bytes | None = field(default=None, compare=False, repr=False)
    data_ion_hash: bytes | None = field(default=None, compare=False, repr=False)

    @property
    def kind(self) -> RevisionKind:
        if self.metadata is None:
            return RevisionKind.SYSTEM
        if self.data is not None:
            return RevisionKind.USER
        if self.data_hash is not None:
            return RevisionKind.REDACTED
        return RevisionKind.DELETED

    @property
    def document_id(self) -> str | None:
        return None if self.metadata is None else str(self.metadata["id"])

    @property
    def version(self) -> int | None:
        return None if self.metadata is None else int(self.metadata["version"])


@dataclass(frozen=True, slots=True)
class Statement:
    """One PartiQL statement of a transaction, as recorded in `transactionInfo`."""

    statement: str
    start_time: datetime
    digest: bytes


@dataclass(frozen=True, slots=True)
class DocumentEntry:
    """`transactionInfo.documents[id]`: the table a document belongs to and its statements."""

    table_name: str
    table_id: str
    statements: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class TransactionInfo:
    """A block's `transactionInfo`; `ion` is the value as read, which is what gets hashed."""

    statements: tuple[Statement, ...]
    documents: Mapping[str, DocumentEntry]
    ion: Any = field(compare=False, repr=False)
    ion_hash: bytes | None = field(default=None, compare=False, repr=False)  # H(ion) from its bytes, if read so


@dataclass(frozen=True, slots=True)
class Block:
    """One journal block, as exported, returned by GetBlock, or built by the local ledger."""

    address: BlockAddress
    transaction_id: str
    timestamp: datetime
    block_hash: bytes
    entries_hash: bytes
    previous_block_hash: bytes
    entries_hash_list: tuple[bytes, ...]
    transaction_info: TransactionInfo | None = None
    redaction_info: Any = None
    revisions: tuple[Revision, ...] | None = None

    @property
    def sequence_no(self) -> int:
        return self.address.sequence_no


class OutputFormat(enum.Enum):
    """`ExportJournalToS3` OutputFormat."""

    ION_BINARY = "ION_BINARY"
    ION_TEXT = "ION_TEXT"
    JSON = "JSON"

    @property
    def extension(self) -> str:
        """Data object file extension: both Ion formats use `.ion` (told apart by content)."""
        return "json" if self is OutputFormat.JSON else "ion"


@dataclass(frozen=True, slots=True)
class StartedManifest:
    """`<prefix><exportId>.started.manifest`, written when the export is accepted."""

    ledger_name: str
    export_id: str
    inclusive_start_time: datetime
    exclusive_end_time: datetime
    bucket: str
    prefix: str
    object_encryption_type: str
    output_format: str | None = None


@dataclass(frozen=True, slots=True)
class CompletedManifest:
    """`<prefix><exportId>.<strandId>.completed.manifest`: the ordered data object keys."""

    keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ObjectRange:
    """The block range a data object's key promises: `<strandId>.<first>-<last>.<ext>`."""

    strand_id: str
    first: int
    last: int
    extension: str


def parse_object_key(key: str) -> ObjectRange | None:
    """The range in a data object key, split on the last two dots (prefixes may hold dots)."""
    name = key.rsplit("/", 1)[-1]
    parts = name.rsplit(".", 2)
    if len(parts) != 3:
        return None
    strand, span, extension = parts
    first, dash, last = span.partition("-")
    if not dash or not first.isdigit() or not last.isdigit() or not strand:
        return None
    return ObjectRange(strand, int(first), int(last), extension)
