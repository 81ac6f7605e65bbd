"""The hash algebra of docs/export-format.md: dot, Merkle roots and paths, journal hashes."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from qldb_dr.ion import ion_hash
from qldb_dr.journal.hashing import EMPTY, commit_digest, dot, fold, merkle_path, merkle_root, statement_hash

hashes = st.binary(min_size=32, max_size=32)


def _compare_reference(a: bytes, b: bytes) -> int:
    """The dot of docs/export-format.md transcribed literally: signed bytes, last byte first."""
    for i in range(31, -1, -1):
        d = (a[i] - 256 if a[i] > 127 else a[i]) - (b[i] - 256 if b[i] > 127 else b[i])
        if d:
            return d
    return 0


def _dot_reference(a: bytes, b: bytes) -> bytes:
    if not a:
        return b
    if not b:
        return a
    first, second = (a, b) if _compare_reference(a, b) < 0 else (b, a)
    return hashlib.sha256(first + second).digest()


def _merkle_reference(leaves: list[bytes]) -> bytes:
    """RFC 6962 shape (left subtree = largest power of two below n), dot as the node."""
    if not leaves:
        return EMPTY
    if len(leaves) == 1:
        return leaves[0]
    split = 1
    while split * 2 < len(leaves):
        split *= 2
    return dot(_merkle_reference(leaves[:split]), _merkle_reference(leaves[split:]))


def test_dot_rust_driver_vector_matches() -> None:
    one, two = hashlib.sha256(b"1").digest(), hashlib.sha256(b"2").digest()
    assert dot(one, two).hex() == "940ed9abddfb5ef28004408546bc5043cda391232b6afe07267f9f8ed2b500c9"


@given(hashes, hashes)
def test_dot_any_pair_matches_literal_reference(a: bytes, b: bytes) -> None:
    assert dot(a, b) == _dot_reference(a, b)


@given(hashes, hashes)
def test_dot_swapped_inputs_same_result(a: bytes, b: bytes) -> None:
    assert dot(a, b) == dot(b, a)


@given(hashes, hashes, hashes)
def test_dot_regrouped_inputs_different_result(a: bytes, b: bytes, c: bytes) -> None:
    # Associativity would need a SHA-256 collision: regrouping always changes the result.
    if len({a, b, c}) == 3:
        assert dot(dot(a, b), c) != dot(a, dot(b, c))


@given(hashes)
def test_dot_empty_hash_is_identity(a: bytes) -> None:
    assert dot(a, EMPTY) == a
    assert dot(EMPTY, a) == a


def test_dot_unsigned_first_byte_order_would_differ() -> None:
    # A pair that unsigned, first-byte-first ordering (the classic bug) sorts the other way.
    a = bytes([0x01] + [0] * 30 + [0x80])  # last byte -128 signed: smallest
    b = bytes([0x00] + [0] * 30 + [0x01])
    assert dot(a, b) == hashlib.sha256(a + b).digest()
    assert dot(a, b) != hashlib.sha256(b + a).digest()


@given(st.lists(hashes, max_size=40))
def test_merkle_root_any_leaves_matches_rfc6962_shape(leaves: list[bytes]) -> None:
    assert merkle_root(leaves) == _merkle_reference(leaves)


@given(st.lists(hashes, min_size=1, max_size=40), st.data())
def test_merkle_path_any_leaf_folds_to_root(leaves: list[bytes], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(leaves) - 1))
    assert fold(merkle_path(leaves, index), leaves[index]) == merkle_root(leaves)


def test_merkle_path_other_leaf_does_not_fold_to_root() -> None:
    leaves = [hashlib.sha256(bytes([i])).digest() for i in range(13)]
    path = merkle_path(leaves, 5)
    assert fold(path, leaves[6]) != merkle_root(leaves)


def test_statement_hash_no_parameters_is_hash_of_text() -> None:
    assert statement_hash("SELECT * FROM t") == ion_hash("SELECT * FROM t")


def test_statement_hash_parameters_fold_in_order() -> None:
    expected = dot(dot(ion_hash("INSERT INTO t ?"), ion_hash({"a": 1})), ion_hash(2))
    assert statement_hash("INSERT INTO t ?", [{"a": 1}, 2]) == expected
    assert statement_hash("INSERT INTO t ?", [2, {"a": 1}]) != expected


def test_commit_digest_starts_from_transaction_id() -> None:
    s1, s2 = statement_hash("a"), statement_hash("b")
    assert commit_digest("tx", [s1, s2]) == dot(dot(ion_hash("tx"), s1), s2)
