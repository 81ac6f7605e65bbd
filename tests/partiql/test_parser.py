"""The parser: lexical rules, the syntax tree, rejected constructs and the statement cache."""

from __future__ import annotations

from decimal import Decimal

import pytest
from amazon.ion.core import IonType, TimestampPrecision

from qldb_dr.partiql import PartiqlError, ast, parse
from qldb_dr.partiql.values import MISSING


def where(statement: str) -> ast.Expr:
    node = parse(statement).statement
    assert isinstance(node, ast.Select) and node.where is not None
    return node.where


def literal(text: str) -> object:
    node = parse(f"SELECT VALUE {text} FROM t").statement
    assert isinstance(node, ast.Select) and isinstance(node.projection, ast.SelectValue)
    value = node.projection.expr
    assert isinstance(value, ast.Literal), value
    return value.value


def test_parse_keywords_any_case_same_tree() -> None:
    upper = parse("SELECT * FROM t AS a WHERE a.x = 1 AND NOT a.y IS NULL").statement
    lower = parse("select * from t as a where a.x = 1 and not a.y is null").statement
    mixed = parse("SeLeCt * FrOm t As a WhErE a.x = 1 AnD nOt a.y Is NuLl").statement
    assert upper == lower == mixed


def test_parse_identifiers_keep_case_and_quotes() -> None:
    node = parse('SELECT * FROM "My Table" AS "A" WHERE "A"."Field x" = 1').statement
    assert isinstance(node, ast.Select)
    assert node.from_items[0].source == ast.VarRef("My Table", quoted=True)
    assert node.from_items[0].alias == "A"
    assert node.where == ast.Comparison(
        "=", ast.Path(ast.VarRef("A", quoted=True), (ast.FieldStep("Field x"),)), ast.Literal(1)
    )


def test_parse_keyword_after_dot_is_a_field_name() -> None:
    node = parse("SELECT a.value, a.select, a.from FROM t AS a").statement
    assert isinstance(node, ast.Select) and isinstance(node.projection, ast.SelectList)
    names = [item.expr.steps[0].name for item in node.projection.items]  # type: ignore[attr-defined]
    assert names == ["value", "select", "from"]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", 1),
        ("-12", -12),
        ("1.50", Decimal("1.50")),
        ("-0.0", Decimal("-0.0")),
        (".5", Decimal("0.5")),
        ("1e0", 1.0),
        ("2.5E-3", 0.0025),
        ("'it''s'", "it's"),
        ("true", True),
        ("FALSE", False),
        ("NULL", None),
    ],
)
def test_parse_literal_text_exact_value(text: str, value: object) -> None:
    parsed = literal(text)
    assert parsed == value and type(parsed) is type(value)
    if isinstance(value, Decimal):
        assert str(parsed) == str(value)


def test_parse_missing_literal_is_missing() -> None:
    assert literal("MISSING") is MISSING


def test_parse_ion_literal_keeps_ion_types() -> None:
    value = literal('`{a: 1.50, b: sym, c: 2019-01-01T, d: (x y), e: {{"c"}}, f: null.int, g: ann::1}`')
    assert str(value["a"]) == "1.50"  # type: ignore[index]
    assert value["b"].ion_type is IonType.SYMBOL  # type: ignore[index]
    assert value["c"].precision is TimestampPrecision.DAY  # type: ignore[index]
    assert value["d"].ion_type is IonType.SEXP  # type: ignore[index]
    assert value["e"].ion_type is IonType.CLOB  # type: ignore[index]
    assert value["f"].ion_type is IonType.INT  # type: ignore[index]
    assert [a.text for a in value["g"].ion_annotations] == ["ann"]  # type: ignore[index]


def test_parse_ion_literal_with_backtick_inside_string_reads_whole_literal() -> None:
    assert literal('`"a`b"`') == "a`b"


def test_parse_comments_ignored() -> None:
    plain = parse("SELECT * FROM t WHERE x = 1").statement
    commented = parse("SELECT * -- all\nFROM t /* the\ntable */ WHERE x = 1 -- end").statement
    assert plain == commented


def test_parse_parameters_numbered_in_text_order() -> None:
    parsed = parse("SELECT ? FROM t WHERE a = ? AND b IN (?, ?) OR c = {'k': ?}")
    assert parsed.parameter_count == 5
    params: list[int] = []

    def collect(node: object) -> None:
        if isinstance(node, ast.Param):
            params.append(node.index)
        elif isinstance(node, ast.Node):
            for name in node.__dataclass_fields__:
                collect(getattr(node, name))
        elif isinstance(node, tuple):
            for item in node:
                collect(item)

    collect(parsed.statement)
    assert params == [0, 1, 2, 3, 4]


def test_parse_operator_precedence_sql_order() -> None:
    assert where("SELECT * FROM t WHERE a OR b AND NOT c = 1 + 2 * 3") == ast.Or(
        ast.VarRef("a"),
        ast.And(
            ast.VarRef("b"),
            ast.Not(
                ast.Comparison(
                    "=",
                    ast.VarRef("c"),
                    ast.Binary("+", ast.Literal(1), ast.Binary("*", ast.Literal(2), ast.Literal(3))),
                )
            ),
        ),
    )


def test_parse_between_and_binds_to_between() -> None:
    assert where("SELECT * FROM t WHERE x BETWEEN 1 AND 2 AND y") == ast.And(
        ast.Between(ast.VarRef("x"), ast.Literal(1), ast.Literal(2), negated=False), ast.VarRef("y")
    )


def test_parse_bracket_string_is_field_step() -> None:
    assert where("SELECT * FROM t AS a WHERE a['b'] = a.b") == ast.Comparison(
        "=",
        ast.Path(ast.VarRef("a"), (ast.FieldStep("b"),)),
        ast.Path(ast.VarRef("a"), (ast.FieldStep("b"),)),
    )


def test_parse_in_single_parenthesised_value_is_one_element_list() -> None:
    node = where("SELECT * FROM t WHERE x IN (1)")
    assert node == ast.In(ast.VarRef("x"), ast.ListCtor((ast.Literal(1),)), negated=False)


def test_parse_equality_on_indexable_field_records_key_candidate() -> None:
    node = parse("SELECT * FROM t AS a WHERE a.f = ? AND a.g > 1").statement
    assert isinstance(node, ast.Select)
    assert node.from_items[0].keys == (ast.KeyCandidate("f", ast.Param(0)),)


def test_parse_by_id_equality_records_id_candidate() -> None:
    node = parse("UPDATE t AS d BY pid SET d.a = ? WHERE pid = ?").statement
    assert isinstance(node, ast.Dml)
    assert node.from_items[0].keys == (ast.KeyCandidate(None, ast.Param(1)),)


def test_parse_equality_on_row_dependent_value_records_no_candidate() -> None:
    node = parse("SELECT * FROM t AS a WHERE a.f = a.g OR a.f = 1").statement
    assert isinstance(node, ast.Select)
    assert node.from_items[0].keys == ()


def test_parse_unqualified_name_in_subquery_records_no_candidate() -> None:
    # `x` may be a variable of the enclosing query, so it is not planned as a field of u.
    node = parse("SELECT * FROM t AS x WHERE EXISTS (SELECT * FROM u WHERE x = 1)").statement
    assert isinstance(node, ast.Select) and isinstance(node.where, ast.Call)
    inner = node.where.args[0]
    assert isinstance(inner, ast.Subquery)
    assert inner.query.from_items[0].keys == ()


@pytest.mark.parametrize(
    ("statement", "construct", "column"),
    [
        ("SELECT * FROM t ORDER BY a", "ORDER BY", 17),
        ("SELECT a FROM t GROUP BY a", "GROUP BY", 17),
        ("SELECT a FROM t WHERE a = 1 HAVING a > 1", "HAVING", 29),
        ("SELECT * FROM t LIMIT 10", "LIMIT", 17),
        ("SELECT * FROM t OFFSET 10", "OFFSET", 17),
        ("SELECT DISTINCT a FROM t", "DISTINCT", 8),
        ("SELECT COUNT(DISTINCT a) FROM t", "DISTINCT", 14),
        ("SELECT * FROM t UNION SELECT * FROM u", "UNION", 17),
        ("SELECT * FROM t INTERSECT ALL SELECT * FROM u", "INTERSECT", 17),
        ("SELECT * FROM t AS a LEFT JOIN u AS b ON a.x = b.x", "LEFT JOIN", 22),
        ("SELECT * FROM t AS a FULL OUTER JOIN u AS b ON true", "FULL JOIN", 22),
        ("PIVOT v AT k FROM t", "PIVOT", 1),
        ("SELECT * FROM UNPIVOT t AS v AT k", "UNPIVOT", 15),
        ("SELECT * FROM t LET 1 AS one", "LET", 17),
        ("INSERT INTO t VALUE {'a': 1} AT 0", "INSERT INTO <table> ... AT", 1),
        ("SELECT CAST(a AS LIST) FROM t", "CAST to LIST", 18),
        ("SELECT CAST(a AS DECIMAL(5, 2)) FROM t", "CAST to DECIMAL(...)", 18),
        ("SELECT FOO(a) FROM t", "unknown function FOO", 8),
        ("SELECT SUM(*) FROM t", "SUM(*)", 8),
        ("SELECT UPPER(a, b) FROM t", "UPPER takes 1 arguments, not 2", 8),
        ("SELECT DATE_ADD(week, 1, a) FROM t", "DATE_ADD needs a date part", 8),
        ("SELECT EXTRACT(week FROM a) FROM t", "EXTRACT cannot take WEEK", 16),
        ("SELECT a, COUNT(*) FROM t", "can only select aggregates", 8),
        ("SELECT * FROM t WHERE COUNT(*) > 1", "COUNT is only allowed in a SELECT list", 23),
        ("SELECT MAX(MIN(a)) FROM t", "MIN is only allowed in a SELECT list", 12),
        ("CREATE INDEX ON t (a, b)", "exactly one field", 1),
        ("CREATE INDEX ON t (a.b)", "top-level field", 20),
        ("CREATE TABLE t WITH (color = `'x'`)", "option 'color'", 1),
        ('DROP INDEX "id" ON t', "WITH (purge = true)", 1),
        ('DROP INDEX "id" ON t WITH (purge = false)', "WITH (purge = true)", 1),
        ("UPDATE t AS a SET a.l[*] = 1", "SET needs a path", 19),
        ("FROM t AS a REMOVE a.l[*]", "REMOVE needs a path", 20),
    ],
)
def test_parse_unsupported_construct_error_names_it_and_position(statement: str, construct: str, column: int) -> None:
    with pytest.raises(PartiqlError) as caught:
        parse(statement)
    assert construct in caught.value.message
    assert (caught.value.line, caught.value.column) == (1, column)


@pytest.mark.parametrize(
    ("statement", "message", "position"),
    [
        ("SELECT * FROM t WHERE", "ends too early", None),
        ("SELECT * FROM t WHERE a = #", "unexpected character '#'", (1, 27)),
        ("SELECT * FROM t\nWHERE a = = 1", "unexpected '='", (2, 11)),
        ("SELEKT * FROM t", "unexpected 'SELEKT'", (1, 1)),
        ("SELECT * FROM t WHERE a = `{a:`", "invalid Ion literal", (1, 27)),
        ("SELECT * FROM t WHERE a = `1 2`", "exactly one value", (1, 27)),
        ("SELECT * FROM t WHERE a = 'open", "unexpected character", (1, 27)),
    ],
)
def test_parse_malformed_statement_syntax_error_with_position(
    statement: str, message: str, position: tuple[int, int] | None
) -> None:
    with pytest.raises(PartiqlError) as caught:
        parse(statement)
    assert message in caught.value.message
    if position is not None:
        assert (caught.value.line, caught.value.column) == position


def test_parse_same_text_twice_returns_cached_tree() -> None:
    statement = "SELECT * FROM cache_probe AS c WHERE c.k = ?"
    parse.cache_clear()
    first = parse(statement)
    misses = parse.cache_info().misses
    second = parse(statement)
    assert second is first
    assert parse.cache_info().misses == misses
    assert parse.cache_info().hits >= 1


def test_parse_error_not_cached_raises_every_time() -> None:
    for _ in range(2):
        with pytest.raises(PartiqlError):
            parse("SELECT * FROM t ORDER BY x")


def test_execute_same_statement_twice_parses_once() -> None:
    from tests.partiql.memory import MemoryAccess

    access = MemoryAccess()
    access.run("CREATE TABLE cache_probe")
    statement = "INSERT INTO cache_probe ?"
    access.run(statement, {"n": 1})
    misses = parse.cache_info().misses
    for n in range(5):
        access.run(statement, {"n": n})
    assert parse.cache_info().misses == misses
    assert len(access.run("SELECT * FROM cache_probe")) == 6
