"""Build hashed journal blocks the way QLDB does (used by the local ledger and generators).

QLDB's `entriesHashList` holds, besides the revisions' Merkle root and the
transactionInfo hash, opaque system hashes that nobody outside QLDB can recompute
(docs/export-format.md). In their place this builder puts the Ion hash of the block header
(address, transaction id, timestamp), so a block's identity is bound into its hash; a
verifier treats it as opaque, exactly as it treats QLDB's.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from amazon.ion.core import Timestamp, TimestampPrecision

from qldb_dr.ion import ion_hash
from qldb_dr.journal.hashing import block_hash, merkle_root, revision_hash
from qldb_dr.journal.models import Block, BlockAddress, DocumentEntry, Revision, Statement, TransactionInfo

_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def new_id() -> str:
    """A 22-character base62 id, the shape of QLDB's document, transaction and export ids."""
    n = int.from_bytes(secrets.token_bytes(24)) % _ID_SPACE  # 192 random bits: no visible modulo bias
    chars = []
    for _ in range(22):
        n, digit = divmod(n, 62)
        chars.append(_BASE62[digit])
    return "".join(chars)


_ID_SPACE = 62**22


def millis(moment: datetime) -> Timestamp:
    """`moment` as a UTC Ion timestamp with millisecond precision, as QLDB writes them."""
    utc = moment.astimezone(UTC)
    return Timestamp(
        utc.year,
        utc.month,
        utc.day,
        utc.hour,
        utc.minute,
        utc.second,
        (utc.microsecond // 1000) * 1000,
        UTC,
        precision=TimestampPrecision.SECOND,
        fractional_precision=3,
    )


def make_revision(
    address: BlockAddress, metadata: Mapping[str, Any], data: Any = None, data_hash: bytes | None = None
) -> Revision:
    """A user, deleted (no data) or redacted (data_hash) revision, hashed."""
    return Revision(
        hash=revision_hash(metadata, data, data_hash),
        address=address,
        data=data,
        data_hash=data_hash,
        metadata=metadata,
    )


def make_metadata(document_id: str, version: int, tx_time: datetime, tx_id: str) -> dict[str, Any]:
    return {"id": document_id, "version": version, "txTime": tx_time, "txId": tx_id}


def system_revision(content: Any) -> Revision:
    """A hash-only internal revision (catalog changes: tables, indexes)."""
    return Revision(hash=ion_hash(content))


def transaction_info_ion(statements: Sequence[Statement], documents: Mapping[str, DocumentEntry]) -> dict[str, Any]:
    value: dict[str, Any] = {
        "statements": [
            {"statement": s.statement, "startTime": s.start_time, "statementDigest": s.digest} for s in statements
        ]
    }
    if documents:
        value["documents"] = {
            doc_id: {"tableName": d.table_name, "tableId": d.table_id, "statements": list(d.statements)}
            for doc_id, d in documents.items()
        }
    return value


def build_block(
    *,
    address: BlockAddress,
    previous_block_hash: bytes,
    transaction_id: str,
    timestamp: datetime,
    statements: Sequence[Statement],
    documents: Mapping[str, DocumentEntry],
    revisions: Sequence[Revision],
    redaction_info: Any = None,
) -> Block:
    info_ion = transaction_info_ion(statements, documents)
    header = {"blockAddress": address.to_ion(), "transactionId": transaction_id, "blockTimestamp": timestamp}
    entries = [ion_hash(header)]
    if revisions:
        entries.append(merkle_root([r.hash for r in revisions]))
    if redaction_info is not None:
        entries.append(ion_hash(redaction_info))
    entries.append(ion_hash(info_ion))
    entries_hash = merkle_root(entries)
    return Block(
        address=address,
        transaction_id=transaction_id,
        timestamp=timestamp,
        block_hash=block_hash(entries_hash, previous_block_hash),
        entries_hash=entries_hash,
        previous_block_hash=previous_block_hash,
        entries_hash_list=tuple(entries),
        transaction_info=TransactionInfo(tuple(statements), dict(documents), info_ion),
        redaction_info=redaction_info,
        revisions=tuple(revisions),
    )
