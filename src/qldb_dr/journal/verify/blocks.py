"""The checks that look at blocks one by one: block-hashes, revision-hashes, block-fields and
chain. `_BlockChecks` holds every named check and the counts; `verify_blocks` runs its checks
over blocks held in memory, and the verifier of exports (`exports`) extends it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from qldb_dr.checks import Check
from qldb_dr.encoding import b64
from qldb_dr.ion import ion_hash
from qldb_dr.journal.hashing import block_hash, merkle_root, revision_hash
from qldb_dr.journal.models import Block, RevisionKind
from qldb_dr.journal.verify.report import ExportSummary

CHECKS = {
    "manifest": "manifests present and consistent; every object present, holding the blocks its key names",
    "block-hashes": "entriesHash, blockHash, revisions root and transactionInfo hash of every block",
    "revision-hashes": "every revision hash recomputed from metadata and data",
    "block-fields": "transactionId and blockTimestamp agree with the hashed revision metadata and statements",
    "redactions": "every redacted revision is named by a committed redaction",
    "chain": "consecutive sequence numbers; previousBlockHash = previous blockHash",
    "continuity": "consecutive exports join with no gap and no overlap",
    "digest-proof": "stored proofs fold each export's last block to the ledger digest",
}

NOT_FROM_JSON = "not verifiable from a JSON export (Ion types are lost in JSON)"
TIMESTAMP_SLACK_SECONDS = 60  # a block's timestamp this long after its transaction's own times is not QLDB's


def _utc(moment: datetime) -> datetime:
    """Ion's unknown offset (-00:00) is UTC with no local offset known: comparable as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _count_table(summary: ExportSummary, block: Block, document_id: str | None) -> None:
    info = block.transaction_info
    entry = info.documents.get(document_id or "") if info is not None else None
    table = entry.table_name if entry is not None else "(unknown table)"
    summary.table_revisions[table] = summary.table_revisions.get(table, 0) + 1
    summary.table_documents.setdefault(table, set()).add(document_id or "")


class _BlockChecks:
    """The checks that look at blocks one by one, with the previous block for the chain. Holds
    every named check (CHECKS) and the counts, for the checks that extend it."""

    def __init__(self) -> None:
        self.checks = {name: Check(name, text) for name, text in CHECKS.items()}
        self.counts = {
            "blocks": 0,
            "revisions": 0,
            "userRevisions": 0,
            "deletedRevisions": 0,
            "redactedRevisions": 0,
            "systemRevisions": 0,
            "jsonUnverified": 0,
        }

    def _chain(self, block: Block, previous: Block | None, where: dict[str, Any]) -> None:
        chain = self.checks["chain"]
        if previous is None:
            chain.passed()
            return
        if block.sequence_no != previous.sequence_no + 1:
            chain.fail(
                "sequence numbers are not consecutive (a block is missing or out of order)",
                expected=str(previous.sequence_no + 1),
                found=str(block.sequence_no),
                **where,
            )
        elif block.previous_block_hash != previous.block_hash:
            chain.fail(
                "previousBlockHash is not the previous block's blockHash",
                expected=b64(previous.block_hash),
                found=b64(block.previous_block_hash),
                **where,
            )
        else:
            chain.passed()

    def _block_hashes(self, block: Block, where: dict[str, Any], json_origin: bool) -> None:
        check = self.checks["block-hashes"]
        failures = check.failures
        entries = block.entries_hash_list
        computed = merkle_root(entries)
        if computed != block.entries_hash:
            check.fail(
                "entriesHash is not the Merkle root of entriesHashList",
                expected=b64(computed),
                found=b64(block.entries_hash),
                **where,
            )
        computed = block_hash(block.entries_hash, block.previous_block_hash)
        if computed != block.block_hash:
            check.fail(
                "blockHash is not dot(entriesHash, previousBlockHash)",
                expected=b64(computed),
                found=b64(block.block_hash),
                **where,
            )
        if block.revisions:
            root = merkle_root([r.hash for r in block.revisions])
            if root not in entries:
                check.fail("the revisions' Merkle root is not in entriesHashList", expected=b64(root), **where)
        if block.transaction_info is not None:
            info = block.transaction_info
            info_hash = info.ion_hash if info.ion_hash is not None else ion_hash(info.ion)
            if info_hash not in entries:
                if json_origin:
                    check.warn("transactionInfo hash " + NOT_FROM_JSON, **where)
                    self.counts["jsonUnverified"] += 1
                else:
                    check.fail("transactionInfo hash is not in entriesHashList", expected=b64(info_hash), **where)
        if block.redaction_info is not None:
            info_hash = ion_hash(block.redaction_info)
            if info_hash not in entries:
                if json_origin:
                    check.warn("redactionInfo hash " + NOT_FROM_JSON, **where)
                    self.counts["jsonUnverified"] += 1
                else:
                    check.fail("redactionInfo hash is not in entriesHashList", expected=b64(info_hash), **where)
        if check.failures == failures:
            check.passed()

    def _fields(self, block: Block, where: dict[str, Any]) -> None:
        """blockTimestamp and transactionId are outside every hash; the revisions' metadata
        (txId, txTime) and the statements' startTime are inside. Real QLDB blocks (the golden
        data) have txId = transactionId and txTime 2-21 ms before blockTimestamp."""
        check = self.checks["block-fields"]
        failures, warnings = check.failures, check.warnings
        info = block.transaction_info
        stamped = _utc(block.timestamp)
        moments = [
            (_utc(s.start_time), "a statement's startTime") for s in (info.statements if info is not None else ())
        ]
        for revision in block.revisions or ():
            if revision.metadata is None:
                continue
            tx_id, tx_time = revision.metadata.get("txId"), revision.metadata.get("txTime")
            if tx_id is not None and str(tx_id) != block.transaction_id:
                check.fail(
                    f"transactionId is not the metadata.txId of document {revision.document_id} version "
                    f"{revision.version}",
                    expected=str(tx_id),
                    found=block.transaction_id,
                    **where,
                )
            if isinstance(tx_time, datetime):
                moments.append((_utc(tx_time), "its revisions' metadata.txTime"))
        for moment, what in moments:
            if moment > stamped:
                check.fail(
                    f"blockTimestamp is before {what}",
                    expected=f"at or after {moment.isoformat()}",
                    found=block.timestamp.isoformat(),
                    **where,
                )
                break
        latest = max((m for m, _ in moments), default=None)
        if latest is not None and (stamped - latest).total_seconds() > TIMESTAMP_SLACK_SECONDS:
            check.warn(
                f"blockTimestamp is {(stamped - latest).total_seconds():,.0f} s after the transaction's own "
                "times (QLDB writes them milliseconds apart)",
                expected=f"shortly after {latest.isoformat()}",
                found=block.timestamp.isoformat(),
                **where,
            )
        if (check.failures, check.warnings) == (failures, warnings):
            check.passed()

    def _revisions(self, block: Block, summary: ExportSummary | None, where: dict[str, Any], json_origin: bool) -> None:
        check = self.checks["revision-hashes"]
        for revision in block.revisions or ():
            if summary is not None:
                summary.revisions += 1
            self.counts["revisions"] += 1
            kind = revision.kind
            self.counts[f"{kind.value}Revisions"] += 1
            if kind is RevisionKind.SYSTEM:
                continue  # not recomputable; covered by the revisions' Merkle root
            if summary is not None:
                _count_table(summary, block, revision.document_id)
            document = f"document {revision.document_id} version {revision.version}"
            if revision.address is not None and revision.address != block.address:
                check.fail(
                    f"{document}: revision blockAddress is not its block's address",
                    expected=str(block.address),
                    found=str(revision.address),
                    **where,
                )
                continue
            computed = revision_hash(
                revision.metadata,
                revision.data,
                revision.data_hash,
                metadata_ion_hash=revision.metadata_ion_hash,
                data_ion_hash=revision.data_ion_hash,
            )
            if computed == revision.hash:
                check.passed()
            elif json_origin:
                check.warn(f"{document}: hash " + NOT_FROM_JSON, **where)
                self.counts["jsonUnverified"] += 1
            elif kind is RevisionKind.DELETED:
                check.warn(
                    f"{document}: deleted revision's hash is not H(metadata); QLDB's rule for deleted "
                    "revisions is unconfirmed (docs/export-format.md), so only the Merkle root covers it",
                    expected=b64(computed),
                    found=b64(revision.hash),
                    **where,
                )
            else:
                check.fail(
                    f"{document}: revision hash does not match its metadata and data",
                    expected=b64(computed),
                    found=b64(revision.hash),
                    **where,
                )


def verify_blocks(blocks: Iterable[Block], *, json_origin: bool = False) -> list[Check]:
    """The block-hashes, revision-hashes and chain checks over blocks held in memory
    (GetBlock responses, stream block summaries, a ledger's own journal)."""
    verifier = _BlockChecks()
    previous = None
    for block in blocks:
        where = {"address": block.address}
        verifier.counts["blocks"] += 1
        verifier._chain(block, previous, where)
        verifier._block_hashes(block, where, json_origin)
        verifier._revisions(block, None, where, json_origin)
        verifier._fields(block, where)
        previous = block
    return [verifier.checks[name] for name in ("block-hashes", "revision-hashes", "block-fields", "chain")]
