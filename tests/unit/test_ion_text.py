"""Ion text through amazon.ion, with qldb-dr's repair of its token building (qldb_dr.ion.text):
the same values as before, token by token."""

from __future__ import annotations

from typing import Any

from amazon.ion import reader
from amazon.ion.equivalence import ion_equals
from hypothesis import given, settings
from hypothesis import strategies as st

import qldb_dr.ion  # noqa: F401  (installs the repair)
from qldb_dr.ion import dump_text, load_text
from tests.strategies import ion_values


def test_code_point_array_is_repaired_once_and_keeps_its_interface() -> None:
    array = reader.CodePointArray(b"ab")
    array.append(ord("c"))
    array.extend("dé")
    array.extend(b"f")
    assert array.as_text() == "abcdéf" and len(array) == 6 and array[4] == "é"
    assert array.as_symbol().text == "abcdéf"
    assert getattr(reader.CodePointArray, "_qldb_dr_linear", False)


@settings(max_examples=200)
@given(value=ion_values())
def test_text_round_trip_of_any_value_is_exact(value: Any) -> None:
    assert ion_equals(load_text(dump_text([value])), value)


@given(text=st.text(max_size=5000))
def test_long_strings_read_back_exactly(text: str) -> None:
    assert load_text(dump_text([{"s": text}]))["s"] == text
