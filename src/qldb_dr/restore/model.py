"""The restore's vocabulary: its request, its plan, the revisions it replays, and the tables it
keeps in the target ledger.

Project-owned tables in the target (documented names; user documents get no extra fields):

    qldbdr_restore    one document: the source ledger this target restores, its mode, the
                      partition count, and the watermark (last source block applied)
    qldbdr_partition  one document per partition: the last source revision applied to it
                      (block sequence number, then document id) — the version guard
    qldbdr_batch      one document per replay transaction: the source-id -> target-id map
                      of the documents it wrote, with the source version applied

Replay is partitioned by source document id; a partition's revisions are applied in source
order (block sequence number, then document id), so every document's versions are applied
in order, and one mark per partition tells what is done. A transaction reads its
partition's mark, applies only what lies beyond it, and moves it — in the same
transaction: replaying any batch again, or two workers racing on one partition (OCC), can
never apply a revision twice.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from qldb_dr.errors import InvalidInputError

RESTORE_TABLE = "qldbdr_restore"
PARTITION_TABLE = "qldbdr_partition"
BATCH_TABLE = "qldbdr_batch"
PROJECT_TABLES = (RESTORE_TABLE, PARTITION_TABLE, BATCH_TABLE)

DOCUMENTS_PER_TRANSACTION = 40  # QLDB's limit, bookkeeping included
USER_DOCUMENTS_PER_TRANSACTION = DOCUMENTS_PER_TRANSACTION - 2  # + the partition and batch documents
BYTES_PER_TRANSACTION = 3_500_000  # under QLDB's 4 MB, with room for bookkeeping
DEFAULT_PARTITIONS = 16
DEFAULT_MAX_CONCURRENCY = 8


class ReportStatus(enum.Enum):
    """How a restore ended, in its report (and the branch the workflow takes on it)."""

    OK = "OK"  # the target was verified equal to the journal
    SUPERSEDED = "SUPERSEDED"  # a later restore of the target wrote past this one's block first; it verifies
    FAILURE = "FAILURE"  # a partition failed, or the target does not equal the journal


class Mode(enum.Enum):
    LATEST = "latest"  # the final state of every document
    HISTORY = "history"  # every revision, in order: history() on the target shows each version


def partition_of(document_id: str, partitions: int) -> int:
    """Stable for a document id and a partition count (not Python's salted hash)."""
    return int.from_bytes(hashlib.sha256(document_id.encode()).digest()[:8], "big") % partitions


REDACTION = "redaction"  # a SourceRevision kind: a later block redacted this document's `version`


@dataclass(frozen=True, slots=True)
class SourceRevision:
    """One revision of a source document, as replay needs it.

    kind: "user" (data), "deleted" (no data), "redacted" (data_hash only), or REDACTION (not a
    revision: the redaction, in block `sequence_no`, of the document's version `version`).
    """

    table: str
    table_id: str
    document_id: str
    version: int
    kind: str
    sequence_no: int
    data: Any = None
    data_hash: bytes | None = None

    @property
    def order(self) -> tuple[int, str]:
        return self.sequence_no, self.document_id

    def to_ion(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "t": self.table,
            "tid": self.table_id,
            "id": self.document_id,
            "v": self.version,
            "k": self.kind,
            "s": self.sequence_no,
        }
        if self.data is not None:
            value["data"] = self.data
        if self.data_hash is not None:
            value["h"] = self.data_hash
        return value

    @classmethod
    def from_ion(cls, value: Any) -> SourceRevision:
        return cls(
            table=str(value["t"]),
            table_id=str(value["tid"]),
            document_id=str(value["id"]),
            version=int(value["v"]),
            kind=str(value["k"]),
            sequence_no=int(value["s"]),
            data=value.get("data"),
            data_hash=None if value.get("h") is None else bytes(value["h"]),
        )


@dataclass(frozen=True, slots=True)
class Target:
    ledger: str
    region: str


@dataclass(frozen=True, slots=True)
class RestoreRequest:
    """What an operator asks for. One of recovery_point / at / block, or none (the latest)."""

    source_ledger: str
    target: Target
    mode: Mode
    recovery_point: str | None = None
    at: datetime | None = None
    block: int | None = None
    incremental: bool = False  # only what the target's watermark does not cover (standby)
    partitions: int = DEFAULT_PARTITIONS
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY

    @classmethod
    def parse(cls, event: Any, region: str) -> RestoreRequest:
        if not isinstance(event, dict) or not event.get("sourceLedger") or not event.get("targetLedger"):
            raise InvalidInputError(f"a restore needs {{sourceLedger, targetLedger}}, got {event!r:.200}")
        chosen = [k for k in ("recoveryPointId", "at", "block") if event.get(k) is not None]
        if len(chosen) > 1:
            raise InvalidInputError(f"choose one of recoveryPointId, at and block, not {' and '.join(chosen)}")
        try:
            mode = Mode(event.get("mode", "latest"))
        except ValueError as exc:
            raise InvalidInputError(f"mode must be latest or history, not {event.get('mode')!r}") from exc
        for field_name in ("sourceLedger", "targetLedger"):
            check_ledger_name(str(event[field_name]), field_name)
        at = None if event.get("at") is None else parse_time(str(event["at"]))
        block = _count(event, "block", None)
        partitions = _count(event, "partitions", DEFAULT_PARTITIONS)
        concurrency = _count(event, "maxConcurrency", DEFAULT_MAX_CONCURRENCY)
        if block is not None and block < 0:
            raise InvalidInputError("block must be a block sequence number (0 or more)")
        if not 1 <= partitions <= 1024:
            raise InvalidInputError(f"partitions must be 1 to 1024, not {partitions}")
        if not 1 <= concurrency <= 1000:
            raise InvalidInputError(f"maxConcurrency must be 1 to 1000, not {concurrency}")
        return cls(
            source_ledger=str(event["sourceLedger"]),
            target=Target(str(event["targetLedger"]), str(event.get("targetRegion") or region)),
            mode=mode,
            recovery_point=event.get("recoveryPointId"),
            at=at,
            block=block,
            incremental=bool(event.get("incremental", False)),
            partitions=partitions,
            max_concurrency=concurrency,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "sourceLedger": self.source_ledger,
            "targetLedger": self.target.ledger,
            "targetRegion": self.target.region,
            "mode": self.mode.value,
            "recoveryPointId": self.recovery_point,
            "at": None if self.at is None else iso(self.at),
            "block": self.block,
            "incremental": self.incremental,
            "partitions": self.partitions,
            "maxConcurrency": self.max_concurrency,
        }


# QLDB's rule for ledger names (the API's pattern): 1-32 letters, digits and hyphens, not all
# digits, no leading, trailing or doubled hyphen.
_LEDGER_NAME = re.compile(r"(?!^.*--)(?!^[0-9]+$)(?!^-)(?!.*-$)^[A-Za-z0-9-]{1,32}$")


def check_ledger_name(name: str, what: str = "ledger") -> str:
    if not _LEDGER_NAME.match(name):
        raise InvalidInputError(
            f"{what} {name!r} is not a QLDB ledger name: 1 to 32 letters, digits and hyphens, not all digits, "
            "with no hyphen first, last or twice in a row"
        )
    return name


def _count(event: dict[str, Any], name: str, default: int | None) -> Any:
    value = event.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be a whole number, not {value!r}") from exc


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """An ISO 8601 time; UTC when it has no offset."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInputError(
            f"{text!r} is not a time: use ISO 8601, e.g. 2026-12-06T14:30:00Z, 2026-12-06T14:30:00.250+01:00 or "
            "2026-12-06 (UTC when no offset is given)"
        ) from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()
