"""Reading the exports of a source: the manifest check (every object of an export present,
holding the blocks its key promises, inside the export's time window) and every block read
handed to the per-block checks. `_Verifier` is all the checks of `verify_source`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qldb_dr.errors import JournalFormatError, ObjectNotFoundError, TamperedObjectError
from qldb_dr.journal.export import Export
from qldb_dr.journal.models import Block, OutputFormat, parse_object_key
from qldb_dr.journal.reader import detect_format, read_blocks
from qldb_dr.journal.verify.across import _AcrossExports
from qldb_dr.journal.verify.blocks import _utc
from qldb_dr.journal.verify.redactions import _RedactionChecks
from qldb_dr.journal.verify.report import ExportSummary
from qldb_dr.store import Store

Progress = Callable[[str, int], None]


class _Verifier(_AcrossExports, _RedactionChecks):
    """Every check of `verify_source`: per block, per export and across exports."""

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
            self.strand(export, key, location)
            if previous_range_end is not None and expected.first != previous_range_end + 1:
                manifest.fail(
                    "manifest objects are not contiguous",
                    location=location,
                    expected=f"first block {previous_range_end + 1}",
                    found=f"first block {expected.first}",
                    **where,
                )
            previous_range_end = expected.last
            previous = self.object(export, key, location, previous, summary)
        if summary.complete:
            manifest.passed()
        return summary

    def strand(self, export: Export, key: str, location: str) -> None:
        """The object (a key that names a range, at `location`) belongs to the export's strand."""
        expected = parse_object_key(key)
        if expected is not None and export.ref.strand_id and expected.strand_id != export.ref.strand_id:
            self.checks["manifest"].fail(
                "object belongs to another strand",
                location=location,
                expected=export.ref.strand_id,
                found=expected.strand_id,
                export_id=export.export_id,
            )

    def object(
        self,
        export: Export,
        key: str,
        location: str,
        previous: Block | None,
        summary: ExportSummary,
        each: Callable[[Block], None] | None = None,
    ) -> Block | None:
        """Read and check one data object of `export` (a key its completed manifest lists, at
        `location` in the store), chained to `previous` (the block before it, None: the first
        read); `each` sees every block read. Returns the object's last block, None when it
        could not be read through."""
        manifest = self.checks["manifest"]
        where = {"export_id": export.export_id}
        expected = parse_object_key(key)
        assert expected is not None  # the caller checked that the key names a range
        try:
            data = self.store.read(location)
        except ObjectNotFoundError:
            manifest.fail("object listed in the completed manifest is missing", location=location, **where)
            summary.complete = False
            return None
        except TamperedObjectError as exc:
            manifest.fail(exc.detail, location=exc.location, **where)
            summary.complete = False
            if exc.data is None:
                return None
            data = exc.data  # not trusted: read on only to say which block differs
        fmt = detect_format(data, key)
        summary.output_format = summary.output_format or fmt.value
        blocks_in_object = 0
        first_seq: int | None = None
        last_seq: int | None = None
        try:
            for block in read_blocks(data, location, fmt, hashes=True):
                blocks_in_object += 1
                first_seq = block.sequence_no if first_seq is None else first_seq
                last_seq = block.sequence_no
                self.block(block, previous, export, summary, location, fmt)
                if each is not None:
                    each(block)
                previous = block
        except JournalFormatError as exc:
            manifest.fail(exc.detail, location=exc.location, **where)
            summary.complete = False
            return None
        self._object_range(expected.first, expected.last, first_seq, last_seq, blocks_in_object, location, where)
        if self.progress is not None:
            self.progress(location, blocks_in_object)
        return previous

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
