"""A drill's progress as it runs: what the terminal shows live and the console polls.

One mutable record, updated by the drill, read by whoever watches (`to_json()`); `events`
keeps the drill's own lines (a phase begun, a recovery point arrived, the region lost).
"""

from __future__ import annotations

import enum
import json
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qldb_dr.encoding import iso


class Phase(enum.Enum):
    STARTING = "creating the source ledger"
    RUNNING = "running the application"
    LOST = "primary region lost"
    RESTORING = "restoring in the DR region"
    WAITING_FOR_RETRY = "waiting for a retry"
    CHECKING = "checking"
    DONE = "done"


@dataclass
class Progress:
    drill_id: str
    source_ledger: str = ""
    target_ledger: str = ""
    primary_region: str = ""
    dr_region: str = ""
    phase: Phase = Phase.STARTING
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    loss_due_at: datetime | None = None
    loss_at: datetime | None = None
    acknowledged: int = 0
    failed_writes: int = 0
    backups: dict[str, str] = field(default_factory=dict)  # execution ARN -> status
    primary_points: int = 0
    dr_points: int = 0
    last_dr_window_end: datetime | None = None
    restore_id: str | None = None
    restore_executions: list[str] = field(default_factory=list)
    restore_state: str | None = None  # the state the restore's execution is in
    map_counts: dict[str, int] = field(default_factory=dict)
    revisions_applied: int = 0
    revisions_planned: int | None = None
    revisions_per_second: float | None = None
    eta_seconds: float | None = None
    status: str | None = None  # OK | FAILURE once done
    report_key: str | None = None
    error: str | None = None
    events: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def event(self, text: str) -> None:
        with self._lock:
            self.events.append(f"{datetime.now(UTC):%H:%M:%S} {text}")

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            events = list(self.events)
        now = datetime.now(UTC)
        return {
            "drillId": self.drill_id,
            "sourceLedger": self.source_ledger,
            "targetLedger": self.target_ledger,
            "primaryRegion": self.primary_region,
            "drRegion": self.dr_region,
            "phase": self.phase.value,
            "startedAt": iso(self.started_at),
            "elapsedSeconds": round((now - self.started_at).total_seconds(), 1),
            "lossDueAt": None if self.loss_due_at is None else iso(self.loss_due_at),
            "lossAt": None if self.loss_at is None else iso(self.loss_at),
            "acknowledgedWrites": self.acknowledged,
            "failedWrites": self.failed_writes,
            "backups": {
                "started": len(self.backups),
                "succeeded": sum(1 for s in self.backups.values() if s == "SUCCEEDED"),
                "failed": sum(1 for s in self.backups.values() if s not in ("SUCCEEDED", "RUNNING")),
            },
            "recoveryPoints": {"primary": self.primary_points, "dr": self.dr_points},
            "lastDrWindowEnd": None if self.last_dr_window_end is None else iso(self.last_dr_window_end),
            "restore": {
                "restoreId": self.restore_id,
                "executions": list(self.restore_executions),
                "state": self.restore_state,
                "mapCounts": dict(self.map_counts),
                "revisionsApplied": self.revisions_applied,
                "revisionsPlanned": self.revisions_planned,
                "revisionsPerSecond": self.revisions_per_second,
                "etaSeconds": self.eta_seconds,
            },
            "status": self.status,
            "reportKey": self.report_key,
            "error": self.error,
            "events": events[-40:],
        }


def write_status(path: Path, progress: Progress, report: dict[str, Any] | None = None) -> None:
    """The progress (and, at the end, the report) as one JSON file, replaced whole: a reader
    never sees half of it."""
    body = {**progress.to_json(), "report": report}
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps(body, default=str))
    temporary.replace(path)
