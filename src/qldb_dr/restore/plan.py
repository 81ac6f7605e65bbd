"""Plan Restore: choose the recovery points and the last block to restore, re-verify them in
the vault of the region the restore runs in, learn the tables and indexes the source had at
that block, and write the plan (and the Map manifests) to the vault.

Nothing here writes to the target: corruption or tampering in the DR vault stops the restore
before any write, naming the block.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from qldb_dr.catalog import Catalog, RecoveryPoint, Vault, data_keys
from qldb_dr.checks import Status
from qldb_dr.encoding import iso
from qldb_dr.errors import (
    NoRecoveryPointsError,
    OutOfRangeError,
    PredecessorMissingError,
    ReplicationPendingError,
    VaultVerificationError,
)
from qldb_dr.journal.export import COMPLETED_SUFFIX, PROOF_SUFFIX, STARTED_SUFFIX
from qldb_dr.journal.models import Block
from qldb_dr.journal.reader import read_blocks
from qldb_dr.journal.verify import Redacted, verify_source
from qldb_dr.partiql import ast, parse
from qldb_dr.partiql.errors import PartiqlError
from qldb_dr.restore.model import Mode
from qldb_dr.restore.settings import Settings
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


def check_chain(points: list[RecoveryPoint], watermark: int) -> None:
    """The selected recovery points must continue the target's watermark without a gap."""
    expected = watermark + 1
    for point in points:
        if point.first_block is None:
            continue
        if point.first_block.sequence_no > expected:
            raise PredecessorMissingError(
                f"recovery point {point.recovery_point_id} starts at block {point.first_block.sequence_no} but the "
                f"next block to apply is {expected}: its predecessor has not reached this vault yet",
            )
        expected = point.last_block.sequence_no + 1  # type: ignore[union-attr]


@dataclass
class Plan:
    restore_id: str
    settings: Settings
    points: list[RecoveryPoint]
    cut: int
    watermark: int
    schema: Schema
    objects: list[dict[str, Any]]
    revisions: int
    blocks: int
    created: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "formatVersion": 1,
            "restoreId": self.restore_id,
            "request": self.settings.to_json(),
            "recoveryPoints": [p.recovery_point_id for p in self.points],
            "cut": self.cut,
            "watermark": self.watermark,
            "partitions": self.settings.partitions,
            "schema": self.schema.to_json(),
            "objects": self.objects,
            "revisions": self.revisions,
            "blocks": self.blocks,
            "createdAt": iso(self.created),
        }


def plan(restore_id: str, settings: Settings, vault: Vault, watermark: int, now: datetime) -> Plan:
    catalog = Catalog(vault)
    points = catalog.recovery_points(settings.source_ledger)
    chosen, cut = select(points, settings)
    selected = beyond(chosen, watermark)
    check_chain(selected, watermark)
    _arrived(vault, selected)
    # Every object of a recovery point is read at the version it pinned, its SHA-256 checked;
    # the ones to restore are watched for newer versions written over them.
    pins = {key: pin for point in points for key, pin in point.pins.items()}
    reading = pinned(vault.store, pins, [p.export_head for p in chosen if p.pins])
    pinned_vault = Vault(reading, vault.prefix)
    _verify(pinned_vault, selected, points[points.index(chosen[-1]) + 1 :] if chosen else [])
    # The schema is learnt from the whole chain, the blocks already applied included: an
    # incremental restore's new recovery points may not touch every table.
    schema, objects, revisions, blocks, at_cut = _read(pinned_vault, chosen, settings, cut, watermark)
    if cut is None:
        cut = at_cut
    if cut < watermark:
        raise OutOfRangeError(
            f"the target already holds the source up to block {watermark}, beyond the requested block {cut}",
            hint="restore the earlier point into a new target ledger",
        )
    overwritten = {**catalog.overwritten, **reading.overwritten}
    for key in sorted(overwritten):
        schema.notes.append(
            f"{vault.store.describe(key)}: a newer version was written over this locked object; the restore read "
            "the version its recovery point pinned — report it, the vault has been tampered with"
        )
    return Plan(restore_id, settings, selected, cut, watermark, schema, objects, revisions, blocks, now)


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


def _verify(vault: Vault, points: list[RecoveryPoint], later: list[RecoveryPoint]) -> None:
    """Verify the recovery points to restore; `later`: the vault's recovery points after them."""
    if not points:
        return
    report = verify_source(vault.store.scoped(points[0].export_prefix), heads={p.export_head for p in points})
    failed = [c for c in report.checks if c.status is Status.FAILURE]
    if failed:
        findings = "; ".join(f"{c.name}: {f.describe() if (f := c.first()) else c.summary}" for c in failed[:3])
        raise VaultVerificationError(
            f"the vault failed verification — {findings}; nothing was written to the target",
            hint="restore from the other region's vault, or from an earlier recovery point",
        )
    summaries = {s.location: s for s in report.exports}
    for point in points:
        summary = summaries.get(point.export_head)
        if summary is None or summary.last != point.last_block or summary.last_hash != point.last_block_hash:
            raise VaultVerificationError(
                f"recovery point {point.recovery_point_id}: the export in the vault is not the one the catalog "
                "recorded; nothing was written to the target"
            )
    if report.unproven:
        _proven(vault, [p for p in later if p not in points], report.unproven)


def _proven(vault: Vault, later: list[RecoveryPoint], unproven: list[Redacted]) -> None:
    """A revision shown redacted is treated as redacted only with the redaction that proves it:
    in the recovery points read, or — its redaction committed after them — in a later one of
    the vault (verified, and read at its pinned versions)."""
    wanted = {(r.document_id, r.version) for r in unproven}
    if later:
        report = verify_source(vault.store.scoped(later[0].export_prefix), heads={p.export_head for p in later})
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


def _read(
    vault: Vault, points: list[RecoveryPoint], settings: Settings, cut: int | None, watermark: int
) -> tuple[Schema, list[dict[str, Any]], int, int, int]:
    """One pass over the blocks up to the cut: DDL (every block), the objects to partition and
    their counts (blocks after the watermark, and — see `_catch_up` — the earlier blocks of tables
    undropped since)."""
    store = vault.store
    schema = Schema()
    spans: list[tuple[dict[str, Any], int, int, int | None, int | None]] = []
    revisions = blocks = 0
    at_cut = -1
    dropped_then: list[Table] | None = None  # the tables dropped when the watermark block committed
    earlier: Counter[str] = Counter()  # revisions up to the watermark, by table id
    for point in points:
        if point.first_block is None:
            continue
        for location in data_keys(store, point):
            every_first = every_last = new_first = new_last = None
            for block in read_blocks(store.read(location), location):
                if settings.at is not None and cut is None and block.timestamp > settings.at:
                    break
                if cut is not None and block.sequence_no > cut:
                    break
                if block.sequence_no > watermark and dropped_then is None:
                    dropped_then = [t for t in schema.tables if not t.active]
                at_cut = max(at_cut, block.sequence_no)
                _learn(schema, block)
                every_first = block.sequence_no if every_first is None else every_first
                every_last = block.sequence_no
                if block.sequence_no > watermark:
                    new_first = block.sequence_no if new_first is None else new_first
                    new_last = block.sequence_no
                    blocks += 1
                    revisions += sum(1 for r in block.revisions or () if r.metadata is not None)
                elif block.transaction_info is not None:  # what a catch-up would read again
                    documents = block.transaction_info.documents
                    for revision in block.revisions or ():
                        if revision.metadata is not None and (entry := documents.get(revision.document_id or "")):
                            earlier[entry.table_id] += 1
            if every_first is not None and every_last is not None:
                item = {
                    "bucket": getattr(store, "bucket", ""),
                    "key": location,
                    **({"pin": point.pins[location].to_json()} if location in point.pins else {}),
                }
                spans.append((item, every_first, every_last, new_first, new_last))
    final = cut if cut is not None else at_cut
    undropped = _catch_up(schema, settings, watermark, dropped_then or [])
    revisions += sum(earlier[i] for i in undropped)
    objects: list[dict[str, Any]] = []
    for item, every_first, every_last, new_first, new_last in spans:
        if undropped:
            objects.append({**item, "first": every_first, "last": every_last, "catchUp": undropped})
        elif new_first is not None:
            objects.append({**item, "first": new_first, "last": new_last})
    for item in objects:
        item["cut"] = final
    return schema, objects, revisions, blocks, final


def _catch_up(schema: Schema, settings: Settings, watermark: int, dropped_then: list[Table]) -> list[str]:
    """The source table ids whose revisions up to the watermark an incremental latest restore
    replays again: the tables dropped when the target's last restore planned, and undropped
    since. That restore skipped their revisions (it restores the tables active at its block),
    so the target lacks their documents, or holds them as they were before. History mode cannot
    write versions before ones it holds: it refuses such a document (HistoryGapError)."""
    if watermark < 0 or settings.mode is not Mode.LATEST:
        return []
    tables = [t for t in dropped_then if t.active]
    for table in tables:
        schema.notes.append(
            f"table {table.name} was dropped at the target's block {watermark} and undropped since: its documents' "
            f"revisions up to that block are replayed again"
        )
    return sorted(i for t in tables for i in t.ids)


def _learn(schema: Schema, block: Block) -> None:
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
    vault.store.write(keys["partitions"], json.dumps(partitions if plan.objects else []).encode())
    return keys


__all__ = ["Mode", "Plan", "Schema", "plan", "write"]
