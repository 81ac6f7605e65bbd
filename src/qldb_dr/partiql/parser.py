"""Statement text to syntax tree: the lark grammar of ``grammar.py`` and a cached ``parse``.

The tree is validated and planned here, once per statement text: unsupported constructs are
rejected by name, function names and arities are checked, aggregates are placed, and each FROM
item learns which WHERE conjuncts could drive an index lookup (``KeyCandidate``).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from amazon.ion import simpleion
from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError
from lark.tree import Meta

from qldb_dr.partiql import ast
from qldb_dr.partiql.errors import PartiqlError
from qldb_dr.partiql.functions import AGGREGATES, ARITY, DATE_PARTS, EXTRACT_PARTS
from qldb_dr.partiql.grammar import GRAMMAR
from qldb_dr.partiql.values import MISSING

CACHE_SIZE = 4096


@functools.lru_cache(maxsize=CACHE_SIZE)
def parse(statement: str) -> ast.Parsed:
    """Parse, validate and plan one statement. Cached by text: a restore runs the same few
    statements hundreds of thousands of times. Raises ``PartiqlError``."""
    try:
        tree = _lark().parse(statement)
    except UnexpectedInput as exc:
        raise PartiqlError(_syntax_message(exc), line=exc.line, column=exc.column) from None
    builder = _Builder()
    try:
        node = builder.transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, PartiqlError):
            raise exc.orig_exc from None
        raise
    assert isinstance(node, ast.Statement)
    _check_aggregates(node, allowed=False)
    return ast.Parsed(_plan_statement(node), builder.parameter_count)


@functools.cache
def _lark() -> Lark:
    return Lark(GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=False)


def _syntax_message(exc: UnexpectedInput) -> str:
    if isinstance(exc, UnexpectedEOF):
        return "syntax error: the statement ends too early"
    if isinstance(exc, UnexpectedToken):
        if exc.token.type == "$END":
            return "syntax error: the statement ends too early"
        return f"syntax error: unexpected {exc.token.value!r}"
    if isinstance(exc, UnexpectedCharacters):
        return f"syntax error: unexpected character {exc.char!r}"
    return "syntax error"  # pragma: no cover - lark raises only the three kinds above


def _fail(meta: Meta | ast.Pos, message: str) -> PartiqlError:
    if isinstance(meta, tuple):
        return PartiqlError(message, line=meta[0], column=meta[1])
    return PartiqlError(message, line=getattr(meta, "line", None), column=getattr(meta, "column", None))


def _pos(meta: Meta) -> ast.Pos:
    return (getattr(meta, "line", 0), getattr(meta, "column", 0))


@dataclasses.dataclass(frozen=True, slots=True)
class _Name:
    text: str
    quoted: bool


@dataclasses.dataclass(frozen=True, slots=True)
class _Where:
    expr: ast.Expr


@dataclasses.dataclass(frozen=True, slots=True)
class _FromSpec:
    source: ast.Expr
    alias: str | None
    at_alias: str | None
    by_alias: str | None
    pos: ast.Pos


def _is_keyword(child: Any, *types: str) -> bool:
    return isinstance(child, Token) and child.type in types


def _nodes(children: list[Any]) -> list[Any]:
    """Children without keyword tokens."""
    return [c for c in children if not isinstance(c, Token)]


# Transformer callbacks are named after grammar rules, so a few are named like builtins.
@v_args(meta=True)
class _Builder(Transformer[Token, Any]):
    def __init__(self) -> None:
        super().__init__()
        self.parameter_count = 0

    def start(self, meta: Meta, children: list[Any]) -> ast.Statement:
        statement = children[0]
        if not isinstance(statement, ast.Statement):  # pragma: no cover - the grammar ensures it
            raise _fail(meta, "not a statement")
        return statement

    # -- unsupported constructs, rejected by name -------------------------------------------

    def _unsupported(self, meta: Meta, what: str) -> PartiqlError:
        return _fail(meta, f"{what} is not supported by QLDB's PartiQL")

    def unsupported_pivot(self, meta: Meta, children: list[Any]) -> Any:
        raise self._unsupported(meta, "PIVOT")

    def unsupported_unpivot(self, meta: Meta, children: list[Any]) -> Any:
        raise self._unsupported(meta, "UNPIVOT")

    def unsupported_set_op(self, meta: Meta, children: list[Any]) -> Any:
        op = next(c for c in children if _is_keyword(c, "UNION", "INTERSECT", "EXCEPT"))
        raise _fail(_pos_of(op), f"{op.value.upper()} is not supported by QLDB's PartiQL")

    def unsupported_group_by(self, meta: Meta, children: list[Any]) -> Any:
        raise self._unsupported(meta, "GROUP BY")

    def unsupported_having(self, meta: Meta, children: list[Any]) -> Any:
        raise self._unsupported(meta, "HAVING")

    def unsupported_order_by(self, meta: Meta, children: list[Any]) -> Any:
        raise self._unsupported(meta, "ORDER BY")

    def unsupported_limit(self, meta: Meta, children: list[Any]) -> Any:
        raise self._unsupported(meta, "LIMIT")

    def unsupported_offset(self, meta: Meta, children: list[Any]) -> Any:
        raise self._unsupported(meta, "OFFSET")

    def unsupported_let(self, meta: Meta, children: list[Any]) -> Any:
        raise self._unsupported(meta, "LET")

    def unsupported_outer_join(self, meta: Meta, children: list[Any]) -> Any:
        side = next(c for c in children if _is_keyword(c, "LEFT", "RIGHT", "FULL"))
        raise self._unsupported(meta, f"{side.value.upper()} JOIN")

    def unsupported_insert_at(self, meta: Meta, children: list[Any]) -> Any:
        raise _fail(meta, "INSERT INTO <table> ... AT is not supported; AT belongs to FROM ... INSERT INTO")

    def quantifier(self, meta: Meta, children: list[Any]) -> str:
        word = str(children[0].value).upper()
        if word == "DISTINCT":
            raise self._unsupported(meta, "DISTINCT")
        return word

    # -- queries ----------------------------------------------------------------------------

    def query(self, meta: Meta, children: list[Any]) -> ast.Select:
        parts = [c for c in _nodes(children) if not isinstance(c, str)]
        projection = next(c for c in parts if isinstance(c, ast.Projection))
        from_items = next(c for c in parts if isinstance(c, tuple))
        where = next((c.expr for c in parts if isinstance(c, _Where)), None)
        aggregate = any(_contains_aggregate(e) for e in _projection_exprs(projection))
        if aggregate:
            _check_aggregate_projection(projection)
        items = _plan_keys(from_items, where, implicit=False)
        return ast.Select(projection, items, where, aggregate, pos=_pos(meta))

    def select_star(self, meta: Meta, children: list[Any]) -> ast.SelectStar:
        return ast.SelectStar(pos=_pos(meta))

    def select_value(self, meta: Meta, children: list[Any]) -> ast.SelectValue:
        return ast.SelectValue(_nodes(children)[0], pos=_pos(meta))

    def select_list(self, meta: Meta, children: list[Any]) -> ast.SelectList:
        return ast.SelectList(tuple(children), pos=_pos(meta))

    def select_expr(self, meta: Meta, children: list[Any]) -> ast.SelectItem:
        nodes = _nodes(children)
        alias = nodes[1].text if len(nodes) > 1 else None
        return ast.SelectItem(nodes[0], alias, pos=_pos(meta))

    def select_all_fields(self, meta: Meta, children: list[Any]) -> ast.SelectItem:
        return ast.SelectItem(children[0], None, all_fields=True, pos=_pos(meta))

    def where(self, meta: Meta, children: list[Any]) -> _Where:
        return _Where(_nodes(children)[0])

    def from_clause(self, meta: Meta, children: list[Any]) -> tuple[ast.FromItem, ...]:
        joins: list[tuple[str, _FromSpec, ast.Expr | None]] = [("FIRST", children[1], None), *children[2:]]
        items = []
        for i, (join, spec, on) in enumerate(joins):
            alias = spec.alias or ast.default_name(spec.source, i)
            items.append(ast.FromItem(spec.source, alias, spec.at_alias, spec.by_alias, join, on, pos=spec.pos))
        return tuple(items)

    def from_item(self, meta: Meta, children: list[Any]) -> _FromSpec:
        source = children[0]
        names: dict[str, str] = {}
        role = "AS"
        for child in children[1:]:
            if isinstance(child, Token):
                role = child.type
            else:
                names[role] = child.text
                role = "AS"
        return _FromSpec(source, names.get("AS"), names.get("AT"), names.get("BY"), _pos(meta))

    def join_comma(self, meta: Meta, children: list[Any]) -> tuple[str, _FromSpec, None]:
        return ("CROSS", _nodes(children)[0], None)

    def join_cross(self, meta: Meta, children: list[Any]) -> tuple[str, _FromSpec, None]:
        return ("CROSS", _nodes(children)[0], None)

    def join_inner(self, meta: Meta, children: list[Any]) -> tuple[str, _FromSpec, ast.Expr | None]:
        nodes = _nodes(children)
        return ("INNER", nodes[0], nodes[1] if len(nodes) > 1 else None)

    # -- DML --------------------------------------------------------------------------------

    def insert_value(self, meta: Meta, children: list[Any]) -> ast.Insert:
        name, value = _nodes(children)
        return ast.Insert(name.text, value, single=True, pos=_pos(meta))

    def insert_expr(self, meta: Meta, children: list[Any]) -> ast.Insert:
        name, value = _nodes(children)
        return ast.Insert(name.text, value, single=False, pos=_pos(meta))

    def update(self, meta: Meta, children: list[Any]) -> ast.Dml:
        item, rest = _single_table(children, meta)
        ops = tuple(op for c in rest if isinstance(c, list) for op in c)
        where = next((c.expr for c in rest if isinstance(c, _Where)), None)
        items = _plan_keys((item,), where, implicit=False)
        return ast.Dml("UPDATE", items, where, ops, pos=_pos(meta))

    def delete(self, meta: Meta, children: list[Any]) -> ast.Dml:
        item, rest = _single_table(children[1:], meta)  # skip DELETE; FROM is the next keyword
        where = next((c.expr for c in rest if isinstance(c, _Where)), None)
        ops = (ast.RemoveOp(ast.VarRef(item.alias, quoted=True, pos=item.pos), pos=_pos(meta)),)
        items = _plan_keys((item,), where, implicit=False)
        return ast.Dml("DELETE", items, where, ops, pos=_pos(meta))

    def from_dml(self, meta: Meta, children: list[Any]) -> ast.Dml:
        from_items = children[0]
        where = next((c.expr for c in children if isinstance(c, _Where)), None)
        ops = tuple(op for c in children if isinstance(c, list) for op in c)
        items = _plan_keys(from_items, where, implicit=False)
        return ast.Dml("FROM", items, where, ops, pos=_pos(meta))

    def set_op(self, meta: Meta, children: list[Any]) -> list[ast.DmlOp]:
        return _nodes(children)

    def assignment(self, meta: Meta, children: list[Any]) -> ast.SetOp:
        target, value = children
        return ast.SetOp(_dml_target(target, "SET"), value, pos=_pos(meta))

    def remove_op(self, meta: Meta, children: list[Any]) -> list[ast.DmlOp]:
        return [ast.RemoveOp(_dml_target(_nodes(children)[0], "REMOVE"), pos=_pos(meta))]

    def insert_op(self, meta: Meta, children: list[Any]) -> list[ast.DmlOp]:
        nodes = _nodes(children)
        at = nodes[2] if len(nodes) > 2 else None
        return [ast.InsertOp(_dml_target(nodes[0], "INSERT INTO"), nodes[1], at, pos=_pos(meta))]

    # -- DDL and procedures -----------------------------------------------------------------

    def create_table(self, meta: Meta, children: list[Any]) -> ast.CreateTable:
        nodes = _nodes(children)
        options = tuple(nodes[1:])
        for name, _ in options:
            if name.lower() != "aws_tags":
                raise _fail(meta, f"CREATE TABLE option {name!r} is not supported (only aws_tags)")
        return ast.CreateTable(nodes[0].text, options, pos=_pos(meta))

    def option(self, meta: Meta, children: list[Any]) -> tuple[str, ast.Expr]:
        name, value = children
        return (name.text, value)

    def drop_table(self, meta: Meta, children: list[Any]) -> ast.DropTable:
        return ast.DropTable(_nodes(children)[0].text, pos=_pos(meta))

    def undrop_table(self, meta: Meta, children: list[Any]) -> ast.UndropTable:
        return ast.UndropTable(_nodes(children)[0].text, pos=_pos(meta))

    def create_index(self, meta: Meta, children: list[Any]) -> ast.CreateIndex:
        nodes = _nodes(children)
        table, fields = nodes[0].text, nodes[1:]
        if len(fields) != 1:
            raise _fail(meta, "CREATE INDEX takes exactly one field: QLDB has no composite indexes")
        field = fields[0]
        if not isinstance(field, ast.VarRef) or field.local:
            raise _fail(field.pos, "CREATE INDEX takes a top-level field name; nested paths are not supported")
        return ast.CreateIndex(table, field.name, pos=_pos(meta))

    def drop_index(self, meta: Meta, children: list[Any]) -> ast.DropIndex:
        nodes = _nodes(children)
        index_id, table, options = nodes[0].text, nodes[1].text, tuple(nodes[2:])
        purge = [value for name, value in options if name.lower() == "purge"]
        others = [name for name, _ in options if name.lower() != "purge"]
        if others:
            raise _fail(meta, f"DROP INDEX option {others[0]!r} is not supported (only purge)")
        if len(purge) != 1 or not (isinstance(purge[0], ast.Literal) and purge[0].value is True):
            raise _fail(meta, "DROP INDEX needs WITH (purge = true)")
        return ast.DropIndex(index_id, table, options, pos=_pos(meta))

    def exec(self, meta: Meta, children: list[Any]) -> ast.Exec:
        nodes = _nodes(children)
        return ast.Exec(nodes[0].text, tuple(nodes[1:]), pos=_pos(meta))

    # -- expressions ------------------------------------------------------------------------

    def or_(self, meta: Meta, children: list[Any]) -> ast.Or:
        left, right = _nodes(children)
        return ast.Or(left, right, pos=_pos(meta))

    def and_(self, meta: Meta, children: list[Any]) -> ast.And:
        left, right = _nodes(children)
        return ast.And(left, right, pos=_pos(meta))

    def not_(self, meta: Meta, children: list[Any]) -> ast.Not:
        return ast.Not(_nodes(children)[0], pos=_pos(meta))

    def _compare(self, op: str, meta: Meta, children: list[Any]) -> ast.Comparison:
        left, right = children
        return ast.Comparison(op, left, right, pos=_pos(meta))

    def eq(self, meta: Meta, children: list[Any]) -> ast.Comparison:
        return self._compare("=", meta, children)

    def ne(self, meta: Meta, children: list[Any]) -> ast.Comparison:
        return self._compare("<>", meta, children)

    def lt(self, meta: Meta, children: list[Any]) -> ast.Comparison:
        return self._compare("<", meta, children)

    def le(self, meta: Meta, children: list[Any]) -> ast.Comparison:
        return self._compare("<=", meta, children)

    def gt(self, meta: Meta, children: list[Any]) -> ast.Comparison:
        return self._compare(">", meta, children)

    def ge(self, meta: Meta, children: list[Any]) -> ast.Comparison:
        return self._compare(">=", meta, children)

    def is_test(self, meta: Meta, children: list[Any]) -> ast.IsTest:
        negated = any(_is_keyword(c, "NOT") for c in children)
        what = "MISSING" if any(_is_keyword(c, "MISSING") for c in children) else "NULL"
        return ast.IsTest(children[0], what, negated, pos=_pos(meta))

    def in_(self, meta: Meta, children: list[Any]) -> ast.In:
        negated = any(_is_keyword(c, "NOT") for c in children)
        operand, collection = _nodes(children)
        return ast.In(operand, collection, negated, pos=_pos(meta))

    def in_rhs(self, meta: Meta, children: list[Any]) -> ast.Expr:
        result: ast.Expr = children[0]
        return result

    def in_single(self, meta: Meta, children: list[Any]) -> ast.ListCtor:
        return ast.ListCtor((children[0],), pos=_pos(meta))

    def in_list(self, meta: Meta, children: list[Any]) -> ast.ListCtor:
        return ast.ListCtor(tuple(children), pos=_pos(meta))

    def in_query(self, meta: Meta, children: list[Any]) -> ast.Subquery:
        return ast.Subquery(children[0], pos=_pos(meta))

    def like(self, meta: Meta, children: list[Any]) -> ast.Like:
        negated = any(_is_keyword(c, "NOT") for c in children)
        nodes = _nodes(children)
        escape = nodes[2] if len(nodes) > 2 else None
        return ast.Like(nodes[0], nodes[1], escape, negated, pos=_pos(meta))

    def between(self, meta: Meta, children: list[Any]) -> ast.Between:
        negated = any(_is_keyword(c, "NOT") for c in children)
        operand, low, high = _nodes(children)
        return ast.Between(operand, low, high, negated, pos=_pos(meta))

    def _binary(self, op: str, meta: Meta, children: list[Any]) -> ast.Binary:
        left, right = children
        return ast.Binary(op, left, right, pos=_pos(meta))

    def concat_(self, meta: Meta, children: list[Any]) -> ast.Binary:
        return self._binary("||", meta, children)

    def add(self, meta: Meta, children: list[Any]) -> ast.Binary:
        return self._binary("+", meta, children)

    def sub(self, meta: Meta, children: list[Any]) -> ast.Binary:
        return self._binary("-", meta, children)

    def mul(self, meta: Meta, children: list[Any]) -> ast.Binary:
        return self._binary("*", meta, children)

    def div(self, meta: Meta, children: list[Any]) -> ast.Binary:
        return self._binary("/", meta, children)

    def mod(self, meta: Meta, children: list[Any]) -> ast.Binary:
        return self._binary("%", meta, children)

    def neg(self, meta: Meta, children: list[Any]) -> ast.Expr:
        operand = children[0]
        if isinstance(operand, ast.Literal) and type(operand.value) in (int, float):
            return ast.Literal(-operand.value, pos=_pos(meta))
        if isinstance(operand, ast.Literal) and type(operand.value) is Decimal:
            return ast.Literal(operand.value.copy_negate(), pos=_pos(meta))
        return ast.Unary("-", operand, pos=_pos(meta))

    def pos(self, meta: Meta, children: list[Any]) -> ast.Unary:
        return ast.Unary("+", children[0], pos=_pos(meta))

    # -- paths ------------------------------------------------------------------------------

    def _step(self, base: ast.Expr, step: ast.Step) -> ast.Path:
        if isinstance(base, ast.Path):
            return ast.Path(base.root, (*base.steps, step), pos=base.pos)
        return ast.Path(base, (step,), pos=base.pos)

    def dot(self, meta: Meta, children: list[Any]) -> ast.Path:
        base, name = children
        return self._step(base, ast.FieldStep(name.text, pos=_pos(meta)))

    def index(self, meta: Meta, children: list[Any]) -> ast.Path:
        base, expr = children
        if isinstance(expr, ast.Literal) and type(expr.value) is str:
            return self._step(base, ast.FieldStep(expr.value, pos=_pos(meta)))
        return self._step(base, ast.IndexStep(expr, pos=_pos(meta)))

    def wildcard(self, meta: Meta, children: list[Any]) -> ast.Path:
        return self._step(children[0], ast.WildcardStep(pos=_pos(meta)))

    def in_dot(self, meta: Meta, children: list[Any]) -> ast.Path:
        return self.dot(meta, children)

    def in_index(self, meta: Meta, children: list[Any]) -> ast.Path:
        return self.index(meta, children)

    def var(self, meta: Meta, children: list[Any]) -> ast.VarRef:
        return ast.VarRef(str(children[0]), pos=_pos(meta))

    def quoted_var(self, meta: Meta, children: list[Any]) -> ast.VarRef:
        return ast.VarRef(_unquote(children[0]), quoted=True, pos=_pos(meta))

    def local_var(self, meta: Meta, children: list[Any]) -> ast.VarRef:
        return ast.VarRef(str(children[0]), local=True, pos=_pos(meta))

    def local_quoted_var(self, meta: Meta, children: list[Any]) -> ast.VarRef:
        return ast.VarRef(_unquote(children[0]), quoted=True, local=True, pos=_pos(meta))

    def name(self, meta: Meta, children: list[Any]) -> _Name:
        token = children[0]
        if token.type == "QUOTED_IDENT":
            return _Name(_unquote(token), quoted=True)
        return _Name(str(token), quoted=False)

    # -- literals and constructors ----------------------------------------------------------

    def param(self, meta: Meta, children: list[Any]) -> ast.Param:
        # Transformer callbacks run bottom-up, left to right: parameters are numbered in order.
        self.parameter_count += 1
        return ast.Param(self.parameter_count - 1, pos=_pos(meta))

    def string(self, meta: Meta, children: list[Any]) -> ast.Literal:
        return ast.Literal(str(children[0])[1:-1].replace("''", "'"), pos=_pos(meta))

    def int(self, meta: Meta, children: list[Any]) -> ast.Literal:
        return ast.Literal(int(children[0]), pos=_pos(meta))

    def decimal(self, meta: Meta, children: list[Any]) -> ast.Literal:
        return ast.Literal(Decimal(str(children[0])), pos=_pos(meta))

    def float(self, meta: Meta, children: list[Any]) -> ast.Literal:
        return ast.Literal(float(children[0]), pos=_pos(meta))

    def ion(self, meta: Meta, children: list[Any]) -> ast.Literal:
        text = str(children[0])[1:-1]
        try:
            values = simpleion.loads(text, single_value=False)
        except Exception as exc:  # amazon.ion raises assorted exception types for bad text
            raise _fail(meta, f"invalid Ion literal `{text}`: {exc}") from None
        if len(values) != 1:
            raise _fail(meta, f"an Ion literal holds exactly one value, `{text}` holds {len(values)}")
        return ast.Literal(values[0], pos=_pos(meta))

    def true(self, meta: Meta, children: list[Any]) -> ast.Literal:
        return ast.Literal(True, pos=_pos(meta))

    def false(self, meta: Meta, children: list[Any]) -> ast.Literal:
        return ast.Literal(False, pos=_pos(meta))

    def null(self, meta: Meta, children: list[Any]) -> ast.Literal:
        return ast.Literal(None, pos=_pos(meta))

    def missing(self, meta: Meta, children: list[Any]) -> ast.Literal:
        return ast.Literal(MISSING, pos=_pos(meta))

    def struct_ctor(self, meta: Meta, children: list[Any]) -> ast.StructCtor:
        return ast.StructCtor(tuple(children), pos=_pos(meta))

    def struct_field(self, meta: Meta, children: list[Any]) -> tuple[ast.Expr, ast.Expr]:
        key, value = children
        return (key, value)

    def list_ctor(self, meta: Meta, children: list[Any]) -> ast.ListCtor:
        return ast.ListCtor(tuple(children), pos=_pos(meta))

    def bag_ctor(self, meta: Meta, children: list[Any]) -> ast.BagCtor:
        return ast.BagCtor(tuple(children), pos=_pos(meta))

    def subquery(self, meta: Meta, children: list[Any]) -> ast.Subquery:
        return ast.Subquery(children[0], pos=_pos(meta))

    # -- functions --------------------------------------------------------------------------

    def call_empty(self, meta: Meta, children: list[Any]) -> ast.Expr:
        return _call(meta, str(children[0]), ())

    def call_args(self, meta: Meta, children: list[Any]) -> ast.Expr:
        return _call(meta, str(children[0]), tuple(children[1:]))

    def call_star(self, meta: Meta, children: list[Any]) -> ast.Aggregate:
        name = str(children[0]).upper()
        if name != "COUNT":
            raise _fail(meta, f"{name}(*) is not a function; only COUNT(*) takes *")
        return ast.Aggregate("COUNT", None, pos=_pos(meta))

    def call_quantified(self, meta: Meta, children: list[Any]) -> ast.Expr:
        name, _all, arg = children  # DISTINCT was rejected by quantifier()
        call = _call(meta, str(name), (arg,))
        if not isinstance(call, ast.Aggregate):
            raise _fail(meta, f"ALL is only allowed in an aggregate function, not in {str(name).upper()}")
        return call

    def cast(self, meta: Meta, children: list[Any]) -> ast.Cast:
        operand, type_name = _nodes(children)
        return ast.Cast(operand, type_name, pos=_pos(meta))

    def type_name(self, meta: Meta, children: list[Any]) -> str:
        name = str(children[0]).upper()
        if len(children) > 1:
            raise _fail(meta, f"CAST to {name}(...) with precision or length is not supported")
        target = _CAST_TYPES.get(name)
        if target is None:
            raise _fail(meta, f"CAST to {name} is not supported")
        return target

    def extract(self, meta: Meta, children: list[Any]) -> ast.Call:
        part_token, operand = children[1], children[3]  # EXTRACT part FROM operand
        part = str(part_token).lower()
        if part not in EXTRACT_PARTS:
            raise _fail(_pos_of(part_token), f"EXTRACT cannot take {part.upper()} from a timestamp")
        return ast.Call("EXTRACT", (ast.Literal(part), operand), pos=_pos(meta))

    def substring_from(self, meta: Meta, children: list[Any]) -> ast.Call:
        return ast.Call("SUBSTRING", tuple(_nodes(children)), pos=_pos(meta))

    def substring(self, meta: Meta, children: list[Any]) -> ast.Expr:
        return _call(meta, "SUBSTRING", tuple(_nodes(children)))

    def trim_simple(self, meta: Meta, children: list[Any]) -> ast.Call:
        (operand,) = _nodes(children)
        return ast.Call("TRIM", (ast.Literal("both"), ast.Literal(" "), operand), pos=_pos(meta))

    def trim_chars(self, meta: Meta, children: list[Any]) -> ast.Call:
        chars, operand = _nodes(children)
        return ast.Call("TRIM", (ast.Literal("both"), chars, operand), pos=_pos(meta))

    def trim_spec(self, meta: Meta, children: list[Any]) -> ast.Call:
        spec = next(c for c in children if _is_keyword(c, "LEADING", "TRAILING", "BOTH"))
        nodes = _nodes(children)
        chars = nodes[0] if len(nodes) > 1 else ast.Literal(" ")
        return ast.Call("TRIM", (ast.Literal(spec.value.lower()), chars, nodes[-1]), pos=_pos(meta))

    def exists_query(self, meta: Meta, children: list[Any]) -> ast.Call:
        (query,) = _nodes(children)
        return ast.Call("EXISTS", (ast.Subquery(query, pos=query.pos),), pos=_pos(meta))

    def exists_expr(self, meta: Meta, children: list[Any]) -> ast.Call:
        return ast.Call("EXISTS", tuple(_nodes(children)), pos=_pos(meta))

    def case(self, meta: Meta, children: list[Any]) -> ast.Case:
        operand: ast.Expr | None = None
        whens: list[tuple[ast.Expr, ast.Expr]] = []
        default: ast.Expr | None = None
        after_else = False
        for child in children:
            if _is_keyword(child, "ELSE"):
                after_else = True
            elif isinstance(child, tuple):
                whens.append(child)
            elif isinstance(child, ast.Expr):
                if after_else:
                    default = child
                else:
                    operand = child
        return ast.Case(operand, tuple(whens), default, pos=_pos(meta))

    def case_when(self, meta: Meta, children: list[Any]) -> tuple[ast.Expr, ast.Expr]:
        condition, result = _nodes(children)
        return (condition, result)


_CAST_TYPES = {
    "INT": "INT",
    "INTEGER": "INT",
    "INT4": "INT",
    "INT8": "INT",
    "BIGINT": "INT",
    "SMALLINT": "INT",
    "DECIMAL": "DECIMAL",
    "NUMERIC": "DECIMAL",
    "FLOAT": "FLOAT",
    "REAL": "FLOAT",
    "DOUBLE": "FLOAT",
    "STRING": "STRING",
    "VARCHAR": "STRING",
    "SYMBOL": "SYMBOL",
    "TIMESTAMP": "TIMESTAMP",
    "BOOL": "BOOL",
    "BOOLEAN": "BOOL",
}


def _pos_of(token: Token) -> ast.Pos:
    return (token.line or 0, token.column or 0)


def _unquote(token: Token) -> str:
    return str(token)[1:-1].replace('""', '"')


def _single_table(children: list[Any], meta: Meta) -> tuple[ast.FromItem, list[Any]]:
    """The ``table [AS] alias [BY id]`` head of UPDATE and DELETE, and what follows it."""
    nodes = [c for c in children if not _is_keyword(c, "UPDATE", "FROM")]
    table = nodes[0]
    names: dict[str, str] = {}
    role = "AS"
    rest: list[Any] = []
    for child in nodes[1:]:
        if rest or not (isinstance(child, (_Name, Token))):
            rest.append(child)
        elif isinstance(child, Token):
            role = child.type
        else:
            names[role] = child.text
            role = "AS"
    source = ast.VarRef(table.text, quoted=table.quoted, pos=_pos(meta))
    alias = names.get("AS", table.text)
    return ast.FromItem(source, alias, None, names.get("BY"), "FIRST", None, pos=_pos(meta)), rest


def _dml_target(target: ast.Expr, verb: str) -> ast.Expr:
    root = target.root if isinstance(target, ast.Path) else target
    steps = target.steps if isinstance(target, ast.Path) else ()
    if not isinstance(root, ast.VarRef) or any(isinstance(s, ast.WildcardStep) for s in steps):
        raise _fail(target.pos, f"{verb} needs a path such as alias.field or alias.list[0]")
    return target


def _call(meta: Meta, name: str, args: tuple[ast.Expr, ...]) -> ast.Expr:
    upper = name.upper()
    if upper == "CHARACTER_LENGTH":
        upper = "CHAR_LENGTH"
    if upper == "CARDINALITY":
        upper = "SIZE"
    if upper in AGGREGATES:
        if len(args) != 1:
            raise _fail(meta, f"{upper} takes one argument, not {len(args)}")
        return ast.Aggregate(upper, args[0], pos=_pos(meta))
    arity = ARITY.get(upper)
    if arity is None:
        raise _fail(meta, f"unknown function {name}")
    low, high = arity
    if not low <= len(args) <= high:
        expected = str(low) if low == high else f"{low} to {high}"
        raise _fail(meta, f"{upper} takes {expected} arguments, not {len(args)}")
    if upper in ("DATE_ADD", "DATE_DIFF"):
        part = args[0]
        if not isinstance(part, ast.VarRef) or part.quoted or part.name.lower() not in DATE_PARTS:
            raise _fail(meta, f"{upper} needs a date part first: one of {', '.join(sorted(DATE_PARTS))}")
        args = (ast.Literal(part.name.lower(), pos=part.pos), *args[1:])
    return ast.Call(upper, args, pos=_pos(meta))


# -- tree walks -------------------------------------------------------------------------------


def _children(node: Any) -> Iterator[ast.Node]:
    """Direct child nodes of a node (through tuples and pairs)."""
    for f in dataclasses.fields(node):
        if f.name in ("pos", "keys"):
            continue
        yield from _flatten(getattr(node, f.name))


def _flatten(value: Any) -> Iterator[ast.Node]:
    if isinstance(value, ast.Node):
        yield value
    elif isinstance(value, tuple):
        for item in value:
            yield from _flatten(item)


def _contains_aggregate(node: ast.Node) -> bool:
    if isinstance(node, ast.Aggregate):
        return True
    if isinstance(node, ast.Subquery):
        return False
    return any(_contains_aggregate(c) for c in _children(node))


def _projection_exprs(projection: ast.Projection) -> list[ast.Expr]:
    if isinstance(projection, ast.SelectValue):
        return [projection.expr]
    if isinstance(projection, ast.SelectList):
        return [item.expr for item in projection.items]
    return []


def _check_aggregate_projection(projection: ast.Projection) -> None:
    """Without GROUP BY, an aggregate query may only combine aggregates and constants."""
    for expr in _projection_exprs(projection):
        bad = _outside_aggregate(expr)
        if bad is not None:
            raise _fail(
                bad.pos,
                "a query with aggregate functions can only select aggregates (GROUP BY is not supported)",
            )


def _outside_aggregate(node: ast.Node) -> ast.Node | None:
    if isinstance(node, ast.Aggregate | ast.Literal | ast.Param):
        return None
    if isinstance(node, ast.VarRef | ast.Subquery):
        return node
    for child in _children(node):
        bad = _outside_aggregate(child)
        if bad is not None:
            return bad
    return None


def _check_aggregates(node: ast.Node, *, allowed: bool) -> None:
    """Aggregates only in a SELECT's projection, never nested in one another."""
    if isinstance(node, ast.Aggregate):
        if not allowed:
            raise _fail(node.pos, f"{node.name} is only allowed in a SELECT list")
        if node.arg is not None:
            _check_aggregates(node.arg, allowed=False)
        return
    if isinstance(node, ast.Select):
        for expr in _projection_exprs(node.projection):
            _check_aggregates(expr, allowed=True)
        for item in node.from_items:
            _check_aggregates(item, allowed=False)
        if node.where is not None:
            _check_aggregates(node.where, allowed=False)
        return
    for child in _children(node):
        _check_aggregates(child, allowed=allowed)


# -- planning ---------------------------------------------------------------------------------


def _plan_statement(node: ast.Statement) -> ast.Statement:
    """Top-level statements have no outer scope, so unqualified names that are not aliases are
    fields of the single FROM item: plan those as key candidates too."""
    if isinstance(node, ast.Select):
        return dataclasses.replace(node, from_items=_plan_keys(node.from_items, node.where, implicit=True))
    if isinstance(node, ast.Dml):
        return dataclasses.replace(node, from_items=_plan_keys(node.from_items, node.where, implicit=True))
    return node


def _conjuncts(expr: ast.Expr | None) -> list[ast.Expr]:
    if expr is None:
        return []
    if isinstance(expr, ast.And):
        return _conjuncts(expr.left) + _conjuncts(expr.right)
    return [expr]


def _matches(ref: ast.VarRef, name: str | None) -> bool:
    """Whether the evaluator would resolve ``ref`` to the variable ``name``."""
    if name is None:
        return False
    return ref.name == name or (not ref.quoted and ref.name.lower() == name.lower())


def _plan_keys(items: tuple[ast.FromItem, ...], where: ast.Expr | None, *, implicit: bool) -> tuple[ast.FromItem, ...]:
    names = [n for item in items for n in (item.alias, item.at_alias, item.by_alias) if n]
    planned = []
    bound: list[str] = []
    for item in items:
        keys = []
        for conjunct in _conjuncts(where) + _conjuncts(item.on):
            if isinstance(conjunct, ast.In) and not conjunct.negated:
                key = _key_side(conjunct.operand, item, names, implicit=implicit and len(items) == 1)
                if key is not None and _independent(conjunct.collection, bound):
                    keys.append(ast.KeyCandidate(key or None, conjunct.collection, many=True, pos=conjunct.pos))
                continue
            if not (isinstance(conjunct, ast.Comparison) and conjunct.op == "="):
                continue
            for side, other in ((conjunct.left, conjunct.right), (conjunct.right, conjunct.left)):
                key = _key_side(side, item, names, implicit=implicit and len(items) == 1)
                if key is not None and _independent(other, bound):
                    keys.append(ast.KeyCandidate(key or None, other, pos=conjunct.pos))
        planned.append(dataclasses.replace(item, keys=tuple(keys)))
        bound.extend(n for n in (item.alias, item.at_alias, item.by_alias) if n)
    return tuple(planned)


def _key_side(side: ast.Expr, item: ast.FromItem, names: list[str], *, implicit: bool) -> str | None:
    """ "" for the item's BY variable, a field name for ``alias.field``, ``metadata.id`` for
    ``alias.metadata.id`` (a document id in history() and committed views), else None."""
    if isinstance(side, ast.VarRef) and not side.local:
        if _matches(side, item.by_alias):
            return ""
        if implicit and not any(_matches(side, n) for n in names):
            return side.name
        return None
    if (
        isinstance(side, ast.Path)
        and isinstance(side.root, ast.VarRef)
        and _matches(side.root, item.alias)
        and len(side.steps) == 1
        and isinstance(side.steps[0], ast.FieldStep)
    ):
        return side.steps[0].name
    if (
        isinstance(side, ast.Path)
        and isinstance(side.root, ast.VarRef)
        and _matches(side.root, item.alias)
        and [getattr(s, "name", None) for s in side.steps] == ["metadata", "id"]
        and all(isinstance(s, ast.FieldStep) for s in side.steps)
    ):
        return ast.METADATA_ID
    return None


def _independent(expr: ast.Node, bound: list[str]) -> bool:
    """Whether ``expr`` can be evaluated before the FROM item is read: it uses only literals,
    parameters and variables of earlier FROM items."""
    if isinstance(expr, ast.VarRef):
        return any(_matches(expr, n) for n in bound)
    if isinstance(expr, ast.Subquery | ast.Aggregate):
        return False
    return all(_independent(c, bound) for c in _children(expr))
