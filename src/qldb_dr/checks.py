"""Verification as named checks: each ends OK, WARNING or FAILURE, with findings.

A `Check` accumulates while data streams past it: `passed()` counts what was checked,
`warn()` and `fail()` record findings (the first few in full, all of them counted).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Protocol

FINDINGS_KEPT = 20


class Address(Protocol):
    """Where in a journal a finding is (a block address): checks know no more of journals."""

    @property
    def strand_id(self) -> str: ...

    @property
    def sequence_no(self) -> int: ...


class Status(enum.IntEnum):
    """Ordered so that the worst of several is `max()`."""

    OK = 0
    WARNING = 1
    FAILURE = 2


@dataclass(frozen=True, slots=True)
class Finding:
    status: Status
    message: str
    export_id: str | None = None
    address: Address | None = None
    location: str | None = None
    expected: str | None = None
    found: str | None = None

    def describe(self) -> str:
        """One line: where, what, expected versus found."""
        parts = []
        if self.address is not None:
            parts.append(f"block {self.address.sequence_no}")
        if self.location:
            parts.append(f"in {self.location}")
        where = " ".join(parts)
        text = f"{where}: {self.message}" if where else self.message
        if self.expected is not None or self.found is not None:
            text += f" (expected {self.expected}, found {self.found})"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status.name,
            "message": self.message,
            "exportId": self.export_id,
            "blockAddress": None
            if self.address is None
            else {"strandId": self.address.strand_id, "sequenceNo": self.address.sequence_no},
            "location": self.location,
            "expected": self.expected,
            "found": self.found,
        }


@dataclass
class Check:
    name: str
    description: str
    checked: int = 0
    summary: str = ""
    findings: list[Finding] = field(default_factory=list)
    warnings: int = 0
    failures: int = 0

    @property
    def status(self) -> Status:
        if self.failures:
            return Status.FAILURE
        if self.warnings:
            return Status.WARNING
        return Status.OK

    def passed(self, count: int = 1) -> None:
        self.checked += count

    def fail(self, message: str, **where: Any) -> None:
        self.failures += 1
        self._record(Finding(Status.FAILURE, message, **where))

    def warn(self, message: str, **where: Any) -> None:
        self.warnings += 1
        self._record(Finding(Status.WARNING, message, **where))

    def _record(self, finding: Finding) -> None:
        if len(self.findings) < FINDINGS_KEPT:
            self.findings.append(finding)

    def first(self) -> Finding | None:
        """The first finding of the check's worst status."""
        return next((f for f in self.findings if f.status == self.status), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "status": self.status.name,
            "summary": self.summary,
            "checked": self.checked,
            "failures": self.failures,
            "warnings": self.warnings,
            "findings": [f.to_json() for f in self.findings],
        }


def worst(checks: list[Check]) -> Status:
    return max((c.status for c in checks), default=Status.OK)
