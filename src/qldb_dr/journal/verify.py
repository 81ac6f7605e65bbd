"""Verify the exports of one ledger, offline, from the files alone.

One streaming pass over every block feeds eight named checks:

manifest          every export's manifests are present and agree (same ledger, one
                  strand), every listed object exists and holds exactly the blocks its
                  key promises, inside the export's time window
block-hashes      entriesHash = Merkle root of entriesHashList; blockHash =
                  dot(entriesHash, previousBlockHash); the revisions' Merkle root and the
                  transactionInfo / redactionInfo hashes are among the entries
revision-hashes   every revision hash recomputed from its metadata and data (or dataHash)
block-fields      the fields outside the block hash agree with the hashed ones: transactionId
                  is every revision's metadata.txId; blockTimestamp is not before any
                  revision's metadata.txTime or statement's startTime (QLDB writes them
                  milliseconds apart: docs/verify.md)
redactions        every redacted revision is named by a committed redaction (a block's
                  redactionInfo): QLDB's revision hash cannot tell a redacted revision from a
                  whole one, so a revision shown redacted without one is a forgery
chain             sequence numbers are consecutive and each previousBlockHash is the
                  previous blockHash, across the objects of an export
continuity        consecutive exports join with no gap and no overlap
digest-proof      the proof stored beside an export folds the export's block to the
                  ledger digest it was taken against

A JSON export down-converts Ion types, so hashes over user data may not be
recomputable from it: such mismatches are WARNINGs ("not verifiable from a JSON
export"), never silent passes and never FAILUREs that blame intact data.
"""

from __future__ import annotations

import base64
import itertools
import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from qldb_dr.checks import Check, Status, worst
from qldb_dr.errors import JournalFormatError, ObjectNotFoundError, SourceNotFoundError, TamperedObjectError
from qldb_dr.ion import ion_hash
from qldb_dr.journal.export import Export, discover, open_export
from qldb_dr.journal.hashing import block_hash, fold, merkle_root, revision_hash
from qldb_dr.journal.models import Block, BlockAddress, OutputFormat, RevisionKind, parse_object_key
from qldb_dr.journal.reader import detect_format, read_blocks
from qldb_dr.store import Store

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
_REDACT = re.compile(r"^\s*EXEC\s+redact_revision\b", re.IGNORECASE)


def _utc(moment: datetime) -> datetime:
    """Ion's unknown offset (-00:00) is UTC with no local offset known: comparable as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def b64(h: bytes) -> str:
    return base64.b64encode(h).decode()


@dataclass
class ExportSummary:
    """What was read of one export."""

    export_id: str
    location: str
    output_format: str | None = None
    objects: int = 0
    blocks: int = 0
    revisions: int = 0
    first: BlockAddress | None = None
    last: BlockAddress | None = None
    first_previous_hash: bytes | None = None
    last_hash: bytes | None = None
    complete: bool = True  # every listed object was read to the end
    table_revisions: dict[str, int] = field(default_factory=dict)  # user revisions per table name
    table_documents: dict[str, set[str]] = field(default_factory=dict)  # document ids per table name

    def to_json(self) -> dict[str, Any]:
        return {
            "exportId": self.export_id,
            "location": self.location,
            "outputFormat": self.output_format,
            "objects": self.objects,
            "blocks": self.blocks,
            "revisions": self.revisions,
            "firstBlock": None if self.first is None else self.first.sequence_no,
            "lastBlock": None if self.last is None else self.last.sequence_no,
        }


@dataclass
class Report:
    source: str
    ledger_name: str | None
    exports: list[ExportSummary]
    checks: list[Check]
    counts: dict[str, int] = field(default_factory=dict)
    unproven: list[Redacted] = field(default_factory=list)  # redacted revisions whose redaction was not read
    redactions: set[tuple[str, int]] = field(default_factory=set)  # (document id, version) the redactions read name

    @property
    def status(self) -> Status:
        return worst(self.checks)

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "ledgerName": self.ledger_name,
            "status": self.status.name,
            "counts": self.counts,
            "exports": [e.to_json() for e in self.exports],
            "checks": [c.to_json() for c in self.checks],
        }


Progress = Callable[[str, int], None]


def _count_table(summary: ExportSummary, block: Block, document_id: str | None) -> None:
    info = block.transaction_info
    entry = info.documents.get(document_id or "") if info is not None else None
    table = entry.table_name if entry is not None else "(unknown table)"
    summary.table_revisions[table] = summary.table_revisions.get(table, 0) + 1
    summary.table_documents.setdefault(table, set()).add(document_id or "")


class _BlockChecks:
    """The checks that look at blocks one by one, with the previous block for the chain."""

    def __init__(self) -> None:
        self.checks = {name: Check(name, text) for name, text in CHECKS.items()}
        # (document id, version) -> where a redacted revision was read, and where a redaction
        # named one: matched once every block is read
        self.redacted: dict[tuple[str, int], dict[str, Any]] = {}
        self.redactions: dict[tuple[str, int], BlockAddress] = {}
        # each committed `EXEC redact_revision` (where it was) and each completed redaction (the
        # block of its redactionInfo): every request completes in its block or a later one
        self.requested: list[tuple[BlockAddress, str | None]] = []
        self.completed: list[BlockAddress] = []
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
            info_hash = ion_hash(block.transaction_info.ion)
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

    def _redaction_records(self, block: Block, export_id: str | None, location: str | None) -> None:
        for revision in block.revisions or ():
            if revision.kind is RevisionKind.REDACTED and revision.document_id is not None:
                self.redacted[(revision.document_id, int(revision.version or 0))] = {
                    "address": block.address,
                    "export_id": export_id,
                    "location": location,
                }
        statements = block.transaction_info.statements if block.transaction_info is not None else ()
        self.requested += [(block.address, location) for s in statements if _REDACT.match(s.statement)]
        info = block.redaction_info
        entries = info.get("revisions", ()) if info is not None and hasattr(info, "get") else ()
        for entry in entries:
            self.completed.append(block.address)
            try:
                self.redactions[(str(entry["documentId"]), int(entry["version"]))] = block.address
            except (KeyError, TypeError, ValueError):
                self.checks["redactions"].fail(
                    "redactionInfo names no revision (documentId and version)", address=block.address, location=location
                )

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
            computed = revision_hash(revision.metadata, revision.data, revision.data_hash)
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


class _Verifier(_BlockChecks):
    def __init__(self, store: Store, progress: Progress | None) -> None:
        super().__init__()
        self.store = store
        self.progress = progress

    # -- per export ----------------------------------------------------------------------------

    def export(self, export: Export) -> ExportSummary:
        manifest = self.checks["manifest"]
        summary = ExportSummary(export.export_id, export.ref.head)
        where = {"export_id": export.export_id}
        if export.started is None:
            manifest.warn(
                f"export {export.export_id}: no started manifest: ledger name and time window cannot be checked",
                **where,
            )
        if export.completed is None:
            manifest.warn(
                f"export {export.export_id}: no completed manifest: the export is in progress or was cancelled; "
                "not verified",
                **where,
            )
            summary.complete = False
            return summary
        previous_range_end: int | None = None
        previous: Block | None = None
        for key in export.completed.keys:
            summary.objects += 1
            location = export.store_key(key)
            expected = parse_object_key(key)
            if expected is None:
                manifest.fail("object key does not end in <strandId>.<first>-<last>.<ext>", location=location, **where)
                summary.complete = False
                continue
            if export.ref.strand_id and expected.strand_id != export.ref.strand_id:
                manifest.fail(
                    "object belongs to another strand",
                    location=location,
                    expected=export.ref.strand_id,
                    found=expected.strand_id,
                    **where,
                )
            if previous_range_end is not None and expected.first != previous_range_end + 1:
                manifest.fail(
                    "manifest objects are not contiguous",
                    location=location,
                    expected=f"first block {previous_range_end + 1}",
                    found=f"first block {expected.first}",
                    **where,
                )
            previous_range_end = expected.last
            try:
                data = self.store.read(export.store_key(key))
            except ObjectNotFoundError:
                manifest.fail("object listed in the completed manifest is missing", location=location, **where)
                summary.complete = False
                previous = None
                continue
            except TamperedObjectError as exc:
                manifest.fail(exc.detail, location=exc.location, **where)
                summary.complete = False
                if exc.data is None:
                    previous = None
                    continue
                data = exc.data  # not trusted: read on only to say which block differs
            fmt = detect_format(data, key)
            summary.output_format = summary.output_format or fmt.value
            blocks_in_object = 0
            first_seq: int | None = None
            last_seq: int | None = None
            try:
                for block in read_blocks(data, location, fmt):
                    blocks_in_object += 1
                    first_seq = block.sequence_no if first_seq is None else first_seq
                    last_seq = block.sequence_no
                    self.block(block, previous, export, summary, location, fmt)
                    previous = block
            except JournalFormatError as exc:
                manifest.fail(exc.detail, location=exc.location, **where)
                summary.complete = False
                previous = None
                continue
            self._object_range(expected.first, expected.last, first_seq, last_seq, blocks_in_object, location, where)
            if self.progress is not None:
                self.progress(location, blocks_in_object)
        if summary.complete:
            manifest.passed()
        return summary

    def _object_range(
        self,
        first: int,
        last: int,
        first_seq: int | None,
        last_seq: int | None,
        count: int,
        location: str,
        where: dict[str, Any],
    ) -> None:
        manifest = self.checks["manifest"]
        promised = f"blocks {first}-{last} ({last - first + 1})"
        if first_seq is None:
            manifest.fail("object holds no blocks", location=location, expected=promised, found="none", **where)
        elif (first_seq, last_seq, count) != (first, last, last - first + 1):
            manifest.fail(
                "object does not hold the blocks its key names",
                location=location,
                expected=promised,
                found=f"blocks {first_seq}-{last_seq} ({count})",
                **where,
            )

    # -- per block ---------------------------------------------------------------------------

    def block(
        self,
        block: Block,
        previous: Block | None,
        export: Export,
        summary: ExportSummary,
        location: str,
        fmt: OutputFormat,
    ) -> None:
        where = {"export_id": export.export_id, "address": block.address, "location": location}
        json_origin = fmt is OutputFormat.JSON
        summary.blocks += 1
        self.counts["blocks"] += 1
        if summary.first is None:
            summary.first = block.address
            summary.first_previous_hash = block.previous_block_hash
        summary.last = block.address
        summary.last_hash = block.block_hash
        if export.started is not None and not (
            _utc(export.started.inclusive_start_time) <= _utc(block.timestamp) < _utc(export.started.exclusive_end_time)
        ):
            self.checks["manifest"].fail(
                "block committed outside the export's time window",
                expected=f"[{export.started.inclusive_start_time.isoformat()}, "
                f"{export.started.exclusive_end_time.isoformat()})",
                found=block.timestamp.isoformat(),
                **where,
            )
        self._chain(block, previous, where)
        self._block_hashes(block, where, json_origin)
        self._documents(block, where)
        self._revisions(block, summary, where, json_origin)
        self._fields(block, where)
        self._redaction_records(block, export.export_id, location)

    def _documents(self, block: Block, where: dict[str, Any]) -> None:
        """Every document the transaction wrote (transactionInfo is hashed) has its revision in
        an exported block: one taken out, or emptied to a hash, leaves its document named
        there. (A stream's block summary lists hashes only: this is for exports.)"""
        written = block.transaction_info.documents if block.transaction_info is not None else {}
        present = {r.document_id for r in block.revisions or () if r.metadata is not None}
        missing = sorted(d for d in written if d not in present)
        if missing:
            self.checks["block-hashes"].fail(
                f"transactionInfo names documents the block holds no revision of: {', '.join(missing[:3])}",
                **where,
            )

    # -- across exports ------------------------------------------------------------------------

    def continuity(self, summaries: list[ExportSummary]) -> None:
        check = self.checks["continuity"]
        ordered = sorted(
            (s for s in summaries if s.first is not None), key=lambda s: s.first.sequence_no if s.first else 0
        )
        if ordered and ordered[0].first is not None and ordered[0].first.sequence_no != 0:
            check.warn(
                f"the source starts at block {ordered[0].first.sequence_no}; earlier blocks are not in it "
                "(a full restore needs them)",
                export_id=ordered[0].export_id,
                address=ordered[0].first,
            )
        for before, after in itertools.pairwise(ordered):
            assert before.last is not None and after.first is not None
            where = {"export_id": after.export_id, "address": after.first}
            expected_seq = before.last.sequence_no + 1
            if after.first.sequence_no > expected_seq:
                check.fail(
                    f"gap after export {before.export_id}: blocks "
                    f"{expected_seq}-{after.first.sequence_no - 1} are in no export",
                    expected=str(expected_seq),
                    found=str(after.first.sequence_no),
                    **where,
                )
            elif after.first.sequence_no < expected_seq:
                check.fail(
                    f"export overlaps export {before.export_id}",
                    expected=str(expected_seq),
                    found=str(after.first.sequence_no),
                    **where,
                )
            elif after.first_previous_hash != before.last_hash:
                check.fail(
                    f"first block does not chain to the last block of export {before.export_id}",
                    expected=b64(before.last_hash or b""),
                    found=b64(after.first_previous_hash or b""),
                    **where,
                )
            else:
                check.passed()

    def proofs(self, exports: list[Export], summaries: list[ExportSummary], ledger_name: str | None) -> None:
        check = self.checks["digest-proof"]
        for export, summary in zip(exports, summaries, strict=True):
            proof = export.proof
            where = {"export_id": export.export_id, "location": export.ref.proof_key}
            if summary.last is None:
                if proof is not None and summary.complete:
                    self._empty_export_proof(export, proof, exports, summaries, where)
                continue
            if proof is None:
                check.warn("no stored digest and proof: the export is not anchored to a ledger digest", **where)
                continue
            if ledger_name is not None and proof.ledger_name != ledger_name:
                check.fail("the proof is for another ledger", expected=ledger_name, found=proof.ledger_name, **where)
                continue
            if proof.block_address != summary.last or summary.last_hash is None:
                check.fail(
                    "the proof is not for the export's last block",
                    expected=str(summary.last),
                    found=str(proof.block_address),
                    **where,
                )
                continue
            if proof.digest_tip.sequence_no < proof.block_address.sequence_no:
                check.fail(
                    "the digest was taken before the proven block",
                    expected=f"tip >= {proof.block_address.sequence_no}",
                    found=str(proof.digest_tip.sequence_no),
                    **where,
                )
                continue
            candidate = fold(proof.hashes, summary.last_hash)
            if candidate != proof.digest:
                check.fail(
                    "the proof does not fold the block hash to the stored digest",
                    address=summary.last,
                    expected=b64(proof.digest),
                    found=b64(candidate),
                    **where,
                )
            elif not summary.complete:
                check.warn("digest verified, but the export could not be read completely", **where)
            else:
                check.passed()

    def _empty_export_proof(
        self, export: Export, proof: Any, exports: list[Export], summaries: list[ExportSummary], where: dict[str, Any]
    ) -> None:
        """An export of a quiet window holds no blocks, and qldb-dr anchors it to the last block
        already backed up: the last block of the exports before it. A proof for a later block
        means the export held blocks its completed manifest no longer lists."""
        check = self.checks["digest-proof"]
        if export.started is None:
            return
        start = _utc(export.started.inclusive_start_time)
        before = [
            s
            for e, s in zip(exports, summaries, strict=True)
            if s.last is not None and e.started is not None and _utc(e.started.inclusive_start_time) < start
        ]
        previous = max(before, key=lambda s: s.last.sequence_no if s.last else -1, default=None)
        if previous is None or previous.last is None or previous.last_hash is None:
            check.warn(
                f"the export holds no blocks; its proof is for block {proof.block_address.sequence_no}, "
                "which is in no export read",
                **where,
            )
        elif proof.block_address != previous.last:
            check.fail(
                "the export holds no blocks, but its proof is not for the last block of the exports before it: "
                "its manifest does not list blocks it held",
                expected=str(previous.last),
                found=str(proof.block_address),
                **where,
            )
        elif fold(proof.hashes, previous.last_hash) != proof.digest:
            check.fail(
                "the proof does not fold the block hash to the stored digest",
                address=previous.last,
                expected=b64(proof.digest),
                found=b64(fold(proof.hashes, previous.last_hash)),
                **where,
            )
        else:
            check.passed()

    def redaction_matches(self, exports: list[Export], summaries: list[ExportSummary]) -> list[Redacted]:
        """Match every redacted revision to the redaction that names it. Without one, a FAILURE
        where the blocks read cover everything from the revision to the digest its export was
        anchored to (the redaction committed before the export read the journal, so before
        that digest); a WARNING where it could lie in blocks not read. Returns the unmatched."""
        check = self.checks["redactions"]
        runs = _runs(summaries)
        tips = {
            e.export_id: e.proof.digest_tip.sequence_no
            for e, s in zip(exports, summaries, strict=True)
            if e.proof is not None and s.complete
        }
        unmatched = []
        for (document_id, version), seen in sorted(self.redacted.items(), key=lambda kv: kv[1]["address"]):
            address: BlockAddress = seen["address"]
            where = {k: v for k, v in seen.items() if k != "address"}
            named = f"document {document_id} version {version}"
            redaction = self.redactions.get((document_id, version))
            if redaction is not None and redaction.sequence_no > address.sequence_no:
                check.passed()
                continue
            if redaction is not None:
                check.fail(
                    f"{named} is shown redacted by a redaction in block {redaction.sequence_no}, before the revision",
                    address=address,
                    **where,
                )
                continue
            unmatched.append(Redacted(document_id, version, address))
            tip = tips.get(seen["export_id"] or "")
            if tip is not None and _covered(runs, address.sequence_no + 1, tip):
                check.fail(
                    f"{named} is shown redacted, but no redaction of it is committed in blocks "
                    f"{address.sequence_no + 1}-{tip}, where it must be: its data was replaced by its hash",
                    address=address,
                    expected="a redactionInfo naming it",
                    found="none",
                    **where,
                )
            else:
                upto = f" (at or before block {tip})" if tip is not None else ""
                check.warn(
                    f"{named} is shown redacted; the redaction that proves it is in blocks not read{upto}",
                    address=address,
                    **where,
                )
        self._requests_completed()
        return unmatched

    def _requests_completed(self) -> None:
        """Each redaction requested is completed by a redactionInfo in its block or a later one
        (QLDB redacts asynchronously). One still open at the end of the blocks read has not
        completed there — or its redactionInfo was removed: a warning, naming the block."""
        check = self.checks["redactions"]
        open_requests = sorted(self.requested, key=lambda r: r[0].sequence_no)
        for done in sorted(self.completed, key=lambda a: a.sequence_no):
            first = next((r for r in open_requests if r[0].sequence_no <= done.sequence_no), None)
            if first is not None:
                open_requests.remove(first)
        for address, location in open_requests:
            check.warn(
                "a redaction requested in this block (EXEC redact_revision) has not completed in the blocks read: "
                "QLDB completes it in a later block, with a redactionInfo — unless that was removed",
                address=address,
                location=location,
            )


@dataclass(frozen=True, slots=True)
class Redacted:
    """A revision shown redacted whose redaction was not among the blocks verified."""

    document_id: str
    version: int
    address: BlockAddress


def _runs(summaries: list[ExportSummary]) -> list[tuple[int, int]]:
    """The verified block ranges, merged."""
    spans = sorted((s.first.sequence_no, s.last.sequence_no) for s in summaries if s.complete and s.first and s.last)
    merged: list[tuple[int, int]] = []
    for first, last in spans:
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def _covered(runs: list[tuple[int, int]], first: int, last: int) -> bool:
    return first > last or any(a <= first and last <= b for a, b in runs)


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


def verify_source(store: Store, progress: Progress | None = None, heads: Collection[str] | None = None) -> Report:
    """Verify every export in the store (or only those whose head is in `heads`).
    Raises SourceNotFoundError when there is none."""
    refs = [r for r in discover(store) if heads is None or r.head in heads]
    if not refs:
        raise SourceNotFoundError(
            f"{store.url}: no QLDB exports here (no *.started.manifest or *.completed.manifest)",
            hint="point at the directory or s3:// prefix that holds the exports' manifests",
        )
    verifier = _Verifier(store, progress)
    manifest = verifier.checks["manifest"]
    exports: list[Export] = []
    for ref in refs:
        try:
            exports.append(open_export(store, ref))
        except JournalFormatError as exc:
            manifest.fail(exc.detail, location=exc.location)
    ledger_names = sorted({e.started.ledger_name for e in exports if e.started is not None})
    ledger_name = ledger_names[0] if len(ledger_names) == 1 else None
    if len(ledger_names) > 1:
        counts = {n: sum(1 for e in exports if e.started and e.started.ledger_name == n) for n in ledger_names}
        majority = max(ledger_names, key=lambda n: counts[n])
        ledger_name = majority
        for e in exports:
            if e.started is not None and e.started.ledger_name != majority:
                manifest.fail(
                    "manifest of another ledger",
                    export_id=e.export_id,
                    location=e.ref.started_key or e.ref.head,
                    expected=majority,
                    found=e.started.ledger_name,
                )
    summaries = [verifier.export(e) for e in exports]
    verifier.continuity(summaries)
    verifier.proofs(exports, summaries, ledger_name)
    unproven = verifier.redaction_matches(exports, summaries)
    _summarise(verifier, summaries)
    return Report(
        store.url,
        ledger_name,
        summaries,
        list(verifier.checks.values()),
        verifier.counts,
        unproven,
        set(verifier.redactions),
    )


def _summarise(verifier: _Verifier, summaries: list[ExportSummary]) -> None:
    c, n = verifier.checks, verifier.counts
    complete = [s for s in summaries if s.first is not None]
    firsts = [s.first.sequence_no for s in complete if s.first]
    lasts = [s.last.sequence_no for s in complete if s.last]
    span = f", blocks {min(firsts)}-{max(lasts)}" if firsts else ""
    c["manifest"].summary = f"{len(summaries)} exports, {sum(s.objects for s in summaries)} objects{span}"
    c["block-hashes"].summary = f"{c['block-hashes'].checked:,} of {n['blocks']:,} blocks verified"
    recomputable = n["revisions"] - n["systemRevisions"]
    c["revision-hashes"].summary = (
        f"{c['revision-hashes'].checked:,} of {recomputable:,} revisions verified "
        f"({n['deletedRevisions']:,} deletes, {n['redactedRevisions']:,} redacted); "
        f"{n['systemRevisions']:,} system revisions covered by the Merkle root only"
    )
    c["chain"].summary = f"{c['chain'].checked:,} of {n['blocks']:,} blocks linked"
    c["block-fields"].summary = f"{c['block-fields'].checked:,} of {n['blocks']:,} blocks agree with their revisions"
    c[
        "redactions"
    ].summary = (
        f"{c['redactions'].checked:,} of {n['redactedRevisions']:,} redacted revisions matched to their redaction"
    )
    joins = max(len(complete) - 1, 0)
    c["continuity"].summary = f"{c['continuity'].checked} of {joins} joins between exports verified"
    anchored = c["digest-proof"].checked
    read = sum(1 for s in summaries if s.complete)
    c["digest-proof"].summary = f"{anchored} of {read} exports anchored to a ledger digest"
    for check in c.values():
        if check.status is Status.OK and not check.checked:
            check.summary += " (nothing to check)"
