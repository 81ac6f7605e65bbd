"""Verify Restore: the target against the state the verified journal says it must hold.

Expected: read from the exports of every recovery point up to the restored block — for each
source document, its last version and the Ion hash of its data (or that it was deleted), and
in `history` mode every version in order. Actual: read back from the target through the
source -> target map qldb-dr keeps there. Three named checks, every mismatch listed:

documents   per table, how many documents the source had and the target has
content     per table, a digest over (source id, version, Ion hash of data), sorted — equal
            digests mean equal contents, each differing document is named
versions    (history mode) each document's version chain: the same versions, the same data,
            deletes and redactions in the same places
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from pyqldb.driver.qldb_driver import QldbDriver

from qldb_dr.catalog import Catalog, Vault
from qldb_dr.checks import Check
from qldb_dr.ion import ion_hash
from qldb_dr.journal.export import discover, open_export
from qldb_dr.journal.models import RevisionKind
from qldb_dr.journal.reader import read_blocks
from qldb_dr.restore.model import BATCH_TABLE, PROJECT_TABLES, Mode

READ_CHUNK = 200  # documents read back per transaction (QLDB's 30 s transaction limit)


@dataclass(frozen=True, slots=True)
class Version:
    version: int
    kind: str  # user | deleted | redacted
    data_hash: bytes | None


@dataclass
class Expected:
    tables: dict[str, str] = field(default_factory=dict)  # source document id -> table
    versions: dict[str, list[Version]] = field(default_factory=lambda: defaultdict(list))


def expected(vault: Vault, source: str, cut: int) -> Expected:
    """Every revision of every source document up to block `cut`, from the verified exports."""
    result = Expected()
    store = vault.store
    for point in Catalog(vault).recovery_points(source):
        if point.first_block is None or point.first_block.sequence_no > cut:
            continue
        ref = next(r for r in discover(store.scoped(point.export_head)) if r.head == point.export_head)
        export = open_export(store, ref)
        assert export.completed is not None
        for key in export.completed.keys:
            location = export.store_key(key)
            for block in read_blocks(store.read(location), location):
                if block.sequence_no > cut:
                    break
                documents = block.transaction_info.documents if block.transaction_info else {}
                for revision in block.revisions or ():
                    entry = documents.get(revision.document_id or "")
                    if revision.metadata is None or entry is None:
                        continue
                    kind = {RevisionKind.USER: "user", RevisionKind.DELETED: "deleted"}.get(revision.kind, "redacted")
                    doc_id = revision.document_id or ""
                    result.tables[doc_id] = entry.table_name
                    data_hash = ion_hash(revision.data) if revision.data is not None else revision.data_hash
                    result.versions[doc_id].append(Version(revision.version or 0, kind, data_hash))
    return result


def _digest(rows: list[tuple[str, int, bytes | None]]) -> str:
    h = hashlib.sha256()
    for source_id, version, data_hash in sorted(rows):
        h.update(f"{source_id}:{version}:".encode() + (data_hash or b"-"))
    return h.hexdigest()


def _latest_map(driver: QldbDriver, partitions: int) -> dict[str, tuple[str, int, bool]]:
    """source id -> (target id, source version applied, deleted), from the batch records, a
    partition per transaction (indexed; QLDB's 30 s transaction limit)."""
    statement = f"SELECT b.entries FROM {BATCH_TABLE} AS b WHERE b.partition = ?"
    rows = [
        row
        for p in range(partitions)
        for row in driver.execute_lambda(lambda t, p=p: list(t.execute_statement(statement, p)))
    ]
    mapped: dict[str, tuple[str, int, bool]] = {}
    for entry in sorted((e for r in rows for e in r["entries"]), key=lambda e: int(e["v"])):
        mapped[str(entry["s"])] = (str(entry["t"]), int(entry["v"]), bool(entry.get("d")))
    return mapped


def _read(driver: QldbDriver, table: str, target_ids: list[str]) -> dict[str, Any]:
    """Target documents by id, a chunk per transaction."""
    found: dict[str, Any] = {}
    for start in range(0, len(target_ids), READ_CHUNK):
        chunk = target_ids[start : start + READ_CHUNK]
        rows = driver.execute_lambda(
            lambda t, c=chunk: list(t.execute_statement(f'SELECT xid, x FROM "{table}" AS x BY xid WHERE xid IN ?', c))
        )
        found.update({str(r["xid"]): r["x"] for r in rows})
    return found


def _history(driver: QldbDriver, table: str, target_ids: list[str]) -> dict[str, list[Version]]:
    """The documents' revisions, a chunk of ids per transaction (history() filtered by
    metadata.id, as QLDB's guide advises: a whole table's history in one transaction would
    outlast QLDB's 30 s limit)."""
    rows = []
    for start in range(0, len(target_ids), READ_CHUNK):
        chunk = target_ids[start : start + READ_CHUNK]
        rows += driver.execute_lambda(
            lambda t, c=chunk: list(
                t.execute_statement(f'SELECT * FROM history("{table}") AS h WHERE h.metadata.id IN ?', c)
            )
        )
    chains: dict[str, list[Version]] = defaultdict(list)
    for row in rows:
        metadata = row["metadata"]
        if "data" in row:
            kind, data_hash = "user", ion_hash(row["data"])
        elif "dataHash" in row:
            kind, data_hash = "redacted", None
        else:
            kind, data_hash = "deleted", None
        chains[str(metadata["id"])].append(Version(int(metadata["version"]), kind, data_hash))
    return chains


def verify(driver: QldbDriver, want: Expected, mode: Mode, tables: set[str], partitions: int) -> list[Check]:
    """`tables`: the source's active tables at the restored block (dropped tables stay dropped);
    `partitions`: the target's replay partitions."""
    documents = Check("documents", "per table, the target holds as many documents as the source had")
    content = Check("content", "per table, the target's documents equal the source's, version and data")
    checks = [documents, content]
    mapped = _latest_map(driver, partitions)
    by_table: dict[str, list[str]] = defaultdict(list)
    for doc_id, table in want.tables.items():
        if table in tables:
            by_table[table].append(doc_id)
    target_tables = {
        r["name"]
        for r in driver.execute_lambda(
            lambda t: list(
                t.execute_statement("SELECT name FROM information_schema.user_tables WHERE status = 'ACTIVE'")
            )
        )
    } - set(PROJECT_TABLES)
    for table in sorted(set(by_table) | target_tables):
        expected_rows: list[tuple[str, int, bytes | None]] = []
        actual_rows: list[tuple[str, int, bytes | None]] = []
        for doc_id in sorted(by_table.get(table, [])):
            last = want.versions[doc_id][-1]
            if last.kind != "deleted":
                expected_rows.append((doc_id, last.version, last.data_hash))
        live = {s: m for s, m in mapped.items() if want.tables.get(s) == table and not m[2]}
        documents_now = _read(driver, table, [m[0] for m in live.values()]) if table in target_tables else {}
        for source_id, (target_id, version, _) in live.items():
            if target_id in documents_now:
                actual_rows.append((source_id, version, ion_hash(documents_now[target_id])))
        total = (
            driver.execute_lambda(lambda t, n=table: list(t.execute_statement(f'SELECT COUNT(*) AS c FROM "{n}"')))[0][
                "c"
            ]
            if table in target_tables
            else 0
        )
        where = {"location": table}
        if len(expected_rows) != total:
            documents.fail(
                f"table {table}: document counts differ", expected=str(len(expected_rows)), found=str(total), **where
            )
        else:
            documents.passed()
        if _digest(expected_rows) != _digest(actual_rows):
            want_map = {s: (v, h) for s, v, h in expected_rows}
            have_map = {s: (v, h) for s, v, h in actual_rows}
            for source_id in sorted(want_map.keys() | have_map.keys()):
                if want_map.get(source_id) != have_map.get(source_id):
                    content.fail(
                        f"table {table}: source document {source_id} differs",
                        expected=_describe(want_map.get(source_id)),
                        found=_describe(have_map.get(source_id)),
                        **where,
                    )
            if total > len(actual_rows):
                content.fail(
                    f"table {table}: {total - len(actual_rows)} target documents come from no source document", **where
                )
        else:
            content.passed()
        content.summary = f"{content.checked} of {len(set(by_table) | target_tables)} tables equal"
        documents.summary = f"{documents.checked} of {len(set(by_table) | target_tables)} tables with equal counts"
    if mode is Mode.HISTORY:
        checks.append(_versions(driver, want, mapped, target_tables, tables))
    return checks


def _versions(
    driver: QldbDriver,
    want: Expected,
    mapped: dict[str, tuple[str, int, bool]],
    target_tables: set[str],
    tables: set[str],
) -> Check:
    check = Check("versions", "each document's version chain on the target equals the source's")
    chains: dict[str, list[Version]] = {}
    for table in target_tables:
        ids = sorted({m[0] for s, m in mapped.items() if want.tables.get(s) == table})
        chains.update(_history(driver, table, ids))
    restored = {d: v for d, v in want.versions.items() if want.tables.get(d) in tables}
    for source_id, versions in sorted(restored.items()):
        target = mapped.get(source_id)
        chain = chains.get(target[0], []) if target else []
        expected_chain = [(v.version, v.kind, v.data_hash if v.kind == "user" else None) for v in versions]
        actual_chain = [(v.version, v.kind, v.data_hash if v.kind == "user" else None) for v in chain]
        if expected_chain != actual_chain:
            check.fail(
                f"source document {source_id}: version chains differ",
                expected=", ".join(f"v{v}:{k}" for v, k, _ in expected_chain),
                found=", ".join(f"v{v}:{k}" for v, k, _ in actual_chain) or "(none)",
            )
        else:
            check.passed()
    check.summary = f"{check.checked} of {len(restored)} documents with equal version chains"
    return check


def _describe(entry: tuple[int, bytes | None] | None) -> str:
    if entry is None:
        return "absent"
    version, data_hash = entry
    return f"version {version}, data {(data_hash or b'').hex()[:16]}"
