"""What the backup steps hand each other in the execution's state: the window's plan and what
Verify Export established."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from qldb_dr.catalog import TableCounts
from qldb_dr.encoding import b64, iso, parse_iso, unb64
from qldb_dr.errors import InvalidInputError
from qldb_dr.journal.export import Proof
from qldb_dr.journal.models import BlockAddress
from qldb_dr.journal.verify import Report
from qldb_dr.store.pinned import Pin


@dataclass(frozen=True, slots=True)
class Plan:
    """The next window, and the last block already backed up (None before the first)."""

    start: datetime
    end: datetime
    previous: str | None  # recovery point id this window continues
    previous_block: BlockAddress | None  # the last block of the recovery point it continues
    previous_block_hash: bytes | None

    def to_json(self) -> dict[str, Any]:
        return {
            "windowStart": iso(self.start),
            "windowEnd": iso(self.end),
            "previousRecoveryPointId": self.previous,
            "previousBlock": None if self.previous_block is None else self.previous_block.to_ion(),
            "previousBlockHash": b64(self.previous_block_hash),
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Plan:
        previous = value.get("previousBlock")
        return cls(
            start=parse_iso(value["windowStart"]),
            end=parse_iso(value["windowEnd"]),
            previous=value.get("previousRecoveryPointId"),
            previous_block=None if previous is None else BlockAddress.from_ion(previous),
            previous_block_hash=unb64(value.get("previousBlockHash")),
        )


@dataclass(frozen=True, slots=True)
class Verification:
    """What Verify Export established about one export; Record Recovery Point records it."""

    export_id: str
    blocks: int
    revisions: int
    first: BlockAddress | None
    last: BlockAddress | None
    first_previous_hash: bytes | None
    last_hash: bytes | None
    tables: dict[str, TableCounts]
    proof: Proof | None
    status: str
    checks: list[dict[str, str]]
    pins: dict[str, Pin] = field(default_factory=dict)  # what was verified: each object's version and SHA-256

    @classmethod
    def of(cls, export_id: str, report: Report, proof: Proof | None, pins: dict[str, Pin]) -> Verification:
        s = report.exports[0]
        return cls(
            export_id=export_id,
            blocks=s.blocks,
            revisions=s.revisions,
            first=s.first,
            last=s.last,
            first_previous_hash=s.first_previous_hash,
            last_hash=s.last_hash,
            tables={
                name: TableCounts(n, len(s.table_documents.get(name, ()))) for name, n in s.table_revisions.items()
            },
            proof=proof,
            status=report.status.name,
            checks=[{"name": c.name, "status": c.status.name, "summary": c.summary} for c in report.checks],
            pins=dict(pins),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "exportId": self.export_id,
            "blocks": self.blocks,
            "revisions": self.revisions,
            "firstBlock": None if self.first is None else self.first.to_ion(),
            "lastBlock": None if self.last is None else self.last.to_ion(),
            "firstPreviousBlockHash": b64(self.first_previous_hash),
            "lastBlockHash": b64(self.last_hash),
            "tables": {k: {"revisions": v.revisions, "documents": v.documents} for k, v in self.tables.items()},
            "proof": None if self.proof is None else json.loads(self.proof.to_json()),
            "status": self.status,
            "checks": self.checks,
            "pins": {k: p.to_json() for k, p in self.pins.items()},
        }

    @classmethod
    def from_json(cls, value: Any) -> Verification:
        try:
            proof = value.get("proof")
            return cls(
                export_id=value["exportId"],
                blocks=int(value["blocks"]),
                revisions=int(value["revisions"]),
                first=_address(value.get("firstBlock")),
                last=_address(value.get("lastBlock")),
                first_previous_hash=unb64(value.get("firstPreviousBlockHash")),
                last_hash=unb64(value.get("lastBlockHash")),
                tables={k: TableCounts(int(v["revisions"]), int(v["documents"])) for k, v in value["tables"].items()},
                proof=None if proof is None else Proof.from_json(json.dumps(proof).encode(), "state"),
                status=value["status"],
                checks=list(value["checks"]),
                pins={str(k): Pin.from_json(v) for k, v in (value.get("pins") or {}).items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"the verification in the state is incomplete ({exc})") from exc


def _address(value: Any) -> BlockAddress | None:
    return None if value is None else BlockAddress.from_ion(value)
