"""Replay: apply one partition's source revisions to the target, version-guarded.

A partition's revisions are applied in source order (block, then document id) in
transactions of at most 38 user documents plus two bookkeeping documents (QLDB's 40): the
partition's mark and a batch record mapping source ids to target ids. A worker loads
the mark and the id map together, in one transaction; each of its transactions then
applies only what lies beyond the mark and moves it with a conditional UPDATE (`WHERE`
the mark is still the one the worker knows). If another worker moved it first — a
Lambda retried while the attempt it retries still runs — the update matches nothing, the
transaction is abandoned, and the worker loads the mark and the map again before it
goes on: so a batch run twice or two workers racing on one partition never apply a
revision twice, and never insert again a document the other one inserted. In `history`
mode a document appears at most once per transaction, so every source version becomes one
target version, in order.

History mode looks ahead: a transaction is the revisions after the mark up to the first
document that repeats (the mark moves to the last of them), filled up with later revisions
whose document has nothing earlier left to apply — each document's versions still in order,
one per transaction. The revisions applied ahead of the mark are flagged in the batch record
(`a`), loaded with the map, and passed over when the mark reaches them. A live ledger updates
the same documents again and again, so in source order a document soon repeats: without
looking ahead a transaction held 15.7 revisions in the benchmark's journal (37.9 with it),
each commit four more requests, a block and an fsync.

Writes are PartiQL over the QLDB Session API (`qldb_dr.aws.session`, the project's Ion codec
and hash rather than pyqldb's pure-Python ones: a history-mode restore is one statement per
revision, and pyqldb's encoding and hashing of the parameters was most of its cost): INSERT of
the new documents (one statement per table), UPDATE … SET the fields whose value changed …
REMOVE fields that went away (QLDB cannot replace a whole document; unchanged fields would
only be more bytes to encode, send and hash), DELETE by document id. A statement QLDB refuses
fails the partition naming the source document it wrote.

Redacted revisions (data replaced by its hash in the source): in `latest` mode they are
historic and play no part. In `history` mode the version is replayed as an empty document
and then redacted on the target once a later version exists — the target's history shows
a redacted revision at the same place, as the source's does — and counted in the report.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from qldb_dr.aws.session import Driver
from qldb_dr.errors import (
    HistoryGapError,
    PredecessorMissingError,
    ReplayStateError,
    ServiceError,
    StatementRefusedError,
    UnreplayableDocumentError,
)
from qldb_dr.ion import dump_binary, iter_binary
from qldb_dr.restore.model import (
    BATCH_TABLE,
    BYTES_PER_TRANSACTION,
    PARTITION_TABLE,
    REDACTION,
    USER_DOCUMENTS_PER_TRANSACTION,
    Mode,
    SourceRevision,
)
from qldb_dr.store import Store

T = TypeVar("T")

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
LOOKAHEAD = 4000  # revisions past the mark a history transaction is filled from


@dataclass
class Mapped:
    """What the target holds for a source document."""

    target_id: str
    version: int
    deleted: bool = False
    redacted: list[int] = field(default_factory=list)  # source versions replayed as placeholders


@dataclass
class Outcome:
    partition: int
    revisions: int = 0  # read from the partition files
    applied: int = 0
    skipped: int = 0  # already applied (the partition's mark)
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0  # latest mode: the target already held the document's final state
    placeholders: int = 0  # redacted revisions, written as empty documents
    redactions: int = 0  # source redactions, applied to the target's history
    dropped_tables: int = 0
    transactions: int = 0

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def read_partition(store: Store, prefix: str) -> list[SourceRevision]:
    revisions: list[SourceRevision] = []
    for key in sorted(store.list(prefix)):
        revisions += [SourceRevision.from_ion(v) for v in iter_binary(store.read(key))]
    revisions.sort(key=lambda r: (r.order, r.version))
    return revisions


def work(revisions: list[SourceRevision], mode: Mode, table_ids: set[str]) -> Iterator[SourceRevision]:
    """The revisions to apply, in order, of the tables active at the restored block (by id: a
    dropped table's name may have been used again): every one and every redaction (history),
    or each document's last (latest)."""
    if mode is Mode.HISTORY:
        yield from (r for r in revisions if r.table_id in table_ids)
        return
    last: dict[str, SourceRevision] = {}
    for revision in revisions:
        if revision.kind != REDACTION:
            last[revision.document_id] = revision
    yield from sorted((r for r in last.values() if r.table_id in table_ids), key=lambda r: r.order)


def _weight(revision: SourceRevision) -> int:
    return len(dump_binary([revision.data])) if revision.data is not None else 64


def batches(revisions: Iterable[SourceRevision]) -> Iterator[list[SourceRevision]]:
    """Transactions: ≤ 38 documents, one revision per document, under the size limit."""
    batch: list[SourceRevision] = []
    documents: set[str] = set()
    size = 0
    for revision in revisions:
        weight = _weight(revision)
        if batch and (
            len(batch) >= USER_DOCUMENTS_PER_TRANSACTION
            or revision.document_id in documents
            or size + weight > BYTES_PER_TRANSACTION
        ):
            yield batch
            batch, documents, size = [], set(), 0
        batch.append(revision)
        documents.add(revision.document_id)
        size += weight
    if batch:
        yield batch


def _name(identifier: str) -> str:
    return identifier if _IDENTIFIER.match(identifier) else '"' + identifier.replace('"', '""') + '"'


def _same(a: Any, b: Any) -> bool:
    """Identical Ion values: equal binary encodings (type, annotations and precision included)."""
    return dump_binary([a]) == dump_binary([b])


def _fields(data: Any, document_id: str) -> dict[str, Any]:
    repeated = hasattr(data, "get_all_values") and any(len(data.get_all_values(k)) > 1 for k in data)
    if getattr(data, "ion_annotations", ()) or repeated:
        raise UnreplayableDocumentError(
            f"document {document_id}: a top-level annotation or repeated field names cannot be written with PartiQL"
        )
    return dict(data.items())


@dataclass(frozen=True, slots=True)
class Mark:
    """A partition's mark: the last source revision applied (block, document id), and
    how many revisions have been applied to it."""

    sequence_no: int
    document_id: str
    applied: int

    @property
    def order(self) -> tuple[int, str]:
        return (self.sequence_no, self.document_id)


@dataclass
class _Progress:
    """How far a history replay has gone: items before `start` are applied; `mine`, those this
    worker applied ahead of the mark (passed over later, not counted as skipped)."""

    start: int = 0
    mine: set[tuple[str, int]] = field(default_factory=set)
    finished: bool = False


class _Overtaken(Exception):
    """Another worker moved the partition's mark; this transaction is abandoned."""


class Replayer:
    """Applies one partition to the target."""

    def __init__(self, driver: Driver, partition: int, mode: Mode, restore_id: str) -> None:
        self.driver = driver
        self.partition = partition
        self.mode = mode
        self.restore_id = restore_id
        self.mapped: dict[str, Mapped] = {}
        self.mark: Mark | None = None  # None: the partition has no mark yet
        self.ahead: set[tuple[str, int]] = set()  # (source id, version) applied ahead of the mark
        self.previous_data: dict[str, tuple[int, Any]] = {}  # source id -> (version, data) written
        self.first_version: dict[str, int] = {}

    def load(self) -> None:
        """The partition's mark and its source -> target map, read in one transaction so
        the one describes the other."""

        def read(t: Any) -> tuple[list[Any], list[Any]]:
            marks = list(
                t.execute_statement(
                    f"SELECT p.s, p.d, p.applied FROM {PARTITION_TABLE} AS p WHERE p.partition = ?",
                    self.partition,
                )
            )
            batches = list(
                t.execute_statement(f"SELECT b.entries FROM {BATCH_TABLE} AS b WHERE b.partition = ?", self.partition)
            )
            return marks, batches

        marks, rows = self._run(read, "loading the partition's mark and its id map")
        self.mark = Mark(int(marks[0]["s"]), str(marks[0]["d"]), int(marks[0]["applied"])) if marks else None
        self.mapped = {}
        self.ahead = set()
        entries = sorted((e for r in rows for e in r["entries"]), key=lambda e: int(e.get("v", -1)))
        for entry in entries:
            self._map(entry)

    def _map(self, entry: Any) -> None:
        mapped = self.mapped.setdefault(str(entry["s"]), Mapped(str(entry["t"]), -1))
        if entry.get("a"):
            self.ahead.add((str(entry["s"]), int(entry["v"])))
        if "x" in entry:  # a redaction of an applied version
            mapped.redacted.append(int(entry["x"]))
            return
        mapped.target_id, mapped.version, mapped.deleted = str(entry["t"]), int(entry["v"]), bool(entry.get("d"))
        if entry.get("r"):
            mapped.redacted.append(int(entry["v"]))

    def replay(self, revisions: list[SourceRevision], table_ids: set[str]) -> Outcome:
        outcome = Outcome(self.partition, revisions=sum(1 for r in revisions if r.kind != REDACTION))
        outcome.dropped_tables = sum(1 for r in revisions if r.table_id not in table_ids and r.kind != REDACTION)
        self.load()
        # The first version of each document this restore brings: a document the target holds at
        # an earlier version than the one before it lacks versions no run of this restore has.
        self.first_version = {}
        for revision in revisions:
            if revision.kind != REDACTION:
                self.first_version.setdefault(revision.document_id, revision.version)
        if self.mode is Mode.HISTORY:
            self._replay_history(list(work(revisions, self.mode, table_ids)), outcome)
            self._redact_placeholders(outcome)
            return outcome
        for batch in batches(work(revisions, self.mode, table_ids)):
            self._retrying(lambda batch=batch: self._batch(batch, outcome))  # type: ignore[misc]
        return outcome

    def _batch(self, batch: list[SourceRevision], outcome: Outcome) -> None:
        """A latest-mode batch: what of it lies beyond the mark, in one transaction."""
        mark = self.mark
        todo = [r for r in batch if mark is None or r.order > mark.order]
        if todo:
            self._transaction(todo, todo[-1], set(), outcome)
        outcome.skipped += len(batch) - len(todo)  # applied already, by this worker or another
        self._remember(batch)

    def _retrying(self, transaction: Callable[[], None]) -> None:
        """Run `transaction`; overtaken by another worker, load its mark and map, and run it again
        (it works out what is left to do from them)."""
        while True:
            try:
                transaction()
                return
            except _Overtaken:
                seen = self.mark
                self.load()
                if self.mark == seen:
                    raise ReplayStateError(
                        f"partition {self.partition}: its mark {seen} did not match on the target, yet no "
                        "one had moved it"
                    ) from None

    def _replay_history(self, items: list[SourceRevision], outcome: Outcome) -> None:
        progress = _Progress(finished=not items)
        while not progress.finished:
            self._retrying(lambda: self._next(items, progress, outcome))

    def _next(self, items: list[SourceRevision], progress: _Progress, outcome: Outcome) -> None:
        """Plan the next history transaction from the mark and map as loaded, and run it."""
        todo, last, end, skipped = self._plan(items, progress)
        if todo:
            ahead = {(r.document_id, r.version) for r in todo if r.order > last.order}
            self._transaction(todo, last, ahead, outcome)
            progress.mine.update(ahead)
        outcome.skipped += skipped
        progress.start, progress.finished = end, not todo and end >= len(items)

    def _plan(
        self, items: list[SourceRevision], progress: _Progress
    ) -> tuple[list[SourceRevision], SourceRevision, int, int]:
        """The next history transaction: the revisions after the mark up to the first document
        that repeats (the last of them becomes the mark), then later revisions of documents
        with no earlier revision left to apply; its mark; where the next plan starts; how many
        revisions it passes over that another run applied."""
        mark, start = self.mark, progress.start
        skipped = 0
        todo: list[SourceRevision] = []
        documents: set[str] = set()
        blocked: set[str] = set()  # a revision of these is left to apply: none of their later ones now
        size = 0
        contiguous = True
        last = items[start - 1] if start else items[0]
        end = start
        for index in range(start, min(len(items), start + LOOKAHEAD)):
            revision = items[index]
            key = (revision.document_id, revision.version)
            done = (mark is not None and revision.order <= mark.order) or (
                revision.kind != REDACTION and key in self.ahead
            )
            if done:
                self._remember_one(revision)
                if contiguous:
                    last, end = revision, index + 1
                    skipped += key not in progress.mine or revision.kind == REDACTION
                continue
            if (
                revision.document_id in documents
                or revision.document_id in blocked
                or (not contiguous and revision.kind == REDACTION)
            ):
                contiguous = False
                blocked.add(revision.document_id)
                continue
            weight = _weight(revision)
            if todo and (len(todo) >= USER_DOCUMENTS_PER_TRANSACTION or size + weight > BYTES_PER_TRANSACTION):
                break
            todo.append(revision)
            documents.add(revision.document_id)
            size += weight
            if contiguous:
                last, end = revision, index + 1
        return todo, last, end, skipped

    # -- one transaction ---------------------------------------------------------------------------

    def _transaction(
        self, todo: list[SourceRevision], last: SourceRevision, ahead: set[tuple[str, int]], outcome: Outcome
    ) -> None:
        """Apply `todo` in one transaction and move the mark to `last` (`ahead`: the (source id,
        version) of those of `todo` after it, flagged as such in the batch record)."""
        mark = self.mark
        result: dict[str, Any] = {}
        doing = ["starting the transaction"]  # what the transaction writes now: named if QLDB refuses it

        def apply(txn: Any) -> None:
            result.clear()
            # The first mark is looked for in this transaction, so that of two workers creating
            # it one conflicts (OCC) and, retried, finds the other's.
            first = f"SELECT p.s FROM {PARTITION_TABLE} AS p WHERE p.partition = ?"
            if mark is None and list(txn.execute_statement(first, self.partition)):
                raise _Overtaken
            result["entries"], result["counts"] = self._write(txn, todo, doing)
            for entry in result["entries"]:
                if "v" in entry and (entry["s"], entry["v"]) in ahead:
                    entry["a"] = True
            applied = (mark.applied if mark else 0) + len(todo)
            if mark is None:
                doing[0] = "the partition's first mark"
                txn.execute_statement(
                    f"INSERT INTO {PARTITION_TABLE} ?",
                    {
                        "partition": self.partition,
                        "s": last.sequence_no,
                        "d": last.document_id,
                        "applied": applied,
                        "restoreId": self.restore_id,
                    },
                )
            else:
                doing[0] = "moving the partition's mark"
                moved = list(
                    txn.execute_statement(
                        f"UPDATE {PARTITION_TABLE} AS p SET p.s = ?, p.d = ?, p.applied = ?, p.restoreId = ? "
                        "WHERE p.partition = ? AND p.s = ? AND p.d = ?",
                        last.sequence_no,
                        last.document_id,
                        applied,
                        self.restore_id,
                        self.partition,
                        mark.sequence_no,
                        mark.document_id,
                    )
                )
                if not moved:
                    raise _Overtaken
            doing[0] = "the transaction's batch record"
            txn.execute_statement(
                f"INSERT INTO {BATCH_TABLE} ?",
                {"partition": self.partition, "restoreId": self.restore_id, "entries": result["entries"]},
            )
            result["mark"] = Mark(last.sequence_no, last.document_id, applied)

        self._run(apply, lambda: doing[0])
        self.mark = result["mark"]
        outcome.transactions += 1
        for entry in result["entries"]:
            self._map(entry)
        for name, count in result["counts"].items():
            setattr(outcome, name, getattr(outcome, name) + count)
            if name in ("inserted", "updated", "deleted"):
                outcome.applied += count
        self._remember(todo)

    def _run(self, work: Callable[[Any], T], doing: str | Callable[[], str]) -> T:
        """A transaction; a statement QLDB refuses (or that keeps failing) is reported with the
        partition and what it wrote."""
        try:
            return self.driver.execute_lambda(work)
        except (StatementRefusedError, ServiceError) as exc:
            what = doing if isinstance(doing, str) else doing()
            raise type(exc)(f"partition {self.partition}, {what}: {exc}", hint=exc.hint) from exc

    def _remember(self, batch: list[SourceRevision]) -> None:
        for revision in batch:
            self._remember_one(revision)

    def _remember_one(self, revision: SourceRevision) -> None:
        """A document's data at a version applied: what an update of the next is compared with
        (only that version's: a worker overtaken may not know what the other one wrote since).
        A redaction record changes no data."""
        if revision.kind == REDACTION:
            return
        known = self.previous_data.get(revision.document_id)
        if known is None or known[0] <= revision.version:
            data = {} if revision.kind == "redacted" else revision.data
            self.previous_data[revision.document_id] = (revision.version, data)

    def _write(
        self, txn: Any, todo: list[SourceRevision], doing: list[str]
    ) -> tuple[list[dict[str, Any]], dict[str, int]]:
        entries: list[dict[str, Any]] = []
        counts = {"inserted": 0, "updated": 0, "deleted": 0, "unchanged": 0, "placeholders": 0, "redactions": 0}
        inserts: dict[str, list[tuple[SourceRevision, Any]]] = {}
        for revision in todo:
            mapped = self.mapped.get(revision.document_id)
            if revision.kind == REDACTION:  # redacted on the target at the end of the partition
                if mapped is not None:
                    entries.append({"s": revision.document_id, "t": mapped.target_id, "x": revision.version})
                    counts["redactions"] += 1
                continue
            data = {} if revision.kind == "redacted" else revision.data
            doing[0] = f"source document {revision.document_id} version {revision.version} of table {revision.table}"
            if self.mode is Mode.HISTORY and mapped is not None and mapped.version < revision.version - 1:
                if mapped.version < self.first_version.get(revision.document_id, revision.version) - 1:
                    raise HistoryGapError(
                        f"document {revision.document_id} of table {revision.table}: the target holds version "
                        f"{mapped.version}, this restore brings versions from "
                        f"{self.first_version[revision.document_id]}; the ones between were written while an "
                        "earlier restore found the table dropped, and it was undropped since",
                        hint="restore into a new target ledger in history mode",
                    )
                raise PredecessorMissingError(
                    f"document {revision.document_id}: version {revision.version} cannot follow version "
                    f"{mapped.version} on the target"
                )
            entry: dict[str, Any] = {"s": revision.document_id, "v": revision.version}
            if revision.kind == "redacted":
                entry["r"] = True
                counts["placeholders"] += 1
            if revision.kind == "deleted":
                if mapped is not None and not mapped.deleted:
                    txn.execute_statement(f"DELETE FROM {_name(revision.table)} BY xid WHERE xid = ?", mapped.target_id)
                    counts["deleted"] += 1
                    entries.append({**entry, "t": mapped.target_id, "d": True})
                continue
            if mapped is None or mapped.deleted:
                inserts.setdefault(revision.table, []).append((revision, entry))
                _fields(data, revision.document_id)
                continue
            changed = self._update(txn, revision.table, mapped, data, revision.document_id)
            counts["updated" if changed else "unchanged"] += 1
            entries.append({**entry, "t": mapped.target_id})
        for table, rows in inserts.items():
            # One parameter per document: a parameter is at most 128 KB (the QLDB Session API's
            # ValueHolder), a document too, so a list of documents in one parameter would not do.
            documents = [{} if r.kind == "redacted" else r.data for r, _ in rows]
            bag = ", ".join("?" for _ in documents)
            sources = ", ".join(f"{r.document_id} version {r.version}" for r, _ in rows)
            doing[0] = f"the insert into table {table} of source documents {sources}"
            ids = list(txn.execute_statement(f"INSERT INTO {_name(table)} << {bag} >>", *documents))
            for (_, entry), inserted in zip(rows, ids, strict=True):
                entries.append({**entry, "t": inserted["documentId"]})
                counts["inserted"] += 1
        return entries, counts

    def _update(self, txn: Any, table: str, mapped: Mapped, data: Any, source_id: str) -> bool:
        """Make the target document `data`: SET the fields that changed, REMOVE those that went
        away. In history mode a version whose data equals the one before (QLDB writes a revision
        for an UPDATE that sets a field to its own value) is written all the same, so the
        target's versions stay the source's; in latest mode it is left alone (False)."""
        new = _fields(data, source_id)
        target_id = mapped.target_id
        known = self.previous_data.get(source_id)
        previous = known[1] if known is not None and known[0] == mapped.version else None
        if previous is None:
            rows = list(
                txn.execute_statement(f"SELECT VALUE x FROM {_name(table)} AS x BY xid WHERE xid = ?", target_id)
            )
            previous = rows[0] if rows else {}
        before = dict(previous.items())
        removed = [k for k in before if k not in new]
        changed = {k: v for k, v in new.items() if k not in before or not _same(before[k], v)}
        by_id = f"UPDATE {_name(table)} AS x BY xid"
        if not changed and not removed:
            if self.mode is Mode.LATEST:
                return False
            if new:  # one field set to its own value: a new revision, the same data
                name, value = next(iter(new.items()))
                txn.execute_statement(f"{by_id} SET x.{_name(name)} = ? WHERE xid = ?", value, target_id)
            else:  # an empty document: a field set and removed in one transaction is one revision
                txn.execute_statement(f"{by_id} SET x.qldbdr_unchanged = 0 WHERE xid = ?", target_id)
                txn.execute_statement(f"{by_id} REMOVE x.qldbdr_unchanged WHERE xid = ?", target_id)
            return True
        statement = by_id
        if changed:
            statement += " SET " + ", ".join(f"x.{_name(k)} = ?" for k in changed)
        if removed:
            statement += " " + " ".join(f"REMOVE x.{_name(k)}" for k in removed)
        txn.execute_statement(statement + " WHERE xid = ?", *changed.values(), target_id)
        return True

    def _redact_placeholders(self, outcome: Outcome) -> None:
        """Redact, on the target, the versions replayed for redacted source revisions."""
        for mapped in self.mapped.values():
            for version in mapped.redacted:
                if version >= mapped.version and not mapped.deleted:
                    continue  # QLDB cannot redact a document's current revision
                self._redact(mapped.target_id, version)

    def _redact(self, target_id: str, version: int) -> None:
        def run(txn: Any) -> None:
            # Active tables only: a dropped one's history() cannot be read (nor its revisions redacted).
            tables = list(
                txn.execute_statement(
                    "SELECT name, tableId FROM information_schema.user_tables WHERE status = 'ACTIVE'"
                )
            )
            for table in tables:
                rows = list(
                    txn.execute_statement(
                        f"SELECT h.blockAddress, h.dataHash FROM history({_name(table['name'])}) AS h "
                        "WHERE h.metadata.id = ? AND h.metadata.version = ?",
                        target_id,
                        version,
                    )
                )
                if rows and rows[0].get("dataHash") is None:
                    txn.execute_statement(
                        "EXEC redact_revision ?, ?, ?", rows[0]["blockAddress"], table["tableId"], target_id
                    )
                    return

        self._run(run, f"redacting version {version} of target document {target_id}")
