"""The gate after Partition: nothing goes to the target unless every object verified.

Plan Restore checked the vault's metadata (catalog, manifests, continuity, proofs against
their digests) and Partition checked each object as it read it (`restore.findings`). The
gate joins them: every object of the recovery points to restore has findings and they hold
no failure; each object's first block continues the last block of the one before it (number
and hash, across objects and recovery points); each recovery point's first and last blocks
and hashes are the ones the catalog recorded — which its proof folds to the ledger digest;
every redacted revision is matched to its redaction. Then it learns the source's schema from
the objects in order and, for a point in time, the last block before it.

The objects of the recovery points the target already holds (an incremental restore) are
Partition's items too, verified and joined like the rest: the schema is learnt from them, and
an incremental latest restore reads again, from them, the revisions of the tables dropped at
the target's watermark and undropped since (`catch_up`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from qldb_dr.catalog import Catalog, Vault
from qldb_dr.checks import Check
from qldb_dr.errors import OutOfRangeError, VaultVerificationError
from qldb_dr.journal.models import BlockAddress
from qldb_dr.journal.verify.redactions import _RedactionChecks
from qldb_dr.journal.verify.report import Redacted
from qldb_dr.restore import findings
from qldb_dr.restore.model import Mode
from qldb_dr.restore.partition import Split
from qldb_dr.restore.partition import catch_up as read_again
from qldb_dr.restore.plan import Schema, SchemaEvents, Table, failed, proven
from qldb_dr.restore.settings import Settings


@dataclass
class Verified:
    """What the gate learnt of the journal read."""

    cut: int
    schema: Schema
    blocks: int
    revisions: int
    objects: int
    unproven: list[Redacted]  # redacted revisions whose redaction is after the points read
    catch_up: list[str]  # the source table ids whose revisions up to the watermark are read again


def check(plan: dict[str, Any], items: list[dict[str, Any]], outcomes: dict[str, dict[str, Any] | None]) -> Verified:
    """Raises VaultVerificationError naming the first failure of each failed check."""
    verifier = _RedactionChecks()
    checks = verifier.checks
    verified: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for item in items:
        outcome = outcomes.get(str(item["key"]))
        where = {"location": str(item["key"]), "export_id": item["export"]["exportId"]}
        if outcome is None or "findings" not in outcome:
            checks["manifest"].fail("Partition wrote no findings for this object: it was not verified", **where)
            continue
        found = outcome["findings"]
        findings.merge(checks, found["checks"])
        if not found["verified"] and not any(c["failures"] for c in found["checks"]):
            checks["manifest"].fail("the object could not be read to its end", **where)
        verified.append((item, found))
        _records(verifier, item, found)
    _joins(checks, verified)
    _points(checks, plan, verified)
    runs = _merged([(f["first"], f["last"]) for _, f in verified if f["verified"] and f["first"] is not None])
    tips = {p["exportId"]: p["digestTip"] for p in plan["journal"] if p.get("digestTip") is not None}
    unproven = verifier.match_redactions(runs, tips)
    failed(list(checks.values()))
    schema, dropped_then = _schema(plan, items, outcomes)
    again = _catch_up(schema, plan, dropped_then or [])
    counted = [o for i, _ in verified if (o := outcomes[i["key"]]) is not None]
    return Verified(
        _cut(plan, items, outcomes),
        schema,
        sum(int(o["blocks"]) for o in counted),
        sum(int(o["revisions"]) + int(o["unplacedRevisions"]) for o in counted)
        + sum(int(o.get("earlierRevisions", {}).get(i, 0)) for o in counted for i in again),
        len(verified),
        unproven,
        again,
    )


def catch_up(
    vault: Vault, plan: dict[str, Any], items: list[dict[str, Any]], outcomes: dict[str, dict[str, Any] | None]
) -> Iterator[tuple[dict[str, Any], Split]]:
    """The revisions the checked plan (`check` passed, its `catchUp` written) reads again, by
    item: the objects holding blocks up to the watermark, read again at the version and SHA-256
    of the bytes Partition verified (TamperedObjectError if they changed since)."""
    tables = frozenset(plan.get("catchUp", []))
    watermark = int(plan["watermark"])
    if not tables:
        return
    for item in items:
        outcome = outcomes.get(str(item["key"]))
        if int(item["first"]) > watermark or outcome is None:
            continue
        if not outcome.get("earlierRevisions", {}).keys() & tables:
            continue  # none of those tables' revisions in it: no need to read it again
        yield item, read_again(vault, item, outcome["findings"], int(plan["partitions"]), watermark, tables)


def _catch_up(schema: Schema, plan: dict[str, Any], dropped_then: list[Table]) -> list[str]:
    """The source table ids whose revisions up to the watermark an incremental latest restore
    replays again: the tables dropped when the target's last restore planned, and undropped
    since. That restore skipped their revisions (it restores the tables active at its block),
    so the target lacks their documents, or holds them as they were before. History mode cannot
    write versions before ones it holds: it refuses such a document (HistoryGapError)."""
    watermark = int(plan["watermark"])
    if watermark < 0 or Settings.from_json(plan["request"]).mode is not Mode.LATEST:
        return []
    tables = [t for t in dropped_then if t.active]
    for table in tables:
        schema.notes.append(
            f"table {table.name} was dropped at the target's block {watermark} and undropped since: its documents' "
            f"revisions up to that block are replayed again"
        )
    return sorted(i for t in tables for i in t.ids)


def prove(vault: Vault, source: str, later: list[str], unproven: list[Redacted]) -> None:
    """Each revision shown redacted whose redaction is not in the points read is proven by a
    later recovery point of the vault (`later`: their ids), or the restore is refused."""
    if unproven:
        wanted = set(later)
        points = [p for p in Catalog(vault).recovery_points(source) if p.recovery_point_id in wanted]
        proven(vault, points, unproven)


def _records(verifier: _RedactionChecks, item: dict[str, Any], found: dict[str, Any]) -> None:
    """The object's redacted revisions and redactions, for matching across every object."""
    strand = found.get("strandId") or item["export"].get("strandId") or ""
    export_id, location = item["export"]["exportId"], str(item["key"])
    for document_id, version, seq in found["redacted"]:
        verifier.redacted[(document_id, int(version))] = {
            "address": BlockAddress(strand, int(seq)),
            "export_id": export_id,
            "location": location,
        }
    for document_id, version, seq in found["redactions"]:
        verifier.redactions[(document_id, int(version))] = BlockAddress(strand, int(seq))
    verifier.requested += [(BlockAddress(strand, int(seq)), location) for seq in found["requested"]]
    verifier.completed += [BlockAddress(strand, int(seq)) for seq in found["completed"]]


def _joins(checks: dict[str, Check], verified: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """Each object continues the one before it: the next block number, and its first block's
    previousBlockHash is the blockHash of the last block before it."""
    chain = checks["chain"]
    before: tuple[dict[str, Any], dict[str, Any]] | None = None
    for item, found in verified:
        if found["first"] is None:
            before = None  # unreadable: already a failure
            continue
        if before is not None:
            previous_item, previous = before
            where = {
                "export_id": item["export"]["exportId"],
                "address": BlockAddress(found.get("strandId") or "", int(found["first"])),
                "location": str(item["key"]),
            }
            if found["first"] != previous["last"] + 1:
                chain.fail(
                    f"the object does not continue {previous_item['key']} (a block is missing or out of order)",
                    expected=str(previous["last"] + 1),
                    found=str(found["first"]),
                    **where,
                )
            elif found["firstPreviousHash"] != previous["lastHash"]:
                chain.fail(
                    f"previousBlockHash is not the blockHash of the last block of {previous_item['key']}",
                    expected=previous["lastHash"],
                    found=found["firstPreviousHash"],
                    **where,
                )
            else:
                chain.passed()
        before = (item, found)


def _points(
    checks: dict[str, Check], plan: dict[str, Any], verified: list[tuple[dict[str, Any], dict[str, Any]]]
) -> None:
    """Each recovery point's objects begin and end at the blocks, with the hashes, that its
    catalog entry records — the hash its proof folds to the digest (Plan Restore checked)."""
    for point in plan["journal"]:
        if point["firstBlock"] is None:
            continue
        mine = [f for i, f in verified if i["recoveryPointId"] == point["recoveryPointId"]]
        where = {"export_id": point["exportId"]}
        if not mine:
            checks["manifest"].fail(f"recovery point {point['recoveryPointId']}: no object of it was read", **where)
            continue
        read = (mine[0]["first"], mine[0]["firstPreviousHash"], mine[-1]["last"], mine[-1]["lastHash"])
        recorded = (point["firstBlock"], point["firstPreviousHash"], point["lastBlock"], point["lastHash"])
        if None not in read and read != recorded:
            checks["digest-proof"].fail(
                f"recovery point {point['recoveryPointId']}: the export in the vault is not the one the catalog "
                "recorded (and its proof anchors)",
                expected=f"blocks {recorded[0]}-{recorded[2]}, last blockHash {recorded[3]}",
                found=f"blocks {read[0]}-{read[2]}, last blockHash {read[3]}",
                **where,
            )


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for first, last in sorted(spans):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def _cut(plan: dict[str, Any], items: list[dict[str, Any]], outcomes: dict[str, dict[str, Any] | None]) -> int:
    """The plan's cut, or — for a point in time — the last block committed at or before it."""
    watermark = int(plan["watermark"])
    if plan["cut"] is not None:
        return int(plan["cut"])
    read = [o for i in items if (o := outcomes.get(str(i["key"]))) is not None]
    cut = max((int(o["readTo"]) for o in read if o.get("readTo") is not None), default=-1)
    backwards = next((o for o in read if o.get("beyondAt") is not None and int(o["beyondAt"]) <= cut), None)
    if backwards is not None:
        raise VaultVerificationError(
            f"block {backwards['beyondAt']} in {backwards['key']} is timestamped after "
            f"{plan['request'].get('at')}, but block {cut} after it is not: block timestamps go backwards, so "
            "that time names no single block; nothing was written to the target",
            hint="restore to a block instead (--block)",
        )
    if cut < watermark:
        raise OutOfRangeError(
            f"the target already holds the source up to block {watermark}, beyond the requested block {cut}",
            hint="restore the earlier point into a new target ledger",
        )
    return cut


def _schema(
    plan: dict[str, Any], items: list[dict[str, Any]], outcomes: dict[str, dict[str, Any] | None]
) -> tuple[Schema, list[Table] | None]:
    """The source's tables and indexes at the cut, learnt from every object in journal order,
    with the notes Plan Restore made of the vault; and the tables dropped when the block at the
    target's watermark committed (None: no block after it was read)."""
    schema = Schema()
    dropped_then: list[Table] | None = None

    def crossed() -> None:
        nonlocal dropped_then
        if dropped_then is None:
            dropped_then = [t for t in schema.tables if not t.active]

    for item in items:
        outcome = outcomes.get(str(item["key"]))
        if outcome is not None:
            SchemaEvents.replay(schema, outcome.get("schema", []), crossed)
    schema.notes.extend(plan.get("vaultNotes", []))
    return schema, dropped_then


__all__ = ["Verified", "catch_up", "check", "prove"]
