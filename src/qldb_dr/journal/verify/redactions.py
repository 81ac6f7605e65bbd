"""The redactions check: every redacted revision is named by a committed redaction (a block's
redactionInfo), and every redaction requested (`EXEC redact_revision`) completes. Blocks are
recorded as they are read; they are matched once every block is read."""

from __future__ import annotations

import re
from typing import Any

from qldb_dr.journal.export import Export
from qldb_dr.journal.models import Block, BlockAddress, RevisionKind
from qldb_dr.journal.verify.blocks import _BlockChecks
from qldb_dr.journal.verify.report import ExportSummary, Redacted

_REDACT = re.compile(r"^\s*EXEC\s+redact_revision\b", re.IGNORECASE)


class _RedactionChecks(_BlockChecks):
    """The redactions check, over the blocks of every export."""

    def __init__(self) -> None:
        super().__init__()
        # (document id, version) -> where a redacted revision was read, and where a redaction
        # named one: matched once every block is read
        self.redacted: dict[tuple[str, int], dict[str, Any]] = {}
        self.redactions: dict[tuple[str, int], BlockAddress] = {}
        # each committed `EXEC redact_revision` (where it was) and each completed redaction (the
        # block of its redactionInfo): every request completes in its block or a later one
        self.requested: list[tuple[BlockAddress, str | None]] = []
        self.completed: list[BlockAddress] = []

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

    def redaction_matches(self, exports: list[Export], summaries: list[ExportSummary]) -> list[Redacted]:
        """Match every redacted revision to the redaction that names it. Without one, a FAILURE
        where the blocks read cover everything from the revision to the digest its export was
        anchored to (the redaction committed before the export read the journal, so before
        that digest); a WARNING where it could lie in blocks not read. Returns the unmatched."""
        tips = {
            e.export_id: e.proof.digest_tip.sequence_no
            for e, s in zip(exports, summaries, strict=True)
            if e.proof is not None and s.complete
        }
        return self.match_redactions(_runs(summaries), tips)

    def match_redactions(self, runs: list[tuple[int, int]], tips: dict[str, int]) -> list[Redacted]:
        """`redaction_matches` over the block ranges verified (`runs`, merged) and the digest
        tip of each export read completely (export id -> sequence number)."""
        check = self.checks["redactions"]
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
