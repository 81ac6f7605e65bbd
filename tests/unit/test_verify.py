"""Verification of exports: an intact vault passes; every kind of damage is caught and named.

Each test builds a vault from the synthetic journal, then damages it the way the
situation in its name describes (tampered-revision, dropped-block, gap-between-exports…).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from qldb_dr.checks import Status
from qldb_dr.errors import SourceNotFoundError
from qldb_dr.journal.export import discover, open_export
from qldb_dr.journal.models import Block, OutputFormat, Revision, parse_object_key
from qldb_dr.journal.reader import read_blocks
from qldb_dr.journal.synthetic import write_vault
from qldb_dr.journal.verify import Report, verify_source
from qldb_dr.journal.writer import encode_blocks, encode_completed_manifest
from qldb_dr.store.local import LocalStore


def _vault(tmp_path: Path, journal: list[Block], fmt: OutputFormat = OutputFormat.ION_BINARY) -> LocalStore:
    store = LocalStore(tmp_path / "vault")
    write_vault(store, journal, ledger_name="orders", exports=3, output_format=fmt, blocks_per_object=20)
    return store


def _object_of(store: LocalStore, sequence: int) -> str:
    for key in store.list():
        span = parse_object_key(key)
        if span is not None and span.first <= sequence <= span.last:
            return key
    raise AssertionError(sequence)


def _rewrite(store: LocalStore, key: str, edit: object) -> None:
    blocks = list(read_blocks(store.read(key), key))
    blocks = edit(blocks)  # type: ignore[operator]
    store.write(key, encode_blocks(blocks, OutputFormat.ION_BINARY))


def _failures(report: Report) -> dict[str, str]:
    return {c.name: c.first().describe() for c in report.checks if c.status is Status.FAILURE and c.first()}


def test_verify_intact_vault_every_check_ok(tmp_path: Path, journal: list[Block]) -> None:
    report = verify_source(_vault(tmp_path, journal))
    assert report.status is Status.OK, _failures(report)
    assert report.ledger_name == "orders"
    assert report.counts["blocks"] == len(journal)
    assert report.check("revision-hashes").checked == sum(
        1 for b in journal for r in b.revisions or () if r.metadata is not None
    )
    assert report.check("digest-proof").checked == 3
    assert report.check("continuity").checked == 2


@pytest.mark.parametrize("fmt", [OutputFormat.ION_TEXT, OutputFormat.ION_BINARY])
def test_verify_ion_formats_ok(tmp_path: Path, journal: list[Block], fmt: OutputFormat) -> None:
    assert verify_source(_vault(tmp_path, journal, fmt)).status is Status.OK


def test_verify_tampered_revision_names_block_and_document(tmp_path: Path, journal: list[Block]) -> None:
    store = _vault(tmp_path, journal)
    target = next(b for b in journal if b.revisions and b.revisions[-1].data and "VIN" in b.revisions[-1].data)
    changed_doc = target.revisions[-1].document_id  # type: ignore[index]

    def edit(blocks: list[Block]) -> list[Block]:
        out = []
        for block in blocks:
            b = block
            if b.address == target.address:
                revisions = list(b.revisions or ())
                data = dict(revisions[-1].data)
                data["VIN"] = data["VIN"][:-1] + "X"  # one changed character
                revisions[-1] = dataclasses.replace(revisions[-1], data=data)
                b = dataclasses.replace(b, revisions=tuple(revisions))
            out.append(b)
        return out

    _rewrite(store, _object_of(store, target.sequence_no), edit)
    report = verify_source(store)
    check = report.check("revision-hashes")
    assert check.status is Status.FAILURE and check.failures == 1
    finding = check.first()
    assert finding is not None and finding.address == target.address
    assert changed_doc is not None and changed_doc in finding.message
    assert {c.name for c in report.checks if c.status is Status.FAILURE} == {"revision-hashes"}


def test_verify_dropped_block_breaks_chain_and_object_range(tmp_path: Path, journal: list[Block]) -> None:
    store = _vault(tmp_path, journal)
    _rewrite(store, _object_of(store, 45), lambda blocks: [b for b in blocks if b.sequence_no != 45])
    failures = _failures(verify_source(store))
    assert "block 46" in failures["chain"] and "expected 45, found 46" in failures["chain"]
    assert "does not hold the blocks its key names" in failures["manifest"]


def test_verify_tampered_block_hash_named(tmp_path: Path, journal: list[Block]) -> None:
    store = _vault(tmp_path, journal)
    _rewrite(
        store,
        _object_of(store, 30),
        lambda blocks: [dataclasses.replace(b, block_hash=bytes(32)) if b.sequence_no == 30 else b for b in blocks],
    )
    failures = _failures(verify_source(store))
    assert failures["block-hashes"].startswith("block 30")
    assert failures["chain"].startswith("block 31")  # the next block no longer links


def test_verify_dropped_object_reported_missing(tmp_path: Path, journal: list[Block]) -> None:
    store = _vault(tmp_path, journal)
    victim = _object_of(store, 50)
    (store.root / victim).unlink()
    failures = _failures(verify_source(store))
    assert victim in failures["manifest"] and "missing" in failures["manifest"]


def test_verify_reordered_objects_in_manifest_caught(tmp_path: Path, journal: list[Block]) -> None:
    store = _vault(tmp_path, journal)
    ref = discover(store)[0]
    export = open_export(store, ref)
    assert export.completed is not None and ref.completed_key is not None and len(export.completed.keys) >= 2
    keys = list(export.completed.keys)
    keys[0], keys[1] = keys[1], keys[0]
    store.write(ref.completed_key, encode_completed_manifest(keys, OutputFormat.ION_BINARY))
    failures = _failures(verify_source(store))
    assert "not contiguous" in failures["manifest"]
    assert "chain" in failures


def test_verify_truncated_object_one_clear_finding(tmp_path: Path, journal: list[Block]) -> None:
    store = _vault(tmp_path, journal)
    victim = _object_of(store, 10)
    data = store.read(victim)
    store.write(victim, data[: len(data) // 2])
    failures = _failures(verify_source(store))
    assert victim in failures["manifest"] and "malformed Ion binary" in failures["manifest"]


def _exports_by_first_block(store: LocalStore) -> list[tuple[int, str]]:
    out = []
    for ref in discover(store):
        export = open_export(store, ref)
        assert export.completed is not None
        out.append((int(export.completed.keys[0].rsplit(".", 2)[1].split("-")[0]), ref.head))
    return sorted(out)


def test_verify_gap_between_exports_named(tmp_path: Path, journal: list[Block]) -> None:
    store = _vault(tmp_path, journal)
    _, middle = _exports_by_first_block(store)[1]
    for key in list(store.list()):
        if key.startswith(middle):
            (store.root / key).unlink()
    failures = _failures(verify_source(store))
    assert "gap after export" in failures["continuity"]


def test_verify_swapped_manifest_caught(tmp_path: Path, journal: list[Block]) -> None:
    store = _vault(tmp_path, journal)
    (_, first), (_, second), _ = _exports_by_first_block(store)
    first_ref = next(r for r in discover(store) if r.head == first)
    second_ref = next(r for r in discover(store) if r.head == second)
    assert first_ref.completed_key and second_ref.completed_key
    store.write(first_ref.completed_key, store.read(second_ref.completed_key))
    failures = _failures(verify_source(store))
    assert "outside the export's time window" in failures["manifest"]
    assert "overlaps" in failures["continuity"]


def test_verify_wrong_digest_fails_proof(tmp_path: Path, journal: list[Block]) -> None:
    store = _vault(tmp_path, journal)
    ref = discover(store)[0]
    proof = json.loads(store.read(ref.proof_key))
    proof["digest"] = "A" * 43 + "="
    store.write(ref.proof_key, json.dumps(proof).encode())
    failures = _failures(verify_source(store))
    assert "does not fold" in failures["digest-proof"]


def test_verify_proof_of_another_ledger_fails(tmp_path: Path, journal: list[Block]) -> None:
    store = _vault(tmp_path, journal)
    ref = discover(store)[1]
    proof = json.loads(store.read(ref.proof_key))
    proof["ledgerName"] = "payments"
    store.write(ref.proof_key, json.dumps(proof).encode())
    assert "another ledger" in _failures(verify_source(store))["digest-proof"]


def test_verify_manifest_of_another_ledger_fails(tmp_path: Path, journal: list[Block]) -> None:
    store = _vault(tmp_path, journal)
    ref = discover(store)[2]
    assert ref.started_key is not None
    text = store.read(ref.started_key).replace(b'"orders"', b'"payments"')
    store.write(ref.started_key, text)
    failures = _failures(verify_source(store))
    assert "manifest of another ledger" in failures["manifest"] and "payments" in failures["manifest"]


def test_verify_missing_proof_is_a_warning(tmp_path: Path, journal: list[Block]) -> None:
    store = _vault(tmp_path, journal)
    (store.root / discover(store)[0].proof_key).unlink()
    report = verify_source(store)
    assert report.status is Status.WARNING
    assert report.check("digest-proof").status is Status.WARNING


def test_verify_in_progress_export_is_a_warning(tmp_path: Path, journal: list[Block]) -> None:
    store = _vault(tmp_path, journal)
    _, last = _exports_by_first_block(store)[-1]
    ref = next(r for r in discover(store) if r.head == last)
    assert ref.completed_key is not None
    (store.root / ref.completed_key).unlink()
    report = verify_source(store)
    assert report.status is Status.WARNING
    assert "in progress or was cancelled" in report.check("manifest").findings[0].message


def test_verify_json_export_warns_for_unrecoverable_types(tmp_path: Path, journal: list[Block]) -> None:
    report = verify_source(_vault(tmp_path, journal, OutputFormat.JSON))
    assert report.status is Status.WARNING
    assert report.check("block-hashes").status is Status.OK  # blobs survive JSON as base64
    assert report.check("chain").status is Status.OK
    revisions = report.check("revision-hashes")
    assert revisions.status is Status.WARNING
    assert "not verifiable from a JSON export" in revisions.findings[0].message
    assert revisions.checked > 0  # documents of plain JSON types do recompute


def test_verify_json_export_tampered_chain_still_fails(tmp_path: Path, journal: list[Block]) -> None:
    store = _vault(tmp_path, journal, OutputFormat.JSON)
    victim = _object_of(store, 20)
    lines = store.read(victim).splitlines()
    del lines[3]
    store.write(victim, b"\n".join(lines) + b"\n")
    assert "chain" in _failures(verify_source(store))


def test_verify_empty_source_raises_source_not_found(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFoundError):
        verify_source(LocalStore(tmp_path))


def test_verify_deleted_revision_hash_rule_checked(tmp_path: Path, journal: list[Block]) -> None:
    store = _vault(tmp_path, journal)
    deleted = next(
        b
        for b in journal
        if any(r.metadata is not None and r.data is None and r.data_hash is None for r in b.revisions or ())
    )

    def edit(blocks: list[Block]) -> list[Block]:
        def bump(r: Revision) -> Revision:
            if r.metadata is not None and r.data is None and r.data_hash is None:
                return dataclasses.replace(r, metadata={**r.metadata, "version": 99})
            return r

        return [
            dataclasses.replace(b, revisions=tuple(bump(r) for r in b.revisions or ()))
            if b.address == deleted.address
            else b
            for b in blocks
        ]

    _rewrite(store, _object_of(store, deleted.sequence_no), edit)
    check = verify_source(store).check("revision-hashes")
    assert check.status is Status.WARNING  # QLDB's rule for deletes is unconfirmed: warn, never pass silently
    assert "docs/export-format.md" in check.findings[0].message


def test_verify_block_timestamp_with_unknown_offset_compared_as_utc(tmp_path: Path, journal: list[Block]) -> None:
    """Ion's -00:00 (no offset known) reads as a naive timestamp: a forged or odd export with
    one is compared as UTC, never an internal error, and a backdated one still fails."""
    from amazon.ion.core import Timestamp, TimestampPrecision

    store = _vault(tmp_path, journal)
    key = _object_of(store, 10)

    def naive(moment: object, hours: int = 0) -> Timestamp:
        t = moment  # an aware UTC Ion timestamp
        return Timestamp(
            t.year,
            t.month,
            t.day,
            t.hour - hours,
            t.minute,
            t.second,
            t.microsecond,
            None,  # type: ignore[attr-defined]
            precision=TimestampPrecision.SECOND,
            fractional_precision=3,
        )

    _rewrite(
        store,
        key,
        lambda bs: [dataclasses.replace(b, timestamp=naive(b.timestamp)) if b.sequence_no == 10 else b for b in bs],
    )
    report = verify_source(store)
    assert report.check("block-fields").status is Status.OK
    _rewrite(
        store,
        key,
        lambda bs: [dataclasses.replace(b, timestamp=naive(b.timestamp, 1)) if b.sequence_no == 10 else b for b in bs],
    )
    report = verify_source(store)
    assert "block 10" in _failures(report)["block-fields"], _failures(report)
