"""Run a PartiQL statement against a ``TableAccess``: ``execute(statement, parameters, access)``.

Results are Ion values as QLDB returns them: ``SELECT *`` gives each document's stored data
unchanged, DML gives ``{documentId}`` per document written, DDL gives ``{tableId}``. Values are
never converted on the way through; updates copy the containers they change and share the rest.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from typing import Any, Final

from amazon.ion.core import Multimap
from amazon.ion.simple_types import IonPyDict

from qldb_dr.partiql import ast, functions
from qldb_dr.partiql.access import ACTIVE, ONLINE, Document, Revision, TableAccess, TableInfo
from qldb_dr.partiql.errors import PartiqlError
from qldb_dr.partiql.parser import parse
from qldb_dr.partiql.values import (
    MISSING,
    NUMBERS,
    SEQUENCES,
    TEXTS,
    Bag,
    Kind,
    article,
    bool_of,
    copy_container,
    deep_copy,
    equals,
    index_key,
    instant,
    is_absent,
    kind,
    make_struct,
    order,
    struct_get,
    struct_items,
    text_of,
    type_name,
)

COMMITTED_PREFIX: Final = "_ql_committed_"
TABLE_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")

# + - * are exact on decimals; / rounds to 34 significant digits (decimal128).
_EXACT: Final = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[InvalidOperation, Overflow])
_DIVIDE: Final = Context(prec=34, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[InvalidOperation, DivisionByZero, Overflow])

_UNBOUND: Final = object()
_REMOVED: Final = object()  # a list element removed by DML, dropped once all ops have run
_HASHED_IN: Final = 16  # `x IN c` looks x up among c's keys from this many elements on


def execute(statement: str, parameters: Sequence[Any], access: TableAccess) -> list[Any]:
    """Parse (cached) and run one statement; return its result values.

    Raises ``PartiqlError`` for anything wrong with the statement or its parameters; exceptions
    raised by ``access`` other than ``PartiqlError`` propagate unchanged.
    """
    parsed = parse(statement)
    if len(parameters) != parsed.parameter_count:
        raise PartiqlError(
            f"the statement takes {parsed.parameter_count} parameter(s) (?) but {len(parameters)} were given"
        )
    return _Evaluator(parameters, access).run(parsed.statement)


class _Frame:
    """Variables in scope: this query's bindings, then the enclosing query's frame.

    ``from_vars`` are the query's FROM aliases, whose fields unqualified names may refer to.
    ``docs`` maps a table alias to its Document and ``origins`` a nested-collection alias to its
    place in the document (alias, steps) — both for DML.
    """

    __slots__ = ("docs", "from_vars", "origins", "parent", "vars")

    def __init__(
        self,
        variables: dict[str, Any],
        parent: _Frame | None,
        from_vars: tuple[str, ...] = (),
        docs: dict[str, Document] | None = None,
        origins: dict[str, tuple[str, tuple[str | int, ...]]] | None = None,
    ) -> None:
        self.vars = variables
        self.parent = parent
        self.from_vars = from_vars
        self.docs: dict[str, Document] = docs if docs is not None else {}
        self.origins: dict[str, tuple[str, tuple[str | int, ...]]] = origins if origins is not None else {}


# One binding of a FROM item: value, document (user view), origin (nested path), BY id, AT position.
_Binding = tuple[Any, Document | None, tuple[str, tuple[str | int, ...]] | None, Any, Any]


class _Evaluator:
    def __init__(self, parameters: Sequence[Any], access: TableAccess) -> None:
        self.parameters = parameters
        self.access = access
        self.aggregates: dict[int, Any] = {}
        self.tables: dict[str, TableInfo] = {}
        self.members: dict[int, tuple[Any, frozenset[str], bool]] = {}  # IN node -> its collection's keys
        self.dispatch: dict[type, Callable[[Any, _Frame], Any]] = {
            ast.Literal: self._literal,
            ast.Param: self._param,
            ast.VarRef: self._var,
            ast.Path: self._path,
            ast.Unary: self._unary,
            ast.Binary: self._binary,
            ast.Comparison: self._comparison,
            ast.And: self._and,
            ast.Or: self._or,
            ast.Not: self._not,
            ast.IsTest: self._is,
            ast.In: self._in,
            ast.Like: self._like,
            ast.Between: self._between,
            ast.StructCtor: self._struct,
            ast.ListCtor: self._list,
            ast.BagCtor: self._bag,
            ast.Call: self._call,
            ast.Aggregate: self._aggregate_value,
            ast.Cast: self._cast,
            ast.Case: self._case,
            ast.Subquery: self._subquery,
        }

    # -- statements -------------------------------------------------------------------------

    def run(self, statement: ast.Statement) -> list[Any]:
        try:
            return self._run(statement)
        except PartiqlError as exc:
            if exc.line or not statement.pos[0]:
                raise
            raise PartiqlError(exc.message, line=statement.pos[0], column=statement.pos[1]) from None

    def _run(self, statement: ast.Statement) -> list[Any]:
        if isinstance(statement, ast.Select):
            return [_to_ion(v) for v in self._select(statement, None)]
        if isinstance(statement, ast.Insert):
            return self._insert(statement)
        if isinstance(statement, ast.Dml):
            return self._dml(statement)
        if isinstance(statement, ast.CreateTable):
            return self._create_table(statement)
        if isinstance(statement, ast.DropTable):
            table = self._active_table(statement.name)
            self.access.drop_table(table.table_id)
            return [{"tableId": table.table_id}]
        if isinstance(statement, ast.UndropTable):
            return self._undrop_table(statement)
        if isinstance(statement, ast.CreateIndex):
            return self._create_index(statement)
        if isinstance(statement, ast.DropIndex):
            return self._drop_index(statement)
        if isinstance(statement, ast.Exec):
            return self._exec(statement)
        raise PartiqlError(f"{type(statement).__name__} statements are not supported")  # pragma: no cover

    def _active_table(self, name: str) -> TableInfo:
        table = self.tables.get(name)
        if table is None:
            table = self.access.table(name)
        if table is not None and table.status == ACTIVE:
            self.tables[name] = table  # a statement reads its tables once
            return table
        if any(t.name == name for t in self.access.tables()):
            raise PartiqlError(f"table {name} is dropped (INACTIVE); UNDROP TABLE it first")
        raise PartiqlError(f"unknown table {name}")

    def _create_table(self, statement: ast.CreateTable) -> list[Any]:
        name = statement.name
        if not TABLE_NAME.fullmatch(name) or name.startswith("_ql"):
            raise PartiqlError(
                f"invalid table name {name!r}: 1-128 letters, digits and underscores, not starting with a digit or _ql"
            )
        if self.access.table(name) is not None:
            raise PartiqlError(f"table {name} already exists")
        tags: dict[str, str] = {}
        for _, expr in statement.options:  # the parser allows only aws_tags
            value = self.eval(expr, _Frame({}, None))
            if kind(value) is not Kind.STRUCT or not all(kind(v) in TEXTS for _, v in struct_items(value)):
                raise PartiqlError(f"aws_tags must be a struct of strings, not {type_name(value)}")
            tags.update((k, text_of(v)) for k, v in struct_items(value))
        return [{"tableId": self.access.create_table(name, tags)}]

    def _undrop_table(self, statement: ast.UndropTable) -> list[Any]:
        table = self.access.table_by_id(statement.table_id)
        if table is None:
            raise PartiqlError(f"unknown table id {statement.table_id}")
        if table.status == ACTIVE:
            raise PartiqlError(f"table {table.name} ({table.table_id}) is not dropped")
        if self.access.table(table.name) is not None:
            raise PartiqlError(f"an active table is already named {table.name}")
        self.access.undrop_table(table.table_id)
        return [{"tableId": table.table_id}]

    def _create_index(self, statement: ast.CreateIndex) -> list[Any]:
        table = self._active_table(statement.table)
        if any(index.field == statement.field for index in table.indexes):
            raise PartiqlError(f"table {table.name} already has an index on {statement.field}")
        self.access.create_index(table.table_id, statement.field)
        return [{"tableId": table.table_id}]

    def _drop_index(self, statement: ast.DropIndex) -> list[Any]:
        table = self._active_table(statement.table)
        if not any(index.index_id == statement.index_id for index in table.indexes):
            raise PartiqlError(f"table {table.name} has no index {statement.index_id}")
        self.access.drop_index(table.table_id, statement.index_id)
        return [{"tableId": table.table_id}]

    def _exec(self, statement: ast.Exec) -> list[Any]:
        if statement.procedure.lower() != "redact_revision":
            raise PartiqlError(f"unknown stored procedure {statement.procedure}")
        if len(statement.args) != 3:
            raise PartiqlError("redact_revision takes 3 arguments: block address, table id, document id")
        frame = _Frame({}, None)
        address, table_id, document_id = (self.eval(arg, frame) for arg in statement.args)
        if not (
            kind(address) is Kind.STRUCT
            and kind(struct_get(address, "strandId")) in TEXTS
            and kind(struct_get(address, "sequenceNo")) is Kind.INT
        ):
            raise PartiqlError("redact_revision: the block address must be {strandId: string, sequenceNo: int}")
        if kind(table_id) not in TEXTS or kind(document_id) not in TEXTS:
            raise PartiqlError("redact_revision: the table id and document id must be strings")
        return [self.access.redact(address, text_of(table_id), text_of(document_id))]

    def _insert(self, statement: ast.Insert) -> list[Any]:
        table = self._active_table(statement.table)
        value = self.eval(statement.value, _Frame({}, None))
        k = kind(value)
        if statement.single or k is Kind.STRUCT:
            documents = [value]
        elif k in (Kind.LIST, Kind.BAG):
            documents = list(value)
        else:
            raise PartiqlError(
                f"INSERT INTO {table.name} needs a struct or a list or bag of structs, not {type_name(value)}"
            )
        for document in documents:
            if kind(document) is not Kind.STRUCT:
                raise PartiqlError(f"a document must be a struct, not {type_name(document)}")
        return [{"documentId": self.access.insert(table.table_id, _to_ion(d))} for d in documents]

    # -- DML ---------------------------------------------------------------------------------

    def _dml(self, statement: ast.Dml) -> list[Any]:
        first = statement.from_items[0]
        source = first.source
        if not isinstance(source, ast.VarRef) or source.local or source.name.startswith(COMMITTED_PREFIX):
            raise PartiqlError(f"{statement.verb} needs a table's user view in FROM")
        table = self._active_table(source.name)
        known = [first.alias]
        for item in statement.from_items[1:]:
            root = item.source.root if isinstance(item.source, ast.Path) else item.source
            if not (isinstance(root, ast.VarRef) and _bound_name(root, _Frame(dict.fromkeys(known), None))):
                raise PartiqlError(
                    f"{statement.verb} runs on a single table; later FROM items must be collections "
                    "nested in its documents"
                )
            known.append(item.alias)
        rows = list(self._rows(statement.from_items, statement.where, None))  # read all, then write
        groups: dict[str, tuple[Document, list[_Frame]]] = {}
        for row in rows:
            document = row.docs[first.alias]
            groups.setdefault(document.id, (document, []))[1].append(row)
        removes = any(isinstance(op, ast.RemoveOp) for op in statement.ops)
        results = []
        for document_id, (document, frames) in groups.items():
            data, deleted = document.data, False
            for frame in frames:
                for op in statement.ops:
                    data, removed_doc = self._apply(op, frame, data, first.alias)
                    deleted = deleted or removed_doc
            if deleted:
                self.access.delete(table.table_id, document_id)
            else:
                if removes:
                    data = _purge(data)
                if kind(data) is not Kind.STRUCT:  # pragma: no cover - ops keep the root a struct
                    raise PartiqlError("a document must stay a struct")
                self.access.update(table.table_id, document_id, data)
            results.append({"documentId": document_id})
        return results

    def _apply(self, op: ast.DmlOp, frame: _Frame, data: Any, doc_alias: str) -> tuple[Any, bool]:
        """One op on one row: the new document data, and whether the document is removed."""
        try:
            steps = self._target(op, frame, doc_alias)
            if isinstance(op, ast.SetOp):
                if not steps:
                    raise PartiqlError("SET cannot replace a whole document; set its fields")
                value = self.eval(op.value, frame)
                if value is MISSING:
                    raise PartiqlError("SET to MISSING; use REMOVE to delete a field")
                new = _to_ion(value)
                return _modify(data, steps, lambda _old: new, "SET", create=True), False
            if isinstance(op, ast.RemoveOp):
                if not steps:
                    return data, True
                if not _exists_at(data, steps):
                    return data, False
                last = steps[-1]
                return _modify(data, steps[:-1], lambda parent: _remove_child(parent, last), "REMOVE", False), False
            assert isinstance(op, ast.InsertOp)
            value = self.eval(op.value, frame)
            if value is MISSING:
                raise PartiqlError("INSERT INTO ... VALUE is MISSING")
            at = self.eval(op.at, frame) if op.at is not None else None
            new = _to_ion(value)
            return _modify(data, steps, lambda target: _insert_into(target, new, at), "INSERT INTO", False), False
        except PartiqlError as exc:
            if exc.line or not op.pos[0]:
                raise
            raise PartiqlError(exc.message, line=op.pos[0], column=op.pos[1]) from None

    def _target(self, op: ast.DmlOp, frame: _Frame, doc_alias: str) -> tuple[str | int, ...]:
        """The op's path as steps from the document root (field names and list indexes)."""
        target = op.target
        root = target.root if isinstance(target, ast.Path) else target
        assert isinstance(root, ast.VarRef)  # the parser only allows paths rooted at a name
        steps = [self._concrete_step(step, frame) for step in target.steps] if isinstance(target, ast.Path) else []
        name = _bound_name(root, frame)
        if name is None:
            if root.local:
                raise PartiqlError(f"unknown variable @{root.name}")
            return (root.name, *steps)  # an unqualified field of the document
        if name == doc_alias:
            return tuple(steps)
        origin = frame.origins.get(name)
        if origin is None or origin[0] != doc_alias:
            raise PartiqlError(f"cannot modify {name}: only the document and collections nested in it can change")
        return (*origin[1], *steps)

    def _concrete_step(self, step: ast.Step, frame: _Frame) -> str | int:
        if isinstance(step, ast.FieldStep):
            return step.name
        if isinstance(step, ast.IndexStep):
            key = self.eval(step.expr, frame)
            k = kind(key)
            if k is Kind.INT:
                return int(key)
            if k in TEXTS:
                return text_of(key)
            raise PartiqlError(f"a path index must be an int or a string, not {type_name(key)}")
        raise PartiqlError("[*] cannot be used in a path that is modified")

    # -- queries -----------------------------------------------------------------------------

    def _select(self, query: ast.Select, outer: _Frame | None) -> list[Any]:
        rows = self._rows(query.from_items, query.where, outer)
        projection = query.projection
        if query.aggregate:
            return [self._aggregate_row(query, rows, outer)]
        results: list[Any] = []
        if isinstance(projection, ast.SelectStar):
            aliases = tuple(item.alias for item in query.from_items)
            results.extend(_star(row, aliases) for row in rows)
        elif isinstance(projection, ast.SelectValue):
            for row in rows:
                value = self.eval(projection.expr, row)
                if value is not MISSING:
                    results.append(_to_ion(value))
        else:
            assert isinstance(projection, ast.SelectList)
            results.extend(self._project(projection.items, row) for row in rows)
        return results

    def _project(self, items: tuple[ast.SelectItem, ...], row: _Frame) -> Any:
        pairs: list[tuple[str, Any]] = []
        for i, item in enumerate(items):
            value = self.eval(item.expr, row)
            if item.all_fields:
                if kind(value) is Kind.STRUCT:
                    pairs.extend(struct_items(value))
                elif value is not MISSING:
                    pairs.append((f"_{i + 1}", _to_ion(value)))
            elif value is not MISSING:
                pairs.append((item.alias or ast.default_name(item.expr, i), _to_ion(value)))
        return make_struct(pairs)

    def _aggregate_row(self, query: ast.Select, rows: Iterator[_Frame], outer: _Frame | None) -> Any:
        nodes = [n for e in _projection_exprs(query.projection) for n in _aggregates_in(e)]
        states = [_AggregateState(n.name) for n in nodes]
        for row in rows:
            for node, state in zip(nodes, states, strict=True):
                state.add(MISSING if node.arg is None else self.eval(node.arg, row), star=node.arg is None)
        for node, state in zip(nodes, states, strict=True):
            self.aggregates[id(node)] = state.result()
        frame = _Frame({}, outer)
        projection = query.projection
        if isinstance(projection, ast.SelectValue):
            return self.eval(projection.expr, frame)
        assert isinstance(projection, ast.SelectList)
        return self._project(projection.items, frame)

    def _rows(self, items: tuple[ast.FromItem, ...], where: ast.Expr | None, outer: _Frame | None) -> Iterator[_Frame]:
        """Every binding of the FROM items (nested loops, lateral) that satisfies WHERE."""
        from_vars = tuple(item.alias for item in items)
        last = len(items) - 1

        def expand(i: int, frame: _Frame) -> Iterator[_Frame]:
            item = items[i]
            for value, document, origin, by_value, at_value in self._bindings(item, frame):
                variables = dict(frame.vars)
                variables[item.alias] = value
                if item.by_alias:
                    variables[item.by_alias] = by_value
                if item.at_alias:
                    variables[item.at_alias] = at_value
                docs, origins = frame.docs, frame.origins
                if document is not None:
                    docs = {**docs, item.alias: document}
                if origin is not None:
                    origins = {**origins, item.alias: origin}
                row = _Frame(variables, outer, from_vars, docs, origins)
                if item.on is not None and self._truth(item.on, row) is not True:
                    continue
                if i < last:
                    yield from expand(i + 1, row)
                elif where is None or self._truth(where, row) is True:
                    yield row

        return expand(0, _Frame({}, outer, from_vars))

    def _bindings(self, item: ast.FromItem, frame: _Frame) -> Iterator[_Binding]:
        try:
            yield from self._item_bindings(item, frame)
        except PartiqlError as exc:
            if exc.line or not item.pos[0]:
                raise
            raise PartiqlError(exc.message, line=item.pos[0], column=item.pos[1]) from None

    def _item_bindings(self, item: ast.FromItem, frame: _Frame) -> Iterator[_Binding]:
        source = item.source
        if isinstance(source, ast.VarRef) and not source.local and _bound_name(source, frame) is None:
            yield from self._table_bindings(item, source.name, frame)
            return
        if (
            isinstance(source, ast.Path)
            and isinstance(source.root, ast.VarRef)
            and source.root.name == "information_schema"
            and _bound_name(source.root, frame) is None
        ):
            if source.steps != (ast.FieldStep("user_tables"),):
                raise PartiqlError("information_schema only has user_tables")
            for table in self.access.tables():
                yield _table_row(table), None, None, MISSING, MISSING
            return
        if isinstance(source, ast.Call) and source.name == "HISTORY":
            yield from self._history_bindings(source, item, frame)
            return
        value = self.eval(source, frame)
        origin = self._origin(source, frame)
        k = kind(value)
        if k in SEQUENCES:
            for position, element in enumerate(value):
                element_origin = None if origin is None or k is Kind.BAG else (origin[0], (*origin[1], position))
                yield element, None, element_origin, MISSING, MISSING if k is Kind.BAG else position
        elif k not in (Kind.NULL, Kind.MISSING):
            yield value, None, origin, MISSING, MISSING

    def _origin(self, source: ast.Expr, frame: _Frame) -> tuple[str, tuple[str | int, ...]] | None:
        """Where a nested-collection source lives: (table alias, steps), if it is a plain path."""
        if not frame.docs:
            return None
        root = source.root if isinstance(source, ast.Path) else source
        if not isinstance(root, ast.VarRef):
            return None
        name = _bound_name(root, frame)
        if name is None:
            return None
        steps = source.steps if isinstance(source, ast.Path) else ()
        if any(isinstance(s, ast.WildcardStep) for s in steps):
            return None
        concrete = tuple(self._concrete_step(s, frame) for s in steps)
        if name in frame.docs:
            return (name, concrete)
        parent = frame.origins.get(name)
        return None if parent is None else (parent[0], (*parent[1], *concrete))

    def _table_bindings(self, item: ast.FromItem, name: str, frame: _Frame) -> Iterator[_Binding]:
        committed = name.startswith(COMMITTED_PREFIX)
        table = self._active_table(name[len(COMMITTED_PREFIX) :] if committed else name)
        for document in self._candidates(item, table, frame, committed=committed):
            if committed:
                if document.committed is not None:
                    revision = document.committed
                    yield _revision_row(revision), None, None, revision.document_id, MISSING
            else:
                yield document.data, document, None, document.id, MISSING

    def _candidates(self, item: ast.FromItem, table: TableInfo, frame: _Frame, *, committed: bool) -> Any:
        """The documents WHERE can accept: by id or through an index when a key conjunct allows,
        else a full scan. WHERE is still applied to each of them."""
        for key in item.keys:
            if key.field is None:
                # an id is a string; the first mention of each, in order
                ids = list(dict.fromkeys(text_of(v) for v in self._key_values(key, frame) if kind(v) in TEXTS))
                if not ids:
                    return ()
                found = {document.id: document for document in self.access.get(table.table_id, ids)}
                return tuple(found[i] for i in ids if i in found)
        if not committed:
            online = {index.field for index in table.indexes if index.status == ONLINE}
            for key in item.keys:
                if key.field in online and key.field != ast.METADATA_ID:
                    documents: dict[str, Document] = {}
                    seen_keys = set()
                    for value in self._key_values(key, frame):
                        value_key = index_key(value)
                        if value_key is None or value_key in seen_keys:
                            continue  # NULL, MISSING or NaN equals nothing
                        seen_keys.add(value_key)
                        for document in self.access.lookup(table.table_id, key.field, value):
                            documents.setdefault(document.id, document)
                    return tuple(documents.values())
        return self.access.scan(table.table_id)

    def _key_values(self, key: ast.KeyCandidate, frame: _Frame) -> list[Any]:
        """The value of an `=` key, or the elements of an `IN` key's collection."""
        value = self.eval(key.value, frame)
        if not key.many:
            return [value]
        return list(value) if kind(value) in SEQUENCES else []

    def _history_bindings(self, call: ast.Call, item: ast.FromItem, frame: _Frame) -> Iterator[_Binding]:
        first = call.args[0]
        if isinstance(first, ast.VarRef) and not first.local:
            table = self._active_table(first.name)
        else:
            table_id = self.eval(first, frame)
            if kind(table_id) not in TEXTS:
                raise PartiqlError(f"history() takes a table name or a table id string, not {type_name(table_id)}")
            found = self.access.table_by_id(text_of(table_id))
            if found is None:
                raise PartiqlError(f"unknown table id {text_of(table_id)}")
            table = found
        bounds = []
        for arg in call.args[1:]:
            value = self.eval(arg, frame)
            if kind(value) is not Kind.TIMESTAMP:
                raise PartiqlError(f"history() start and end times must be timestamps, not {type_name(value)}")
            bounds.append(_utc(value))
        start = bounds[0] if bounds else None
        end = bounds[1] if len(bounds) > 1 else None
        ids = None
        for key in item.keys:
            if key.field in (None, ast.METADATA_ID):  # h.metadata.id or the BY variable = / IN …
                ids = [text_of(v) for v in self._key_values(key, frame) if kind(v) in TEXTS]
                break
        for revision in self.access.history(table.table_id, start, end, ids):
            yield _revision_row(revision), None, None, revision.document_id, MISSING

    # -- expressions -------------------------------------------------------------------------

    def eval(self, node: ast.Expr, frame: _Frame) -> Any:
        try:
            return self.dispatch[type(node)](node, frame)
        except PartiqlError as exc:
            if exc.line or not node.pos[0]:
                raise
            raise PartiqlError(exc.message, line=node.pos[0], column=node.pos[1]) from None

    def _truth(self, node: ast.Expr, frame: _Frame) -> Any:
        """True, False, or None for unknown (NULL or MISSING); other values are type errors."""
        value = self.eval(node, frame)
        if value is True or value is False:
            return value
        k = kind(value)
        if k is Kind.BOOL:
            return bool_of(value)
        if k in (Kind.NULL, Kind.MISSING):
            return None
        raise PartiqlError(f"a condition must be a bool, not {type_name(value)}", line=node.pos[0], column=node.pos[1])

    def _literal(self, node: ast.Literal, frame: _Frame) -> Any:
        value = node.value
        if isinstance(value, list | dict | Multimap):
            return deep_copy(value)  # the parsed tree is shared: never hand out its containers
        return value

    def _param(self, node: ast.Param, frame: _Frame) -> Any:
        return self.parameters[node.index]

    def _var(self, node: ast.VarRef, frame: _Frame) -> Any:
        f: _Frame | None = frame
        while f is not None:
            value = f.vars.get(node.name, _UNBOUND)
            if value is not _UNBOUND:
                return value
            f = f.parent
        name = _bound_name(node, frame)
        if name is not None:
            return _lookup(name, frame)
        if not node.local:
            f = frame
            searched = False
            while f is not None:
                if f.from_vars:
                    searched = True
                    hits = [
                        struct_get(v, node.name)
                        for v in (f.vars.get(alias) for alias in f.from_vars)
                        if v is not None and kind(v) is Kind.STRUCT
                    ]
                    hits = [h for h in hits if h is not MISSING]
                    if len(hits) > 1:
                        raise PartiqlError(f"{node.name} is ambiguous: qualify it with a FROM alias")
                    if hits:
                        return hits[0]
                f = f.parent
            if searched:
                return MISSING
        raise PartiqlError(f"unknown name {'@' if node.local else ''}{node.name}")

    def _path(self, node: ast.Path, frame: _Frame) -> Any:
        return self._walk(self.eval(node.root, frame), node.steps, 0, frame)

    def _walk(self, value: Any, steps: tuple[ast.Step, ...], start: int, frame: _Frame) -> Any:
        for i in range(start, len(steps)):
            step = steps[i]
            if type(step) is ast.FieldStep:
                value = struct_get(value, step.name) if kind(value) is Kind.STRUCT else MISSING
            elif type(step) is ast.IndexStep:
                key = self.eval(step.expr, frame)
                value = _index(value, key)
            else:
                k = kind(value)
                if k is Kind.MISSING:
                    return MISSING
                elements = value if k in SEQUENCES else [] if k is Kind.NULL else [value]
                results = Bag()
                for element in elements:
                    result = self._walk(element, steps, i + 1, frame)
                    if isinstance(result, Bag) and any(isinstance(s, ast.WildcardStep) for s in steps[i + 1 :]):
                        results.extend(result)
                    elif result is not MISSING:
                        results.append(result)
                return results
        return value

    def _unary(self, node: ast.Unary, frame: _Frame) -> Any:
        value = self.eval(node.operand, frame)
        k = kind(value)
        if k in (Kind.NULL, Kind.MISSING):
            return None if k is Kind.NULL else MISSING
        if k not in NUMBERS:
            raise PartiqlError(f"unary {node.op} needs a number, not {type_name(value)}")
        if node.op == "+":
            return value
        if k is Kind.DECIMAL:
            return Decimal(value).copy_negate()
        return -int(value) if k is Kind.INT else -float(value)

    def _binary(self, node: ast.Binary, frame: _Frame) -> Any:
        left = self.eval(node.left, frame)
        right = self.eval(node.right, frame)
        if left is MISSING or right is MISSING:
            return MISSING
        kl, kr = kind(left), kind(right)
        if kl is Kind.NULL or kr is Kind.NULL:
            return None
        if node.op == "||":
            if kl not in TEXTS or kr not in TEXTS:
                raise PartiqlError(f"|| needs strings, not {type_name(left)} and {type_name(right)}")
            return text_of(left) + text_of(right)
        if kl not in NUMBERS or kr not in NUMBERS:
            raise PartiqlError(f"{node.op} needs numbers, not {type_name(left)} and {type_name(right)}")
        return _arithmetic(node.op, left, kl, right, kr)

    def _comparison(self, node: ast.Comparison, frame: _Frame) -> Any:
        left = self.eval(node.left, frame)
        right = self.eval(node.right, frame)
        if node.op == "=":
            return equals(left, right)
        if node.op == "<>":
            result = equals(left, right)
            return (not result) if isinstance(result, bool) else result
        return order(node.op, left, right)

    def _and(self, node: ast.And, frame: _Frame) -> Any:
        left = self._truth(node.left, frame)
        if left is False:
            return False
        right = self._truth(node.right, frame)
        if right is False:
            return False
        return True if left is True and right is True else None

    def _or(self, node: ast.Or, frame: _Frame) -> Any:
        left = self._truth(node.left, frame)
        if left is True:
            return True
        right = self._truth(node.right, frame)
        if right is True:
            return True
        return False if left is False and right is False else None

    def _not(self, node: ast.Not, frame: _Frame) -> Any:
        value = self._truth(node.operand, frame)
        return None if value is None else not value

    def _is(self, node: ast.IsTest, frame: _Frame) -> bool:
        value = self.eval(node.operand, frame)
        result = value is MISSING if node.what == "MISSING" else is_absent(value)
        return result != node.negated

    def _in(self, node: ast.In, frame: _Frame) -> Any:
        needle = self.eval(node.operand, frame)
        haystack = self._in_values(node.collection, frame)
        if needle is MISSING:
            return MISSING
        k = kind(haystack)
        if k in (Kind.NULL, Kind.MISSING) or is_absent(needle):
            return None
        if k not in SEQUENCES:
            raise PartiqlError(f"IN needs a list, bag or subquery on its right, not {type_name(haystack)}")
        if len(haystack) >= _HASHED_IN and (needle_key := index_key(needle)) is not None:
            keys, unknown = self._members(node, haystack)
            if needle_key in keys:
                return not node.negated
            return None if unknown else node.negated
        unknown = False
        for element in haystack:
            result = equals(needle, element)
            if result is True:
                return not node.negated
            if result is not False:
                unknown = True
        return None if unknown else node.negated

    def _members(self, node: ast.In, haystack: Any) -> tuple[frozenset[str], bool]:
        """The collection's equality keys (`index_key`: equal keys exactly when `equals` is True)
        and whether an element is NULL or MISSING (`x IN` it is then unknown, not false), kept
        while the same collection is tested row after row — `WHERE id IN ?` with a list of
        hundreds of ids was a linear scan per row."""
        cached = self.members.get(id(node))
        if cached is not None and cached[0] is haystack:
            return cached[1], cached[2]
        keys = [index_key(element) for element in haystack]
        unknown = any(kind(e) in (Kind.NULL, Kind.MISSING) for e in haystack)
        found = frozenset(k for k in keys if k is not None)
        self.members[id(node)] = (haystack, found, unknown)
        return found, unknown

    def _in_values(self, collection: ast.Expr, frame: _Frame) -> Any:
        if isinstance(collection, ast.Subquery):
            query = collection.query
            projection = query.projection
            if isinstance(projection, ast.SelectList) and len(projection.items) == 1:
                item = projection.items[0]
                if not item.all_fields:
                    # SQL: `x IN (SELECT a.y FROM ...)` compares x with the y values, not {y: ...}.
                    values = ast.SelectValue(item.expr, pos=item.pos)
                    return Bag(self._select(ast.Select(values, query.from_items, query.where, query.aggregate), frame))
        return self.eval(collection, frame)

    def _like(self, node: ast.Like, frame: _Frame) -> Any:
        value = self.eval(node.operand, frame)
        pattern = self.eval(node.pattern, frame)
        escape = self.eval(node.escape, frame) if node.escape is not None else None
        parts = [value, pattern] + ([escape] if node.escape is not None else [])
        if any(p is MISSING for p in parts):
            return MISSING
        if any(is_absent(p) for p in parts):
            return None
        for part in parts:
            if kind(part) not in TEXTS:
                raise PartiqlError(f"LIKE needs strings, not {type_name(part)}")
        escape_char = text_of(escape) if escape is not None else None
        if escape_char is not None and len(escape_char) != 1:
            raise PartiqlError(f"the LIKE escape must be one character, not {escape_char!r}")
        matched = _like_regex(text_of(pattern), escape_char).fullmatch(text_of(value)) is not None
        return matched != node.negated

    def _between(self, node: ast.Between, frame: _Frame) -> Any:
        value = self.eval(node.operand, frame)
        low = order(">=", value, self.eval(node.low, frame))
        high = order("<=", value, self.eval(node.high, frame))
        if low is False or high is False:
            return node.negated
        if low is True and high is True:
            return not node.negated
        return MISSING if value is MISSING else None

    def _struct(self, node: ast.StructCtor, frame: _Frame) -> Any:
        pairs = []
        for key_expr, value_expr in node.fields:
            key = self.eval(key_expr, frame)
            if kind(key) not in TEXTS:
                raise PartiqlError(f"a struct field name must be a string, not {type_name(key)}")
            value = self.eval(value_expr, frame)
            if value is not MISSING:
                pairs.append((text_of(key), _to_ion(value)))
        return make_struct(pairs)

    def _list(self, node: ast.ListCtor, frame: _Frame) -> list[Any]:
        values = (self.eval(item, frame) for item in node.items)
        return [None if v is MISSING else _to_ion(v) for v in values]

    def _bag(self, node: ast.BagCtor, frame: _Frame) -> Bag:
        values = (self.eval(item, frame) for item in node.items)
        return Bag(None if v is MISSING else _to_ion(v) for v in values)

    def _call(self, node: ast.Call, frame: _Frame) -> Any:
        args = [self.eval(arg, frame) for arg in node.args]
        return functions.call(node.name, args, self.access.utcnow)

    def _aggregate_value(self, node: ast.Aggregate, frame: _Frame) -> Any:
        return self.aggregates[id(node)]  # set by _aggregate_row; the parser places aggregates

    def _cast(self, node: ast.Cast, frame: _Frame) -> Any:
        return functions.cast(self.eval(node.operand, frame), node.type_name)

    def _case(self, node: ast.Case, frame: _Frame) -> Any:
        subject = self.eval(node.operand, frame) if node.operand is not None else None
        for condition, result in node.whens:
            if node.operand is not None:
                matched = equals(subject, self.eval(condition, frame)) is True
            else:
                matched = self._truth(condition, frame) is True
            if matched:
                return self.eval(result, frame)
        return self.eval(node.default, frame) if node.default is not None else None

    def _subquery(self, node: ast.Subquery, frame: _Frame) -> Bag:
        return Bag(self._select(node.query, frame))


# -- helpers ----------------------------------------------------------------------------------


def _bound_name(ref: ast.VarRef, frame: _Frame | None) -> str | None:
    """The variable a name refers to, innermost scope first: exact match, then (unquoted names
    only) a case-insensitive one. None when no variable has the name."""
    f = frame
    while f is not None:
        if ref.name in f.vars:
            return ref.name
        f = f.parent
    if ref.quoted:
        return None
    lower = ref.name.lower()
    f = frame
    while f is not None:
        for name in f.vars:
            if name.lower() == lower:
                return name
        f = f.parent
    return None


def _lookup(name: str, frame: _Frame | None) -> Any:
    f = frame
    while f is not None:
        if name in f.vars:
            return f.vars[name]
        f = f.parent
    raise PartiqlError(f"unknown name {name}")  # pragma: no cover - callers resolve first


def _index(value: Any, key: Any) -> Any:
    k, kk = kind(value), kind(key)
    if kk is Kind.INT and k in (Kind.LIST, Kind.SEXP):
        i = int(key)
        return value[i] if 0 <= i < len(value) else MISSING
    if kk in TEXTS and k is Kind.STRUCT:
        return struct_get(value, text_of(key))
    return MISSING


def _arithmetic(op: str, left: Any, kl: Kind, right: Any, kr: Kind) -> Any:
    try:
        if Kind.FLOAT in (kl, kr):
            a, b = float(left), float(right)
            if op in "/%" and b == 0:
                raise PartiqlError(f"division by zero in {op}")
            if op == "+":
                return a + b
            if op == "-":
                return a - b
            if op == "*":
                return a * b
            if op == "/":
                return a / b
            return math.fmod(a, b)  # the sign of the dividend, like SQL
        if Kind.DECIMAL in (kl, kr):
            x, y = Decimal(left), Decimal(right)
            if op == "+":
                return _EXACT.add(x, y)
            if op == "-":
                return _EXACT.subtract(x, y)
            if op == "*":
                return _EXACT.multiply(x, y)
            if y == 0:
                raise PartiqlError(f"division by zero in {op}")
            if op == "/":
                return _DIVIDE.divide(x, y)
            return _EXACT.remainder(x, y)
        i, j = int(left), int(right)
        if op == "+":
            return i + j
        if op == "-":
            return i - j
        if op == "*":
            return i * j
        if j == 0:
            raise PartiqlError(f"division by zero in {op}")
        quotient = abs(i) // abs(j) * (1 if (i >= 0) == (j >= 0) else -1)  # truncate toward zero
        return quotient if op == "/" else i - j * quotient
    except (ArithmeticError, OverflowError) as exc:
        raise PartiqlError(f"arithmetic error in {op}: {exc}") from None


@functools.lru_cache(maxsize=256)
def _like_regex(pattern: str, escape: str | None) -> re.Pattern[str]:
    out = []
    chars = iter(pattern)
    for ch in chars:
        if escape is not None and ch == escape:
            nxt = next(chars, None)
            if nxt is None:
                raise PartiqlError(f"LIKE pattern {pattern!r} ends with its escape character")
            out.append(re.escape(nxt))
        elif ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.S)


def _star(row: _Frame, aliases: tuple[str, ...]) -> Any:
    if len(aliases) == 1:
        value = row.vars[aliases[0]]
        return value if kind(value) is Kind.STRUCT else make_struct([(aliases[0], _to_ion(value))])
    pairs: list[tuple[str, Any]] = []
    for alias in aliases:
        value = row.vars[alias]
        if kind(value) is Kind.STRUCT:
            pairs.extend(struct_items(value))
        elif value is not MISSING:
            pairs.append((alias, _to_ion(value)))
    return make_struct(pairs)


def _projection_exprs(projection: ast.Projection) -> list[ast.Expr]:
    if isinstance(projection, ast.SelectValue):
        return [projection.expr]
    if isinstance(projection, ast.SelectList):
        return [item.expr for item in projection.items]
    return []


def _aggregates_in(node: Any) -> Iterator[ast.Aggregate]:
    if isinstance(node, ast.Aggregate):
        yield node
        return
    if isinstance(node, ast.Subquery):
        return
    if isinstance(node, ast.Node):
        for name in node.__dataclass_fields__:
            if name != "pos":
                yield from _aggregates_in(getattr(node, name))
    elif isinstance(node, tuple):
        for item in node:
            yield from _aggregates_in(item)


class _AggregateState:
    """The running value of one aggregate over the rows of a query."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0
        self.total: Any = None
        self.kinds: set[Kind] = set()
        self.best: Any = MISSING

    def add(self, value: Any, *, star: bool) -> None:
        if star:
            self.count += 1
            return
        if is_absent(value):
            return
        self.count += 1
        if self.name in ("SUM", "AVG"):
            k = kind(value)
            if k not in NUMBERS:
                raise PartiqlError(f"{self.name} needs numbers, not {type_name(value)}")
            self.kinds.add(k)
            self.total = value if self.total is None else _sum(self.total, value)
        elif self.best is MISSING or order("<" if self.name == "MIN" else ">", value, self.best) is True:
            self.best = value  # MIN or MAX

    def result(self) -> Any:
        if self.name == "COUNT":
            return self.count
        if self.count == 0:
            return None
        if self.name in ("MIN", "MAX"):
            return self.best
        if self.name == "SUM":
            return self.total
        if Kind.FLOAT in self.kinds:
            return float(self.total) / self.count
        return _DIVIDE.divide(Decimal(self.total), Decimal(self.count))


def _sum(a: Any, b: Any) -> Any:
    return _arithmetic("+", a, kind(a), b, kind(b))


def _utc(value: datetime) -> datetime:
    """An aware UTC datetime for a timestamp of any precision (unknown offset: UTC)."""
    whole, fraction = instant(value)
    return whole.replace(microsecond=int(fraction * 1_000_000), tzinfo=UTC)


def _to_ion(value: Any) -> Any:
    """Bags leave the engine as Ion lists."""
    return list(value) if isinstance(value, Bag) else value


def _table_row(table: TableInfo) -> dict[str, Any]:
    return {
        "name": table.name,
        "tableId": table.table_id,
        "indexes": [
            {"indexId": index.index_id, "expr": f"[{index.field}]", "status": index.status} for index in table.indexes
        ],
        "status": table.status,
    }


def _revision_row(revision: Revision) -> dict[str, Any]:
    row: dict[str, Any] = {
        "blockAddress": {"strandId": revision.strand_id, "sequenceNo": revision.sequence_no},
        "hash": revision.hash,
    }
    if revision.data is not None:
        row["data"] = revision.data
    elif revision.data_hash is not None:
        row["dataHash"] = revision.data_hash
    row["metadata"] = {
        "id": revision.document_id,
        "version": revision.version,
        "txTime": revision.tx_time,
        "txId": revision.tx_id,
    }
    return row


# -- copy-on-write document edits -------------------------------------------------------------


def _with_field(struct: Any, name: str, value: Any) -> Any:
    """A copy of ``struct`` with field ``name`` set to ``value`` (in place of every repeat)."""
    if type(struct) is dict:
        copy = dict(struct)
        copy[name] = value
        return copy
    result = IonPyDict()
    seen = False
    for key, item in struct_items(struct):
        if key != name:
            result.add_item(key, item)
        elif not seen:
            result.add_item(key, value)
            seen = True
    if not seen:
        result.add_item(name, value)
    result.ion_type = struct.ion_type
    result.ion_annotations = struct.ion_annotations
    return result


def _without_field(struct: Any, name: str) -> Any:
    if type(struct) is dict:
        copy = dict(struct)
        del copy[name]
        return copy
    result = IonPyDict()
    for key, item in struct_items(struct):
        if key != name:
            result.add_item(key, item)
    result.ion_type = struct.ion_type
    result.ion_annotations = struct.ion_annotations
    return result


def _modify(value: Any, steps: tuple[str | int, ...], change: Callable[[Any], Any], verb: str, create: bool) -> Any:
    """``value`` with ``change`` applied at ``steps`` (copying the containers on the way).

    ``create`` (SET) makes missing intermediate structs; otherwise a missing step is an error.
    """
    if not steps:
        return change(value)
    step, rest = steps[0], steps[1:]
    k = kind(value)
    if isinstance(step, str):
        if k is not Kind.STRUCT:
            raise PartiqlError(f"{verb}: cannot reach field {step!r} inside {article(value)}")
        child = struct_get(value, step)
        if child is MISSING and rest:
            if not create:
                raise PartiqlError(f"{verb}: field {step!r} does not exist")
            if not isinstance(rest[0], str):
                raise PartiqlError(f"{verb}: cannot index [{rest[0]}] into the missing field {step!r}")
            child = {}
        return _with_field(value, step, _modify(child, rest, change, verb, create))
    if k not in (Kind.LIST, Kind.SEXP):
        raise PartiqlError(f"{verb}: cannot index [{step}] into {article(value)}")
    if not 0 <= step < len(value) or value[step] is _REMOVED:
        raise PartiqlError(f"{verb}: index {step} is out of range for a list of {len(value)}")
    copy = copy_container(value)
    copy[step] = _modify(value[step], rest, change, verb, create)
    return copy


def _exists_at(value: Any, steps: tuple[str | int, ...]) -> bool:
    for step in steps:
        k = kind(value) if value is not _REMOVED else Kind.MISSING
        if isinstance(step, str):
            value = struct_get(value, step) if k is Kind.STRUCT else MISSING
        elif k in (Kind.LIST, Kind.SEXP) and 0 <= step < len(value):
            value = value[step]
        else:
            return False
        if value is MISSING or value is _REMOVED:
            return False
    return True


def _remove_child(parent: Any, step: str | int) -> Any:
    if isinstance(step, str):
        return _without_field(parent, step)
    # Keep positions stable while other rows still address this list by index.
    copy = copy_container(parent)
    copy[step] = _REMOVED
    return copy


def _insert_into(target: Any, value: Any, at: Any) -> Any:
    k = kind(target)
    if k is Kind.STRUCT:
        if at is None or kind(at) not in TEXTS:
            raise PartiqlError("INSERT INTO a struct needs AT 'field name'")
        name = text_of(at)
        if struct_get(target, name) is not MISSING:
            raise PartiqlError(f"INSERT INTO: field {name!r} already exists; use SET to change it")
        return _with_field(target, name, value)
    if k in (Kind.LIST, Kind.SEXP):
        copy = copy_container(target)
        if at is None:
            copy.append(value)
            return copy
        if kind(at) is not Kind.INT or not 0 <= int(at) <= len(target):
            raise PartiqlError(f"INSERT INTO a list needs AT a position from 0 to {len(target)}")
        copy.insert(int(at), value)
        return copy
    if k is Kind.MISSING:
        raise PartiqlError("INSERT INTO: the target does not exist")
    raise PartiqlError(f"INSERT INTO needs a list or a struct, not {type_name(target)}")


def _purge(value: Any) -> Any:
    """``value`` without the list elements that REMOVE marked."""
    k = kind(value) if value is not _REMOVED else Kind.MISSING
    if k in (Kind.LIST, Kind.SEXP):
        items = [_purge(v) for v in value if v is not _REMOVED]
        if len(items) == len(value) and all(a is b for a, b in zip(items, value, strict=True)):
            return value
        copy = copy_container(value)
        copy[:] = items
        return copy
    if k is Kind.STRUCT:
        pairs = struct_items(value)
        purged = [(n, _purge(v)) for n, v in pairs]
        if all(a[1] is b[1] for a, b in zip(purged, pairs, strict=True)):
            return value
        result = value
        for (name, new), (_, old) in zip(purged, pairs, strict=True):
            if new is not old:
                result = _with_field(result, name, new)
        return result
    return value
