"""Exports in the three output formats are written and read back exactly (docs/export-format.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qldb_dr.errors import JournalFormatError
from qldb_dr.ion import ion_hash
from qldb_dr.journal.export import discover, open_export
from qldb_dr.journal.models import Block, OutputFormat, parse_object_key
from qldb_dr.journal.reader import detect_format, read_blocks, read_completed_manifest
from qldb_dr.journal.synthetic import write_vault
from qldb_dr.journal.writer import encode_blocks, to_json
from qldb_dr.store.local import LocalStore


@pytest.mark.parametrize("fmt", list(OutputFormat))
def test_encode_blocks_any_format_reads_back_same_blocks(journal: list[Block], fmt: OutputFormat) -> None:
    data = encode_blocks(journal[:30], fmt)
    assert detect_format(data, f"x.0-29.{fmt.extension}") is fmt
    back = list(read_blocks(data, "x", fmt))
    assert [b.block_hash for b in back] == [b.block_hash for b in journal[:30]]
    assert [b.address for b in back] == [b.address for b in journal[:30]]


@pytest.mark.parametrize("fmt", [OutputFormat.ION_BINARY, OutputFormat.ION_TEXT])
def test_ion_formats_keep_revision_data_exactly(journal: list[Block], fmt: OutputFormat) -> None:
    back = list(read_blocks(encode_blocks(journal, fmt), "x", fmt))
    original = [ion_hash(r.data) for b in journal for r in b.revisions or () if r.data is not None]
    read = [ion_hash(r.data) for b in back for r in b.revisions or () if r.data is not None]
    assert read == original


def test_json_format_downconverts_blobs_and_timestamps(journal: list[Block]) -> None:
    line = json.loads(encode_blocks(journal[5:6], OutputFormat.JSON).splitlines()[0])
    assert isinstance(line["blockHash"], str) and len(line["blockHash"]) == 44
    assert line["blockTimestamp"].endswith("Z") and "T" in line["blockTimestamp"]


def test_to_json_keeps_decimal_digits_and_drops_annotations() -> None:
    from decimal import Decimal

    from amazon.ion.core import IonType
    from amazon.ion.simple_types import IonPyInt

    annotated = IonPyInt.from_value(IonType.INT, 5, ("units",))
    assert to_json({"a": Decimal("1.50"), "b": annotated, "c": b"\x00"}) == '{"a":1.50,"b":5,"c":"AA=="}'


def test_write_vault_layout_is_qldbs(journal: list[Block], tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    write_vault(store, journal, ledger_name="L", exports=2, blocks_per_object=25)
    refs = discover(store)
    assert len(refs) == 2
    export = open_export(store, refs[0])
    assert export.started is not None and export.completed is not None
    assert refs[0].completed_key == f"{refs[0].head}.{refs[0].strand_id}.completed.manifest"
    ranges = [parse_object_key(k) for k in export.completed.keys]
    assert all(r is not None and r.strand_id == refs[0].strand_id for r in ranges)
    assert [r.first for r in ranges if r] == [r.first for r in sorted(ranges, key=lambda r: r.first if r else 0) if r]


def test_parse_object_key_prefix_with_dots_uses_last_two_dots() -> None:
    r = parse_object_key("my.prefix/v1.2/2019/04/15/22/JdxjkR9bSYB5jMHWcI464T.1-4.ion")
    assert r is not None and (r.strand_id, r.first, r.last, r.extension) == (
        "JdxjkR9bSYB5jMHWcI464T",
        1,
        4,
        "ion",
    )
    assert parse_object_key("prefix/manifest.json") is None


def test_relocated_copy_resolves_manifest_keys(journal: list[Block], tmp_path: Path) -> None:
    """A directory synced from s3://bucket/<prefix>/ has no prefix in its paths."""
    original = LocalStore(tmp_path / "bucket")
    write_vault(original, journal, ledger_name="L", exports=1, prefix="exports/2024/")
    copy = tmp_path / "copy"
    for key in original.list("exports/2024/"):
        target = copy / key.removeprefix("exports/2024/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(original.read(key))
    store = LocalStore(copy)
    export = open_export(store, discover(store)[0])
    assert export.completed is not None
    first_key = export.completed.keys[0]
    assert first_key.startswith("exports/2024/")
    assert store.exists(export.store_key(first_key))


def test_read_blocks_truncated_binary_names_object(journal: list[Block]) -> None:
    data = encode_blocks(journal[:10], OutputFormat.ION_BINARY)
    with pytest.raises(JournalFormatError) as error:
        list(read_blocks(data[: len(data) - 17], "j/S.0-9.ion"))
    assert error.value.location == "j/S.0-9.ion"
    assert "malformed Ion binary" in str(error.value)


def test_read_blocks_missing_field_names_block(journal: list[Block]) -> None:
    text = encode_blocks(journal[:3], OutputFormat.ION_TEXT).decode()
    lines = text.splitlines()
    lines[1] = lines[1].replace("entriesHash:", "entriesHashX:", 1)
    with pytest.raises(JournalFormatError) as error:
        list(read_blocks("\n".join(lines).encode(), "S.0-2.ion"))
    assert "block #2 (sequence 1): missing field entriesHash" in str(error.value)


def test_read_blocks_bad_json_line_names_line() -> None:
    with pytest.raises(JournalFormatError) as error:
        list(read_blocks(b'{"blockAddress": 1}\n{not json\n', "S.0-1.json"))
    assert "S.0-1.json" in str(error.value)


def test_read_completed_manifest_without_keys_is_an_error() -> None:
    with pytest.raises(JournalFormatError):
        read_completed_manifest(b"{files:[]}", "x.completed.manifest")
