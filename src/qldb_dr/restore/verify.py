"""Verify Restore: the target against the expected target (`expected.py`, the model computed
from the verified journal), every mismatch listed.

Actual: read back from the target through the source -> target id map qldb-dr keeps there.
Four named checks:

tables      the target's tables are the source's active tables at the restored block, each
            with the indexes created on it
documents   per table, how many documents the source had and the target has
content     per table, a digest over (source id, version, Ion hash of data), sorted — equal
            digests mean equal contents, each differing document is named; a document whose
            data the journal no longer holds (redacted) is restored empty, with a warning
versions    (history mode) each document's version chain: the same versions, the same data,
            deletes and redactions in the same places
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from qldb_dr.aws.session import Driver
from qldb_dr.checks import Check
from qldb_dr.concurrency import in_order
from qldb_dr.ion import ion_hash
from qldb_dr.restore.expected import DELETED, PLACEHOLDER, REDACTED, USER, ExpectedTarget
from qldb_dr.restore.model import BATCH_TABLE, PROJECT_TABLES, Mode

READ_CHUNK = 200  # documents read back per transaction (QLDB's 30 s transaction limit)
READERS = 4  # read transactions at once, each on a session of its own

Row = tuple[str, int, bytes | None]
T = TypeVar("T")


def _digest(rows: list[Row]) -> str:
    h = hashlib.sha256()
    for source_id, version, data_hash in sorted(rows):
        h.update(f"{source_id}:{version}:".encode() + (data_hash or b"-"))
    return h.hexdigest()


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _rows(driver: Driver, statement: str, *params: Any) -> list[Any]:
    return list(driver.execute_lambda(lambda t: list(t.execute_statement(statement, *params))))


def _each(driver: Driver, statement: str, parameters: list[Any], each: Callable[[list[Any]], T]) -> Iterator[T]:
    """`each` of the rows of `statement` run once per parameter, a transaction each, READERS
    at a time (each read is independent: QLDB serves them side by side), in order."""
    yield from in_order(lambda parameter: each(_rows(driver, statement, parameter)), parameters, READERS)


def _chunks(ids: list[str]) -> list[list[str]]:
    return [ids[start : start + READ_CHUNK] for start in range(0, len(ids), READ_CHUNK)]


def _latest_map(driver: Driver, partitions: int) -> dict[str, tuple[str, int, bool]]:
    """source id -> (target id, source version applied, deleted), from the batch records, a
    partition per transaction (indexed; QLDB's 30 s transaction limit)."""
    statement = f"SELECT b.entries FROM {BATCH_TABLE} AS b WHERE b.partition = ?"
    read = _each(driver, statement, list(range(partitions)), lambda rows: [e for r in rows for e in r["entries"]])
    entries = [e for per_partition in read for e in per_partition]
    mapped: dict[str, tuple[str, int, bool]] = {}
    for entry in sorted((e for e in entries if "v" in e), key=lambda e: int(e["v"])):
        mapped[str(entry["s"])] = (str(entry["t"]), int(entry["v"]), bool(entry.get("d")))
    return mapped


def _read(driver: Driver, table: str, target_ids: list[str]) -> dict[str, bytes]:
    """Target documents by id, as the Ion hashes of their data, a chunk per transaction."""
    statement = f"SELECT xid, x FROM {_quoted(table)} AS x BY xid WHERE xid IN ?"
    found: dict[str, bytes] = {}
    for hashed in _each(
        driver, statement, _chunks(target_ids), lambda rows: [(r["xid"], ion_hash(r["x"])) for r in rows]
    ):
        found.update((str(xid), data_hash) for xid, data_hash in hashed)
    return found


def _history(driver: Driver, table: str, target_ids: list[str]) -> dict[str, list[Row]]:
    """The documents' revisions as (kind, version, data hash), a chunk of ids per transaction
    (history() filtered by metadata.id, as QLDB's guide advises: a whole table's history in one
    transaction would outlast QLDB's 30 s limit)."""
    statement = f"SELECT * FROM history({_quoted(table)}) AS h WHERE h.metadata.id IN ?"
    chains: dict[str, list[Row]] = defaultdict(list)
    for revisions in _each(driver, statement, _chunks(target_ids), lambda rows: [_revision(r) for r in rows]):
        for document_id, row in revisions:
            chains[document_id].append(row)
    return chains


def _revision(row: Any) -> tuple[str, Row]:
    metadata = row["metadata"]
    if "data" in row:
        kind, data_hash = USER, ion_hash(row["data"])
    else:
        kind, data_hash = (REDACTED if "dataHash" in row else DELETED), None
    return str(metadata["id"]), (kind, int(metadata["version"]), data_hash)


def verify(driver: Driver, want: ExpectedTarget, mode: Mode, partitions: int) -> list[Check]:
    """`partitions`: the target's replay partitions."""
    target_tables = {
        r["name"]: r for r in _rows(driver, "SELECT * FROM information_schema.user_tables WHERE status = 'ACTIVE'")
    }
    for name in PROJECT_TABLES:
        target_tables.pop(name, None)
    mapped = _latest_map(driver, partitions)
    checks = [_tables(want, target_tables), *_contents(driver, want, mapped, set(target_tables))]
    if mode is Mode.HISTORY:
        checks.append(_versions(driver, want, mapped, set(target_tables)))
    return checks


def _tables(want: ExpectedTarget, target_tables: dict[str, Any]) -> Check:
    check = Check("tables", "the target has the source's active tables at the restored block, and their indexes")
    for name in sorted(want.tables.keys() | target_tables.keys()):
        table = want.tables.get(name)
        if table is None:
            check.fail(f"table {name} is on the target but not active in the source", location=name)
            continue
        if name not in target_tables:
            check.fail(f"table {name} is missing on the target", location=name)
            continue
        indexed = {i["expr"].strip("[]") for i in target_tables[name].get("indexes", [])}
        missing = [f for f in table.indexes if f not in indexed]
        if missing and not table.indexes_dropped:
            check.fail(
                f"table {name}: indexes missing",
                expected=", ".join(table.indexes),
                found=", ".join(sorted(indexed)),
                location=name,
            )
        else:
            check.passed()
    for note in want.notes:
        check.warn(note)
    check.summary = f"{check.checked} of {len(want.tables)} tables with their indexes"
    return check


def _contents(
    driver: Driver, want: ExpectedTarget, mapped: dict[str, tuple[str, int, bool]], target_tables: set[str]
) -> list[Check]:
    documents = Check("documents", "per table, the target holds as many documents as the source had")
    content = Check("content", "per table, the target's documents equal the source's, version and data")
    latest = want.latest()
    names = sorted(latest.keys() | target_tables)
    for table in names:
        where = {"location": table}
        expected_rows: list[Row] = [
            (source_id, version, data_hash) for source_id, (version, data_hash) in latest.get(table, {}).items()
        ]
        ours = {s: m for s, m in mapped.items() if s in want.documents and want.documents[s].table.name == table}
        present = {s: m for s, m in ours.items() if not m[2]}
        now = _read(driver, table, [m[0] for m in present.values()]) if table in target_tables else {}
        actual_rows: list[Row] = [
            (source_id, version, now[target_id])
            for source_id, (target_id, version, _) in present.items()
            if target_id in now
        ]
        total = _rows(driver, f"SELECT COUNT(*) AS c FROM {_quoted(table)}")[0]["c"] if table in target_tables else 0
        if len(expected_rows) != total:
            documents.fail(
                f"table {table}: document counts differ", expected=str(len(expected_rows)), found=str(total), **where
            )
        else:
            documents.passed()
        if _digest(expected_rows) == _digest(actual_rows):
            content.passed()
        else:
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
    for doc in want.placeholders():
        content.warn(
            f"table {doc.table.name}: source document {doc.source_id} version {doc.last.version} is redacted in the "
            f"journal (block {doc.last.block}): restored as an empty document, its data cannot be recovered",
            location=doc.table.name,
            expected="data (redacted at the source)",
            found=f"placeholder {PLACEHOLDER}",
        )
    content.summary = f"{content.checked} of {len(names)} tables equal"
    documents.summary = f"{documents.checked} of {len(names)} tables with equal counts"
    return [documents, content]


def _versions(
    driver: Driver, want: ExpectedTarget, mapped: dict[str, tuple[str, int, bool]], target_tables: set[str]
) -> Check:
    check = Check("versions", "each document's version chain on the target equals the source's")
    chains: dict[str, list[Row]] = {}
    for table in sorted(target_tables & set(want.tables)):
        ids = sorted({m[0] for s, m in mapped.items() if s in want.documents and want.documents[s].table.name == table})
        chains.update(_history(driver, table, ids))
    expected_chains = {s: c for per_table in want.chains().values() for s, c in per_table.items()}
    for source_id, chain in sorted(expected_chains.items()):
        target = mapped.get(source_id)
        actual = chains.get(target[0], []) if target else []
        expected_chain = [(k, v, h) for v, k, h in chain]
        actual = sorted(actual, key=lambda row: row[1])
        if expected_chain != actual:
            check.fail(
                f"source document {source_id}: version chains differ",
                expected=_chain(expected_chain),
                found=_chain(actual) or "(none)",
                location=want.documents[source_id].table.name,
            )
        else:
            check.passed()
    check.summary = f"{check.checked} of {len(expected_chains)} documents with equal version chains"
    return check


def _chain(rows: list[Row]) -> str:
    return ", ".join(f"v{v}:{k}" + (f"({h.hex()[:8]})" if h else "") for k, v, h in rows)


def _describe(entry: tuple[int, bytes | None] | None) -> str:
    if entry is None:
        return "absent"
    version, data_hash = entry
    return f"version {version}, data {(data_hash or b'').hex()[:16]}"
