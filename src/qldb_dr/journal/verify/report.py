"""What verify reports: the summary of each export read, the report of a source, and the
redacted revisions whose redaction was not read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qldb_dr.checks import Check, Status, worst
from qldb_dr.journal.models import BlockAddress


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


@dataclass(frozen=True, slots=True)
class Redacted:
    """A revision shown redacted whose redaction was not among the blocks verified."""

    document_id: str
    version: int
    address: BlockAddress
