"""The Ion hash from the binary encoding (qldb_dr.ion.binhash): equal to the typed path
(qldb_dr.ion.hash) and to ionhash on generated values, on encodings no writer of ours makes
(padded, non-UTC, NOP-padded), on damaged bytes the reader still accepts, on the ion-hash-test
vectors and on QLDB's golden blocks and revisions read back from ION_BINARY."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import ionhash  # noqa: F401  (patches .ion_hash() onto amazon.ion's IonPy values)
import pytest
from amazon.ion import simpleion
from hypothesis import given
from hypothesis import strategies as st

from qldb_dr.checks import Status
from qldb_dr.ion import binhash, dump_binary, ion_hash, iter_binary, load_binary, serialize
from qldb_dr.ion.binary import iter_binary_located
from qldb_dr.ion.binhash import Hasher, ion_hash_binary
from qldb_dr.ion.decoder import IonDecodeError
from qldb_dr.journal.hashing import dot, revision_hash
from qldb_dr.journal.models import OutputFormat
from qldb_dr.journal.reader import read_blocks
from qldb_dr.journal.verify import verify_blocks
from tests.strategies import _symbol, ion_values, repeated_field_struct
from tests.unit.test_ion_hash import HASH_VECTORS, _final_digest, _IdentityHash, ionhash_sha256

IVM = b"\xe0\x01\x00\xea"


def _serialize_binary(data: bytes) -> list[bytes]:
    """s(v) from the bytes of every top-level value of the stream."""
    out, names, hasher = [], None, Hasher(())
    for _, start, end, table in iter_binary_located(data):
        if table is not names:
            names, hasher = table, Hasher(table)
        out.append(hasher.serialize_at(data, start, end))
    return out


# -- the three paths agree --------------------------------------------------------------------------


@given(ion_values())
def test_ion_hash_binary_any_value_equals_typed_path_and_ionhash(value: Any) -> None:
    (from_bytes,) = ion_hash_binary(dump_binary([value]))
    assert from_bytes == ion_hash(value) == ionhash_sha256(value)


@given(ion_values())
def test_ion_hash_binary_simpleion_encoding_equals_typed_path(value: Any) -> None:
    # simpleion's writer lays symbol tables and lengths out its own way.
    data = simpleion.dumps(value, binary=True)
    (from_bytes,) = ion_hash_binary(data)
    assert from_bytes == ion_hash(load_binary(data)) == simpleion.loads(data).ion_hash("SHA256")


@given(st.lists(ion_values(max_leaves=6), min_size=1, max_size=4))
def test_ion_hash_binary_stream_one_hash_per_value_with_caches_reused(values: list[Any]) -> None:
    data = dump_binary(values + values)  # the second half is hashed from the Hasher's caches
    assert ion_hash_binary(data) == [ion_hash(v) for v in values + values]


@given(ion_values(max_leaves=8), st.data())
def test_ion_hash_binary_damaged_bytes_the_reader_accepts_hash_as_the_values(value: Any, data: st.DataObject) -> None:
    encoded = bytearray(dump_binary([value]))
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(4, len(encoded) - 1))
        encoded[at] = data.draw(st.integers(0, 255))
    try:
        values = list(iter_binary(bytes(encoded)))
    except IonDecodeError:
        return  # the reader refuses it, so nothing of it is hashed
    assert ion_hash_binary(bytes(encoded)) == [ion_hash(v) for v in values]


# Encodings our writer never produces (padded fields, local offsets, NOPs), each read back by
# the reader; the bytes path must canonicalise exactly as hashing the value read does.
NON_CANONICAL = {
    "int padded with a zero byte": "22 00 05",
    "int zero in one byte": "21 00",
    "negative int zero (read as 0)": "31 00",
    "int with a VarUInt length": "2e 81 07",
    "length padded with a zero group": "8e 00 83 61 62 63",
    "float32": "44 3f c0 00 00",
    "float 8-byte positive zero": "48 00 00 00 00 00 00 00 00",
    "float 8-byte negative zero": "48 80 00 00 00 00 00 00 00",
    "decimal padded exponent": "52 00 c2",
    "decimal padded coefficient": "53 c2 00 05",
    "decimal explicit zero": "52 80 00",
    "decimal negative zero": "52 c1 80",
    "decimal zero with exponent": "51 c3",
    "timestamp padded year": "64 80 00 0f d0",
    "timestamp local offset": "68 42 ac 0f d0 81 81 80 80",
    "timestamp unknown offset -0 long form": "69 40 80 0f d0 81 81 80 80 80",
    "timestamp offset +0 long form": "69 00 80 0f d0 81 81 80 80 80",
    "timestamp zero fraction, exponent 0": "69 80 0f d0 81 81 80 80 80 80",
    "timestamp zero fraction padded": "6a 80 0f d0 81 81 80 80 80 c3 00",
    "timestamp negative zero fraction": "6a 80 0f d0 81 81 80 80 80 c3 80",
    "timestamp fraction needing a sign byte": "6b 80 0f d0 81 81 80 80 80 c3 00 ec",
    "timestamp two-byte exponent": "6a 80 0f d0 81 81 80 80 80 41 83",
    "typed null int, negative form": "3f",
    "list with NOP padding": "b7 21 01 00 01 ff 21 02",
    "struct with a NOP field": "d6 84 21 01 85 01 ff",
    "struct with a repeated field": "d6 84 21 01 84 21 02",
    "ordered struct (0xD1)": "d1 86 84 21 01 85 21 02",
    "field name $0": "d2 80 20",
    "symbol $0": "70",
    "symbol with system text": "71 04",
    "annotated null": "e3 81 84 0f",
    "annotated typed null, two annotations": "e4 82 84 85 2f",
    "sexp of a bool and a null": "c2 11 0f",
}


@pytest.mark.parametrize("hex_bytes", NON_CANONICAL.values(), ids=NON_CANONICAL.keys())
def test_ion_hash_binary_non_canonical_encoding_equals_typed_path(hex_bytes: str) -> None:
    data = IVM + bytes.fromhex(hex_bytes)
    (value,) = iter_binary(data)
    assert _serialize_binary(data) == [serialize(value)]


def test_ion_hash_binary_symbols_by_text_across_local_symbol_tables() -> None:
    # Two streams' symbol tables in one: the same SID means another text after the second table.
    first = dump_binary([{"a": "x"}, _symbol("y")])
    second = dump_binary([{"b": "x"}, _symbol("z")])
    data = first + second[4:]  # a new local symbol table replaces the first one (no IVM needed)
    values = list(iter_binary(data))
    assert ion_hash_binary(data) == [ion_hash(v) for v in values]
    assert ion_hash_binary(data)[0] != ion_hash_binary(data)[2]


def test_ion_hash_binary_unknown_symbol_text_hashes_as_symbol_zero() -> None:
    # A local symbol table declaring a symbol with no text (null): SID 10 has unknown text.
    table = bytes.fromhex("e6 81 83 d3 87 b1 0f")  # $ion_symbol_table::{symbols:[null]}
    data = IVM + table + bytes.fromhex("71 0a")
    (value,) = iter_binary(data)
    assert _serialize_binary(data) == [serialize(value)] == [b"\x0b\x71\x0e"]


def test_hasher_struct_cache_is_per_symbol_table() -> None:
    # Identical bytes under two symbol tables are different values: each table its own Hasher.
    one = dump_binary([{"k": 1}])
    other = dump_binary([{"q": 1}])
    assert one[-4:] == other[-4:]  # the same struct bytes {$10: 1}
    assert ion_hash_binary(one + other[4:]) == [ion_hash({"k": 1}), ion_hash({"q": 1})]


def test_serialize_at_two_values_is_refused() -> None:
    data = dump_binary([[1, 2]])
    body = len(data) - 4  # the list's body: two ints, not one value
    with pytest.raises(IonDecodeError, match="expected one value"):
        Hasher(()).serialize_at(data, body, len(data))


# -- the ion-hash-test vectors, hashed from their binary encoding ----------------------------------------


@pytest.mark.golden
def test_hasher_ion_hash_test_vectors_give_the_expected_digests(monkeypatch: pytest.MonkeyPatch) -> None:
    if not HASH_VECTORS.is_file():
        pytest.skip(f"the golden ion-hash-test vectors are not present: {HASH_VECTORS}")
    functions = {
        "identity": (_IdentityHash, lambda data: data),
        "md5": (hashlib.md5, lambda data: hashlib.md5(data).digest()),
    }
    checked, failures = 0, []
    for case in simpleion.loads(HASH_VECTORS.read_text(encoding="utf-8"), single_value=False):
        data = IVM + bytes(case["10n"]) if "10n" in case else dump_binary([case["ion"]])
        for function, expectations in case["expect"].items():
            expected = _final_digest(expectations)
            if function not in functions or expected is None:
                continue
            field_hash, top_level = functions[function]
            monkeypatch.setattr(binhash, "sha256", field_hash)
            (serialized,) = _serialize_binary(data)  # a new Hasher: no digest of another function
            if top_level(serialized) != expected:
                failures.append((data.hex(" "), function))
            checked += 1
    assert failures == []
    assert checked >= 171


# -- QLDB's golden data, as an ION_BINARY export holds it -------------------------------------------


def _json(golden: Path, name: str) -> Any:
    return json.loads((golden / name).read_text())


@pytest.mark.golden
@pytest.mark.parametrize(
    "encode", [dump_binary, lambda values: simpleion.dumps(values, binary=True, sequence_as_stream=True)]
)
def test_golden_blocks_from_ion_binary_verify_with_hashes_from_bytes(golden: Path, encode: Any) -> None:
    blocks = [simpleion.loads(_json(golden, "awscli_get_block_example.json")["Block"]["IonText"])]
    for record in simpleion.loads((golden / "decoded_stream_records.ion").read_text(), single_value=False):
        if record["recordType"] == "BLOCK_SUMMARY":
            blocks.append(record["payload"])
    read = list(read_blocks(encode(blocks), "golden.ion", OutputFormat.ION_BINARY, hashes=True))
    assert len(read) == 5
    for block in read:
        assert block.transaction_info is not None and block.transaction_info.ion_hash is not None
        assert block.transaction_info.ion_hash == ion_hash(block.transaction_info.ion)
        for check in verify_blocks([block]):
            assert check.status is Status.OK, [f.describe() for f in check.findings]
    revision = read[0].revisions[0] if read[0].revisions else None
    assert revision is not None and revision.metadata_ion_hash is not None and revision.data_ion_hash is not None
    assert dot(revision.metadata_ion_hash, revision.data_ion_hash) == revision.hash


@pytest.mark.golden
def test_golden_revisions_from_ion_binary_verify_except_edited_samples(golden: Path) -> None:
    outcomes = []
    for entry in _json(golden, "revisions_with_data.json"):
        value = simpleion.loads(entry["ion"])
        metadata, data = ion_hash_binary(dump_binary([value["metadata"], value["data"]]))
        outcomes.append((dot(metadata, data) == value["hash"], "NOT verify" in entry.get("note", "")))
        assert dot(metadata, data) == revision_hash(value["metadata"], value["data"])
    assert sum(ok for ok, _ in outcomes) == 6
    assert all(ok != expected_bad for ok, expected_bad in outcomes)


# -- the export reader keeps the hashes only where it located them unambiguously ----------------------


def _block(revision: Any) -> Any:
    return {
        "blockAddress": {"strandId": "s", "sequenceNo": 0},
        "transactionId": "t",
        "blockTimestamp": simpleion.loads("2024-01-01T00:00:00.000Z"),
        "blockHash": b"\x01" * 32,
        "entriesHash": b"\x02" * 32,
        "previousBlockHash": b"",
        "entriesHashList": [],
        "revisions": [revision],
    }


def test_read_blocks_binary_keeps_hashes_equal_to_the_typed_path() -> None:
    metadata = {"id": "d", "version": 0, "txTime": simpleion.loads("2024-01-01T00:00:00.000Z"), "txId": "t"}
    revision = {"hash": b"\x03" * 32, "data": {"a": [1, "x"]}, "metadata": metadata}
    (block,) = read_blocks(dump_binary([_block(revision)]), "x.ion", OutputFormat.ION_BINARY, hashes=True)
    assert block.revisions is not None
    (read,) = block.revisions
    assert read.metadata_ion_hash == ion_hash(metadata) and read.data_ion_hash == ion_hash({"a": [1, "x"]})


def test_read_blocks_binary_repeated_data_field_falls_back_to_hashing_the_value() -> None:
    revision = repeated_field_struct(
        [("data", {"a": 1}), ("hash", b"\x03" * 32), ("metadata", {"id": "d", "version": 0})], {"b": 2}
    )
    (block,) = read_blocks(dump_binary([_block(revision)]), "x.ion", OutputFormat.ION_BINARY, hashes=True)
    assert block.revisions is not None
    (read,) = block.revisions
    assert read.data_ion_hash is None  # which `data` the reader keeps is its business
    assert read.metadata_ion_hash == ion_hash({"id": "d", "version": 0})


def test_read_blocks_binary_tampered_data_byte_fails_the_revision_hash() -> None:
    metadata = {"id": "d", "version": 0}
    revision = {"hash": revision_hash(metadata, {"name": "Alice"}), "data": {"name": "Alice"}, "metadata": metadata}
    data = dump_binary([_block(revision)])
    assert data.count(b"Alice") == 1
    forged = data.replace(b"Alice", b"Alicf")
    for encoded, verdict in ((data, Status.OK), (forged, Status.FAILURE)):
        (block,) = read_blocks(encoded, "x.ion", OutputFormat.ION_BINARY, hashes=True)
        checks = {c.name: c for c in verify_blocks([block])}
        assert checks["revision-hashes"].status is verdict
