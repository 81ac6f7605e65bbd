"""The checks across exports, once every block is read: continuity (consecutive exports join
with no gap and no overlap) and digest-proof (the proof stored beside an export folds its
last block to the ledger digest it was taken against)."""

from __future__ import annotations

import itertools
from typing import Any

from qldb_dr.encoding import b64
from qldb_dr.journal.export import Export
from qldb_dr.journal.hashing import fold
from qldb_dr.journal.verify.blocks import _BlockChecks, _utc
from qldb_dr.journal.verify.report import ExportSummary


class _AcrossExports(_BlockChecks):
    """The continuity and digest-proof checks, over the summaries of the exports read."""

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
