"""The syntax tree of a parsed statement: frozen dataclasses, shared by every execution.

Nodes carry their source position (``pos`` = line, column) for error messages; it takes no part
in equality. Nodes are built once per statement text (the parser caches them), so they may hold
precomputed plan information such as a FROM item's index-lookup candidates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Pos = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Node:
    pos: Pos = field(default=(0, 0), compare=False, repr=False, kw_only=True)


# -- expressions ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expr(Node):
    pass


@dataclass(frozen=True, slots=True)
class Literal(Expr):
    """A constant. Container values (from Ion literals) are copied before each use."""

    value: Any


@dataclass(frozen=True, slots=True)
class Param(Expr):
    """The ``index``-th (0-based) ``?`` of the statement."""

    index: int


@dataclass(frozen=True, slots=True)
class VarRef(Expr):
    """A name: a variable, else a field of a FROM binding, else (in FROM) a table.

    ``quoted`` names ("x") match exactly; ``local`` is the ``@x`` form (a variable, never a table).
    """

    name: str
    quoted: bool = False
    local: bool = False


@dataclass(frozen=True, slots=True)
class Step(Node):
    pass


@dataclass(frozen=True, slots=True)
class FieldStep(Step):
    """``.name`` — field names are case-sensitive in QLDB."""

    name: str


@dataclass(frozen=True, slots=True)
class IndexStep(Step):
    """``[expr]`` — an int indexes a list, a string names a field."""

    expr: Expr


@dataclass(frozen=True, slots=True)
class WildcardStep(Step):
    """``[*]`` — every element of a list."""


@dataclass(frozen=True, slots=True)
class Path(Expr):
    root: Expr
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class Unary(Expr):
    op: str  # "-" or "+"
    operand: Expr


@dataclass(frozen=True, slots=True)
class Binary(Expr):
    op: str  # + - * / % ||
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Comparison(Expr):
    op: str  # = <> < <= > >=
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class And(Expr):
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Or(Expr):
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Not(Expr):
    operand: Expr


@dataclass(frozen=True, slots=True)
class IsTest(Expr):
    operand: Expr
    what: str  # "NULL" or "MISSING"
    negated: bool


@dataclass(frozen=True, slots=True)
class In(Expr):
    operand: Expr
    collection: Expr
    negated: bool


@dataclass(frozen=True, slots=True)
class Like(Expr):
    operand: Expr
    pattern: Expr
    escape: Expr | None
    negated: bool


@dataclass(frozen=True, slots=True)
class Between(Expr):
    operand: Expr
    low: Expr
    high: Expr
    negated: bool


@dataclass(frozen=True, slots=True)
class StructCtor(Expr):
    fields: tuple[tuple[Expr, Expr], ...]


@dataclass(frozen=True, slots=True)
class ListCtor(Expr):
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class BagCtor(Expr):
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Call(Expr):
    """A scalar function; ``name`` is upper case. Date-part arguments are string literals."""

    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Aggregate(Expr):
    """COUNT / SUM / MIN / MAX / AVG over the rows of the enclosing query; ``arg`` None is ``*``."""

    name: str
    arg: Expr | None


@dataclass(frozen=True, slots=True)
class Cast(Expr):
    operand: Expr
    type_name: str  # upper case, normalised: INT DECIMAL FLOAT STRING SYMBOL TIMESTAMP BOOL


@dataclass(frozen=True, slots=True)
class Case(Expr):
    operand: Expr | None  # CASE x WHEN ... (simple) or None (searched)
    whens: tuple[tuple[Expr, Expr], ...]
    default: Expr | None


@dataclass(frozen=True, slots=True)
class Subquery(Expr):
    query: Select


# -- queries ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Projection(Node):
    pass


@dataclass(frozen=True, slots=True)
class SelectStar(Projection):
    pass


@dataclass(frozen=True, slots=True)
class SelectValue(Projection):
    expr: Expr


@dataclass(frozen=True, slots=True)
class SelectItem(Node):
    """One item of a projection list: ``expr [AS alias]``, or ``expr.*`` when ``all_fields``."""

    expr: Expr
    alias: str | None
    all_fields: bool = False


@dataclass(frozen=True, slots=True)
class SelectList(Projection):
    items: tuple[SelectItem, ...]


METADATA_ID = "metadata.id"  # KeyCandidate.field of ``alias.metadata.id``: history()'s document id


@dataclass(frozen=True, slots=True)
class KeyCandidate(Node):
    """A WHERE/ON conjunct ``alias.field = value`` or ``alias.field IN (…)`` (``field`` None:
    the BY variable; METADATA_ID: ``alias.metadata.id``).

    ``value`` depends only on parameters, literals and earlier FROM items, so it can be evaluated
    before the item is read and used for an index lookup (or a get by document id).
    """

    field: str | None
    value: Expr
    many: bool = False  # ``alias.field IN collection``: look up each element


@dataclass(frozen=True, slots=True)
class FromItem(Node):
    source: Expr
    alias: str
    at_alias: str | None
    by_alias: str | None
    join: str  # "FIRST", "CROSS" (also ","), "INNER"
    on: Expr | None
    keys: tuple[KeyCandidate, ...] = ()


@dataclass(frozen=True, slots=True)
class Statement(Node):
    pass


@dataclass(frozen=True, slots=True)
class Select(Statement):
    projection: Projection
    from_items: tuple[FromItem, ...]
    where: Expr | None
    aggregate: bool  # the projection holds aggregates: one result row over all bindings


# -- DML --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Insert(Statement):
    """``INSERT INTO t VALUE e`` (``single``) or ``INSERT INTO t e`` (a struct or a collection)."""

    table: str
    value: Expr
    single: bool


@dataclass(frozen=True, slots=True)
class DmlOp(Node):
    """A change to each matching document at ``target``: a path rooted at a FROM alias (or an
    unqualified top-level field of the document)."""

    target: Expr


@dataclass(frozen=True, slots=True)
class SetOp(DmlOp):
    value: Expr


@dataclass(frozen=True, slots=True)
class RemoveOp(DmlOp):
    pass


@dataclass(frozen=True, slots=True)
class InsertOp(DmlOp):
    value: Expr
    at: Expr | None


@dataclass(frozen=True, slots=True)
class Dml(Statement):
    """UPDATE, DELETE and the FROM-first forms, all as: bind FROM, filter WHERE, apply ops.

    ``verb`` is the statement's first keyword, for messages. DELETE is ``REMOVE alias``.
    """

    verb: str
    from_items: tuple[FromItem, ...]
    where: Expr | None
    ops: tuple[DmlOp, ...]


# -- DDL and procedures -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreateTable(Statement):
    name: str
    options: tuple[tuple[str, Expr], ...]


@dataclass(frozen=True, slots=True)
class DropTable(Statement):
    name: str


@dataclass(frozen=True, slots=True)
class UndropTable(Statement):
    table_id: str


@dataclass(frozen=True, slots=True)
class CreateIndex(Statement):
    table: str
    field: str


@dataclass(frozen=True, slots=True)
class DropIndex(Statement):
    index_id: str
    table: str
    options: tuple[tuple[str, Expr], ...]


@dataclass(frozen=True, slots=True)
class Exec(Statement):
    procedure: str
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Parsed:
    """A parsed statement and how many ``?`` parameters it takes."""

    statement: Statement
    parameter_count: int


def default_name(expr: Expr, index: int) -> str:
    """PartiQL's name for an unnamed FROM source or projection item (the `index`th): a
    variable's name, a path's last field name, else `_1`, `_2`, …"""
    if isinstance(expr, VarRef):
        return expr.name
    if isinstance(expr, Path) and isinstance(expr.steps[-1], FieldStep):
        return expr.steps[-1].name
    return f"_{index + 1}"
