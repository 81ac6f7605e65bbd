"""Scalar functions and CAST, evaluated through SELECT VALUE over a one-element list."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from amazon.ion import simpleion
from amazon.ion.core import IonType, TimestampPrecision
from amazon.ion.equivalence import ion_equals

from qldb_dr.partiql import PartiqlError
from tests.partiql.memory import NOW, MemoryAccess


def ion(text: str) -> Any:
    return simpleion.loads(text)


def value(expression: str, *parameters: Any) -> Any:
    """The value of ``expression``; MISSING shows as the string "<missing>"."""
    rows = MemoryAccess().run(f"SELECT VALUE {expression} FROM [0] AS _row", *parameters)
    return rows[0] if rows else "<missing>"


def same(actual: Any, expected: Any) -> bool:
    return bool(ion_equals(actual, expected)) and simpleion.dumps(actual) == simpleion.dumps(expected)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("UPPER('abc')", "ABC"),
        ("LOWER(`Abc`)", "abc"),
        ("CHAR_LENGTH('añb')", 3),
        ("CHARACTER_LENGTH('')", 0),
        ("TRIM('  ab  ')", "ab"),
        ("TRIM(LEADING FROM '  ab  ')", "ab  "),
        ("TRIM(TRAILING 'x' FROM 'xxabxx')", "xxab"),
        ("TRIM(BOTH 'xy' FROM 'xyabyx')", "ab"),
        ("TRIM('x' FROM 'xabx')", "ab"),
        ("SUBSTRING('abcdef', 2)", "bcdef"),
        ("SUBSTRING('abcdef', 2, 3)", "bcd"),
        ("SUBSTRING('abcdef' FROM 0 FOR 3)", "ab"),
        ("SUBSTRING('abcdef', -1, 2)", ""),
        ("SUBSTRING('abc', 5)", ""),
        ("COALESCE(NULL, MISSING, 2, 3)", 2),
        ("COALESCE(NULL, MISSING)", None),
        ("NULLIF(1, 1.0)", None),
        ("NULLIF(1, 2)", 1),
        ("SIZE([1, 2, 3])", 3),
        ("SIZE({'a': 1})", 1),
        ("CARDINALITY(<<1, 2>>)", 2),
        ("EXISTS([])", False),
        ("EXISTS(NULL)", False),
        ("UPPER(NULL)", None),
        ("UPPER(MISSING)", "<missing>"),
        ("SUBSTRING('abc', NULL)", None),
        ("EXTRACT(YEAR FROM `2021-03-04T05:06:07.25+01:30`)", 2021),
        ("EXTRACT(MONTH FROM `2021-03-04T05:06:07.25+01:30`)", 3),
        ("EXTRACT(DAY FROM `2021-03-04T05:06:07.25+01:30`)", 4),
        ("EXTRACT(HOUR FROM `2021-03-04T05:06:07.25+01:30`)", 5),
        ("EXTRACT(MINUTE FROM `2021-03-04T05:06:07.25+01:30`)", 6),
        ("EXTRACT(SECOND FROM `2021-03-04T05:06:07.25+01:30`)", Decimal("7.25")),
        ("EXTRACT(TIMEZONE_HOUR FROM `2021-03-04T05:06:07.25-01:30`)", -1),
        ("EXTRACT(TIMEZONE_MINUTE FROM `2021-03-04T05:06:07.25-01:30`)", -30),
        ("DATE_DIFF(day, `2021-01-01T`, `2021-03-01T`)", 59),
        ("DATE_DIFF(month, `2021-01-31T`, `2021-02-28T`)", 0),
        ("DATE_DIFF(month, `2021-01-31T`, `2021-03-31T`)", 2),
        ("DATE_DIFF(year, `2020-06-01T`, `2021-05-31T`)", 0),
        ("DATE_DIFF(year, `2021-06-01T`, `2019-06-01T`)", -2),
        ("DATE_DIFF(hour, `2021-01-01T00:00Z`, `2021-01-01T01:00+01:00`)", 0),
        ("DATE_DIFF(second, `2021-01-01T00:00:00Z`, `2021-01-01T00:01:30.9Z`)", 90),
        ("TO_STRING(`2021-03-04T05:06:07.25Z`, 'yyyy-MM-dd HH:mm:ss.SSS X')", "2021-03-04 05:06:07.250 Z"),
        ("TO_STRING(`2021-03-04T17:06Z`, 'MMMM d, y h:mm a')", "March 4, 2021 5:06 PM"),
        ("TO_STRING(`2021-03-04T17:06+05:30`, 'MMM dd yy ''at'' HH XXX xx')", "Mar 04 21 at 17 +05:30 +0530"),
    ],
)
def test_function_value(expression: str, expected: Any) -> None:
    result = value(expression)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("DATE_ADD(day, 1, `2017-01-10T`)", "2017-01-11T"),
        ("DATE_ADD(month, 1, `2017-01-31T`)", "2017-02-28T"),
        ("DATE_ADD(year, -1, `2016-02-29T`)", "2015-02-28T"),
        ("DATE_ADD(month, 14, `2017-01T`)", "2018-03T"),
        ("DATE_ADD(hour, 1, `2017-01-10T`)", "2017-01-10T01:00-00:00"),
        ("DATE_ADD(minute, 90, `2017-01-10T23:00+02:00`)", "2017-01-11T00:30+02:00"),
        ("DATE_ADD(second, 1, `2017-01-10T23:59:59.500Z`)", "2017-01-11T00:00:00.500Z"),
        ("TO_TIMESTAMP('2007-02-23T12:14:33.079-08:00')", "2007-02-23T12:14:33.079-08:00"),
        ("TO_TIMESTAMP('2016', 'y')", "2016T"),
        ("TO_TIMESTAMP('2016-02', 'y-MM')", "2016-02T"),
        ("TO_TIMESTAMP('Feb 23 2016', 'MMM d yyyy')", "2016-02-23T"),
        (
            "TO_TIMESTAMP('2007-02-23 12:14:33.079 -08:00', 'y-M-d H:m:s.SSS XXX')",
            "2007-02-23T12:14:33.079-08:00",
        ),
        ("TO_TIMESTAMP('1/2/2016 5:06 PM Z', 'M/d/y h:mm a X')", "2016-01-02T17:06Z"),
        ("CAST('2019-05-06T' AS TIMESTAMP)", "2019-05-06T"),
    ],
)
def test_function_timestamp_value_with_precision(expression: str, expected: str) -> None:
    assert same(value(expression), ion(expected))


def test_function_utcnow_from_access() -> None:
    assert value("UTCNOW()") is NOW


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("UPPER(1)", "UPPER expects a string, not int"),
        ("SUBSTRING('abc', 'x')", "SUBSTRING expects an int, not string"),
        ("SUBSTRING('abc', 1, -1)", "must not be negative"),
        ("SIZE(1)", "SIZE expects a list"),
        ("EXISTS(1)", "EXISTS expects a collection"),
        ("EXTRACT(YEAR FROM 'x')", "EXTRACT expects a timestamp, not string"),
        ("DATE_ADD(day, 1.5, `2017T`)", "DATE_ADD expects an int, not decimal"),
        ("DATE_ADD(year, 9000, `2017T`)", "leaves the timestamp range"),
        ("TO_STRING(`2017T`, 'yyyy Q')", "unknown timestamp pattern letter 'Q'"),
        ("TO_TIMESTAMP('abc')", "not an Ion timestamp"),
        ("TO_TIMESTAMP('2016-13', 'y-M')", "not a valid timestamp"),
        ("TO_TIMESTAMP('2016', 'y-M')", "does not match the pattern"),
    ],
)
def test_function_bad_argument_error(expression: str, message: str) -> None:
    with pytest.raises(PartiqlError, match=message) as caught:
        value(expression)
    assert caught.value.line == 1


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("CAST(1.9 AS INT)", 1),
        ("CAST(-1.9 AS INT)", -1),
        ("CAST(2.7e0 AS INTEGER)", 2),
        ("CAST(' 42 ' AS INT)", 42),
        ("CAST(true AS INT)", 1),
        ("CAST(3 AS DECIMAL)", Decimal(3)),
        ("CAST(0.5e0 AS DECIMAL)", Decimal("0.5")),
        ("CAST('1.50' AS DECIMAL)", Decimal("1.50")),
        ("CAST(1 AS FLOAT)", 1.0),
        ("CAST('2.5' AS FLOAT)", 2.5),
        ("CAST(12 AS STRING)", "12"),
        ("CAST(1.50 AS STRING)", "1.50"),
        ("CAST(`sym` AS STRING)", "sym"),
        ("CAST(false AS STRING)", "false"),
        ("CAST(`2019-01-01T` AS STRING)", "2019-01-01T"),
        ("CAST(0 AS BOOL)", False),
        ("CAST('TRUE' AS BOOLEAN)", True),
        ("CAST(NULL AS INT)", None),
        ("CAST(MISSING AS INT)", "<missing>"),
    ],
)
def test_cast_value(expression: str, expected: Any) -> None:
    result = value(expression)
    assert result == expected and type(result) is type(expected)
    if isinstance(expected, Decimal):
        assert str(result) == str(expected)


def test_cast_to_symbol_is_symbol() -> None:
    result = value("CAST('abc' AS SYMBOL)")
    assert result.ion_type is IonType.SYMBOL and result.text == "abc"


def test_cast_same_type_returns_value_unchanged() -> None:
    original = ion("ann::1.500")
    assert value("CAST(? AS DECIMAL)", original) is original
    stamp = ion("2020-01-01T00:00:00.000Z")
    assert value("CAST(? AS TIMESTAMP)", stamp) is stamp


@pytest.mark.parametrize(
    "expression",
    [
        "CAST('abc' AS INT)",
        "CAST('1.5' AS INT)",
        "CAST(`+inf` AS INT)",
        "CAST('x' AS DECIMAL)",
        "CAST('x' AS FLOAT)",
        "CAST([1] AS STRING)",
        "CAST(`{{aGk=}}` AS STRING)",
        "CAST(1 AS TIMESTAMP)",
        "CAST('yes' AS BOOL)",
        "CAST(`2019T` AS INT)",
    ],
)
def test_cast_impossible_error(expression: str) -> None:
    with pytest.raises(PartiqlError, match="cannot CAST"):
        value(expression)


def test_timestamp_precision_kept_by_to_timestamp() -> None:
    assert value("TO_TIMESTAMP('2016-02', 'y-MM')").precision is TimestampPrecision.MONTH
