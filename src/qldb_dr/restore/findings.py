"""What one export object showed when Partition read it: its findings.

Partition reads each object once and runs every per-block check of `verify` over it (block
and revision hashes, block fields, the chain inside the object, the object holding the blocks
its key names, inside its export's window) while it splits it. What the checks need across
objects — the object's first block (and its previousBlockHash), its last block (and its
blockHash), the redacted revisions and the redactions it holds — is kept here, for the gate
after Partition to join (`restore.gate`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qldb_dr.checks import Check, Status
from qldb_dr.encoding import b64, parse_iso
from qldb_dr.journal.export import Export, ExportRef
from qldb_dr.journal.models import Block, BlockAddress, StartedManifest
from qldb_dr.journal.verify.exports import _Verifier
from qldb_dr.journal.verify.report import ExportSummary
from qldb_dr.store import Store
from qldb_dr.store.pinned import Recorder


def _export(item: dict[str, Any], ledger: str) -> Export:
    """The export an object belongs to, as far as its blocks' checks need it: its id, strand
    and time window (Plan Restore read them from its pinned manifests)."""
    info = item["export"]
    started = None
    if info.get("start") is not None:
        started = StartedManifest(
            ledger_name=ledger,
            export_id=str(info["exportId"]),
            inclusive_start_time=parse_iso(info["start"]),
            exclusive_end_time=parse_iso(info["end"]),
            bucket="",
            prefix="",
            object_encryption_type="",
        )
    return Export(ExportRef(str(info["head"]), None, None, info.get("strandId")), started, None, None)


def read(store: Store, item: dict[str, Any], each: Callable[[Block], None], ledger: str = "") -> dict[str, Any]:
    """Read the item's object from `store`, check it and hand every block to `each`. Returns
    its findings (JSON), with the version and SHA-256 of the bytes checked (`read`: a step that
    reads the object again reads those bytes or nothing)."""
    key = str(item["key"])
    export = _export(item, ledger)
    recorder = Recorder(store)
    verifier = _Verifier(recorder, None)
    summary = ExportSummary(export.export_id, export.ref.head)
    verifier.strand(export, key, key)
    verifier.object(export, key, key, None, summary, each)
    if summary.complete:
        verifier.checks["manifest"].passed()
    checks = list(verifier.checks.values())
    return {
        "verified": summary.complete and all(c.status is not Status.FAILURE for c in checks),
        "checks": [c.to_json() for c in checks if c.checked or c.findings],
        "blocks": summary.blocks,
        "strandId": None if summary.first is None else summary.first.strand_id,
        "first": None if summary.first is None else summary.first.sequence_no,
        "firstPreviousHash": None if summary.first_previous_hash is None else b64(summary.first_previous_hash),
        "last": None if summary.last is None else summary.last.sequence_no,
        "lastHash": None if summary.last_hash is None else b64(summary.last_hash),
        # (document id, version, block): matched across objects once every object is read
        "redacted": [[d, v, seen["address"].sequence_no] for (d, v), seen in verifier.redacted.items()],
        "redactions": [[d, v, address.sequence_no] for (d, v), address in verifier.redactions.items()],
        "requested": [address.sequence_no for address, _ in verifier.requested],
        "completed": [address.sequence_no for address in verifier.completed],
        "read": pin.to_json() if (pin := recorder.pins.get(key)) is not None else None,
    }


def merge(checks: dict[str, Check], found: list[dict[str, Any]]) -> None:
    """Add one object's checks (as `read` wrote them) into `checks`: counts and findings."""
    for value in found:
        check = checks[value["name"]]
        check.checked += int(value["checked"])
        failures, warnings = check.failures, check.warnings
        for finding in value["findings"]:
            address = finding.get("blockAddress")
            where = {
                "export_id": finding.get("exportId"),
                "address": None if address is None else BlockAddress(address["strandId"], int(address["sequenceNo"])),
                "location": finding.get("location"),
                "expected": finding.get("expected"),
                "found": finding.get("found"),
            }
            if finding["status"] == Status.FAILURE.name:
                check.fail(finding["message"], **where)
            else:
                check.warn(finding["message"], **where)
        # the findings beyond those each object kept are counted still
        check.failures = failures + int(value["failures"])
        check.warnings = warnings + int(value["warnings"])
