"""Never a crash: any statement text and any Ion parameters give Ion results or a PartiqlError."""

from __future__ import annotations

from typing import Any

from amazon.ion import simpleion
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qldb_dr.partiql import PartiqlError
from tests.partiql.memory import MemoryAccess
from tests.partiql.strategies import ion_values

TOKENS = [
    "SELECT", "VALUE", "*", "FROM", "t", "AS", "a", "BY", "i", "AT", "WHERE", "a.x", "a.l[0]", "a.l[*]", "@a",
    "=", "<>", "<", ">=", "AND", "OR", "NOT", "IN", "IS", "NULL", "MISSING", "LIKE", "BETWEEN", "EXISTS",
    "(", ")", "[", "]", "{", "}", "<<", ">>", ",", ":", "?", "1", "1.5", "2e0", "'s'", "`sym`", "`{a: 1}`",
    "+", "-", "||", "/", "%", "COUNT(*)", "SUM", "UPPER", "CAST", "INT", "INSERT", "INTO", "UPDATE", "SET",
    "REMOVE", "DELETE", "CREATE", "TABLE", "INDEX", "ON", "DROP", "EXEC", "history", "JOIN", "CASE", "WHEN",
    "THEN", "ELSE", "END", "_ql_committed_t", "information_schema.user_tables", "TRIM", "SUBSTRING",
]  # fmt: skip

TEMPLATES = [
    "SELECT VALUE {0}(?) FROM t",
    "SELECT VALUE ? {0} ? FROM t",
    "SELECT VALUE CAST(? AS {0}) FROM t",
    "SELECT * FROM t AS a WHERE a.x {0} ?",
    "UPDATE t AS a SET a.x{0} = ?",
    "FROM t AS a INSERT INTO a.l VALUE ? AT {0}",
]
FILLERS = {
    0: ["UPPER", "LOWER", "CHAR_LENGTH", "SIZE", "EXISTS", "TO_TIMESTAMP", "COALESCE", "TRIM", "UTCNOW"],
    1: ["+", "-", "*", "/", "%", "||", "=", "<>", "<", ">=", "AND", "OR", "IN", "LIKE", "IS", "NOT IN"],
    2: ["INT", "DECIMAL", "FLOAT", "STRING", "SYMBOL", "TIMESTAMP", "BOOL"],
    3: ["=", "<", "IN", "LIKE", "BETWEEN 1 AND", "IS NOT"],
    4: ["", ".y", "[0]", "[1].z", "['k']"],
    5: ["0", "1", "'k'", "5", "-1"],
}


def fresh() -> MemoryAccess:
    access = MemoryAccess()
    access.run("CREATE TABLE t")
    access.run("INSERT INTO t ?", [{"x": 1, "l": [1, {"z": 2}], "k": "v"}, {"x": "s"}])
    return access


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=14), st.lists(ion_values, max_size=3))
def test_execute_token_soup_result_or_partiql_error(tokens: list[str], parameters: list[Any]) -> None:
    try:
        result = fresh().run(" ".join(tokens), *parameters)
    except PartiqlError:
        return
    simpleion.dumps(result)  # results are Ion values


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(TEMPLATES) - 1), st.data(), st.lists(ion_values, min_size=2, max_size=2))
def test_execute_operators_on_any_values_result_or_partiql_error(
    template: int, data: st.DataObject, values: list[Any]
) -> None:
    statement = TEMPLATES[template].format(data.draw(st.sampled_from(FILLERS[template])))
    count = statement.count("?")
    try:
        result = fresh().run(statement, *values[:count], *([values[0]] * max(0, count - 2)))
    except PartiqlError:
        return
    simpleion.dumps(result)  # results are Ion values
