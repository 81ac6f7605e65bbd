"""Generated ledger histories: Hypothesis strategies for workloads, and a runner that writes a
workload into a real ledger through pyqldb.

A workload is windows of transactions of operations. Each window ends with a backup (a
recovery point); an empty window is a quiet ledger. Operations name their documents by a
number (`pick`) that the runner resolves against the documents the table holds at that
moment, so every drawn workload can run: an operation with nothing to act on (an update of
an empty table, a drop of a table that is not there) does nothing. The runner writes only
through PartiQL statements a QLDB application would use, parameters included.

What the histories hold (the issue's list): several tables, some untouched for whole
windows; inserts; updates of one field, of many, of nested paths, and across types (int ↔
decimal ↔ string); no-op updates; REMOVE; deletes; delete then insert of an equal document;
a document updated several times in one transaction and across blocks; redactions; tables
created, dropped, re-created under the same name and undropped; indexes created mid-history;
every Ion type; documents near QLDB's 128 KB; transactions touching 40 documents; quiet
windows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from amazon.ion.simple_types import IonPyDict
from botocore.exceptions import ClientError
from hypothesis import strategies as st
from pyqldb.driver.qldb_driver import QldbDriver

from qldb_dr.ion.typed import typed
from tests.strategies import ion_values

TABLES = ("Person", "Vehicle", "Registration", "Licence")
FIELDS = ("n", "nested.a", "nested.deep.b", "owner", "colour")
LARGE = 120_000  # bytes of one field: a document near QLDB's 128 KB

# -- the workload ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    kind: str
    table: str = ""
    pick: int = 0
    field: str = ""
    value: Any = None
    values: tuple[Any, ...] = ()

    def __repr__(self) -> str:  # short, for Hypothesis' falsifying examples
        return f"{self.kind}({self.table}#{self.pick}{' ' + self.field if self.field else ''})"


Transaction = tuple[Op, ...]
Window = tuple[Transaction, ...]


@dataclass(frozen=True)
class Workload:
    tables: tuple[str, ...]
    indexes: tuple[tuple[str, str], ...]
    windows: tuple[Window, ...]

    def describe(self) -> str:
        return " | ".join(f"{len(w)} txns" for w in self.windows)


# -- strategies --------------------------------------------------------------------------------

# Numbers that keep or change their Ion type: int, decimal (precision kept), string.
numbers = st.one_of(
    st.integers(-(10**6), 10**6),
    st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-(10**6), max_value=10**6),
    st.sampled_from([0, Decimal("0"), Decimal("0.0"), Decimal("-0.00"), "0", 1, Decimal("1.10")]),
    st.text(max_size=8),
)
scalars = st.one_of(numbers, st.booleans(), st.none(), st.text(max_size=12))
# Top-level fields are PartiQL paths (x."name"): names QLDB applications use, and odd ones.
extra_names = st.sampled_from(["colour", "owner", "tags", "weird name", "é", "$dollar", "UPPER", "k2"])


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "k": draw(st.integers(0, 10**9)),
        "n": draw(numbers),
        "nested": {"a": draw(scalars), "deep": {"b": draw(scalars)}},
    }
    for name in draw(st.lists(extra_names, max_size=3, unique=True)):
        doc[name] = draw(ion_values(max_leaves=6))
    return doc


def _op(kind: str, **values: Any) -> st.SearchStrategy[Op]:
    return st.builds(
        Op, kind=st.just(kind), **{k: v if isinstance(v, st.SearchStrategy) else st.just(v) for k, v in values.items()}
    )


def data_ops(tables: st.SearchStrategy[str]) -> st.SearchStrategy[Op]:
    picks = st.integers(0, 10**6)
    return st.one_of(
        _op("insert", table=tables, value=documents()),
        _op("insert", table=tables, value=documents()),
        _op("update", table=tables, pick=picks, field=st.sampled_from(FIELDS), value=scalars),
        _op(
            "update_many_fields", table=tables, pick=picks, values=st.lists(scalars, min_size=2, max_size=4).map(tuple)
        ),
        _op("update_type", table=tables, pick=picks, value=numbers),
        _op("noop_update", table=tables, pick=picks),
        _op("remove", table=tables, pick=picks, field=st.sampled_from(["owner", "colour", "nested", "n"])),
        _op("delete", table=tables, pick=picks),
        _op("delete_insert_equal", table=tables, pick=picks),
        _op("update_repeatedly", table=tables, pick=picks, values=st.lists(numbers, min_size=2, max_size=4).map(tuple)),
    )


def rare_ops(tables: st.SearchStrategy[str]) -> st.SearchStrategy[Transaction]:
    """Operations that get a transaction of their own."""
    picks = st.integers(0, 10**6)
    return st.one_of(
        st.tuples(_op("insert_many", table=tables, values=st.lists(documents(), min_size=30, max_size=40).map(tuple))),
        st.tuples(_op("update_all", table=tables, value=st.integers(-5, 5))),
        st.tuples(_op("redact", table=tables, pick=picks)),
        st.tuples(_op("large", table=tables, value=st.binary(min_size=8, max_size=8))),
        st.tuples(_op("create_table", table=tables)),
        st.tuples(_op("drop_table", table=tables)),
        st.tuples(_op("undrop_table", table=tables, pick=picks)),
        st.tuples(_op("create_index", table=tables, field=st.sampled_from(["k", "owner", "n"]))),
        st.tuples(_op("delete_then_insert_equal", table=tables, pick=picks)),
    )


@st.composite
def workloads(draw: st.DrawFn, max_windows: int = 5, max_transactions: int = 12) -> Workload:
    names = draw(st.lists(st.sampled_from(TABLES), min_size=2, max_size=4, unique=True))
    # Each window writes to a few of the tables: the others stay untouched for a while.
    windows = []
    for _ in range(draw(st.integers(2, max_windows))):
        busy = draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True))
        tables = st.sampled_from(busy)
        transactions = st.one_of(
            st.lists(data_ops(tables), min_size=1, max_size=4).map(tuple),
            st.lists(data_ops(tables), min_size=1, max_size=4).map(tuple),
            rare_ops(tables),
        )
        windows.append(tuple(draw(st.lists(transactions, max_size=max_transactions))))
    indexes = tuple((t, "k") for t in names if draw(st.booleans()))
    return Workload(tuple(names), indexes, tuple(windows))


# -- the runner --------------------------------------------------------------------------------


@dataclass
class _Table:
    table_id: str
    live: list[str] = field(default_factory=list)  # document ids, in insertion order
    written: bool = False


@dataclass
class Runner:
    """Writes a workload into a ledger; knows each table's live documents as committed."""

    driver: QldbDriver
    tables: dict[str, _Table] = field(default_factory=dict)  # active tables by name
    dropped: dict[str, list[_Table]] = field(default_factory=dict)  # by name, latest last
    committed: int = 0
    refused: list[str] = field(default_factory=list)  # what the ledger refused, and why

    def setup(self, workload: Workload) -> None:
        for name in workload.tables:
            self.transaction((Op("create_table", name),))
        for table, index in workload.indexes:
            self.transaction((Op("create_index", table, field=index),))

    def window(self, window: Window) -> None:
        for transaction in window:
            self.transaction(transaction)

    def transaction(self, ops: Transaction) -> None:
        if len(ops) == 1 and ops[0].kind == "delete_then_insert_equal":
            self._delete_then_insert(ops[0])
            return

        def body(txn: Any) -> dict[str, _Table | None]:
            view = {name: _Table(t.table_id, list(t.live), t.written) for name, t in self.tables.items()}
            changes: dict[str, _Table | None] = {}
            for op in ops:
                _apply(txn, op, view, self.dropped, changes)
            return {**{n: t for n, t in view.items()}, **changes}

        try:
            result = self.driver.execute_lambda(body)
        except ClientError as exc:  # the ledger refused it (a limit, a value QLDB does not take)
            self.refused.append(f"{ops!r}: {exc.response.get('Error', {}).get('Message', exc)}"[:300])
            return
        for name, table in result.items():
            if table is None:
                dropped = self.tables.pop(name, None)
                if dropped is not None:
                    self.dropped.setdefault(name, []).append(dropped)
            else:
                if name not in self.tables:  # undropped: no longer among the dropped
                    self.dropped[name] = [t for t in self.dropped.get(name, []) if t.table_id != table.table_id]
                self.tables[name] = table
        self.committed += 1

    def _delete_then_insert(self, op: Op) -> None:
        """Delete a document, and insert an equal one in the next transaction."""
        doc_id = _pick(self.tables.get(op.table), op.pick)
        if doc_id is None:
            return
        statement = f"SELECT VALUE x FROM {_quoted(op.table)} AS x BY xid WHERE xid = ?"
        data = self.driver.execute_lambda(lambda t: _copy(_rows(t, statement, doc_id)[0]))
        self.transaction((Op("delete", op.table, pick=op.pick),))
        self.transaction((Op("insert", op.table, value=data),))


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _rows(txn: Any, statement: str, *params: Any) -> list[Any]:
    return list(txn.execute_statement(statement, *params))


def _pick(table: _Table | None, pick: int) -> str | None:
    if table is None or not table.live:
        return None
    return table.live[pick % len(table.live)]


def _path(field_name: str) -> str:
    return "x." + ".".join(_quoted(p) for p in field_name.split("."))


def _apply(
    txn: Any, op: Op, view: dict[str, _Table], dropped: dict[str, list[_Table]], changes: dict[str, _Table | None]
) -> None:
    table = view.get(op.table)
    name = _quoted(op.table)
    doc_id = _pick(table, op.pick)
    by_id = f"UPDATE {name} AS x BY xid"
    if op.kind == "create_table":
        if table is None:
            (row,) = _rows(txn, f"CREATE TABLE {name}")
            view[op.table] = changes[op.table] = _Table(str(row["tableId"]))
    elif op.kind == "drop_table":
        if table is not None:
            _rows(txn, f"DROP TABLE {name}")
            del view[op.table]
            changes[op.table] = None
    elif op.kind == "undrop_table":
        candidates = [t for t in dropped.get(op.table, []) if t.written]
        if table is None and candidates:
            restored = candidates[op.pick % len(candidates)]
            _rows(txn, f'UNDROP TABLE "{restored.table_id}"')
            live = [r["xid"] for r in _rows(txn, f"SELECT xid FROM {name} AS x BY xid")]
            view[op.table] = changes[op.table] = _Table(restored.table_id, [str(i) for i in live], True)
    elif op.kind == "create_index":
        if table is not None:
            existing = _rows(
                txn, "SELECT indexes FROM information_schema.user_tables WHERE tableId = ?", table.table_id
            )
            fields = {i["expr"] for r in existing for i in r.get("indexes", [])}
            if f"[{op.field}]" not in fields:
                _rows(txn, f"CREATE INDEX ON {name} ({op.field})")
    elif table is None:
        return  # a data operation on a table that is not there
    elif op.kind == "insert":
        (row,) = _rows(txn, f"INSERT INTO {name} ?", typed(op.value))
        table.live.append(str(row["documentId"]))
        table.written = True
    elif op.kind == "insert_many":
        rows = _rows(txn, f"INSERT INTO {name} ?", typed(list(op.values)))
        table.live += [str(r["documentId"]) for r in rows]
        table.written = True
    elif op.kind == "large":
        (row,) = _rows(txn, f"INSERT INTO {name} ?", typed({"k": 0, "blob": op.value * (LARGE // len(op.value))}))
        table.live.append(str(row["documentId"]))
        table.written = True
    elif doc_id is None:
        return  # nothing to act on
    elif op.kind == "update":
        _rows(txn, f"{by_id} SET {_path(op.field)} = ? WHERE xid = ?", typed(op.value), doc_id)
    elif op.kind == "update_many_fields":
        sets = ", ".join(f"{_path(f)} = ?" for f in FIELDS[: len(op.values)])
        _rows(txn, f"{by_id} SET {sets} WHERE xid = ?", *[typed(v) for v in op.values], doc_id)
    elif op.kind == "update_type":
        _rows(txn, f"{by_id} SET x.n = ? WHERE xid = ?", typed(op.value), doc_id)
    elif op.kind == "noop_update":
        current = _rows(txn, f"SELECT VALUE x FROM {name} AS x BY xid WHERE xid = ?", doc_id)[0]
        if "k" in current:  # the same value again: QLDB writes a new revision all the same
            _rows(txn, f"{by_id} SET x.k = ? WHERE xid = ?", current["k"], doc_id)
        else:
            _rows(txn, f"{by_id} SET x.k = x.k WHERE xid = ?", doc_id)
    elif op.kind == "remove":
        _rows(txn, f"{by_id} REMOVE {_path(op.field)} WHERE xid = ?", doc_id)
    elif op.kind == "update_repeatedly":  # one transaction, one revision
        for value in op.values:
            _rows(txn, f"{by_id} SET x.n = ? WHERE xid = ?", typed(value), doc_id)
    elif op.kind == "update_all":
        ids = table.live[:40]
        if ids:
            _rows(txn, f"{by_id} SET x.k = ? WHERE xid IN ?", typed(op.value), typed(ids))
    elif op.kind == "delete":
        _rows(txn, f"DELETE FROM {name} BY xid WHERE xid = ?", doc_id)
        table.live.remove(doc_id)
    elif op.kind == "delete_insert_equal":
        current = _rows(txn, f"SELECT VALUE x FROM {name} AS x BY xid WHERE xid = ?", doc_id)[0]
        _rows(txn, f"DELETE FROM {name} BY xid WHERE xid = ?", doc_id)
        table.live.remove(doc_id)
        (row,) = _rows(txn, f"INSERT INTO {name} ?", _copy(current))
        table.live.append(str(row["documentId"]))
    elif op.kind == "redact":
        history = _rows(
            txn,
            f"SELECT h.blockAddress, h.metadata.version AS v, h.data FROM history({name}) AS h WHERE h.metadata.id = ?",
            doc_id,
        )
        top = max((int(h["v"]) for h in history), default=0)
        candidates = [h for h in history if int(h["v"]) < top and "data" in h]
        if candidates:
            chosen = candidates[op.pick % len(candidates)]
            _rows(txn, "EXEC redact_revision ?, ?, ?", chosen["blockAddress"], table.table_id, doc_id)
    else:
        raise AssertionError(f"unknown operation {op.kind}")


def _copy(value: Any) -> Any:
    """A document read back, as a parameter again (field order and types kept)."""
    copy = IonPyDict.from_value(value.ion_type, {}) if hasattr(value, "ion_type") else {}
    for name, item in value.items():
        copy[name] = item
    return typed(copy)


# -- a workload with every kind of change, run by every differential test in CI ----------------

_EVERY_TYPE = (
    "{k: 1, n: 42, nested: {a: 1.5e0, deep: {b: sym}}, big: 123456789012345678901234567890, neg: -7, d: 12.3400, "
    'dz: -0.0, t: 2024-03-01T09:10:11.123456Z, day: 2024-03-01, s: sym, b: {{aGVsbG8=}}, c: {{"clob"}}, '
    'nul: null.string, l: [1, "two", [3]], sx: (a b 1), st: {nested: true}, an: units::5}'
)


def _doc(k: int, **extra: Any) -> dict[str, Any]:
    return {"k": k, "n": k, "nested": {"a": k, "deep": {"b": f"b{k}"}}, "owner": f"owner {k}", **extra}


def every_change() -> Workload:
    from amazon.ion import simpleion

    person, vehicle, registration = "Person", "Vehicle", "Registration"
    return Workload(
        tables=(person, vehicle, registration),
        indexes=((vehicle, "k"),),
        windows=(
            (  # inserts of every shape, 38 documents at once, a document near 128 KB
                (Op("insert", person, value=_doc(0)), Op("insert", person, value=simpleion.loads(_EVERY_TYPE))),
                (Op("insert", person, value=_doc(2, colour="red")),),
                (Op("insert", vehicle, value=_doc(10)), Op("insert", vehicle, value=_doc(11))),
                (Op("insert_many", registration, values=tuple(_doc(100 + i) for i in range(38))),),
                (Op("large", vehicle, value=b"12345678"),),
            ),
            (  # updates: types, many fields, nested, no-op, REMOVE, repeated in one transaction
                (Op("update_type", person, pick=0, value=Decimal("1.50")),),
                (Op("update_type", person, pick=0, value="one and a half"),),
                (Op("update_many_fields", person, pick=1, values=(7, "x", None)),),
                (Op("update", person, pick=2, field="nested.deep.b", value=Decimal("0.0")),),
                (Op("noop_update", person, pick=2),),
                (Op("noop_update", person, pick=2),),
                (Op("remove", person, pick=0, field="owner"),),
                (Op("update_repeatedly", vehicle, pick=0, values=(1, Decimal("2.0"), "3")),),
                (Op("delete_insert_equal", person, pick=1),),
                (Op("create_index", person, field="owner"),),
            ),
            (),  # a quiet window
            (  # a redaction; a table dropped and created again; 40 documents updated at once
                (Op("redact", person, pick=0),),
                (Op("update_all", registration, value=3),),
                (Op("drop_table", registration),),
                (Op("create_table", registration),),
                (Op("insert", registration, value=_doc(200)),),
                (Op("delete", vehicle, pick=1),),
                (Op("delete_then_insert_equal", person, pick=2),),
            ),
            (  # Person untouched; the new table dropped, the first one back with its documents
                (Op("update", vehicle, pick=0, field="n", value=0),),
                (Op("drop_table", registration),),
                (Op("undrop_table", registration),),
                (Op("update_all", registration, value=4),),
            ),
        ),
    )
