"""Plan Restore: choose the recovery points and the last block to restore, check the vault's
metadata for them in the region the restore runs in (catalog, manifests, continuity, proofs
against their digests), and write the plan (and the Map manifests) to the vault.

The vault is read once: Partition reads each data object, verifies it and splits it in one
pass, and the gate after it (`restore.gate`) joins what every object showed to what this
checked, learns the tables and indexes the source had at the last block, and refuses to go on
unless everything verified. Nothing is written to the target before that: corruption or
tampering in the DR vault stops the restore before any write, naming the block.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from qldb_dr.catalog import Catalog, RecoveryPoint, Vault, data_keys, pinned_store
from qldb_dr.checks import Check, Status
from qldb_dr.encoding import b64, iso
from qldb_dr.errors import (
    CatalogError,
    JournalFormatError,
    NoRecoveryPointsError,
    OutOfRangeError,
    PredecessorMissingError,
    ReplicationPendingError,
    VaultVerificationError,
)
from qldb_dr.journal.export import (
    COMPLETED_SUFFIX,
    PROOF_SUFFIX,
    STARTED_SUFFIX,
    Export,
    ExportRef,
    discover,
    open_export,
)
from qldb_dr.journal.models import Block, parse_object_key
from qldb_dr.journal.verify import ExportSummary, Redacted, verify_source
from qldb_dr.journal.verify.exports import _Verifier
from qldb_dr.partiql import ast, parse
from qldb_dr.partiql.errors import PartiqlError
from qldb_dr.restore.model import Mode
from qldb_dr.restore.settings import Settings
from qldb_dr.store import Store
from qldb_dr.store.pinned import pinned


@dataclass
class Table:
    """One table of the source: a name can have several over time (created, dropped, created
    again); its id is learnt from the documents written to it."""

    name: str
    active: bool = True
    ids: set[str] = field(default_factory=set)
    indexes: list[str] = field(default_factory=list)


@dataclass
class Schema:
    """The source's tables and their indexed fields, as of the last block restored."""

    tables: list[Table] = field(default_factory=list)
    by_id: dict[str, Table] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def _current(self, name: str) -> Table | None:
        return next((t for t in reversed(self.tables) if t.name == name and t.active), None)

    def document(self, table_id: str, name: str) -> None:
        """A document of table `table_id` (named `name`) was written: the table is the active
        one of that name when the document's first statement ran."""
        if table_id in self.by_id:
            return
        table = self._current(name)
        if table is None:
            table = Table(name)
            self.tables.append(table)
        table.ids.add(table_id)
        self.by_id[table_id] = table

    def apply(self, statement: str) -> None:
        try:
            node = parse(statement).statement
        except PartiqlError:
            return  # not DDL we can read; data statements are replayed as revisions, not text
        if isinstance(node, ast.CreateTable):
            self.tables.append(Table(node.name))
        elif isinstance(node, ast.DropTable):
            table = self._current(node.name)
            if table is not None:
                table.active = False
        elif isinstance(node, ast.UndropTable):
            undropped = self.by_id.get(node.table_id)
            if undropped is None:
                self.notes.append(
                    f"UNDROP TABLE {node.table_id}: no document of that table is in the journal, so its name is "
                    "unknown; the target does not get it"
                )
            else:
                undropped.active = True
        elif isinstance(node, ast.CreateIndex):
            indexed = self._current(node.table)
            if indexed is not None and node.field not in indexed.indexes:
                indexed.indexes.append(node.field)
        elif isinstance(node, ast.DropIndex):
            self.notes.append(
                f"DROP INDEX {node.index_id} ON {node.table}: the journal does not say which field it indexed; "
                "the target keeps the table's indexes"
            )

    def active(self) -> list[Table]:
        return sorted((t for t in self.tables if t.active), key=lambda t: t.name)

    def to_json(self) -> dict[str, Any]:
        active = self.active()
        names = {t.name for t in active}
        return {
            "tables": [t.name for t in active],
            "tableIds": sorted(i for t in active for i in t.ids),
            "dropped": sorted({t.name for t in self.tables if not t.active and t.name not in names}),
            "indexes": {t.name: t.indexes for t in active if t.indexes},
            # every table the source has had, in creation order: Prepare Target maps them to its own
            "sources": [
                {"name": t.name, "active": t.active, "ids": sorted(t.ids), "indexes": t.indexes} for t in self.tables
            ],
            "notes": self.notes,
        }


def select(points: list[RecoveryPoint], settings: Settings) -> tuple[list[RecoveryPoint], int | None]:
    """The recovery points up to the requested one and, when the settings name one, the last block.

    The cut for `at` needs block timestamps, read later; this returns None for it."""
    if not points:
        raise NoRecoveryPointsError(f"ledger {settings.source_ledger} has no recovery points in this vault")
    filled = [p for p in points if p.last_block is not None]
    first, last = points[0].window_start, points[-1].window_end
    if settings.recovery_point_id is not None:
        index = next((i for i, p in enumerate(points) if p.recovery_point_id == settings.recovery_point_id), None)
        if index is None:
            raise OutOfRangeError(
                f"recovery point {settings.recovery_point_id} of {settings.source_ledger} is not in this vault",
                hint="list them with `qldb-dr backup list`",
            )
        chosen = points[: index + 1]
        last_filled = next((p for p in reversed(chosen) if p.last_block is not None), None)
        cut: int | None = -1 if last_filled is None else last_filled.last_block.sequence_no  # type: ignore[union-attr]
    elif settings.block is not None:
        top = filled[-1].last_block.sequence_no if filled else -1  # type: ignore[union-attr]
        if settings.block > top:
            raise OutOfRangeError(f"block {settings.block} is beyond the vault's last block {top}")
        chosen = [p for p in points if p.first_block is None or p.first_block.sequence_no <= settings.block]
        cut = settings.block
    elif settings.at is not None:
        if not first <= settings.at < last:
            raise OutOfRangeError(
                f"{iso(settings.at)} is outside the vault's range for {settings.source_ledger}: "
                f"{iso(first)} to {iso(last)} (exclusive)"
            )
        chosen = [p for p in points if p.window_start <= settings.at]
        cut = None
    else:
        chosen = list(points)
        cut = filled[-1].last_block.sequence_no if filled else -1  # type: ignore[union-attr]
    return chosen, cut


def beyond(points: list[RecoveryPoint], watermark: int) -> list[RecoveryPoint]:
    """The recovery points that hold blocks after the target's watermark."""
    return [p for p in points if p.last_block is None or p.last_block.sequence_no > watermark]


def check_chain(points: list[RecoveryPoint], watermark: int, arrived: Collection[str]) -> None:
    """The selected recovery points must continue the target's watermark without a gap.

    One that holds no blocks (a quiet window) is anchored to the last block of the points
    before it — so its predecessor (`arrived`: the ids of the points in this vault) must be
    here: else its proof names a block no point read holds, as a manifest that dropped blocks
    would."""
    expected = watermark + 1
    for point in points:
        if point.first_block is None:
            if point.previous is not None and point.previous not in arrived:
                raise PredecessorMissingError(
                    f"recovery point {point.recovery_point_id} holds no blocks and continues recovery point "
                    f"{point.previous}, which has not reached this vault yet",
                )
            continue
        if point.first_block.sequence_no > expected:
            raise PredecessorMissingError(
                f"recovery point {point.recovery_point_id} starts at block {point.first_block.sequence_no} but the "
                f"next block to apply is {expected}: its predecessor has not reached this vault yet",
            )
        expected = point.last_block.sequence_no + 1  # type: ignore[union-attr]


@dataclass
class Plan:
    """What Plan Restore decides from metadata alone. The schema, the counts and — for a point
    in time (`at`) — the cut are learnt as Partition reads the journal, and the gate after it
    writes them into the plan (`restore.gate`)."""

    restore_id: str
    settings: Settings
    points: list[RecoveryPoint]
    cut: int | None  # None: the last block before `at`, known once the journal is read
    watermark: int
    objects: list[dict[str, Any]]
    journal: list[dict[str, Any]]  # the catalog's view of each recovery point to verify
    later: list[str]  # the recovery points after the chosen ones (a redaction may be proven there)
    notes: list[str]
    created: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "formatVersion": 2,
            "restoreId": self.restore_id,
            "request": self.settings.to_json(),
            "recoveryPoints": [p.recovery_point_id for p in self.points],
            "cut": self.cut,
            "watermark": self.watermark,
            "partitions": self.settings.partitions,
            "schema": Schema(notes=list(self.notes)).to_json(),
            "vaultNotes": self.notes,
            "journal": self.journal,
            "laterRecoveryPoints": self.later,
            "verified": False,  # the gate sets it, with the schema and the counts
            "revisions": 0,
            "blocks": 0,
            "createdAt": iso(self.created),
        }


def plan(restore_id: str, settings: Settings, vault: Vault, watermark: int, now: datetime) -> Plan:
    """Choose what to restore and check the vault's metadata for it: the catalog, the exports'
    manifests, the continuity of the recovery points and each export's proof against its
    digest. No data object is read here: Partition reads each one once, verifies and splits it,
    and the gate after it joins the objects' findings to what this checked."""
    catalog = Catalog(vault)
    points = catalog.recovery_points(settings.source_ledger)
    chosen, cut = select(points, settings)
    selected = beyond(chosen, watermark)
    check_chain(selected, watermark, {p.recovery_point_id for p in points})
    if cut is not None and cut < watermark:
        raise OutOfRangeError(
            f"the target already holds the source up to block {watermark}, beyond the requested block {cut}",
            hint="restore the earlier point into a new target ledger",
        )
    _arrived(vault, selected)
    # Every object of a recovery point is read at the version it pinned, its SHA-256 checked;
    # the ones to restore are watched (their versions listed) for newer versions written over them.
    pins = {key: pin for point in points for key, pin in point.pins.items()}
    reading = pinned(vault.store, pins, [p.export_head for p in chosen if p.pins])
    exports = _metadata(Vault(reading, vault.prefix), selected)
    objects = _objects(reading, chosen, exports, settings, cut)
    overwritten = {**catalog.overwritten, **reading.overwritten}
    notes = [
        f"{vault.store.describe(key)}: a newer version was written over this locked object; the restore read "
        "the version its recovery point pinned — report it, the vault has been tampered with"
        for key in sorted(overwritten)
    ]
    journal = [
        {
            "recoveryPointId": p.recovery_point_id,
            "exportId": p.export_id,
            "firstBlock": None if p.first_block is None else p.first_block.sequence_no,
            "firstPreviousHash": None if p.first_previous_hash is None else b64(p.first_previous_hash),
            "lastBlock": None if p.last_block is None else p.last_block.sequence_no,
            "lastHash": None if p.last_block_hash is None else b64(p.last_block_hash),
            "digestTip": exports[p.export_head].proof.digest_tip.sequence_no  # type: ignore[union-attr]
            if exports[p.export_head].proof is not None
            else None,
        }
        for p in selected
    ]
    later = [p.recovery_point_id for p in points[points.index(chosen[-1]) + 1 :]] if chosen else []
    return Plan(restore_id, settings, selected, cut, watermark, objects, journal, later, notes, now)


def _arrived(vault: Vault, points: list[RecoveryPoint]) -> None:
    """Every object of the recovery points' exports is in the vault: a catalog object can
    reach the DR vault before the export it describes (replication keeps no order)."""
    for point in points:
        head = point.export_head
        expected = [head + STARTED_SUFFIX, head + PROOF_SUFFIX, *point.objects]
        if point.strand_id is not None:
            expected.append(f"{head}.{point.strand_id}{COMPLETED_SUFFIX}")
        missing = next((k for k in expected if not vault.store.exists(k)), None)
        if missing is not None:
            raise ReplicationPendingError(
                f"recovery point {point.recovery_point_id} has not fully reached this vault: "
                f"{vault.store.describe(missing)} is missing",
                hint="replication is in flight: retry later; if it never arrives, use the other region's vault",
            )


def failed(checks: list[Check]) -> None:
    """Raise VaultVerificationError naming the first finding of each failed check (three at most)."""
    failing = [c for c in checks if c.status is Status.FAILURE]
    if failing:
        findings = "; ".join(f"{c.name}: {f.describe() if (f := c.first()) else c.summary}" for c in failing[:3])
        raise VaultVerificationError(
            f"the vault failed verification — {findings}; nothing was written to the target",
            hint="restore from the other region's vault, or from an earlier recovery point",
        )


def _metadata(vault: Vault, points: list[RecoveryPoint]) -> dict[str, Export]:
    """The checks of `verify` that need no data object, over the recovery points to restore:
    each export's manifests (present, one ledger, one strand, object keys contiguous), the
    recovery points joining with no gap or overlap (as the catalog recorded their first and
    last blocks) and each proof folding the catalog's last block hash to its digest. The gate
    after Partition holds the objects to the same first and last blocks and hashes."""
    verifier = _Verifier(vault.store, None)
    manifest = verifier.checks["manifest"]
    exports: dict[str, Export] = {}
    summaries = []
    for point in points:
        ref = ExportRef(
            point.export_head,
            point.export_head + STARTED_SUFFIX,
            None if point.strand_id is None else f"{point.export_head}.{point.strand_id}{COMPLETED_SUFFIX}",
            point.strand_id,
        )
        summary = ExportSummary(point.export_id, point.export_head, point.output_format)
        try:
            export = open_export(vault.store, ref)
        except JournalFormatError as exc:  # a tampered manifest or proof among them
            manifest.fail(exc.detail, location=exc.location, export_id=point.export_id)
            export = Export(ref, None, None, None)
            summary.complete = False
        exports[point.export_head] = export
        if export.started is not None and export.started.ledger_name != point.ledger_name:
            manifest.fail(
                "manifest of another ledger",
                export_id=point.export_id,
                location=ref.started_key,
                expected=point.ledger_name,
                found=export.started.ledger_name,
            )
        keys = export.completed.keys if export.completed is not None else ()
        previous_last: int | None = None
        for key in keys:
            promised = parse_object_key(key)
            if promised is None:
                manifest.fail(
                    "object key does not end in <strandId>.<first>-<last>.<ext>",
                    location=export.store_key(key),
                    export_id=point.export_id,
                )
                continue
            verifier.strand(export, key, export.store_key(key))
            if previous_last is not None and promised.first != previous_last + 1:
                manifest.fail(
                    "manifest objects are not contiguous",
                    location=export.store_key(key),
                    expected=f"first block {previous_last + 1}",
                    found=f"first block {promised.first}",
                    export_id=point.export_id,
                )
            previous_last = promised.last
        summary.objects = len(keys)
        summary.first, summary.last = point.first_block, point.last_block
        summary.first_previous_hash, summary.last_hash = point.first_previous_hash, point.last_block_hash
        summaries.append(summary)
    verifier.continuity(summaries)
    verifier.proofs(list(exports.values()), summaries, points[0].ledger_name if points else None)
    for point, export in zip(points, exports.values(), strict=True):
        if export.proof is not None and export.proof.digest != point.digest:
            verifier.checks["digest-proof"].fail(
                f"recovery point {point.recovery_point_id}: the stored proof is not for the digest the catalog "
                "recorded",
                export_id=point.export_id,
                location=export.ref.proof_key,
                expected=b64(point.digest),
                found=b64(export.proof.digest),
            )
    failed(list(verifier.checks.values()))
    return exports


def _objects(
    store: Store, chosen: list[RecoveryPoint], exports: dict[str, Export], settings: Settings, cut: int | None
) -> list[dict[str, Any]]:
    """The Partition Map's items, in journal order: every data object of the recovery points to
    restore (an object past the cut is still checked) and, before them, those the target
    already holds — read for the tables (an incremental restore's new recovery points may not
    touch every table) and, for the tables undropped since, their revisions again
    (`restore.catchup`). Partition verifies every one of them as it reads it: the schema and
    any revision read again come from verified blocks, chained to the proven last one."""
    objects: list[dict[str, Any]] = []
    for point in chosen:
        if point.first_block is None:
            continue
        export = exports.get(point.export_head)
        if export is None:  # a recovery point the target holds: its manifests, through the pins
            ref = next(r for r in discover(store.scoped(point.export_head)) if r.head == point.export_head)
            export = open_export(store, ref)
        window = export.started
        for location in data_keys(store, point):
            promised = parse_object_key(location)
            if promised is None:
                raise CatalogError(f"recovery point {point.recovery_point_id}: {location} names no block range")
            objects.append(
                {
                    "bucket": getattr(store, "bucket", ""),
                    "key": location,
                    "first": promised.first,
                    "last": promised.last,
                    "recoveryPointId": point.recovery_point_id,
                    "export": {
                        "head": point.export_head,
                        "exportId": point.export_id,
                        "strandId": point.strand_id,
                        "start": None if window is None else iso(window.inclusive_start_time),
                        "end": None if window is None else iso(window.exclusive_end_time),
                    },
                    "cut": cut,
                    "at": None if settings.at is None or cut is not None else iso(settings.at),
                    **({"pin": point.pins[location].to_json()} if location in point.pins else {}),
                }
            )
    return objects


def proven(vault: Vault, later: list[RecoveryPoint], unproven: list[Redacted]) -> None:
    """A revision shown redacted is treated as redacted only with the redaction that proves it:
    in the recovery points read, or — its redaction committed after them — in a later one of
    the vault (verified, and read at its pinned versions). The one path that reads data
    objects outside Partition, taken only for a redaction committed after the last point read."""
    wanted = {(r.document_id, r.version) for r in unproven}
    if later:
        reading = pinned_store(vault.store, later)
        report = verify_source(reading.scoped(later[0].export_prefix), heads={p.export_head for p in later})
        if report.status is not Status.FAILURE:
            wanted -= report.redactions
    if wanted:
        first = next(r for r in unproven if (r.document_id, r.version) in wanted)
        raise VaultVerificationError(
            f"document {first.document_id} version {first.version} (block {first.address.sequence_no}) is shown "
            "redacted, but no redaction in the vault proves it; nothing was written to the target",
            hint="restore a point before that block (--block), or wait for the next recovery point, which holds "
            "the redaction if it is real",
        )


class Learner(Protocol):
    def document(self, table_id: str, name: str) -> None: ...

    def apply(self, statement: str) -> None: ...


_DDL = re.compile(r"^\s*(CREATE|DROP|UNDROP)\b", re.IGNORECASE)


@dataclass
class SchemaEvents:
    """What one object tells of the schema, in journal order, for the gate to learn from the
    objects in order (`Schema` depends on what came before): the DDL statements, each table
    id's first document, and where the blocks after the target's watermark begin."""

    events: list[list[str]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    crossed: bool = False

    def document(self, table_id: str, name: str) -> None:
        if table_id not in self.seen:
            self.seen.add(table_id)
            self.events.append(["document", table_id, name])

    def apply(self, statement: str) -> None:
        if _DDL.match(statement):  # what Schema.apply can learn from; data statements are replayed as revisions
            self.events.append(["statement", statement])

    def watermark(self) -> None:
        """The next block is the first of this object after the target's watermark."""
        if not self.crossed:
            self.crossed = True
            self.events.append(["watermark"])

    @staticmethod
    def replay(schema: Schema, events: list[list[str]], crossed: Callable[[], None] = lambda: None) -> None:
        """Learn `events` into `schema`; `crossed` is called where the blocks after the
        watermark begin (before the first of them is learnt)."""
        for event in events:
            if event[0] == "document":
                schema.document(event[1], event[2])
            elif event[0] == "watermark":
                crossed()
            else:
                schema.apply(event[1])


def learn(schema: Learner, block: Block) -> None:
    """The block's DDL, in statement order; each document's table as of its first statement."""
    info = block.transaction_info
    if info is None:
        return
    first = {doc_id: min(entry.statements, default=0) for doc_id, entry in info.documents.items()}
    for index, statement in enumerate(info.statements):
        for doc_id, entry in info.documents.items():
            if first[doc_id] == index:
                schema.document(entry.table_id, entry.table_name)
        schema.apply(statement.statement)
    for entry in info.documents.values():
        schema.document(entry.table_id, entry.table_name)


def write(plan: Plan, vault: Vault) -> dict[str, str]:
    """The plan and the two Map manifests, in the vault; returns their keys."""
    base = vault.restore(plan.settings.source_ledger, plan.restore_id)
    keys = {"plan": base + "plan.json", "objects": base + "objects.json", "partitions": base + "partitions.json"}
    partitions = [{"restoreId": plan.restore_id, "partition": p} for p in range(plan.settings.partitions)]
    vault.store.write(keys["plan"], (json.dumps(plan.to_json(), indent=2) + "\n").encode())
    vault.store.write(keys["objects"], json.dumps([{**o, "restoreId": plan.restore_id} for o in plan.objects]).encode())
    restorable = any(o["last"] > plan.watermark and (o["cut"] is None or o["first"] <= o["cut"]) for o in plan.objects)
    vault.store.write(keys["partitions"], json.dumps(partitions if restorable else []).encode())
    return keys


__all__ = ["Mode", "Plan", "Schema", "SchemaEvents", "learn", "plan", "proven", "write"]
