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

The modules: `report` (Report, ExportSummary, Redacted), `blocks` (the per-block checks and
`verify_blocks`), `redactions`, `across` (continuity and digest-proof), `exports` (reading
exports: the manifest check) and `source` (`verify_source`).
"""

from __future__ import annotations

from qldb_dr.journal.verify.blocks import CHECKS, NOT_FROM_JSON, TIMESTAMP_SLACK_SECONDS, verify_blocks
from qldb_dr.journal.verify.exports import Progress
from qldb_dr.journal.verify.report import ExportSummary, Redacted, Report
from qldb_dr.journal.verify.source import verify_source

__all__ = [
    "CHECKS",
    "NOT_FROM_JSON",
    "TIMESTAMP_SLACK_SECONDS",
    "ExportSummary",
    "Progress",
    "Redacted",
    "Report",
    "verify_blocks",
    "verify_source",
]
