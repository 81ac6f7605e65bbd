"""QLDB journal operations of the control plane: GetDigest, GetBlock and GetRevision (with
proofs that fold to the digest, shaped like QLDB's)."""

from __future__ import annotations

import base64
from typing import Any

from amazon.ion import simpleion

from qldb_dr.ion import load_binary
from qldb_dr.journal.reader import ION_TEXT_ERRORS
from qldb_dr.local.ledger.engine import Ledger
from qldb_dr.local.ledger.errors import InvalidParameter
from qldb_dr.local.ledger.exports import Exports
from qldb_dr.local.ledger.registry import Registry
from qldb_dr.local.server.control import ControlService, page_start, page_token


def _paged(items: list[dict[str, Any]], query: dict[str, list[str]]) -> dict[str, Any]:
    size = min(int(query.get("max_results", ["100"])[0]), 100)
    start = page_start(query)
    result: dict[str, Any] = {"JournalS3Exports": items[start : start + size]}
    if start + size < len(items):
        result["NextToken"] = page_token(start + size)
    return result


def _ion_text(value: Any) -> str:
    text: str = simpleion.dumps(value, binary=False, omit_version_marker=True)
    return text


def _address(holder: Any, what: str, ledger: Ledger) -> int:
    """The sequence number of a {IonText: "{strandId: …, sequenceNo: …}"} on this ledger's strand."""
    try:
        value = simpleion.loads(holder["IonText"])
        strand, sequence = str(value["strandId"]), value["sequenceNo"]
    except (KeyError, TypeError, *ION_TEXT_ERRORS) as exc:
        raise InvalidParameter(f"{what} must be {{IonText: \"{{strandId: '…', sequenceNo: N}}\"}}") from exc
    if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 0:
        raise InvalidParameter(f"{what}.sequenceNo must be a non-negative int")
    if strand != ledger.strand_id:
        raise InvalidParameter(f"{what} names strand {strand}; ledger {ledger.name} has strand {ledger.strand_id}")
    if sequence > ledger.tip_seq:
        raise InvalidParameter(f"{what} sequenceNo {sequence} is beyond the ledger's last block {ledger.tip_seq}")
    return int(sequence)


def _tip_holder(ledger: Ledger, tip: int) -> dict[str, str]:
    return {"IonText": _ion_text({"strandId": ledger.strand_id, "sequenceNo": tip})}


def _proof(hashes: list[bytes]) -> dict[str, str]:
    return {"IonText": _ion_text(list(hashes))}


class JournalService:
    def __init__(self, registry: Registry, exports: Exports) -> None:
        self.registry = registry
        self.exports = exports

    def register(self, control: ControlService) -> None:
        control.add("POST", "/ledgers/{name}/digest", self.get_digest)
        control.add("POST", "/ledgers/{name}/block", self.get_block)
        control.add("POST", "/ledgers/{name}/revision", self.get_revision)
        control.add("POST", "/ledgers/{name}/journal-s3-exports", self.export_journal)
        control.add("GET", "/ledgers/{name}/journal-s3-exports", self.list_exports_for_ledger)
        control.add("GET", "/ledgers/{name}/journal-s3-exports/{export}", self.describe_export)
        control.add("GET", "/journal-s3-exports", self.list_exports)

    # -- exports ---------------------------------------------------------------------------------

    def export_journal(
        self, params: dict[str, str], body: dict[str, Any], _: Any, region: str
    ) -> tuple[int, dict[str, Any]]:
        ledger = self.registry.ledger(region, params["name"])
        for field in ("InclusiveStartTime", "ExclusiveEndTime", "S3ExportConfiguration", "RoleArn"):
            if field not in body:
                raise InvalidParameter(f"ExportJournalToS3 needs {field}")
        return 200, {"ExportId": self.exports.start(ledger, region, body)}

    def describe_export(self, params: dict[str, str], _: Any, __: Any, region: str) -> tuple[int, dict[str, Any]]:
        ledger = self.registry.ledger(region, params["name"], active=False)
        return 200, {"ExportDescription": self.exports.describe(ledger, params["export"]).describe()}

    def list_exports_for_ledger(
        self, params: dict[str, str], _: Any, query: dict[str, list[str]], region: str
    ) -> tuple[int, dict[str, Any]]:
        ledger = self.registry.ledger(region, params["name"], active=False)
        return 200, _paged([j.describe() for j in self.exports.jobs(ledger)], query)

    def list_exports(self, _: Any, __: Any, query: dict[str, list[str]], region: str) -> tuple[int, dict[str, Any]]:
        jobs = []
        for name in self.registry.names(region):
            jobs += [j.describe() for j in self.exports.jobs(self.registry.ledger(region, name, active=False))]
        jobs.sort(key=lambda d: (d["ExportCreationTime"], d["ExportId"]))
        return 200, _paged(jobs, query)

    def get_digest(self, params: dict[str, str], _: Any, __: Any, region: str) -> tuple[int, dict[str, Any]]:
        ledger = self.registry.ledger(region, params["name"])
        digest, tip = ledger.digest()
        if tip < 0:
            raise InvalidParameter(f"Ledger {ledger.name} has no blocks yet")
        return 200, {"Digest": base64.b64encode(digest).decode(), "DigestTipAddress": _tip_holder(ledger, tip)}

    def get_block(
        self, params: dict[str, str], body: dict[str, Any], _: Any, region: str
    ) -> tuple[int, dict[str, Any]]:
        ledger = self.registry.ledger(region, params["name"])
        seq = _address(body.get("BlockAddress"), "BlockAddress", ledger)
        body_bytes = ledger.block_body(seq)
        assert body_bytes is not None
        result: dict[str, Any] = {"Block": {"IonText": _ion_text(load_binary(body_bytes))}}
        if body.get("DigestTipAddress") is not None:
            tip = _address(body["DigestTipAddress"], "DigestTipAddress", ledger)
            if tip < seq:
                raise InvalidParameter("DigestTipAddress must not be before BlockAddress")
            result["Proof"] = _proof(ledger.block_proof(seq, tip))
        return 200, result

    def get_revision(
        self, params: dict[str, str], body: dict[str, Any], _: Any, region: str
    ) -> tuple[int, dict[str, Any]]:
        ledger = self.registry.ledger(region, params["name"])
        seq = _address(body.get("BlockAddress"), "BlockAddress", ledger)
        document_id = body.get("DocumentId")
        body_bytes = ledger.block_body(seq)
        assert body_bytes is not None
        revisions = load_binary(body_bytes).get("revisions") or []
        index = next(
            (i for i, r in enumerate(revisions) if r.get("metadata") and r["metadata"]["id"] == document_id), None
        )
        if index is None:
            raise InvalidParameter(f"document {document_id} has no revision in block {seq}")
        result: dict[str, Any] = {"Revision": {"IonText": _ion_text(revisions[index])}}
        if body.get("DigestTipAddress") is not None:
            tip = _address(body["DigestTipAddress"], "DigestTipAddress", ledger)
            if tip < seq:
                raise InvalidParameter("DigestTipAddress must not be before BlockAddress")
            result["Proof"] = _proof(ledger.revision_proof(seq, index, tip))
        return 200, result
